"""Offline evaluation protocol: COCO mAP on ID images and VOS-style OOD metrics (pure).

numpy + pycocotools only (pycocotools imported when used); no ROS, no torch. The runner that
feeds it (pipeline over bags or image folders, result bags, plots) is
:mod:`negas_ros.bag.offline`.

Protocol (VOS, Du et al. ICLR 2022; the threshold code of the probdet code base VOS builds on)
    1. ID accuracy: COCO-style bbox mAP@[.5:.95] (plus mAP@.5, @.75 and per-class AP) with
       pycocotools over the ID images that have ground truth, every detection entered with its
       best ID label and detector confidence (``id_confidence``), whatever its OOD verdict.
    2. Threshold tau*: from the same COCOeval, per class, precision and detection score at each
       of the 101 recall points, averaged over the 10 IoU thresholds (area 'all', 100
       detections); F1 = 2PR / (P + R); the score at the recall point of best F1 is the class
       threshold; tau* is the mean over classes with a non-zero threshold. Ours, where the
       reference code is silent: classes without ground truth (COCOeval's -1) are left out
       instead of entering the mean as -1.
    3. Samples: detections with ``id_confidence >= tau*``; every kept detection on ID images is
       an ID sample, every kept detection on OOD images an OOD sample (no matching to ground
       truth); each sample's value is the configured OOD score (``id_score``, larger = more ID).
    4. Metrics with ID as the positive class (:func:`negas_ros.metrics.ood_metrics`): FPR95,
       AUROC, AUPR-In (reported as ``aupr``) and AUPR-Out.

Ground-truth categories are matched to the ID labels by name; BDD100K's evaluation mapping is
applied first (:data:`BDD100K_NAME_MAPPING`: old names such as 'person' -> 'pedestrian'), and
its ignored categories (:data:`BDD100K_IGNORED_MAPPING`: 'other person', 'other vehicle',
'trailer') become crowd (ignore) regions of their mapped class, as in the BDD100K toolkit.
Other categories are not evaluated (counted in the report).

Ground-truth boxes are continuous pixel coordinates (BDD100K's inclusive ends + 1, see
:mod:`negas_ros.bag.bdd100k`), so the COCO box is ``[x1, y1, x2 - x1, y2 - y1]`` for both
ground truth and detections.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
import contextlib
import copy
from dataclasses import dataclass, field
import io
import math
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from negas_ros.detection import Detection
from negas_ros.metrics import ood_metrics, precision_recall_curve, roc_curve

__all__ = [
    'BDD100K_IGNORED_MAPPING',
    'BDD100K_NAME_MAPPING',
    'CocoResult',
    'DetectionSet',
    'GroundTruthBox',
    'OodResult',
    'ThresholdResult',
    'coco_evaluate',
    'evaluate_ood',
    'f1_optimal_threshold',
    'json_float',
    'kept_scores',
    'precision_recall_curve',  # from negas_ros.metrics, kept importable here
    'roc_curve',  # from negas_ros.metrics, kept importable here
    'to_jsonable',
]

BDD100K_NAME_MAPPING: Mapping[str, str] = {
    'bike': 'bicycle', 'caravan': 'car', 'motor': 'motorcycle', 'person': 'pedestrian',
    'van': 'car',
}
"""Older BDD100K category names and the det_20 class they are evaluated as."""

BDD100K_IGNORED_MAPPING: Mapping[str, str] = {
    'other person': 'pedestrian', 'other vehicle': 'car', 'trailer': 'truck',
}
"""BDD100K categories evaluated as ignore (crowd) regions of a class: a detection on them is
neither a true nor a false positive."""

FloatArray = npt.NDArray[np.float64]


class GroundTruthBox(Protocol):
    """What :meth:`DetectionSet.add_frame` reads from a ground-truth box (e.g. BoxLabel)."""

    @property
    def category(self) -> str: ...

    @property
    def box_xyxy(self) -> tuple[float, float, float, float]: ...


def _label_key(name: str) -> str:
    return ' '.join(name.strip().lower().split())


class DetectionSet:
    """Per-detection numbers of one image set, collected frame by frame; no images are kept.

    name: the set's name in reports. class_names: the ID labels, in label order.

    Memory: a few dozen bytes per detection and per ground-truth box, 9 bytes per frame.
    """

    def __init__(self, name: str, class_names: Sequence[str]) -> None:
        self.name = name
        self.class_names = list(class_names)
        self._class_index = {_label_key(n): i for i, n in enumerate(self.class_names)}
        self.image_width = array('i')
        self.image_height = array('i')
        self.image_has_gt = array('b')
        self.det_image = array('i')
        self.det_box = array('d')  # x1, y1, x2, y2 per detection
        self.det_class = array('i')
        self.det_confidence = array('d')
        self.det_score = array('d')
        self.det_frame_score = array('d')  # the frame's own score (= det_score untracked)
        self.det_is_ood = array('b')
        self.gt_image = array('i')
        self.gt_box = array('d')
        self.gt_class = array('i')
        self.gt_crowd = array('b')
        self.gt_not_evaluated: Counter[str] = Counter()
        self.unknown_detection_labels: Counter[str] = Counter()

    @property
    def num_frames(self) -> int:
        return len(self.image_width)

    def with_frame_scores(self) -> DetectionSet:
        """A shallow copy whose OOD scores are each frame's own (not its track's)."""
        out = copy.copy(self)
        out.det_score = self.det_frame_score
        return out

    @property
    def num_detections(self) -> int:
        return len(self.det_image)

    @property
    def num_frames_with_gt(self) -> int:
        return int(sum(self.image_has_gt))

    def _gt_class(self, category: str) -> tuple[int, bool] | None:
        key = _label_key(category)
        if key in self._class_index:
            return self._class_index[key], False
        mapped = BDD100K_NAME_MAPPING.get(key)
        if mapped is not None and mapped in self._class_index:
            return self._class_index[mapped], False
        ignored = BDD100K_IGNORED_MAPPING.get(key)
        if ignored is not None and ignored in self._class_index:
            return self._class_index[ignored], True
        return None

    def add_frame(self, width: int, height: int, detections: Sequence[Detection],
                  ground_truth: Sequence[GroundTruthBox] | None) -> int:
        """Record one frame; returns its image index (0, 1, ...).

        width, height: image size in pixels. detections: the pipeline's output for the frame.
        ground_truth: its boxes, or None when the frame has no ground truth (it then takes no
        part in mAP but its detections still count as samples of the set).
        """
        image = self.num_frames
        self.image_width.append(int(width))
        self.image_height.append(int(height))
        self.image_has_gt.append(ground_truth is not None)
        for det in detections:
            index = self._class_index.get(_label_key(det.id_label))
            if index is None:
                self.unknown_detection_labels[det.id_label] += 1
                continue
            self.det_image.append(image)
            self.det_box.extend(float(v) for v in det.box_xyxy)
            self.det_class.append(index)
            self.det_confidence.append(float(det.id_confidence))
            self.det_score.append(float(det.id_score))
            self.det_frame_score.append(float(det.own_id_score))
            self.det_is_ood.append(bool(det.is_ood))
        for box in ground_truth or ():
            found = self._gt_class(box.category)
            if found is None:
                self.gt_not_evaluated[box.category] += 1
                continue
            self.gt_image.append(image)
            self.gt_box.extend(float(v) for v in box.box_xyxy)
            self.gt_class.append(found[0])
            self.gt_crowd.append(found[1])
        return image

    def confidences(self) -> FloatArray:
        return np.frombuffer(self.det_confidence, dtype=np.float64).copy()

    def scores(self) -> FloatArray:
        return np.frombuffer(self.det_score, dtype=np.float64).copy()

    def is_ood(self) -> npt.NDArray[np.bool_]:
        return np.frombuffer(self.det_is_ood, dtype=np.int8).astype(bool)


@dataclass(frozen=True)
class CocoResult:
    """COCO bbox evaluation of an ID set.

    map, map50, map75: AP@[.5:.95], AP@.5, AP@.75 (area all, 100 detections), in [0, 1]; NaN
        when no class has ground truth.
    per_class_ap, per_class_ap50: by class name; None for classes without ground truth.
    stats: the 12 COCO summary numbers by name (AP, AP50, AP75, APs, APm, APl, AR1, AR10,
        AR100, ARs, ARm, ARl).
    precision, scores: COCOeval's accumulated arrays (T, R, K, A, M); rec_thrs (R,),
        iou_thrs (T,). Empty when there were no frames with ground truth.
    """

    map: float
    map50: float
    map75: float
    per_class_ap: dict[str, float | None]
    per_class_ap50: dict[str, float | None]
    stats: dict[str, float]
    precision: FloatArray = field(repr=False)
    scores: FloatArray = field(repr=False)
    rec_thrs: FloatArray = field(repr=False)
    iou_thrs: FloatArray = field(repr=False)
    images: int = 0
    detections: int = 0
    ground_truth_boxes: int = 0


_STAT_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm',
               'ARl')


def _coco_box(box: Sequence[float]) -> list[float]:
    x1, y1, x2, y2 = box
    return [x1, y1, x2 - x1, y2 - y1]


def coco_evaluate(
    dataset: DetectionSet, detection_mask: npt.NDArray[np.bool_] | None = None
) -> CocoResult:
    """COCO bbox evaluation of ``dataset`` over its frames with ground truth (pycocotools).

    detection_mask: (num_detections,) bool, which detections to enter (default: all).
    Category ids are 1 + the class index. pycocotools' console output is swallowed.

    COCOeval matches and accumulates every category on its own, so the categories are
    evaluated one at a time and their slices of the precision / recall / score arrays joined:
    the arrays and summary equal one COCOeval over all categories (the tests check this), while
    only one category's per-box dicts and match tables exist at a time.
    """
    from pycocotools.cocoeval import COCOeval, Params

    names = dataset.class_names
    has_gt = np.frombuffer(dataset.image_has_gt, dtype=np.int8).astype(bool)
    images = [{'id': int(i), 'width': int(dataset.image_width[i]),
               'height': int(dataset.image_height[i])} for i in np.flatnonzero(has_gt)]
    det_image = np.frombuffer(dataset.det_image, dtype=np.int32)
    keep = has_gt[det_image] if det_image.size else np.zeros(0, bool)
    if detection_mask is not None:
        keep = keep & detection_mask
    det_class = np.frombuffer(dataset.det_class, dtype=np.int32)
    gt_class = np.frombuffer(dataset.gt_class, dtype=np.int32)
    nan = float('nan')
    empty = np.zeros(0)
    if not images:
        none: dict[str, float | None] = {name: None for name in names}
        return CocoResult(nan, nan, nan, none, dict(none), dict.fromkeys(_STAT_NAMES, nan),
                          empty, empty, empty, empty)

    params = Params(iouType='bbox')
    shape = (len(params.iouThrs), len(params.recThrs), len(names), len(params.areaRng),
             len(params.maxDets))
    precision = -np.ones(shape)
    scores = -np.ones(shape)
    recall = -np.ones((shape[0], *shape[2:]))
    with contextlib.redirect_stdout(io.StringIO()):
        for k in range(len(names)):
            coco_eval = COCOeval(
                _coco_set(images, names, _gt_annotations(dataset, np.flatnonzero(gt_class == k))),
                _coco_set(images, names, _det_annotations(
                    dataset, np.flatnonzero(keep & (det_class == k)))),
                'bbox')
            coco_eval.params.catIds = [k + 1]
            coco_eval.evaluate()
            coco_eval.accumulate()
            precision[:, :, k] = coco_eval.eval['precision'][:, :, 0]
            scores[:, :, k] = coco_eval.eval['scores'][:, :, 0]
            recall[:, k] = coco_eval.eval['recall'][:, 0]
            del coco_eval
        summary = COCOeval(iouType='bbox')
        summary.params.catIds = list(range(1, len(names) + 1))
        summary.eval = {'params': summary.params, 'counts': list(shape),
                        'precision': precision, 'recall': recall, 'scores': scores}
        summary.summarize()
    per_class: dict[str, float | None] = {}
    per_class50: dict[str, float | None] = {}
    for k, name in enumerate(names):
        all_iou = precision[:, :, k, 0, -1]
        at50 = precision[0, :, k, 0, -1]
        per_class[name] = float(all_iou[all_iou > -1].mean()) if (all_iou > -1).any() else None
        per_class50[name] = float(at50[at50 > -1].mean()) if (at50 > -1).any() else None
    stats = {name: float(v) for name, v in zip(_STAT_NAMES, summary.stats, strict=True)}

    def undefined_as_nan(value: float) -> float:
        return nan if value == -1 else value  # COCOeval's "no ground truth at all"

    return CocoResult(
        map=undefined_as_nan(stats['AP']), map50=undefined_as_nan(stats['AP50']),
        map75=undefined_as_nan(stats['AP75']), per_class_ap=per_class,
        per_class_ap50=per_class50, stats=stats, precision=precision, scores=scores,
        rec_thrs=np.asarray(params.recThrs, dtype=np.float64),
        iou_thrs=np.asarray(params.iouThrs, dtype=np.float64),
        images=len(images), detections=int(keep.sum()), ground_truth_boxes=int(gt_class.size))


def _coco_set(images: list[dict[str, int]], names: Sequence[str],
              annotations: list[dict[str, Any]]) -> Any:
    """A pycocotools COCO object built in memory (as COCO.loadRes builds a bbox result set,
    without its per-box polygons, which bbox evaluation never reads)."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {'images': images, 'annotations': annotations,
                    'categories': [{'id': k + 1, 'name': n} for k, n in enumerate(names)]}
    coco.createIndex()
    return coco


