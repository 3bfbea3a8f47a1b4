"""Multi-object tracking for track-level OOD verdicts (pure core: numpy and scipy, no ROS).

Two trackers sit behind one interface (:class:`Tracker`: boxes and confidences of one frame in,
one track id per box out, -1 for none), selected by name (parameter ``tracker``):

- ``bytetrack`` (default): our implementation of ByteTrack's association (Zhang et al., ECCV
  2022): constant-velocity Kalman prediction, a first Hungarian match of confident boxes to
  every live track by IoU, a second match of the less confident boxes to the tracks still
  unmatched, lost tracks kept for ``max_lost`` frames. Two departures, ours, both switchable
  (:class:`TrackerConfig`): the second match may pick up *lost* tracks too (ByteTrack: only
  tracks seen in the previous frame), and a new track missed in its next frame is kept like any
  other (ByteTrack drops it). ByteTrack assumes a detector that reports most real objects above
  ``high_threshold``; open-vocabulary detectors with sigmoid scores report many below it, so
  under ByteTrack's rules an object missed for one frame could only come back as a new track.
  On the world's validation videos the two changes halved the identity switches (7.5 -> 3.6
  per 100 boxes, docs/tracking.md). It is vectorised over tracks: the 8-state
  Kalman filter with diagonal noise splits exactly into four independent (position, velocity)
  filters, so one frame is a handful of array operations whatever the number of tracks.
- ``trackers_bytetrack``: the ByteTrack of Roboflow's ``trackers`` package (Apache-2.0), when it
  is installed. We chose our own as the default on measurements (docs/tracking.md): the
  library's per-track Python Kalman filters cost 2-3 ms per frame at 50 boxes on a 2-core CPU
  (our budget for all of tracking is 2 ms), and it requires ``opencv-python``, which cannot share
  an environment with ``opencv-python-headless`` or a ROS distro's OpenCV. Keeping it
  selectable lets both be measured on the same sequences.

:class:`VideoTracker` joins a tracker and :class:`~negas_ros.track_evidence.TrackEvidence` for
one camera: each detection's verdict becomes its track's (see that module for the rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from negas_ros.detection import Detection, box_iou
from negas_ros.scores import ood_confidence
from negas_ros.track_evidence import EvidenceConfig, TrackEvidence

__all__ = [
    'TRACKERS',
    'ByteTracker',
    'LibraryByteTracker',
    'Tracker',
    'TrackerConfig',
    'TrackingConfig',
    'VideoTracker',
    'make_tracker',
]

TRACKERS = ('bytetrack', 'trackers_bytetrack')

FloatArray = npt.NDArray[np.float64]
IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TrackerConfig:
    """Association settings shared by both trackers.

    high_threshold: boxes at least this confident take part in the first association.
    new_track_threshold: an unmatched box at least this confident starts a track. Our default
        (0) lets every reported box start one: an unknown object is often reported with a low
        ID confidence, and a box without a track cannot accumulate evidence.
    match_iou / low_match_iou: the least IoU with a track's predicted box for the first /
        second association.
    max_lost: frames a track is kept without a match (it can be picked up again meanwhile).
    low_boxes_find_lost: the second association also offers lost tracks to the less confident
        boxes (ours; ByteTrack's False offers only the tracks seen in the previous frame).
    drop_unconfirmed: drop a track born and not matched in its next frame (ByteTrack's rule;
        ours keeps it for ``max_lost`` frames like any other).
    """

    high_threshold: float = 0.5
    new_track_threshold: float = 0.0
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    max_lost: int = 30
    low_boxes_find_lost: bool = True
    drop_unconfirmed: bool = False

    def __post_init__(self) -> None:
        for name in ('high_threshold', 'new_track_threshold', 'match_iou', 'low_match_iou'):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'tracker {name} must lie in [0, 1], got {value}')
        if self.max_lost < 0:
            raise ValueError(f'tracker max_lost must be >= 0 frames, got {self.max_lost}')


@dataclass(frozen=True)
class TrackingConfig:
    """Everything a camera's :class:`VideoTracker` needs; ``enabled`` False turns it off."""

    enabled: bool = True
    tracker: str = 'bytetrack'
    association: TrackerConfig = field(default_factory=TrackerConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)

    def __post_init__(self) -> None:
        if self.tracker not in TRACKERS:
            raise ValueError(f"tracker {self.tracker!r}: choose one of {', '.join(TRACKERS)}")


class Tracker(Protocol):
    """A multi-object tracker: one call per frame, boxes in source-image pixels. Ids start at
    the ``first_id`` it was built with and only grow, across :meth:`reset` too."""

    @property
    def next_id(self) -> int:
        """No id given so far is this large: a successor tracker starts here."""
        ...

    def update(self, boxes_xyxy: FloatArray, confidences: FloatArray) -> IdArray:
        """Track ids of the N boxes, in input order; -1 for a box left without a track."""
        ...

    def reset(self) -> None:
        """Forget every track (ids keep increasing, so an old id never returns)."""
        ...


def _match(iou: FloatArray, min_iou: float) -> tuple[IdArray, IdArray]:
    """Rows and columns of the maximum-IoU assignment whose pairs reach ``min_iou``."""
    from scipy.optimize import linear_sum_assignment

    if iou.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty
    rows, cols = linear_sum_assignment(iou, maximize=True)
    good = iou[rows, cols] >= min_iou
    return rows[good].astype(np.int64), cols[good].astype(np.int64)


# Kalman noise as fractions of the box's size (position, velocity), as SORT-family trackers use.
_POS_NOISE = 1.0 / 20.0
_VEL_NOISE = 1.0 / 160.0


def _to_cxcywh(boxes: FloatArray) -> FloatArray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2.0, (boxes[:, 1] + boxes[:, 3]) / 2.0,
                     boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)


