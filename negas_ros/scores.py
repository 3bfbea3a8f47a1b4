"""OOD scores of detections from their ID- and negative-label logits (pure, numpy only).

Every score is *larger = more in-distribution* and is computed for N detections at once from

- ``id_logits``  (N, K), K >= 1: pre-sigmoid responses to the ID labels, s_1..s_K;
- ``neg_logits`` (N, M), M >= 0: pre-sigmoid responses to the negative labels, t_1..t_M;

with p = sigmoid(s) and q = sigmoid(t). Each returns an (N,) float64 array; N = 0 gives an
empty one. Inputs must be finite (a NaN or infinite logit raises ValueError).

Methods (:data:`SCORE_METHODS`; range in brackets):

- ``max_sigmoid`` [0, 1]: max_c p_c, the detector's own confidence (the baseline).
- ``energy`` (unbounded): T * log sum_c exp(s_c / T), ID logits only (Liu et al. 2020).
- ``joint_energy`` [0, inf): sum_c log(1 + exp(s_c)) (Wang et al., NeurIPS 2021).
- ``neglabel`` [0, 1]: NegLabel sum-softmax (Jiang et al., ICLR 2024), see :func:`neglabel`.
- ``negs`` [0, 1], the default: max_c p_c * (1 - max_k q_k), see :func:`negs`.
- ``negs_ratio`` [0, 1]: sum_c p_c / (sum_c p_c + sum_k q_k).
- ``negs_diff`` [-1, 1]: max_c p_c - max_k q_k.
- ``negs_margin`` [-1, 1]: max_c p_c - max(0, max_k q_k - m), see :func:`negs_margin`.
- ``negs_softmax`` [0, 1]: sum-softmax over the sigmoid probabilities, see :func:`negs_softmax`.

The NegAS paper's NegS formula is not published; ``negs`` and its four alternatives are our
hypotheses, selectable so that they can be compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import math
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

__all__ = [
    'DEFAULT_METHOD',
    'SCORE_METHODS',
    'ScoreMethod',
    'ScoreParams',
    'compute_score',
    'energy',
    'joint_energy',
    'max_sigmoid',
    'neglabel',
    'negs',
    'negs_diff',
    'negs_margin',
    'negs_ratio',
    'negs_softmax',
    'ood_confidence',
    'score_method',
    'sigmoid',
    'softplus',
]

Float64Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ScoreParams:
    """Parameters of the score methods; each method reads only its own.

    temperature: T of ``energy`` and ``neglabel``, > 0. Default 1.0: detector logits are
        already scaled for a sigmoid (YOLO-World multiplies cosine similarities by
        exp(logit_scale) ~ 100), so T = 1 on them is NegLabel's T = 0.01 on raw CLIP cosine
        similarities in [-1, 1]; 0.01 on logits would make every sum-softmax a hard max.
    neglabel_groups: number of random disjoint groups the negatives are split into for
        ``neglabel``, >= 1 (1 = all negatives in one group). NegLabel used 100 groups of 100.
    seed: seed of the fixed random partition into groups, >= 0; the same seed and M give the
        same partition on every call, so scores are deterministic and do not depend on N.
    sigmoid_temperature: T of ``negs_softmax``, > 0, applied to probabilities in [0, 1]
        (0.1 turns a probability gap of 0.1 into a factor e between exponentials).
    negative_margin: m of ``negs_margin``, in [0, 1): a negative sigmoid counts only by how
        much it exceeds m. Default 0.1, the response ``negas-ros negatives prune`` allows a
        kept negative on ID objects (``--max-response``), so a pruned list's usual answers on
        ID objects cost nothing.
    """

    temperature: float = 1.0
    neglabel_groups: int = 1
    seed: int = 0
    sigmoid_temperature: float = 0.1
    negative_margin: float = 0.1

    def __post_init__(self) -> None:
        for name in ('temperature', 'sigmoid_temperature'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f'{name} must be a number > 0, got {value!r}')
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'{name} must be finite and > 0, got {value!r}')
        for name, low in (('neglabel_groups', 1), ('seed', 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f'{name} must be an integer >= {low}, got {value!r}')
        margin = self.negative_margin
        if (
            isinstance(margin, bool)
            or not isinstance(margin, (int, float))
            or not 0.0 <= margin < 1.0
        ):
            raise ValueError(f'negative_margin must be a number in [0, 1), got {margin!r}')


_DEFAULT_PARAMS = ScoreParams()


def sigmoid(x: npt.ArrayLike) -> Float64Array:
    """Elementwise 1 / (1 + exp(-x)) in float64, without overflow for any finite x."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def softplus(x: npt.ArrayLike) -> Float64Array:
    """Elementwise log(1 + exp(x)) in float64, without overflow for any finite x."""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def max_sigmoid(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """max_c sigmoid(s_c), in [0, 1]. Ignores the negatives and params."""
    s, _ = _as_logits(id_logits, neg_logits)
    return sigmoid(_row_max(s))


def energy(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """T * log sum_c exp(s_c / T) over the ID logits, T = ``params.temperature``; unbounded.

    The negative energy of Liu et al. (NeurIPS 2020), so larger = more ID. Ignores the
    negatives.
    """
    s, _ = _as_logits(id_logits, neg_logits)
    t = params.temperature
    return t * _logsumexp(s / t)


def joint_energy(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """sum_c log(1 + exp(s_c)) over the ID logits, in [0, inf). Ignores negatives and params.

    JointEnergy (Wang et al., NeurIPS 2021), the multi-label energy: one softplus per
    independent sigmoid label, computed as a stable softplus.
    """
    s, _ = _as_logits(id_logits, neg_logits)
    result: Float64Array = softplus(s).sum(axis=1)
    return result


def neglabel(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """NegLabel sum-softmax score (Jiang et al., ICLR 2024), in [0, 1].

    The M negatives are split into G = min(``params.neglabel_groups``, M) disjoint groups by
    a random permutation from ``np.random.default_rng(params.seed)`` cut into G near-equal
    consecutive parts (``np.array_split``); with T = ``params.temperature``::

        score = mean over groups g of
                sum_c exp(s_c / T) / (sum_c exp(s_c / T) + sum_{k in g} exp(t_k / T))

    computed as sigmoid(LSE(s / T) - LSE(t_g / T)) so that no exponential overflows.
    T defaults to 1.0 (not NegLabel's 0.01): NegLabel applies T to CLIP cosine similarities
    in [-1, 1], while detector logits already include a contrastive scale of about 100.
    With M = 0 the score is 1.0 for every detection: nothing competes with the ID labels.
    The score depends on K and M (more labels of one side raise that side's sum).
    """
    s, t = _as_logits(id_logits, neg_logits)
    return _grouped_sum_softmax(s / params.temperature, t / params.temperature, params)


def negs(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """NegS, our sigmoid-based score and the default: max_c p_c * (1 - max_k q_k), in [0, 1].

    Our choice, since the paper's formula is unpublished. Sigmoid outputs are independent
    per-label probabilities, so the product approximates P(the detection is some ID class
    AND matches no negative label). The max over the negatives, rather than the product of
    (1 - q_k), keeps the score stable as M grows from 10 to 1000 (many small q_k would
    otherwise drive every score to 0). The score rises with any ID response and falls with
    any negative response. With M = 0 it equals :func:`max_sigmoid`. 1 - max_k q_k is
    computed as sigmoid(-max_k t_k) to keep precision when a q_k is near 1. Ignores params.
    """
    s, t = _as_logits(id_logits, neg_logits)
    if t.shape[1] == 0:
        return sigmoid(_row_max(s))
    result: Float64Array = sigmoid(_row_max(s)) * sigmoid(-_row_max(t))
    return result


def negs_ratio(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """sum_c p_c / (sum_c p_c + sum_k q_k), in [0, 1]; 1.0 when M = 0. Ignores params.

    Computed in log space (sigmoid(LSE(log p) - LSE(log q))) so that tiny probabilities do
    not underflow to 0 / 0. Depends on K and M like a sum-softmax.
    """
    s, t = _as_logits(id_logits, neg_logits)
    # log sigmoid(x) = -softplus(-x)
    return _sum_softmax(-softplus(-s), -softplus(-t))


def negs_diff(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """max_c p_c - max_k q_k, in [-1, 1]; equals :func:`max_sigmoid` when M = 0. Ignores params."""
    s, t = _as_logits(id_logits, neg_logits)
    if t.shape[1] == 0:
        return sigmoid(_row_max(s))
    result: Float64Array = sigmoid(_row_max(s)) - sigmoid(_row_max(t))
    return result


def negs_margin(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """max_c p_c - max(0, max_k q_k - m) with m = ``params.negative_margin``, in [-1, 1].

    Ours. :func:`negs_diff` subtracts every negative answer, also the small ones a negative
    gives ID objects; on a detector whose own confidence already separates well those small
    answers are noise that blurs it. Here a negative counts only above m (default 0.1, what
    pruning lets a kept negative answer on ID objects), so a list that never answers above
    its ID level leaves :func:`max_sigmoid` unchanged, and one that answers strongly on an
    object lowers its score as ``negs_diff`` does. Equals :func:`max_sigmoid` when M = 0;
    with m = 0 it is ``negs_diff``. On the world's validation splits (2026-12-02) it ties
    ``negs_diff`` on the shipped negas_mini's chosen list (same FPR95, AUROC higher by 2e-4,
    so the selection rule picked it: docs/choices.md) and is worse on most pruned lists.
    """
    s, t = _as_logits(id_logits, neg_logits)
    if t.shape[1] == 0:
        return sigmoid(_row_max(s))
    excess = np.maximum(sigmoid(_row_max(t)) - params.negative_margin, 0.0)
    result: Float64Array = sigmoid(_row_max(s)) - excess
    return result


def negs_softmax(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike, params: ScoreParams = _DEFAULT_PARAMS
) -> Float64Array:
    """Sum-softmax over sigmoid probabilities, in [0, 1]; 1.0 when M = 0.

    With T = ``params.sigmoid_temperature`` (default 0.1)::

        score = sum_c exp(p_c / T) / (sum_c exp(p_c / T) + sum_k exp(q_k / T))

    NegLabel's form moved to sigmoid space: it keeps the detector's calibrated
    probabilities (whatever the logit scale of the backend) and T sets how sharply the
    largest responses dominate. Every label contributes at least exp(0) = 1, so the score
    depends on K and M. Computed as sigmoid(LSE(p / T) - LSE(q / T)).
    """
    s, t = _as_logits(id_logits, neg_logits)
    temperature = params.sigmoid_temperature
    return _sum_softmax(sigmoid(s) / temperature, sigmoid(t) / temperature)


ScoreFn = Callable[[npt.ArrayLike, npt.ArrayLike, ScoreParams], Float64Array]


@dataclass(frozen=True)
class ScoreMethod:
    """One OOD score method.

    name: the key in :data:`SCORE_METHODS`.
    fn: ``fn(id_logits (N, K), neg_logits (N, M), params) -> (N,) float64``, larger = more ID.
    score_range: (low, high) bounds of the score, or None when it is unbounded.
    description: one line for parameter descriptors and help texts.
    """

    name: str
    fn: ScoreFn
    score_range: tuple[float, float] | None
    description: str

    @property
    def bounded(self) -> bool:
        """True when every score lies in [0, 1]."""
        return (
            self.score_range is not None
            and self.score_range[0] >= 0.0
            and self.score_range[1] <= 1.0
        )


SCORE_METHODS: Mapping[str, ScoreMethod] = MappingProxyType(
    {
        method.name: method
        for method in (
            ScoreMethod('negs', negs, (0.0, 1.0), 'max ID sigmoid * (1 - max negative sigmoid)'),
            ScoreMethod(
                'negs_ratio', negs_ratio, (0.0, 1.0), 'sum ID sigmoids / sum of all sigmoids'
            ),
            ScoreMethod('negs_diff', negs_diff, (-1.0, 1.0), 'max ID sigmoid - max neg sigmoid'),
            ScoreMethod(
                'negs_margin',
                negs_margin,
                (-1.0, 1.0),
                'max ID sigmoid - (max neg sigmoid above negative_margin 0.1)',
            ),
            ScoreMethod(
                'negs_softmax',
                negs_softmax,
                (0.0, 1.0),
                'sum-softmax of ID over ID + negative sigmoids (sigmoid_temperature)',
            ),
            ScoreMethod(
                'neglabel',
                neglabel,
                (0.0, 1.0),
                'NegLabel grouped sum-softmax of ID over ID + negative logits (temperature)',
            ),
            ScoreMethod('max_sigmoid', max_sigmoid, (0.0, 1.0), 'max ID sigmoid (baseline)'),
            ScoreMethod('energy', energy, None, 'T * logsumexp(ID logits / T) (temperature)'),
            ScoreMethod(
                'joint_energy', joint_energy, None, 'sum of softplus(ID logits) (JointEnergy)'
            ),
        )
    }
)
"""Every score method by name; ``negs`` is the default (:data:`DEFAULT_METHOD`)."""

DEFAULT_METHOD = 'negs'


def score_method(method: str) -> ScoreMethod:
    """Return the :class:`ScoreMethod` named ``method``; ValueError listing the names if none."""
    try:
        return SCORE_METHODS[method]
    except (KeyError, TypeError):
        raise ValueError(
            f'unknown score method {method!r}; available: {", ".join(SCORE_METHODS)}'
        ) from None


def compute_score(
    method: str,
    id_logits: npt.ArrayLike,
    neg_logits: npt.ArrayLike,
    params: ScoreParams = _DEFAULT_PARAMS,
) -> Float64Array:
    """Score N detections with the named method: (N, K), (N, M) logits -> (N,) float64.

    Raises ValueError for an unknown method (listing the available ones), for arrays that
    are not 2-D, disagree on N, have K = 0, or hold a NaN or infinite value.
    """
    return score_method(method).fn(id_logits, neg_logits, params)


def ood_confidence(scores: npt.ArrayLike, method: str, threshold: float) -> Float64Array:
    """Map scores of ``method`` to how sure we are that each detection is OOD, in [0, 1].

    Methods with a score range [low, high]: (high - score) / (high - low), clipped to
    [0, 1], which is 1 - score for the [0, 1] methods (for ``negs``, 1 - P(ID and no
    negative)) and (1 - score) / 2 for ``negs_diff``; the threshold is not used.
    Unbounded methods (``energy``, ``joint_energy``): sigmoid(threshold - score), 0.5 at the
    threshold, in score units.
    """
    info = score_method(method)
    values = np.asarray(scores, dtype=np.float64)
    if info.score_range is None:
        return sigmoid(float(threshold) - values)
    low, high = info.score_range
    result: Float64Array = np.clip((high - values) / (high - low), 0.0, 1.0)
    return result


def _as_logits(
    id_logits: npt.ArrayLike, neg_logits: npt.ArrayLike
) -> tuple[Float64Array, Float64Array]:
    s = np.asarray(id_logits, dtype=np.float64)
    t = np.asarray(neg_logits, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 1:
        raise ValueError(f'id_logits must be (N, K) with K >= 1, got shape {s.shape}')
    if t.ndim != 2 or t.shape[0] != s.shape[0]:
        raise ValueError(f'neg_logits must be (N={s.shape[0]}, M), got shape {t.shape}')
    for name, array in (('id_logits', s), ('neg_logits', t)):
        if not np.isfinite(array).all():
            raise ValueError(f'{name} holds NaN or infinite values')
    return s, t


def _row_max(x: Float64Array) -> Float64Array:
    """Max over axis 1; callers guarantee at least one column."""
    result: Float64Array = x.max(axis=1)
    return result


def _logsumexp(x: Float64Array) -> Float64Array:
    """log sum exp over axis 1 of an (N, C) array, C >= 1, without overflow."""
    peak = x.max(axis=1, keepdims=True)
    result: Float64Array = (peak + np.log(np.exp(x - peak).sum(axis=1, keepdims=True)))[:, 0]
    return result


def _sum_softmax(id_values: Float64Array, neg_values: Float64Array) -> Float64Array:
    """sum exp(id) / (sum exp(id) + sum exp(neg)) per row; 1.0 for rows when M = 0."""
    if neg_values.shape[1] == 0:
        return np.ones(id_values.shape[0], dtype=np.float64)
    return sigmoid(_logsumexp(id_values) - _logsumexp(neg_values))


def _grouped_sum_softmax(
    id_values: Float64Array, neg_values: Float64Array, params: ScoreParams
) -> Float64Array:
    num_neg = neg_values.shape[1]
    if num_neg == 0:
        return np.ones(id_values.shape[0], dtype=np.float64)
    num_groups = min(params.neglabel_groups, num_neg)
    if num_groups == 1:
        return _sum_softmax(id_values, neg_values)
    order = np.random.default_rng(params.seed).permutation(num_neg)
    id_lse = _logsumexp(id_values)
    total = np.zeros(id_values.shape[0], dtype=np.float64)
    for group in np.array_split(order, num_groups):
        total += sigmoid(id_lse - _logsumexp(neg_values[:, group]))
    result: Float64Array = total / num_groups
    return result
