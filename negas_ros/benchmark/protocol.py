"""The VOS protocol over the benchmark's cached outputs (pure numpy + pycocotools).

Reuses :mod:`negas_ros.evaluation` (the protocol of ``negas-ros evaluate``): per network
setting, the ID detections enter :func:`~negas_ros.evaluation.coco_evaluate` (mAP with the
detector confidence, whatever the OOD score) and
:func:`~negas_ros.evaluation.f1_optimal_threshold` gives tau*; per row, every detection with
confidence >= tau* on ID images is an ID sample and on OOD images an OOD sample, valued by the
row's score method, and :func:`~negas_ros.evaluation.evaluate_ood` gives FPR95, AUROC and AUPR
(ID positive). Confidence = max over ID labels of sigmoid(logit) in float32, exactly the
``id_confidence`` the node's scoring computes.

The benchmark's only addition: one :class:`~negas_ros.evaluation.DetectionSet` per (setting,
split) holds boxes, classes and confidences, and :func:`with_scores` swaps in each row's score
array, so the COCO evaluation runs once per setting rather than once per row.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
import copy
from dataclasses import dataclass, field
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from negas_ros.benchmark.collect import BenchmarkOutputs, SplitOutputs
from negas_ros.benchmark.plan import TEST_SPLITS, BenchmarkPlan, RowSpec
from negas_ros.detection import Detection, RawDetections
from negas_ros.evaluation import (
    CocoResult,
    DetectionSet,
    ThresholdResult,
    coco_evaluate,
    evaluate_ood,
    f1_optimal_threshold,
)
from negas_ros.scores import ScoreParams, compute_score, sigmoid

__all__ = ['RowResult', 'SettingEvaluation', 'detection_set', 'evaluate_rows', 'row_scores',
           'with_scores']

FloatArray = npt.NDArray[np.float64]
_EMPTY = np.zeros(0, np.float32)


def detection_set(name: str, class_names: Sequence[str], data: SplitOutputs, setting: str,
                  limit: int | None = None, id_split: str = TEST_SPLITS.id) -> DetectionSet:
    """The :class:`DetectionSet` of one split under one setting (first ``limit`` images).

    Frames of the ID split (``id_split``: the split set's ID split) carry their ground truth;
    OOD frames have none (they take no part in mAP, as in the protocol). Every detection
    enters with its best ID label and confidence; its OOD score is left at 0 for
    :func:`with_scores` to fill.
    """
    dataset = DetectionSet(name, class_names)
    n = data.num_images if limit is None else min(limit, data.num_images)
    for i in range(n):
        raw = data.raw[setting][i]
        probs = sigmoid(raw.id_logits).astype(np.float32)
        best, conf = probs.argmax(axis=1), probs.max(axis=1)
        detections = [
            Detection(tuple(box), class_names[k], c, _EMPTY, _EMPTY, None, 0.0, 0.0, 0.0, False)
            for box, k, c in zip(raw.boxes_xyxy.tolist(), best.tolist(), conf.tolist(),
                                 strict=True)]
        width, height = data.sizes[i]
        truth = data.truth[i] if data.split == id_split else None
        dataset.add_frame(width, height, detections, truth)
    return dataset


def row_scores(raws: Sequence[RawDetections], columns: Sequence[int], method: str,
               params: ScoreParams) -> FloatArray:
    """The row's OOD score of every detection, images in order: (sum N_i,) float64.

    columns: which negative-logit columns of the setting the row's score sees.
    """
    index = np.asarray(columns, dtype=np.intp)
    parts = [compute_score(method, raw.id_logits, raw.neg_logits[:, index], params)
             for raw in raws if len(raw)]
    return np.concatenate(parts) if parts else np.zeros(0)


def with_scores(dataset: DetectionSet, scores: npt.ArrayLike) -> DetectionSet:
    """A shallow copy of ``dataset`` whose OOD scores are ``scores`` (one per detection).

    Shares every other array with the original (none is modified); replaces the public
    ``det_score`` array, the one field the OOD step reads besides the confidences.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != (dataset.num_detections,):
        raise ValueError(f'{values.shape[0] if values.ndim else 0} scores for '
                         f'{dataset.num_detections} detections')
    out = copy.copy(dataset)
    out.det_score = array('d', values.tolist())
    return out


def _kept(dataset: DetectionSet, tau: float | None) -> npt.NDArray[np.bool_]:
    """Which detections are samples (confidence >= tau), as kept_scores selects them."""
    if tau is None or not math.isfinite(tau):
        return np.zeros(dataset.num_detections, dtype=bool)
    return dataset.confidences() >= tau


def _best_probs(raws: Sequence[RawDetections], columns: Sequence[int]
                ) -> tuple[FloatArray, FloatArray]:
    """Per detection (images in order): max ID sigmoid and max sigmoid over the columns."""
    index = np.asarray(columns, dtype=np.intp)
    ids = [sigmoid(r.id_logits).max(axis=1) for r in raws if len(r)]
    negs = [sigmoid(r.neg_logits[:, index]).max(axis=1) for r in raws if len(r)]
    if not ids:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(ids), np.concatenate(negs)


def _by_category(dataset: DetectionSet, data: SplitOutputs, kept: npt.NDArray[np.bool_],
                 best_neg: FloatArray) -> dict[str, dict[str, float]]:
    """Kept samples of an OOD set grouped by the object they sit on (IoU >= 0.5)."""
    boxes = np.frombuffer(dataset.det_box, dtype=np.float64).reshape(-1, 4)
    images = np.frombuffer(dataset.det_image, dtype=np.int32)
    groups: dict[str, list[float]] = {}
    for j in np.flatnonzero(kept).tolist():
        truth = data.truth[int(images[j])]
        category = 'none'
        if truth:
            gt = np.asarray([t.box_xyxy for t in truth], dtype=np.float64)
            box = boxes[j]
            iw = np.clip(np.minimum(gt[:, 2], box[2]) - np.maximum(gt[:, 0], box[0]), 0, None)
            ih = np.clip(np.minimum(gt[:, 3], box[3]) - np.maximum(gt[:, 1], box[1]), 0, None)
            inter = iw * ih
            union = ((gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
                     + (box[2] - box[0]) * (box[3] - box[1]) - inter)
            iou = inter / np.maximum(union, 1e-9)
            if iou.max() >= 0.5:
                category = truth[int(iou.argmax())].category
        groups.setdefault(category, []).append(float(best_neg[j]))
    return {c: {'samples': len(v), 'mean_max_negative': float(np.mean(v))}
            for c, v in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))}