def _to_xyxy(state: FloatArray) -> FloatArray:
    half = np.abs(state[:, 2:4]) / 2.0
    return np.concatenate([state[:, :2] - half, state[:, :2] + half], axis=1)


def _noise_scale(size: FloatArray) -> FloatArray:
    """(T, 4) the scale of each coordinate's noise: width for cx and w, height for cy and h."""
    w, h = np.maximum(size[:, 0], 1.0), np.maximum(size[:, 1], 1.0)
    return np.stack([w, h, w, h], axis=1)


class ByteTracker:
    """ByteTrack association over a vectorised constant-velocity Kalman filter (ours).

    Per track and coordinate (cx, cy, w, h) the filter holds a position, a velocity and their
    2x2 covariance (``_cov``: var_p, cov_pv, var_v). An unmatched track is lost for up to
    ``max_lost`` frames and then forgotten; with ``drop_unconfirmed`` (ByteTrack's rule) a track
    not matched in the frame after it was born is dropped at once.
    """

    def __init__(self, config: TrackerConfig | None = None, first_id: int = 0) -> None:
        self.config = config or TrackerConfig()
        self._next_id = first_id
        self.reset()

    @property
    def next_id(self) -> int:
        return self._next_id

    def reset(self) -> None:
        self._pos = np.zeros((0, 4))
        self._vel = np.zeros((0, 4))
        self._cov = np.zeros((0, 4, 3))
        self._ids = np.zeros(0, np.int64)
        self._hits = np.zeros(0, np.int64)  # frames matched (1 = just born)
        self._lost = np.zeros(0, np.int64)  # consecutive frames unmatched

    def __len__(self) -> int:
        """Live tracks (tracked or lost)."""
        return len(self._ids)

    def update(self, boxes_xyxy: FloatArray, confidences: FloatArray) -> IdArray:
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        conf = np.asarray(confidences, np.float64).reshape(-1)
        if len(conf) != len(boxes):
            raise ValueError(f'{len(boxes)} boxes but {len(conf)} confidences')
        config = self.config
        self._predict()
        ids = np.full(len(boxes), -1, np.int64)
        matched_track = np.zeros(len(self._ids), bool)
        predicted = _to_xyxy(self._pos)

        high = np.flatnonzero(conf >= config.high_threshold)
        low = np.flatnonzero(conf < config.high_threshold)
        # 1. Confident boxes against every live track.
        rows, cols = _match(box_iou(predicted, boxes[high]), config.match_iou)
        self._correct(rows, boxes[high[cols]])
        matched_track[rows] = True
        ids[high[cols]] = self._ids[rows]
        # 2. The other boxes against the tracks still unmatched (ByteTrack: only those seen
        # last frame).
        unmatched = ~matched_track if config.low_boxes_find_lost else ~matched_track & (
            self._lost == 0)
        free = np.flatnonzero(unmatched)
        rows2, cols2 = _match(box_iou(predicted[free], boxes[low]), config.low_match_iou)
        self._correct(free[rows2], boxes[low[cols2]])
        matched_track[free[rows2]] = True
        ids[low[cols2]] = self._ids[free[rows2]]

        self._hits[matched_track] += 1
        self._lost[matched_track] = 0
        self._lost[~matched_track] += 1
        keep = self._lost <= config.max_lost
        if config.drop_unconfirmed:
            keep &= ~((self._hits <= 1) & ~matched_track)
        self._select(keep)
        # 3. Unmatched boxes confident enough start tracks.
        born = np.flatnonzero((ids < 0) & (conf >= config.new_track_threshold))
        if len(born):
            ids[born] = self._birth(boxes[born])
        return ids

    def _predict(self) -> None:
        if not len(self._ids):
            return
        scale = _noise_scale(self._pos[:, 2:4])
        var_p, cov_pv, var_v = self._cov[..., 0], self._cov[..., 1], self._cov[..., 2]
        self._pos = self._pos + self._vel
        self._cov = np.stack([var_p + 2.0 * cov_pv + var_v + (_POS_NOISE * scale) ** 2,
                              cov_pv + var_v,
                              var_v + (_VEL_NOISE * scale) ** 2], axis=-1)

    def _correct(self, rows: IdArray, boxes: FloatArray) -> None:
        if not len(rows):
            return
        measured = _to_cxcywh(boxes)
        pos, vel, cov = self._pos[rows], self._vel[rows], self._cov[rows]
        var_p, cov_pv, var_v = cov[..., 0], cov[..., 1], cov[..., 2]
        innovation_var = var_p + (_POS_NOISE * _noise_scale(pos[:, 2:4])) ** 2
        gain_p, gain_v = var_p / innovation_var, cov_pv / innovation_var
        residual = measured - pos
        self._pos[rows] = pos + gain_p * residual
        self._vel[rows] = vel + gain_v * residual
        self._cov[rows] = np.stack([(1.0 - gain_p) * var_p, (1.0 - gain_p) * cov_pv,
                                    var_v - gain_v * cov_pv], axis=-1)

    def _birth(self, boxes: FloatArray) -> IdArray:
        n = len(boxes)
        pos = _to_cxcywh(boxes)
        scale = _noise_scale(pos[:, 2:4])
        cov = np.stack([(2.0 * _POS_NOISE * scale) ** 2, np.zeros_like(scale),
                        (10.0 * _VEL_NOISE * scale) ** 2], axis=-1)
        new_ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        self._pos = np.concatenate([self._pos, pos])
        self._vel = np.concatenate([self._vel, np.zeros((n, 4))])
        self._cov = np.concatenate([self._cov, cov])
        self._ids = np.concatenate([self._ids, new_ids])
        self._hits = np.concatenate([self._hits, np.ones(n, np.int64)])
        self._lost = np.concatenate([self._lost, np.zeros(n, np.int64)])
        return new_ids

    def _select(self, keep: npt.NDArray[np.bool_]) -> None:
        self._pos, self._vel, self._cov = self._pos[keep], self._vel[keep], self._cov[keep]
        self._ids, self._hits, self._lost = self._ids[keep], self._hits[keep], self._lost[keep]


