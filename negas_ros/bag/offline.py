"""Offline evaluation runner: the node's pipeline over bags or image folders, no ROS graph.

Streams each set frame by frame (decode, :meth:`DetectorPipeline.process`, keep the numbers of
each detection, write the frame's result messages), so memory grows only by a few dozen bytes
per detection, never by images. Then applies the protocol of :mod:`negas_ros.evaluation` and
writes, under the output folder:

- ``metrics.json`` (layout in :func:`run_evaluation`);
- ``roc.png``, ``score_histogram.png``, ``precision_recall.png`` (OOD detection, ID positive)
  and ``precision_recall_id.png`` (COCO precision-recall per class at IoU 0.5);
- ``bags/<set>/``: a result rosbag2 per set with ``/detections`` (vision_msgs/Detection2DArray),
  ``/ood_detections`` (negas_ros/OodDetectionArray), ``/label_info`` and, with ``annotate``,
  ``/debug_image/compressed``: the node's topics, stamped with the source frames' headers and
  bag times, so that it plays in step next to the source bag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
import datetime
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from negas_ros import __version__
from negas_ros.bag import messages
from negas_ros.bag.bdd100k import Frame
from negas_ros.bag.writer import BagWriter
from negas_ros.evaluation import (
    CocoResult,
    DetectionSet,
    OodResult,
    ThresholdResult,
    coco_evaluate,
    evaluate_ood,
    f1_optimal_threshold,
    to_jsonable,
)
from negas_ros.image_convert import ImageError
from negas_ros.pipeline import DetectorPipeline, StreamTracker
from negas_ros.track_metrics import TrackLog, verdict_report

__all__ = ['EvaluationOptions', 'FrameSource', 'run_evaluation']

_log = logging.getLogger(__name__)

PROTOCOL = (
    'VOS protocol: mAP via pycocotools on ID frames with ground truth (all detections, best ID '
    'label and confidence); tau = mean over classes of the detection score at the F1-optimal '
    'COCOeval recall point (averaged over IoU .5:.95); detections with confidence >= tau are '
    'samples: ID on ID frames, OOD on OOD frames; sample value = the configured OOD score '
    '(larger = more ID); FPR95, AUROC, AUPR (= AUPR-In) with ID positive.')


@dataclass
class FrameSource:
    """A named set of frames.

    name: unique name (result bag folder, metrics key). role: 'id' or 'ood'.
    origin: where the frames come from (for the report). frames: iterable of Frame, re-read
        per iteration. length: frames expected (progress bars).
    stats: counters the source fills while iterated (e.g. frames_without_ground_truth).
    """

    name: str
    role: str
    origin: str
    frames: Iterable[Frame]
    length: int
    stats: Callable[[], dict[str, int]] = field(default=lambda: {})


@dataclass(frozen=True)
class EvaluationOptions:
    """result_bags: write ``bags/<set>``; annotate: also annotated JPEG frames in them;
    storage: 'mcap' or 'sqlite3'; progress: tqdm bars; tau: a given confidence threshold
    instead of the F1-optimal one; jpeg_quality: of annotated frames; track: score the
    track-level verdict (the configuration's tracking settings, switched on) as well as the
    per-frame one, tracks forgotten at each cut in time (a new video)."""

    result_bags: bool = True
    annotate: bool = False
    storage: str = 'mcap'
    progress: bool = True
    tau: float | None = None
    jpeg_quality: int = 90
    track: bool = False


class _ResultBag:
    """The result bag of one set, or nothing when result bags are off."""

    def __init__(self, path: Path | None, options: EvaluationOptions, source: FrameSource,
                 pipeline: DetectorPipeline) -> None:
        self.writer: BagWriter | None = None
        self.options = options
        self.pipeline = pipeline
        self._label_info_written = False
        if path is None:
            return
        config = pipeline.config
        self.writer = BagWriter(path, options.storage, overwrite=True, custom_data={
            'negas_ros.role': source.role, 'negas_ros.source': source.origin,
            'negas_ros.score_method': config.score_method,
            'negas_ros.ood_threshold': repr(config.ood_threshold),
            'negas_ros.model': config.model})

    def __enter__(self) -> _ResultBag:
        if self.writer is not None:
            self.writer.__enter__()
            self.detections = self.writer.add_topic('/detections', messages.DETECTION_ARRAY)
            self.ood = self.writer.add_topic('/ood_detections', messages.OOD_DETECTION_ARRAY)
            self.label_info = self.writer.add_topic('/label_info', messages.LABEL_INFO)
            if self.options.annotate:
                self.debug = self.writer.add_topic('/debug_image/compressed',
                                                   messages.COMPRESSED_IMAGE)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.writer is not None:
            self.writer.__exit__(*exc)

    def write(self, frame: Frame, rgb: np.ndarray, result: Any) -> None:
        if self.writer is None:
            return
        config = result.config
        header = messages.header(frame.stamp_ns, frame.frame_id)
        if not self._label_info_written:
            self.writer.write(self.label_info, frame.log_ns, messages.label_info(
                header, config.labels.id_labels, config.unknown_label, config.box_threshold))
            self._label_info_written = True
        plain, rich = messages.detection_arrays(
            header, result.detections, config.unknown_label, config.score_method,
            config.ood_threshold, config.nega, result.track_evidence)
        self.writer.write(self.detections, frame.log_ns, plain)
        self.writer.write(self.ood, frame.log_ns, rich)
        if self.options.annotate:
            import cv2

            from negas_ros.drawing import draw_detections

            canvas = draw_detections(np.ascontiguousarray(rgb[:, :, ::-1]), result.detections,
                                     config.unknown_label)
            ok, jpeg = cv2.imencode('.jpg', canvas,
                                    [cv2.IMWRITE_JPEG_QUALITY, self.options.jpeg_quality])
            if ok:
                self.writer.write(self.debug, frame.log_ns,
                                  messages.compressed_image(header, 'jpeg', jpeg.tobytes()))


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit='frame', disable=not enabled, dynamic_ncols=True)


def _run_set(pipeline: DetectorPipeline, source: FrameSource, out_dir: Path,
             options: EvaluationOptions,
             on_frame: Callable[[str, int], None] | None) -> tuple[DetectionSet, dict[str, Any]]:
    config = pipeline.config
    dataset = DetectionSet(source.name, config.labels.id_labels)
    bag_path = out_dir / 'bags' / source.name if options.result_bags else None
    bad_images = 0
    tracks = StreamTracker() if options.track else None
    tracking = replace(config.tracking, enabled=True)
    log = TrackLog()
    segment = 0
    with _ResultBag(bag_path, options, source, pipeline) as bag, \
            _progress(source.length, f'{source.role} {source.name}', options.progress) as bar:
        frames: Iterator[Frame] = iter(source.frames)
        for frame in frames:
            try:
                rgb = frame.rgb()
            except ImageError as exc:
                bad_images += 1
                _log.warning('%s: frame %d (stamp %d ns) skipped: %s', source.name, frame.index,
                             frame.stamp_ns, exc)
                bar.update(1)
                continue
            result = pipeline.process(rgb)
            if tracks is not None:
                cuts = tracks.cuts
                result = tracks.apply(replace(result, config=replace(result.config,
                                                                     tracking=tracking)),
                                      frame.stamp_ns * 1e-9)
                segment += tracks.cuts != cuts
                log.add(source.role if source.role == 'id' else source.name,
                        f'{source.name}/{segment}', frame.index, result.detections)
            labels = frame.labels if source.role == 'id' else None
            dataset.add_frame(rgb.shape[1], rgb.shape[0], result.detections, labels)
            bag.write(frame, rgb, result)
            bar.update(1)
            if on_frame is not None:
                on_frame(source.name, dataset.num_frames)
    info: dict[str, Any] = {
        'role': source.role, 'source': source.origin, 'frames': dataset.num_frames,
        'detections': dataset.num_detections,
        'detections_flagged_unknown': int(dataset.is_ood().sum()),
        'bad_images': bad_images, 'result_bag': str(bag_path) if bag_path else None,
        **source.stats(),
    }
    if source.role == 'id':
        info['frames_with_ground_truth'] = dataset.num_frames_with_gt
    if tracks is not None:
        info['track_log'] = log
        info['video_segments'] = segment + 1
    return dataset, info


def _map_block(coco: CocoResult) -> dict[str, Any]:
    return {'map': coco.map, 'map50': coco.map50, 'map75': coco.map75,
            'per_class_ap': coco.per_class_ap, 'per_class_ap50': coco.per_class_ap50}


def _tracking_block(config: Any, id_set: DetectionSet, ood_sets: Sequence[DetectionSet],
                    tau: float | None, logs: Sequence[TrackLog]) -> dict[str, Any]:
    """With ``--track``: the per-frame verdict's OOD metrics (``ood`` holds the track's) and
    both verdicts' flicker, frames to the first flag and wrongly flagged ID tracks, at the
    configured threshold (definitions: :mod:`negas_ros.track_metrics`)."""
    per_frame: dict[str, Any] = {}
    for dataset in ood_sets:
        result = evaluate_ood(id_set.with_frame_scores(), dataset.with_frame_scores(), tau)
        per_frame[dataset.name] = {**result.metrics, **({'reason': result.reason}
                                                        if result.reason else {})}
    log = TrackLog()
    for part in logs:
        for name in ('kind', 'sequence', 'frame', 'track', 'track_frames', 'frame_score',
                     'track_score'):
            getattr(log, name).extend(getattr(part, name))
    keys = ('flicker_per_100_frames', 'frames_to_flag_median', 'ood_tracks_flagged',
            'id_tracks_wrongly_flagged', 'tracks')
    evidence = config.tracking.evidence
    verdicts = {
        verdict: {key: report[key] for key in keys}
        for verdict, report in (
            ('per_frame', verdict_report(log, 'per_frame', (), config.ood_threshold)),
            ('track', verdict_report(log, 'track', (), config.ood_threshold,
                                     evidence.min_frames)))}
    return {'ood_per_frame': per_frame, **verdicts,
            'evidence': {'rule': evidence.rule, 'window': evidence.window,
                         'decay': evidence.decay, 'min_frames': evidence.min_frames},
            'tracker': config.tracking.tracker,
            'max_lost': config.tracking.association.max_lost}


def run_evaluation(
    pipeline: DetectorPipeline, id_source: FrameSource, ood_sources: Sequence[FrameSource],
    out_dir: Path, options: EvaluationOptions | None = None,
    on_frame: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate and write the outputs listed in the module doc; returns the metrics dict.

    metrics.json (NaN written as null):
      ``map``, ``map50``, ``map75``: COCO AP of the ID set, ``per_class_ap``,
      ``per_class_ap50`` by ID label, ``coco_stats`` (the 12 COCO numbers);
      ``map_known``: the same AP block for the detections not flagged unknown (what the node
      publishes with an ID label);
      ``tau``, ``tau_source`` ('f1_optimal' or 'given'), ``per_class_tau``, ``per_class_best_f1``;
      ``ood``: per OOD set ``fpr95``, ``auroc``, ``aupr`` (= ``aupr_in``), ``aupr_in``,
      ``aupr_out``, ``num_id_samples``, ``num_ood_samples`` and ``reason`` when undefined;
      ``sets``: per set frames, detections, bad images, result bag path;
      ``ground_truth_not_evaluated``: categories not matched to an ID label, with counts;
      ``tracking`` (only with ``options.track``; ``ood`` then scores the track verdict):
      ``ood_per_frame`` (the per-frame verdict's block), ``per_frame`` and ``track`` (flicker
      per 100 frames, median frames to the first flag of an OOD track, fractions of OOD and
      ID tracks ever flagged, at ``ood_threshold``), the evidence rule and tracker;
      ``config``, ``protocol``, ``plots``, ``negas_ros_version``, ``created``.

    on_frame: called with (set name, frames done) after each frame (benchmarks).
    """
    options = options or EvaluationOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [id_source.name, *(s.name for s in ood_sources)]
    if len(set(names)) != len(names):
        raise ValueError(f'set names must be unique, got {names}')
    config = pipeline.config
    id_set, id_info = _run_set(pipeline, id_source, out_dir, options, on_frame)
    ood_runs = [_run_set(pipeline, source, out_dir, options, on_frame) for source in ood_sources]

    track_logs = [info.pop('track_log') for info in (id_info, *(i for _, i in ood_runs))
                  if 'track_log' in info]
    coco = coco_evaluate(id_set)
    coco_known = coco_evaluate(id_set, ~id_set.is_ood())
    threshold = (f1_optimal_threshold(coco.precision, coco.scores, coco.rec_thrs)
                 if coco.precision.size else ThresholdResult(None, [], []))
    tau = options.tau if options.tau is not None else threshold.tau
    ood_results: dict[str, OodResult] = {}
    ood_block: dict[str, Any] = {}
    for dataset, _ in ood_runs:
        result = evaluate_ood(id_set, dataset, tau)
        ood_results[dataset.name] = result
        entry: dict[str, Any] = {**result.metrics, 'num_id_samples': int(result.id_scores.size),
                                 'num_ood_samples': int(result.ood_scores.size)}
        if result.reason:
            entry['reason'] = result.reason
            _log.warning('OOD metrics of %s undefined: %s', dataset.name, result.reason)
        ood_block[dataset.name] = entry
    tracking_block = None
    if options.track:
        tracking_block = _tracking_block(config, id_set, [d for d, _ in ood_runs], tau,
                                         track_logs)
    if id_set.gt_not_evaluated:
        _log.info('ground-truth categories not evaluated (no ID label): %s',
                  dict(id_set.gt_not_evaluated))

    from negas_ros.bag.plots import write_plots

    plots = write_plots(out_dir, coco, ood_results, config.ood_threshold, config.score_method)
    class_names = id_set.class_names
    metrics: dict[str, Any] = {
        **_map_block(coco),
        'coco_stats': coco.stats,
        'map_known': _map_block(coco_known),
        'tau': tau,
        'tau_source': 'given' if options.tau is not None else 'f1_optimal',
        'per_class_tau': dict(zip(class_names, threshold.per_class, strict=False)),
        'per_class_best_f1': dict(zip(class_names, threshold.per_class_f1, strict=False)),
        'ood': ood_block,
        **({'tracking': tracking_block} if tracking_block is not None else {}),
        'sets': {id_source.name: id_info,
                 **{source.name: info for source, (_, info) in zip(ood_sources, ood_runs,
                                                                    strict=True)}},
        'ground_truth_not_evaluated': dict(id_set.gt_not_evaluated),
        'config': {
            'backend': config.backend, 'model': config.model, 'device': config.device,
            'score_method': config.score_method, 'ood_threshold': config.ood_threshold,
            'box_threshold': config.box_threshold, 'max_detections': config.max_detections,
            'nega': config.nega, 'labels_source': config.labels_source,
            'id_labels': list(config.labels.id_labels),
            'negative_labels': len(config.labels.negative_labels)},
        'protocol': PROTOCOL,
        'plots': [p.name for p in plots],
        'negas_ros_version': __version__,
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    }
    metrics = to_jsonable(metrics)
    target = out_dir / 'metrics.json'
    staging = out_dir / f'.metrics.json.{os.getpid()}.tmp'
    staging.write_text(json.dumps(metrics, indent=2) + '\n', encoding='utf-8')
    staging.replace(target)
    return metrics
