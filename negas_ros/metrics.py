"""OOD detection metrics from ID and OOD scores (pure numpy; no scikit-learn at run time).

ID is the positive class and a larger score means more in-distribution, as everywhere in
:mod:`negas_ros.scores`. The values match scikit-learn's ``roc_auc_score`` and
``average_precision_score`` (ties included); the tests check that.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    'auroc',
    'average_precision',
    'fpr_at_tpr',
    'ood_metrics',
    'precision_recall_curve',
    'roc_curve',
    'threshold_at_tpr',
]

Float64Array = npt.NDArray[np.float64]


def ood_metrics(id_scores: npt.ArrayLike, ood_scores: npt.ArrayLike) -> dict[str, float]:
    """The four standard OOD detection metrics, each in [0, 1].

    id_scores, ood_scores: 1-D arrays of scores of ID and of OOD samples (detections), each
    non-empty and finite, larger = more ID.

    Returns a dict with keys:

    - ``fpr95``: :func:`fpr_at_tpr` at TPR 0.95 (lower is better);
    - ``auroc``: :func:`auroc` (higher is better);
    - ``aupr_in``: :func:`average_precision` with ID as the positive class;
    - ``aupr_out``: average precision with OOD as the positive class, on negated scores.

    Raises ValueError naming the argument that is empty, not 1-D, or holds NaN or inf.
    """
    ids = _check_scores(id_scores, 'id_scores')
    oods = _check_scores(ood_scores, 'ood_scores')
    return {
        'fpr95': _fpr_at_tpr(ids, oods, 0.95),
        'auroc': _auroc(ids, oods),
        'aupr_in': _average_precision(ids, oods),
        'aupr_out': _average_precision(-oods, -ids),
    }


def fpr_at_tpr(id_scores: npt.ArrayLike, ood_scores: npt.ArrayLike, tpr: float = 0.95) -> float:
    """False-positive rate at the threshold that keeps a fraction ``tpr`` of ID samples.

    tau = the largest threshold with mean(id_scores >= tau) >= tpr, which is the
    ceil(tpr * n_id)-th largest ID score (ties keep every equal score); the result is
    mean(ood_scores >= tau). This is the first point of ``sklearn.metrics.roc_curve`` whose
    TPR reaches ``tpr``. The VOS / energy-OOD code instead takes the ROC point whose TPR is
    *nearest* to 0.95, which may lie below it; the two agree whenever some threshold gives
    a TPR of exactly ``tpr``. ``tpr`` must lie in (0, 1].
    """
    if not 0.0 < tpr <= 1.0:
        raise ValueError(f'tpr must lie in (0, 1], got {tpr!r}')
    ids = _check_scores(id_scores, 'id_scores')
    oods = _check_scores(ood_scores, 'ood_scores')
    return _fpr_at_tpr(ids, oods, tpr)


def threshold_at_tpr(id_scores: npt.ArrayLike, tpr: float = 0.95) -> float:
    """The score threshold :func:`fpr_at_tpr` uses: the ceil(tpr * n)-th largest ID score,
    so that ``score >= threshold`` keeps at least a fraction ``tpr`` of the ID samples (the
    node's ``ood_threshold`` at that operating point: a detection below it is unknown)."""
    if not 0.0 < tpr <= 1.0:
        raise ValueError(f'tpr must lie in (0, 1], got {tpr!r}')
    return _threshold_at_tpr(_check_scores(id_scores, 'id_scores'), tpr)


def auroc(id_scores: npt.ArrayLike, ood_scores: npt.ArrayLike) -> float:
    """Area under the ROC curve, ID positive: P(id > ood) + P(id == ood) / 2.

    The Mann-Whitney statistic from average ranks, so a tie counts as half, as in
    ``sklearn.metrics.roc_auc_score``.
    """
    return _auroc(_check_scores(id_scores, 'id_scores'), _check_scores(ood_scores, 'ood_scores'))


def average_precision(pos_scores: npt.ArrayLike, neg_scores: npt.ArrayLike) -> float:
    """Average precision of ranking positives above negatives (larger score = positive).

    AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds from high to low, with
    tied scores entering together, as in ``sklearn.metrics.average_precision_score``.
    """
    return _average_precision(
        _check_scores(pos_scores, 'pos_scores'), _check_scores(neg_scores, 'neg_scores')
    )


def _check_scores(scores: npt.ArrayLike, name: str) -> Float64Array:
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f'{name} must be 1-D, got shape {array.shape}')
    if array.size == 0:
        raise ValueError(f'{name} is empty; the metrics need at least one score of each kind')
    if not np.isfinite(array).all():
        raise ValueError(f'{name} holds NaN or infinite values')
    return array