class LibraryByteTracker:
    """Roboflow ``trackers``' ByteTrackTracker behind :class:`Tracker` (needs the package:
    ``pip install --no-deps trackers supervision`` plus their light dependencies, see
    docs/tracking.md, so that pip does not add ``opencv-python`` beside the headless OpenCV)."""

    def __init__(self, config: TrackerConfig | None = None, first_id: int = 0) -> None:
        try:
            import supervision
            import trackers
        except ImportError as exc:
            raise ValueError(
                f"tracker 'trackers_bytetrack' needs the 'trackers' package ({exc}); install it "
                "(see docs/tracking.md) or use tracker 'bytetrack'") from None
        self.config = config or TrackerConfig()
        self._sv: Any = supervision
        self._trackers: Any = trackers
        # The library numbers tracks from 0 in each tracker it builds: ours are offset so that
        # ids keep growing across resets.
        self._offset = first_id
        self._next_id = first_id
        self._tracker = self._new()

    @property
    def next_id(self) -> int:
        return self._next_id

    def _new(self) -> Any:
        config = self.config
        return self._trackers.ByteTrackTracker(
            lost_track_buffer=config.max_lost,
            track_activation_threshold=config.new_track_threshold,
            minimum_consecutive_frames=1,  # an id from the second frame (the first gives -1)
            minimum_iou_threshold=config.match_iou,
            high_conf_det_threshold=config.high_threshold,
        )

    def reset(self) -> None:
        self._offset = self._next_id
        self._tracker = self._new()

    def update(self, boxes_xyxy: FloatArray, confidences: FloatArray) -> IdArray:
        boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
        n = len(boxes)
        detections = self._sv.Detections(
            xyxy=boxes, confidence=np.asarray(confidences, np.float32).reshape(-1),
            class_id=np.zeros(n, int), data={'index': np.arange(n)})
        out = self._tracker.update(detections)
        ids = np.full(n, -1, np.int64)
        if len(out):
            given = np.asarray(out.tracker_id, np.int64)
            ids[np.asarray(out.data['index'], np.int64)] = np.where(
                given >= 0, given + self._offset, -1)
        if (ids >= 0).any():
            self._next_id = max(self._next_id, int(ids.max()) + 1)
        return ids