def _gt_annotations(dataset: DetectionSet, indices: npt.NDArray[np.intp]) -> list[dict[str, Any]]:
    boxes = np.frombuffer(dataset.gt_box, dtype=np.float64).reshape(-1, 4)
    result = []
    for j in indices.tolist():
        box = _coco_box(boxes[j].tolist())
        result.append({'id': j + 1, 'image_id': int(dataset.gt_image[j]),
                       'category_id': int(dataset.gt_class[j]) + 1, 'bbox': box,
                       'area': box[2] * box[3], 'iscrowd': int(dataset.gt_crowd[j])})
    return result


def _det_annotations(dataset: DetectionSet,
                     indices: npt.NDArray[np.intp]) -> list[dict[str, Any]]:
    boxes = np.frombuffer(dataset.det_box, dtype=np.float64).reshape(-1, 4)
    result = []
    for j in indices.tolist():
        box = _coco_box(boxes[j].tolist())
        result.append({'id': j + 1, 'image_id': int(dataset.det_image[j]),
                       'category_id': int(dataset.det_class[j]) + 1, 'bbox': box,
                       'area': box[2] * box[3], 'iscrowd': 0,
                       'score': float(dataset.det_confidence[j])})
    return result


@dataclass(frozen=True)
class ThresholdResult:
    """The F1-optimal confidence threshold.

    tau: mean of the valid per-class thresholds; None when no class has one.
    per_class: per class index, the score at the best-F1 recall point; None for classes
        without ground truth.
    per_class_f1: the best F1 per class (None as above).
    """

    tau: float | None
    per_class: list[float | None]
    per_class_f1: list[float | None]


