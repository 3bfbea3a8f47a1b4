"""Per-frame vs track-level OOD metrics over video sequences (pure: numpy only).

A :class:`TrackLog` records every reported detection of every frame of a set of videos: which
kind of video it came from (``id`` or an OOD set such as ``near``), the video, the frame, its
track, how many frames the track had been seen, and both its per-frame and its track score (a
detection of :class:`~negas_ros.tracking.VideoTracker`). :func:`verdict_report` then measures
one of the two verdicts at a given threshold (:func:`tpr_threshold` calibrates one on ID
samples; a track verdict also waits for ``min_frames``):

- ``<ood set>``: FPR95 and AUROC with ID as the positive class (:func:`negas_ros.metrics.
  ood_metrics`), every detection of the ID videos an ID sample and every detection of that
  set's videos an OOD sample (no matching to ground truth, as in the still-image protocol).
  The track verdict's samples are the track scores; ``min_frames`` does not enter (it delays
  verdicts, it does not rank scores).
- ``flicker_per_100_frames``: verdict changes between consecutive observations of a track,
  per 100 observations, over all tracks seen at least twice (ID and OOD videos together).
- ``frames_to_flag_median``: for tracks in OOD videos that are ever flagged, the median number
  of observations up to and including the first flagged one (1 = flagged when first seen).
- ``ood_tracks_flagged`` / ``id_tracks_wrongly_flagged``: the fraction of tracks in OOD videos
  ever flagged, and of tracks in ID videos ever flagged (a planner would have reacted).

Definitions are ours (the NegAS paper is per-frame); docs/tracking.md states them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from negas_ros.detection import Detection
from negas_ros.metrics import ood_metrics

__all__ = ['VERDICTS', 'TrackLog', 'score_variance_within_tracks', 'tpr_threshold',
           'verdict_report']

VERDICTS = ('per_frame', 'track')


@dataclass
class TrackLog:
    """Every reported detection of a set of videos, with both verdicts (see module docs)."""

    kind: list[str] = field(default_factory=list)
    sequence: list[str] = field(default_factory=list)
    frame: list[int] = field(default_factory=list)
    track: list[int] = field(default_factory=list)
    track_frames: list[int] = field(default_factory=list)
    frame_score: list[float] = field(default_factory=list)
    track_score: list[float] = field(default_factory=list)

    def add(self, kind: str, sequence: str, frame: int,
            detections: Sequence[Detection]) -> None:
        """One frame's tracked detections (``kind``: 'id' or an OOD set name)."""
        for det in detections:
            self.kind.append(kind)
            self.sequence.append(sequence)
            self.frame.append(int(frame))
            self.track.append(int(det.track_id))
            self.track_frames.append(int(det.track_frames))
            self.frame_score.append(float(det.own_id_score))
            self.track_score.append(float(det.id_score))

    def __len__(self) -> int:
        return len(self.kind)


def _tracks(log: TrackLog, verdicts: npt.NDArray[np.bool_]) -> list[tuple[str, np.ndarray]]:
    """(kind, verdicts in frame order) per track; detections without a track are skipped."""
    groups: dict[tuple[str, int], list[tuple[int, bool]]] = {}
    kinds: dict[tuple[str, int], str] = {}
    for i, track in enumerate(log.track):
        if track < 0:
            continue
        key = (log.sequence[i], track)
        groups.setdefault(key, []).append((log.frame[i], bool(verdicts[i])))
        kinds[key] = log.kind[i]
    out = []
    for key, items in groups.items():
        items.sort()
        out.append((kinds[key], np.array([v for _, v in items], bool)))
    return out


def _scores(log: TrackLog, verdict: str) -> npt.NDArray[np.float64]:
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r}: choose one of {', '.join(VERDICTS)}")
    return np.array(log.frame_score if verdict == 'per_frame' else log.track_score, np.float64)


def tpr_threshold(log: TrackLog, verdict: str, tpr: float = 0.95) -> float:
    """The score that keeps the fraction ``tpr`` of the ID samples (kind 'id') at or above it
    (the lower ``1 - tpr`` quantile of their scores): how the shipped per-frame threshold was
    chosen on validation images."""
    scores = _scores(log, verdict)[np.array(log.kind) == 'id']
    if not len(scores):
        raise ValueError('no ID samples to calibrate a threshold on')
    return float(np.quantile(scores, 1.0 - tpr))


def score_variance_within_tracks(log: TrackLog) -> float | None:
    """The share of the per-frame score variance that lies within tracks (frame-to-frame
    noise, which averaging over a track removes) rather than between tracks (what the object
    looks like to the model, which no averaging changes); tracks seen at least twice."""
    groups: dict[tuple[str, int], list[float]] = {}
    for sequence, track, score in zip(log.sequence, log.track, log.frame_score, strict=True):
        if track >= 0:
            groups.setdefault((sequence, track), []).append(score)
    values = [np.array(v) for v in groups.values() if len(v) >= 2]
    if not values:
        return None
    everything = np.concatenate(values)
    total = float(((everything - everything.mean()) ** 2).sum())
    within = float(sum(((v - v.mean()) ** 2).sum() for v in values))
    return within / total if total > 0 else None


def verdict_report(log: TrackLog, verdict: str, ood_sets: Sequence[str], threshold: float,
                   min_frames: int = 1) -> dict[str, Any]:
    """The metrics of one verdict (``'per_frame'`` or ``'track'``) over ``log``: a detection
    is flagged when its score is below ``threshold`` and, for the track verdict, its track has
    been seen in at least ``min_frames`` frames."""
    scores = _scores(log, verdict)
    kind = np.array(log.kind)
    flags = scores < threshold
    if verdict == 'track':  # a detection without a track keeps its own verdict
        flags &= (np.array(log.track) < 0) | (np.array(log.track_frames) >= min_frames)
    report: dict[str, Any] = {'threshold': float(threshold)}
    id_scores = scores[kind == 'id']
    for name in ood_sets:
        ood_scores = scores[kind == name]
        if len(id_scores) and len(ood_scores):
            metrics = ood_metrics(id_scores, ood_scores)
            report[name] = {'fpr95': metrics['fpr95'], 'auroc': metrics['auroc'],
                            'num_id': len(id_scores), 'num_ood': len(ood_scores)}
        else:
            report[name] = {'fpr95': None, 'auroc': None, 'num_id': len(id_scores),
                            'num_ood': len(ood_scores)}
    tracks = _tracks(log, flags)
    seen_twice = [v for _, v in tracks if len(v) >= 2]
    changes = sum(int(np.count_nonzero(v[1:] != v[:-1])) for v in seen_twice)
    observations = sum(len(v) for v in seen_twice)
    report['flicker_per_100_frames'] = 100.0 * changes / observations if observations else None
    ood_tracks = [v for k, v in tracks if k != 'id']
    id_tracks = [v for k, v in tracks if k == 'id']
    first = [int(np.argmax(v)) + 1 for v in ood_tracks if v.any()]
    report['frames_to_flag_median'] = float(np.median(first)) if first else None
    report['ood_tracks_flagged'] = (sum(bool(v.any()) for v in ood_tracks) / len(ood_tracks)
                                    if ood_tracks else None)
    report['id_tracks_wrongly_flagged'] = (sum(bool(v.any()) for v in id_tracks) / len(id_tracks)
                                           if id_tracks else None)
    report['tracks'] = {'id': len(id_tracks), 'ood': len(ood_tracks)}
    return report