@dataclass(frozen=True)
class SettingEvaluation:
    """The per-setting part of the protocol: COCO result and tau* on the ID split."""

    coco: CocoResult
    threshold: ThresholdResult
    sets: dict[str, DetectionSet] = field(repr=False)


@dataclass(frozen=True)
class RowResult:
    """One evaluated row.

    metrics: OOD set name ('near', 'far', ...) -> fpr95, auroc, aupr, aupr_in, aupr_out
    (None when a side has no kept sample). samples: kept samples per set ('id' and OOD names).
    map, map50: ID mAP of the row's setting (fractions). tau: its threshold tau*.
    id_scores / ood_scores: the kept samples' scores (for plots and the bootstrap).
    id_images / ood_images: the image index of each kept sample (same order).
    negative_response: set name ('id', 'near', ...) -> over the kept samples, the mean of
    max_k sigmoid(t_k) (``mean_max_negative``) and the share whose best negative beats their
    best ID label (``negative_wins``); for OOD sets also ``by_category``: per object category
    (the ground-truth box a sample overlaps at IoU >= 0.5, else 'none') its kept samples and
    their mean max_k sigmoid(t_k). Empty when the row reads no negatives.
    """

    spec: RowSpec
    num_negatives: int
    metrics: dict[str, dict[str, float | None]]
    samples: dict[str, int]
    map: float
    map50: float
    tau: float | None
    id_scores: FloatArray = field(repr=False)
    ood_scores: dict[str, FloatArray] = field(repr=False)
    id_images: npt.NDArray[np.int32] = field(repr=False, default_factory=lambda: np.zeros(
        0, np.int32))
    ood_images: dict[str, npt.NDArray[np.int32]] = field(repr=False, default_factory=dict)
    negative_response: dict[str, dict[str, Any]] = field(default_factory=dict)