def f1_optimal_threshold(precision: npt.ArrayLike, scores: npt.ArrayLike,
                         rec_thrs: npt.ArrayLike, area_index: int = 0,
                         max_dets_index: int = -1) -> ThresholdResult:
    """VOS/probdet F1-optimal threshold from COCOeval's accumulated arrays.

    precision, scores: ``COCOeval.eval['precision']`` and ``['scores']``, shape (T, R, K, A, M).
    rec_thrs: the R recall points. For each class k: P(r), S(r) = mean over the T IoU
    thresholds; F1(r) = 2 P r / (P + r) (0 where P + r = 0); the class threshold is S at the
    first r maximising F1. A class with ground truth but no reachable recall gets S at r = 0
    (its best-scored detection, as in the reference code); classes without ground truth (P = -1)
    get None; tau is the mean of the class thresholds that are not None and not 0.
    """
    precision = np.asarray(precision, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    recalls = np.asarray(rec_thrs, dtype=np.float64)[:, None]
    if precision.ndim != 5 or precision.shape != scores.shape:
        raise ValueError(f'precision and scores must be (T, R, K, A, M) arrays of one shape, got '
                         f'{precision.shape} and {scores.shape}')
    if precision.shape[1] != recalls.shape[0]:
        raise ValueError(f'{recalls.shape[0]} recall points for R = {precision.shape[1]}')
    p_all = precision[:, :, :, area_index, max_dets_index]  # (T, R, K)
    has_gt = np.asarray((p_all > -1).all(axis=(0, 1)), dtype=bool)
    p = p_all.mean(axis=0)  # (R, K)
    s = scores[:, :, :, area_index, max_dets_index].mean(axis=0)
    with np.errstate(divide='ignore', invalid='ignore'):
        f1 = np.where(p + recalls > 0, 2.0 * p * recalls / (p + recalls), 0.0)
    best = f1.argmax(axis=0)
    per_class: list[float | None] = []
    per_class_f1: list[float | None] = []
    for k in range(p.shape[1]):
        if not has_gt[k]:
            per_class.append(None)
            per_class_f1.append(None)
            continue
        per_class.append(float(s[best[k], k]))
        per_class_f1.append(float(f1[best[k], k]))
    valid = [t for t in per_class if t is not None and t != 0.0]
    return ThresholdResult(float(np.mean(valid)) if valid else None, per_class, per_class_f1)


@dataclass(frozen=True)
class OodResult:
    """OOD metrics of one OOD set against the ID set at threshold tau.

    metrics: ``fpr95``, ``auroc``, ``aupr`` (= ``aupr_in``), ``aupr_in``, ``aupr_out``; each
        None when either side has no kept detection (``reason`` says which).
    id_scores, ood_scores: the kept samples' OOD scores (for plots).
    """

    metrics: dict[str, float | None]
    id_scores: FloatArray = field(repr=False)
    ood_scores: FloatArray = field(repr=False)
    reason: str = ''


def kept_scores(dataset: DetectionSet, tau: float) -> FloatArray:
    """OOD scores of the detections of ``dataset`` whose confidence is >= tau."""
    return dataset.scores()[dataset.confidences() >= tau]


def evaluate_ood(id_set: DetectionSet, ood_set: DetectionSet, tau: float | None) -> OodResult:
    """Step 3 and 4 of the protocol (module doc) for one OOD set."""
    keys = ('fpr95', 'auroc', 'aupr', 'aupr_in', 'aupr_out')
    empty = np.zeros(0)
    if tau is None or not math.isfinite(tau):
        return OodResult(dict.fromkeys(keys), empty, empty,
                         'no threshold: the ID set gave no class an F1-optimal score')
    ids = kept_scores(id_set, tau)
    oods = kept_scores(ood_set, tau)
    if ids.size == 0 or oods.size == 0:
        side = 'ID' if ids.size == 0 else f'OOD set {ood_set.name!r}'
        return OodResult(dict.fromkeys(keys), ids, oods,
                         f'no {side} detection has confidence >= tau ({tau:.4g})')
    result = ood_metrics(ids, oods)
    metrics: dict[str, float | None] = {
        'fpr95': result['fpr95'], 'auroc': result['auroc'], 'aupr': result['aupr_in'],
        'aupr_in': result['aupr_in'], 'aupr_out': result['aupr_out']}
    return OodResult(metrics, ids, oods)


def json_float(value: float | None) -> float | None:
    """NaN and inf as None (JSON has no NaN); other values unchanged."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def to_jsonable(value: Any) -> Any:
    """Recursively: floats via :func:`json_float`, numpy scalars to Python, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return json_float(float(value))
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
