"""`negas-ros track-benchmark`: per-frame vs track-level OOD verdicts on world videos (pure core).

The detector runs once over every frame of every video (:func:`detect_videos`); tracking is
then replayed over the stored frame results for each candidate evidence rule
(:func:`replay_tracking`, milliseconds per video), so that the rule can be chosen on the
validation videos and reported once on the test videos with the same model and negatives.

Video sets (:data:`VIDEO_SETS`): ``val`` draws from the world's validation splits, ``test``
from its test splits; an ID set of videos (ID objects only) and one set per OOD kind (OOD
objects only). Selection rule, fixed before any run: among the candidates whose validation
``frames_to_flag_median`` is at most 5 (all of them if none is), those within one point of
the lowest validation near-OOD FPR95 (differences below that are a handful of detections), and
of those the one with the least validation flicker (then the first listed); the per-frame
verdict is the baseline, not a candidate.

Thresholds: the shipped per-frame ``ood_threshold`` keeps 95% of the ID validation detections
(docs/choices.md). A track score has its own distribution (averaging narrows it), so each
verdict gets its threshold the same way, at 95% of the ID validation videos' samples, and the
test videos are measured at those thresholds. FPR95 and AUROC need no threshold.

Identity (:func:`identity_report`): every frame's tracked detections are matched one to one to
the frame's ground-truth objects (Hungarian on IoU, pairs at IoU >= 0.5), and we count the
identity switches (a ground-truth object matched to another track id than at its previous
match) per 100 matched boxes, the tracks per ground-truth object, and the matched boxes whose
track mostly covers another object. It compares the association rules of :data:`ASSOCIATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
import time
from typing import TYPE_CHECKING, Any

from negas_ros.evaluation import DetectionSet, coco_evaluate
from negas_ros.pipeline import FrameResult, StreamTracker
from negas_ros.track_evidence import EvidenceConfig
from negas_ros.track_metrics import (
    VERDICTS,
    TrackLog,
    score_variance_within_tracks,
    tpr_threshold,
    verdict_report,
)
from negas_ros.tracking import TrackerConfig, TrackingConfig

if TYPE_CHECKING:
    from negas_ros.pipeline import DetectorPipeline
    from negas_ros.world import World

__all__ = ['ASSOCIATIONS', 'CANDIDATES', 'OOD_SETS', 'VIDEO_SETS', 'Candidate', 'VideoResults',
           'detect_videos', 'identity_report', 'replay_tracking', 'select_candidate']

# Our association (the node's) and ByteTrack's own rules, compared on identity.
ASSOCIATIONS: Mapping[str, TrackerConfig] = {
    'ours': TrackerConfig(),
    'bytetrack_rules': TrackerConfig(low_boxes_find_lost=False, drop_unconfirmed=True),
}

OOD_SETS = ('near', 'far', 'near_unseen')
VIDEO_SETS: Mapping[str, Mapping[str, str]] = {
    'val': {'id': 'id_val', 'near': 'ood_val_near', 'far': 'ood_val_far',
            'near_unseen': 'ood_val_near_unseen'},
    'test': {'id': 'id_test', 'near': 'ood_near', 'far': 'ood_far',
             'near_unseen': 'ood_near_unseen'},
}


@dataclass(frozen=True)
class Candidate:
    """One evidence setting to compare (the node's track_* parameters)."""

    name: str
    evidence: EvidenceConfig


CANDIDATES: tuple[Candidate, ...] = (
    Candidate('mean15_min3', EvidenceConfig(rule='mean', window=15, min_frames=3)),
    Candidate('mean30_min3', EvidenceConfig(rule='mean', window=30, min_frames=3)),
    # Added 2026-12-02, after the first runs: the minimum frames up to the frames-to-flag bound.
    Candidate('mean30_min4', EvidenceConfig(rule='mean', window=30, min_frames=4)),
    Candidate('mean30_min5', EvidenceConfig(rule='mean', window=30, min_frames=5)),
    Candidate('ema0.7_min3', EvidenceConfig(rule='ema', decay=0.7, min_frames=3)),
    Candidate('ema0.8_min3', EvidenceConfig(rule='ema', decay=0.8, min_frames=3)),
    Candidate('ema0.9_min3', EvidenceConfig(rule='ema', decay=0.9, min_frames=3)),
    Candidate('ema0.9_min1', EvidenceConfig(rule='ema', decay=0.9, min_frames=1)),
    Candidate('ema0.95_min3', EvidenceConfig(rule='ema', decay=0.95, min_frames=3)),
)


@dataclass
class VideoResults:
    """The detector's frame results per video, by set kind ('id', 'near', ...), plus the ID
    videos' ground truth for mAP and the time the detector took."""

    frames: dict[str, list[list[FrameResult]]]
    id_truth: list[list[tuple[tuple[int, int], list[Any]]]]
    detector_s: float = 0.0
    objects: dict[str, list[list[list[tuple[int, tuple[float, float, float, float]]]]]] = field(
        default_factory=dict)
    """Per kind, video and frame: (track_id, box) of every ground-truth object."""


def detect_videos(pipeline: DetectorPipeline, world: World, video_set: str, videos: int,
                  frames: int, size: tuple[int, int],
                  on_video: Callable[[str, int], None] | None = None) -> VideoResults:
    """Run the pipeline over ``videos`` videos of ``frames`` frames per kind of ``video_set``."""
    from negas_ros.benchmark.collect import truth_boxes

    splits = VIDEO_SETS[video_set]
    out = VideoResults({kind: [] for kind in splits}, [])
    for kind, split in splits.items():
        for index in range(videos):
            scenes = world.render_video(split, index, frames=frames, size=size)
            start = time.perf_counter()
            results = [pipeline.process(scene.image) for scene in scenes]
            out.detector_s += time.perf_counter() - start
            out.frames[kind].append(results)
            out.objects.setdefault(kind, []).append(
                [[(o.track_id, (float(o.box[0]), float(o.box[1]), float(o.box[2]) + 1.0,
                                float(o.box[3]) + 1.0)) for o in scene.objects]
                 for scene in scenes])
            if kind == 'id':
                out.id_truth.append([((s.image.shape[1], s.image.shape[0]), list(truth_boxes(s)))
                                     for s in scenes])
            if on_video is not None:
                on_video(split, index)
    return out


def replay_tracking(results: VideoResults, tracking: TrackingConfig) -> tuple[TrackLog, float]:
    """Track every video afresh with ``tracking``; (the log, mean tracking ms per frame)."""
    log = TrackLog()
    spent, count = 0.0, 0
    for kind, videos in results.frames.items():
        for index, video in enumerate(videos):
            stream = StreamTracker()
            for t, result in enumerate(video):
                tracked = stream.apply(replace(result, config=replace(result.config,
                                                                      tracking=tracking)))
                spent += tracked.timings['track']
                count += 1
                log.add(kind, f'{kind}/{index}', t, tracked.detections)
    return log, 1000.0 * spent / max(count, 1)


def identity_report(results: VideoResults, tracking: TrackingConfig,
                    min_iou: float = 0.5) -> dict[str, float]:
    """Identity errors of ``tracking`` against the videos' ground-truth ids (module docs)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from negas_ros.detection import box_iou

    matched = switches = impure = 0
    tracks_per_object: list[int] = []
    for kind, videos in results.frames.items():
        for video, truth in zip(videos, results.objects[kind], strict=True):
            stream = StreamTracker()
            last: dict[int, int] = {}
            tracks_of: dict[int, set[int]] = {}
            objects_of: dict[int, list[int]] = {}
            for result, objects in zip(video, truth, strict=True):
                tracked = stream.apply(replace(result, config=replace(result.config,
                                                                      tracking=tracking)))
                if not tracked.detections or not objects:
                    continue
                iou = box_iou(np.array([d.box_xyxy for d in tracked.detections]),
                              np.array([box for _, box in objects]))
                for row, col in zip(*linear_sum_assignment(-iou), strict=True):
                    if iou[row, col] < min_iou:
                        continue
                    track, obj = tracked.detections[row].track_id, objects[col][0]
                    matched += 1
                    switches += int(obj in last and last[obj] != track)
                    last[obj] = track
                    tracks_of.setdefault(obj, set()).add(track)
                    objects_of.setdefault(track, []).append(obj)
            tracks_per_object += [len(t) for t in tracks_of.values()]
            for covered in objects_of.values():
                impure += len(covered) - max(covered.count(o) for o in set(covered))
    return {'matched_boxes': float(matched),
            'id_switches_per_100': 100.0 * switches / matched if matched else float('nan'),
            'tracks_per_object': float(np.mean(tracks_per_object)) if tracks_per_object
            else float('nan'),
            'impure_share': impure / matched if matched else float('nan')}


def id_map(results: VideoResults, id_labels: Sequence[str]) -> dict[str, float]:
    """COCO mAP of the ID videos' detections (tracking changes no box or label)."""
    dataset = DetectionSet('id videos', id_labels)
    for video, truth in zip(results.frames['id'], results.id_truth, strict=True):
        for result, ((width, height), boxes) in zip(video, truth, strict=True):
            dataset.add_frame(width, height, result.detections, boxes)
    coco = coco_evaluate(dataset)
    return {'map': coco.map, 'map50': coco.map50}


def evaluate_candidate(results: VideoResults, base: TrackingConfig, candidate: Candidate,
                       thresholds: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Both verdicts' reports for one evidence candidate on one video set.

    thresholds: {'per_frame': ..., 'track': ...} calibrated elsewhere (on validation); None
    calibrates them here, each at 95% of this set's ID samples (:func:`tpr_threshold`).
    """
    tracking = replace(base, enabled=True, evidence=candidate.evidence)
    log, track_ms = replay_tracking(results, tracking)
    if thresholds is None:
        thresholds = {verdict: tpr_threshold(log, verdict) for verdict in VERDICTS}
    min_frames = candidate.evidence.min_frames
    return {'per_frame': verdict_report(log, 'per_frame', OOD_SETS, thresholds['per_frame']),
            'track': verdict_report(log, 'track', OOD_SETS, thresholds['track'], min_frames),
            'thresholds': dict(thresholds),
            'score_variance_within_tracks': score_variance_within_tracks(log),
            'tracking_ms_per_frame': track_ms, 'detections': len(log)}


def select_candidate(reports: Mapping[str, Mapping[str, Any]],
                     fpr_tolerance: float = 0.01) -> str:
    """The module docstring's rule over {candidate: evaluate_candidate(...)} on validation."""
    def fast_enough(report: Mapping[str, Any]) -> bool:
        median = report['track']['frames_to_flag_median']
        return median is not None and median <= 5

    def fpr(name: str) -> float:
        value = reports[name]['track']['near']['fpr95']
        return 1.0 if value is None else float(value)

    # If no candidate is fast enough, the rule falls back to all of them (the report says so).
    eligible = [name for name, report in reports.items() if fast_enough(report)] or list(reports)
    best = min(fpr(name) for name in eligible)
    close = [name for name in eligible if fpr(name) <= best + fpr_tolerance]
    return min(close, key=lambda name: reports[name]['track']['flicker_per_100_frames'] or 0.0)