def _setting_evaluation(plan: BenchmarkPlan, outputs: BenchmarkOutputs, key: str,
                        limits: Mapping[str, int] | None) -> SettingEvaluation:
    sets: dict[str, DetectionSet] = {}
    splits = plan.splits
    for name, split in (('id', splits.id), *splits.ood.items()):
        data = outputs.splits.get(split)
        if data is None or key not in data.raw:
            continue
        limit = None if limits is None else limits.get(split, 0)
        if limit == 0:
            continue
        sets[name] = detection_set(name, plan.id_labels, data, key, limit, splits.id)
    if 'id' not in sets:
        raise ValueError(f'setting {key!r} has no ID images')
    coco = coco_evaluate(sets['id'])
    threshold = f1_optimal_threshold(coco.precision, coco.scores, coco.rec_thrs)
    return SettingEvaluation(coco, threshold, sets)


def evaluate_rows(plan: BenchmarkPlan, outputs: BenchmarkOutputs, rows: Sequence[RowSpec],
                  params: ScoreParams | None = None,
                  limits: Mapping[str, int] | None = None) -> dict[str, RowResult]:
    """Evaluate rows (keys must be unique) on the collected outputs.

    limits: split -> use only its first n images (the quick subset); None: all images.
    The sets are those of ``plan.splits`` (the ID split and the OOD splits).
    params: score parameters (default :class:`ScoreParams`: T = 1, one NegLabel group).
    """
    params = ScoreParams() if params is None else params
    per_setting: dict[str, SettingEvaluation] = {}
    results: dict[str, RowResult] = {}
    for spec in rows:
        if spec.setting not in per_setting:
            per_setting[spec.setting] = _setting_evaluation(plan, outputs, spec.setting, limits)
        evaluation = per_setting[spec.setting]
        negatives = plan.settings[spec.setting].negatives
        columns = [negatives.index(word) for word in spec.negatives]
        scored: dict[str, DetectionSet] = {}
        for name, dataset in evaluation.sets.items():
            split = plan.splits.split(name)
            raws = outputs.splits[split].raw[spec.setting][:dataset.num_frames]
            scored[name] = with_scores(dataset, row_scores(raws, columns, spec.method, params))
        tau = evaluation.threshold.tau
        metrics: dict[str, dict[str, float | None]] = {}
        ood_scores: dict[str, FloatArray] = {}
        samples: dict[str, int] = {}
        id_scores = np.zeros(0)
        for name, dataset in scored.items():
            if name == 'id':
                continue
            result = evaluate_ood(scored['id'], dataset, tau)
            metrics[name] = result.metrics
            ood_scores[name] = result.ood_scores
            samples[name] = int(result.ood_scores.size)
            id_scores = result.id_scores
        samples['id'] = int(id_scores.size)
        images: dict[str, npt.NDArray[np.int32]] = {}
        response: dict[str, dict[str, float]] = {}
        for name, dataset in scored.items():
            kept = _kept(dataset, tau)
            images[name] = np.frombuffer(dataset.det_image, dtype=np.int32)[kept].copy()
            if columns and kept.any():
                split = plan.splits.split(name)
                raws = outputs.splits[split].raw[spec.setting][:dataset.num_frames]
                best_id, best_neg = _best_probs(raws, columns)
                entry: dict[str, Any] = {
                    'mean_max_negative': float(best_neg[kept].mean()),
                    'negative_wins': float((best_neg[kept] > best_id[kept]).mean())}
                if name != 'id':
                    entry['by_category'] = _by_category(
                        dataset, outputs.splits[split], kept, best_neg)
                response[name] = entry
        coco = evaluation.coco
        results[spec.key] = RowResult(
            spec, len(spec.negatives), metrics, samples,
            coco.map, coco.map50, tau if tau is None or math.isfinite(tau) else None,
            id_scores, ood_scores, images.pop('id'), images, response)
    return results