def _threshold_at_tpr(ids: Float64Array, tpr: float) -> float:
    # Smallest count of ID samples to keep, ceil(tpr * n); the 1e-9 keeps a product that
    # rounding pushed just above an integer (tpr = 0.1 is stored as 0.1000...0555) on it.
    keep = min(ids.size, max(1, int(np.ceil(tpr * ids.size - 1e-9))))
    return float(np.sort(ids)[::-1][keep - 1])


def _fpr_at_tpr(ids: Float64Array, oods: Float64Array, tpr: float) -> float:
    return float(np.mean(oods >= _threshold_at_tpr(ids, tpr)))


def _auroc(ids: Float64Array, oods: Float64Array) -> float:
    ranks = _average_ranks(np.concatenate([ids, oods]))
    n_id, n_ood = ids.size, oods.size
    rank_sum = float(ranks[:n_id].sum())
    return (rank_sum - n_id * (n_id + 1) / 2.0) / (n_id * n_ood)


def _average_ranks(values: Float64Array) -> Float64Array:
    """1-based ranks, ascending, with tied values sharing the mean of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)  # rank of the last member of each tie group
    group_rank = ends - (counts - 1) / 2.0
    result: Float64Array = group_rank[inverse].astype(np.float64)
    return result


def _average_precision(pos: Float64Array, neg: Float64Array) -> float:
    precision, recall = precision_recall_curve(pos, neg)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _tie_grouped_counts(pos: Float64Array,
                        neg: Float64Array) -> tuple[npt.NDArray[np.int64], Float64Array]:
    """Ranking positives above negatives, one point per distinct score from high to low:
    (true positives, samples) at or above each score, tied scores entering together."""
    scores = np.concatenate([pos, neg])
    is_pos = np.concatenate([np.ones(pos.size, bool), np.zeros(neg.size, bool)])
    order = np.argsort(-scores, kind='stable')
    scores, is_pos = scores[order], is_pos[order]
    # Last index of each run of equal scores: tied samples cross the threshold together.
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_pos: npt.NDArray[np.int64] = np.cumsum(is_pos)[last]
    return true_pos, last + 1.0


def roc_curve(id_scores: npt.ArrayLike, ood_scores: npt.ArrayLike) -> tuple[Float64Array,
                                                                            Float64Array]:
    """(fpr, tpr) with ID positive, one point per distinct score from high to low, starting at
    (0, 0). The trapezoid area under it equals :func:`auroc`."""
    ids = np.asarray(id_scores, dtype=np.float64)
    oods = np.asarray(ood_scores, dtype=np.float64)
    true_pos, samples = _tie_grouped_counts(ids, oods)
    tpr = true_pos / max(ids.size, 1)
    fpr = (samples - true_pos) / max(oods.size, 1)
    return np.r_[0.0, fpr], np.r_[0.0, tpr]


def precision_recall_curve(pos_scores: npt.ArrayLike,
                           neg_scores: npt.ArrayLike) -> tuple[Float64Array, Float64Array]:
    """(precision, recall) of ranking positives above negatives, one point per distinct score
    from high to low (ties together), as :func:`average_precision` sums."""
    pos = np.asarray(pos_scores, dtype=np.float64)
    neg = np.asarray(neg_scores, dtype=np.float64)
    true_pos, samples = _tie_grouped_counts(pos, neg)
    return true_pos / samples, true_pos / max(pos.size, 1)
