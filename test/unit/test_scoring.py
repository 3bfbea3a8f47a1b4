"""Unit tests of negas_ros.scoring.score_detections."""

from __future__ import annotations

import math

import numpy as np
import pytest

from negas_ros.detection import Detection, RawDetections
from negas_ros.labels import make_label_set
from negas_ros.scores import SCORE_METHODS, ScoreParams, compute_score, ood_confidence
from negas_ros.scoring import score_detections

LN3, LN9, LN4 = math.log(3.0), math.log(9.0), math.log(4.0)
LABELS = make_label_set(['car', 'truck'], ['van', 'tram', 'mailbox'])


def raw(id_logits: list[list[float]], neg_logits: list[list[float]]) -> RawDetections:
    n = len(id_logits)
    boxes = np.array([[10.0 * i, 20.0, 10.0 * i + 5.5, 40.25] for i in range(n)], np.float32)
    return RawDetections(
        boxes.reshape(n, 4),
        np.array(id_logits, np.float32).reshape(n, -1),
        np.array(neg_logits, np.float32).reshape(n, -1),
    )


def test_hand_computed_detections() -> None:
    # Row 0: p = (0.75, 0.5), q = (0.25, 0.5, 0.2) -> negs 0.375, ID.
    # Row 1: p = (0.5, 0.9), q = (0.8, 0.9, 0.5) -> negs 0.09, OOD.
    detections = score_detections(
        raw([[LN3, 0.0], [0.0, LN9]], [[-LN3, 0.0, -LN4], [LN4, LN9, 0.0]]),
        LABELS,
        'negs',
        ood_threshold=0.3,
        params=ScoreParams(),
    )
    assert len(detections) == 2
    first, second = detections
    assert all(isinstance(d, Detection) for d in detections)

    assert first.box_xyxy == (0.0, 20.0, 5.5, 40.25)
    assert all(type(v) is float for v in first.box_xyxy)
    assert first.id_label == 'car'
    assert first.id_confidence == pytest.approx(0.75, abs=1e-6)
    np.testing.assert_allclose(first.id_probs, [0.75, 0.5], atol=1e-6)
    np.testing.assert_allclose(first.neg_probs, [0.25, 0.5, 0.2], atol=1e-6)
    assert first.id_probs.dtype == np.float32 and first.neg_probs.dtype == np.float32
    assert first.neg_label == 'tram'
    assert first.neg_confidence == pytest.approx(0.5, abs=1e-6)
    assert first.id_score == pytest.approx(0.375, abs=1e-6)
    assert first.ood_confidence == pytest.approx(0.625, abs=1e-6)
    assert first.is_ood is False

    assert second.box_xyxy == (10.0, 20.0, 15.5, 40.25)
    assert second.id_label == 'truck'
    assert second.id_confidence == pytest.approx(0.9, abs=1e-6)
    assert second.neg_label == 'tram'
    assert second.neg_confidence == pytest.approx(0.9, abs=1e-6)
    assert second.id_score == pytest.approx(0.09, abs=1e-6)
    assert second.ood_confidence == pytest.approx(0.91, abs=1e-6)
    assert second.is_ood is True
    for d in detections:
        for value in (d.id_confidence, d.neg_confidence, d.id_score, d.ood_confidence):
            assert type(value) is float


def test_threshold_is_strict() -> None:
    # id_score < threshold is OOD; a score equal to the threshold is not.
    r = raw([[0.0, -5.0]], [[0.0, -5.0, -5.0]])
    (probe,) = score_detections(r, LABELS, 'negs', 0.5)
    assert probe.id_score == pytest.approx(0.25)  # 0.5 * (1 - 0.5)
    (at,) = score_detections(r, LABELS, 'negs', probe.id_score)
    assert at.is_ood is False
    (above,) = score_detections(r, LABELS, 'negs', math.nextafter(probe.id_score, 1.0))
    assert above.is_ood is True


def test_no_negative_labels() -> None:
    labels = make_label_set(['car', 'truck'])
    (d,) = score_detections(raw([[0.0, LN3]], [[]]), labels, 'negs', 0.5)
    assert d.neg_label is None
    assert d.neg_confidence == 0.0
    assert d.neg_probs.shape == (0,)
    assert d.id_label == 'truck'
    assert d.id_score == pytest.approx(0.75)  # equals max_sigmoid


def test_empty_batch() -> None:
    assert score_detections(RawDetections.empty(2, 3), LABELS, 'negs', 0.5) == []
    assert score_detections(RawDetections.empty(2, 3), LABELS, 'energy', 0.5) == []


@pytest.mark.parametrize('method', sorted(SCORE_METHODS))
def test_every_method_is_consistent_with_vectorised_scores(method: str) -> None:
    rng = np.random.default_rng(5)
    id_logits = rng.normal(0, 3, (12, 2)).tolist()
    neg_logits = rng.normal(0, 3, (12, 3)).tolist()
    r = raw(id_logits, neg_logits)
    params = ScoreParams(neglabel_groups=2)
    threshold = 0.4
    detections = score_detections(r, LABELS, method, threshold, params)
    scores = compute_score(method, r.id_logits, r.neg_logits, params)
    conf = ood_confidence(scores, method, threshold)
    assert [d.id_score for d in detections] == scores.tolist()
    assert [d.ood_confidence for d in detections] == conf.tolist()
    assert [d.is_ood for d in detections] == (scores < threshold).tolist()
    for d in detections:
        assert 0.0 <= d.ood_confidence <= 1.0
        assert d.id_confidence == d.id_probs.max()
        assert d.id_label == LABELS.id_labels[int(d.id_probs.argmax())]
        assert d.neg_label == LABELS.negative_labels[int(d.neg_probs.argmax())]


def test_probability_rows_are_read_only() -> None:
    (d,) = score_detections(raw([[0.0, 1.0]], [[0.0, 1.0, 2.0]]), LABELS, 'negs', 0.5)
    with pytest.raises(ValueError):
        d.id_probs[0] = 1.0
    with pytest.raises(ValueError):
        d.neg_probs[0] = 1.0


def test_width_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match='3 ID and 3 negative columns'):
        score_detections(raw([[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]), LABELS, 'negs', 0.5)
    with pytest.raises(ValueError, match='2 ID and 3 negative labels'):
        score_detections(raw([[0.0, 0.0]], [[0.0]]), LABELS, 'negs', 0.5)


def test_bad_method_and_threshold() -> None:
    r = raw([[0.0, 0.0]], [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match='unknown score method'):
        score_detections(r, LABELS, 'nope', 0.5)
    with pytest.raises(ValueError, match='ood_threshold must be finite'):
        score_detections(r, LABELS, 'negs', math.nan)


def test_nan_logits_are_rejected() -> None:
    with pytest.raises(ValueError, match='NaN'):
        score_detections(raw([[math.nan, 0.0]], [[0.0, 0.0, 0.0]]), LABELS, 'negs', 0.5)