def make_tracker(name: str, config: TrackerConfig | None = None, first_id: int = 0) -> Tracker:
    """The tracker called ``name`` (one of :data:`TRACKERS`), numbering from ``first_id``."""
    if name == 'bytetrack':
        return ByteTracker(config, first_id)
    if name == 'trackers_bytetrack':
        return LibraryByteTracker(config, first_id)
    raise ValueError(f"tracker {name!r}: choose one of {', '.join(TRACKERS)}")


class VideoTracker:
    """One camera's tracking: detections of consecutive frames in, track verdicts out.

    :meth:`track` gives every detection its track id and track frame count, keeps its own
    score and verdict as ``frame_id_score`` / ``frame_is_ood`` and replaces ``id_score``,
    ``is_ood`` and ``ood_confidence`` by its track's. Tracks are forgotten (:meth:`reset`) when
    the scores stop being comparable: another label set, score method or NegA setting.
    """

    def __init__(self, config: TrackingConfig, first_id: int = 0) -> None:
        self.config = config
        self._tracker = make_tracker(config.tracker, config.association, first_id)
        self._evidence = TrackEvidence(replace(config.evidence,
                                               max_missed=config.association.max_lost))
        self._score_key: tuple[Any, ...] | None = None

    @property
    def next_id(self) -> int:
        """The first id a successor (another configuration) should use."""
        return self._tracker.next_id

    def reset(self) -> None:
        self._tracker.reset()
        self._evidence.reset()

    def track(self, detections: Sequence[Detection], score_method: str, threshold: float,
              score_key: tuple[Any, ...] = ()) -> list[Detection]:
        """The detections of the next frame with track ids and track verdicts, in order.

        score_key: anything that changes when scores stop being comparable across frames
        (the pipeline passes its labels, method and NegA); a change resets the tracks first.
        """
        key = (score_method, *score_key)
        if key != self._score_key:
            if self._score_key is not None:
                self.reset()
            self._score_key = key
        if detections:
            boxes = np.array([d.box_xyxy for d in detections], np.float64)
            confidences = np.array([max(d.id_confidence, d.neg_confidence) for d in detections])
        else:
            boxes, confidences = np.zeros((0, 4)), np.zeros(0)
        ids = self._tracker.update(boxes, confidences)
        scores = self._evidence.update(ids.tolist(), [d.id_score for d in detections])
        track_scores = np.array([s.track_score for s in scores], np.float64)
        confidence = ood_confidence(track_scores, score_method, threshold).tolist()
        min_frames = self.config.evidence.min_frames
        return [det.with_track(s.track_id, s.frames, s.track_score, float(c),
                               s.is_ood(threshold, min_frames))
                for det, s, c in zip(detections, scores, confidence, strict=True)]
