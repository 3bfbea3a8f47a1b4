"""Turn a backend's raw detections into scored :class:`Detection` objects (pure, numpy only)."""

from __future__ import annotations

import math

import numpy as np

from negas_ros.detection import Detection, RawDetections
from negas_ros.labels import LabelSet
from negas_ros.scores import ScoreParams, compute_score, ood_confidence, sigmoid

__all__ = ['score_detections']


def score_detections(
    raw: RawDetections,
    labels: LabelSet,
    method: str,
    ood_threshold: float,
    params: ScoreParams | None = None,
) -> list[Detection]:
    """Score every candidate of ``raw`` and return one :class:`Detection` per row, in order.

    raw: N candidates with (N, K) ID and (N, M) negative logits, K = len(labels.id_labels)
        and M = len(labels.negative_labels), in the label order of ``labels``.
    method: a name in :data:`negas_ros.scores.SCORE_METHODS`.
    ood_threshold: finite; a detection is OOD when its ``id_score < ood_threshold``.
    params: score parameters (None means ``ScoreParams()``).

    Per detection: ``id_probs`` = sigmoid(ID logits) and ``neg_probs`` = sigmoid(negative
    logits) as read-only float32 rows; ``id_label`` / ``id_confidence`` = the arg-max ID
    label and its probability (first label on ties); ``neg_label`` / ``neg_confidence``
    likewise over the negatives, None / 0.0 when M = 0; ``id_score`` from
    :func:`~negas_ros.scores.compute_score`; ``ood_confidence`` from
    :func:`~negas_ros.scores.ood_confidence`; ``box_xyxy`` copied as Python floats.
    Everything is computed for all rows at once; N = 0 gives [].

    Raises ValueError when the logit widths do not match ``labels``, the method is unknown,
    the threshold is not finite, or a logit is NaN or infinite.
    """
    params = ScoreParams() if params is None else params
    num_id, num_neg = len(labels.id_labels), len(labels.negative_labels)
    if raw.id_logits.shape[1] != num_id or raw.neg_logits.shape[1] != num_neg:
        raise ValueError(
            f'logits have {raw.id_logits.shape[1]} ID and {raw.neg_logits.shape[1]} negative '
            f'columns but the label set has {num_id} ID and {num_neg} negative labels'
        )
    threshold = float(ood_threshold)
    if not math.isfinite(threshold):
        raise ValueError(f'ood_threshold must be finite, got {ood_threshold!r}')

    scores = compute_score(method, raw.id_logits, raw.neg_logits, params)
    ood_conf = ood_confidence(scores, method, threshold)
    is_ood = scores < threshold

    id_probs = sigmoid(raw.id_logits).astype(np.float32)
    neg_probs = sigmoid(raw.neg_logits).astype(np.float32)
    # Rows handed out below are views: read-only so that no Detection can change another's.
    id_probs.setflags(write=False)
    neg_probs.setflags(write=False)
    best_id = id_probs.argmax(axis=1)
    best_id_conf = id_probs.max(axis=1)
    if num_neg:
        best_neg: list[int] | None = neg_probs.argmax(axis=1).tolist()
        best_neg_conf: list[float] = neg_probs.max(axis=1).tolist()
    else:
        best_neg = None
        best_neg_conf = [0.0] * len(raw)

    detections = []
    rows = zip(
        raw.boxes_xyxy.tolist(),
        best_id.tolist(),
        best_id_conf.tolist(),
        scores.tolist(),
        ood_conf.tolist(),
        is_ood.tolist(),
        best_neg_conf,
        strict=True,
    )
    for i, (box, id_index, id_conf, score, conf, ood, neg_conf) in enumerate(rows):
        detections.append(
            Detection(
                box_xyxy=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                id_label=labels.id_labels[id_index],
                id_confidence=id_conf,
                id_probs=id_probs[i],
                neg_probs=neg_probs[i],
                neg_label=None if best_neg is None else labels.negative_labels[best_neg[i]],
                neg_confidence=neg_conf,
                id_score=score,
                ood_confidence=conf,
                is_ood=ood,
            )
        )
    return detections
