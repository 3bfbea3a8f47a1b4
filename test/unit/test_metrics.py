"""Unit tests of negas_ros.metrics against scikit-learn (a test-only dependency)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from negas_ros.metrics import auroc, average_precision, fpr_at_tpr, ood_metrics

Array = np.ndarray


def sklearn_reference(id_scores: Array, ood_scores: Array) -> dict[str, float]:
    """The four metrics from scikit-learn, ID positive, larger score = more ID."""
    y = np.r_[np.ones(id_scores.size), np.zeros(ood_scores.size)]
    scores = np.r_[id_scores, ood_scores]
    fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=False)
    # First ROC point (largest threshold) whose TPR reaches 0.95.
    fpr95 = float(fpr[np.argmax(tpr >= 0.95 - 1e-12)])
    return {
        'fpr95': fpr95,
        'auroc': float(roc_auc_score(y, scores)),
        'aupr_in': float(average_precision_score(y, scores)),
        'aupr_out': float(average_precision_score(1 - y, -scores)),
    }


def vos_fpr_at_recall(id_scores: Array, ood_scores: Array, recall_level: float = 0.95) -> float:
    """FPR at the ROC point whose TPR is nearest to recall_level, as in the VOS / energy code."""
    y = np.r_[np.ones(id_scores.size), np.zeros(ood_scores.size)]
    scores = np.r_[id_scores, ood_scores]
    fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=False)
    return float(fpr[np.argmin(np.abs(tpr - recall_level))])


def assert_matches_sklearn(id_scores: Array, ood_scores: Array) -> None:
    got = ood_metrics(id_scores, ood_scores)
    expected = sklearn_reference(id_scores, ood_scores)
    assert set(got) == {'fpr95', 'auroc', 'aupr_in', 'aupr_out'}
    for key, value in expected.items():
        assert isinstance(got[key], float)
        assert got[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize('seed', range(10))
def test_random_continuous_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_id, n_ood = rng.integers(1, 400, size=2)
    id_scores = rng.normal(1.0, 1.0, n_id)
    ood_scores = rng.normal(0.0, 1.0, n_ood)
    assert_matches_sklearn(id_scores, ood_scores)


@pytest.mark.parametrize('seed', range(10))
def test_heavily_tied_scores(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_id, n_ood = rng.integers(1, 300, size=2)
    id_scores = np.round(rng.uniform(0.2, 1.0, n_id), 1)
    ood_scores = np.round(rng.uniform(0.0, 0.8, n_ood), 1)
    assert_matches_sklearn(id_scores, ood_scores)


def test_all_scores_equal() -> None:
    got = ood_metrics(np.full(10, 0.5), np.full(7, 0.5))
    assert got['auroc'] == 0.5
    assert got['fpr95'] == 1.0
    assert_matches_sklearn(np.full(10, 0.5), np.full(7, 0.5))


def test_single_samples() -> None:
    assert_matches_sklearn(np.array([1.0]), np.array([0.0]))
    assert_matches_sklearn(np.array([0.0]), np.array([1.0]))
    assert ood_metrics([1.0], [0.0]) == {
        'fpr95': 0.0,
        'auroc': 1.0,
        'aupr_in': 1.0,
        'aupr_out': 1.0,
    }


def test_perfect_and_inverted_separation() -> None:
    perfect = ood_metrics(np.arange(10, 20.0), np.arange(10.0))
    assert perfect == {'fpr95': 0.0, 'auroc': 1.0, 'aupr_in': 1.0, 'aupr_out': 1.0}
    inverted = ood_metrics(np.arange(10.0), np.arange(10, 20.0))
    assert inverted['fpr95'] == 1.0
    assert inverted['auroc'] == 0.0


def test_fpr95_threshold_hand_computed() -> None:
    # 20 ID scores 1..20: keep ceil(0.95 * 20) = 19 of them, tau = 2 (the 19th largest).
    id_scores = np.arange(1.0, 21.0)
    ood_scores = np.array([0.5, 1.5, 2.0, 2.5, 30.0])
    # OOD >= 2: 2.0, 2.5, 30.0 -> 3/5.
    assert fpr_at_tpr(id_scores, ood_scores) == pytest.approx(0.6)
    # 10 ID scores: ceil(9.5) = 10, tau = the smallest ID score, 1.
    assert fpr_at_tpr(np.arange(1.0, 11.0), ood_scores) == pytest.approx(0.8)
    # Ties at the threshold are all kept: tau = 1 also keeps the tied 1's.
    assert fpr_at_tpr(np.array([1.0] * 5 + [3.0] * 15), np.array([1.0, 0.0])) == 0.5
    assert fpr_at_tpr(id_scores, ood_scores, tpr=0.5) == pytest.approx(0.2)  # tau = 11
    assert fpr_at_tpr(id_scores, ood_scores, tpr=1.0) == pytest.approx(0.8)  # tau = 1


def test_fpr95_equals_vos_code_when_tpr_095_is_reached_exactly() -> None:
    rng = np.random.default_rng(7)
    for n_id in (20, 100, 400):
        id_scores = rng.normal(1.0, 1.0, n_id)
        ood_scores = rng.normal(0.0, 1.0, 333)
        assert ood_metrics(id_scores, ood_scores)['fpr95'] == pytest.approx(
            vos_fpr_at_recall(id_scores, ood_scores), abs=1e-12
        )


def test_auroc_ties_count_half_hand_computed() -> None:
    # Pairs (id, ood): 2>1, 2>1; 1=1 twice counts 0.5 each -> (2 + 1) / 4.
    assert auroc([2.0, 1.0], [1.0, 1.0]) == pytest.approx(0.75)


def test_average_precision_hand_computed() -> None:
    # Ranking: pos 3, neg 2, pos 1 -> precision 1 at recall 0.5, 2/3 at recall 1.
    assert average_precision([3.0, 1.0], [2.0]) == pytest.approx(0.5 * 1.0 + 0.5 * 2.0 / 3.0)
    # A tie between a positive and a negative enters together: precision 1/2 at recall 1.
    assert average_precision([1.0], [1.0]) == pytest.approx(0.5)


def test_metrics_are_invariant_to_monotone_transforms_and_order() -> None:
    rng = np.random.default_rng(3)
    id_scores = rng.normal(1.0, 1.0, 50)
    ood_scores = rng.normal(0.0, 1.0, 60)
    base = ood_metrics(id_scores, ood_scores)
    transformed = ood_metrics(np.exp(id_scores), np.exp(ood_scores))
    shuffled = ood_metrics(rng.permutation(id_scores), rng.permutation(ood_scores))
    for key in base:
        assert transformed[key] == pytest.approx(base[key], abs=1e-12)
        assert shuffled[key] == pytest.approx(base[key], abs=1e-12)


def test_accepts_lists_and_float32() -> None:
    got = ood_metrics([0.9, 0.8], np.array([0.1, 0.85], np.float32))
    assert got['auroc'] == pytest.approx(0.75)


@pytest.mark.parametrize(
    ('id_scores', 'ood_scores', 'fragment'),
    [
        ([], [0.1], 'id_scores is empty'),
        ([0.1], [], 'ood_scores is empty'),
        ([0.1, math.nan], [0.2], 'id_scores holds NaN'),
        ([0.1], [math.nan], 'ood_scores holds NaN'),
        ([0.1], [math.inf], 'ood_scores holds NaN or infinite'),
        ([[0.1]], [0.2], 'id_scores must be 1-D'),
        (0.1, [0.2], 'id_scores must be 1-D'),
    ],
)
def test_invalid_inputs(id_scores: object, ood_scores: object, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        ood_metrics(id_scores, ood_scores)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_fpr_at_tpr_rejects_bad_level() -> None:
    for level in (0.0, -0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match='tpr must lie in'):
            fpr_at_tpr([1.0], [0.0], tpr=level)


def test_average_precision_names_its_arguments() -> None:
    with pytest.raises(ValueError, match='neg_scores is empty'):
        average_precision([1.0], [])


def test_threshold_at_tpr_is_the_fpr95_operating_point() -> None:
    from negas_ros.metrics import threshold_at_tpr

    rng = np.random.default_rng(3)
    ids, oods = rng.normal(1.0, 1.0, 101), rng.normal(0.0, 1.0, 80)
    t = threshold_at_tpr(ids, 0.95)
    assert np.mean(ids >= t) >= 0.95 and np.mean(ids > t) < 0.95
    assert fpr_at_tpr(ids, oods, 0.95) == np.mean(oods >= t)
    with pytest.raises(ValueError):
        threshold_at_tpr(ids, 0.0)
