"""Unit tests of negas_ros.scores: hand-computed values, invariants and the registry.

Logits are chosen so that the sigmoids are simple numbers: sigmoid(ln 3) = 0.75,
sigmoid(0) = 0.5, sigmoid(-ln 3) = 0.25, sigmoid(ln 9) = 0.9, sigmoid(ln 4) = 0.8,
sigmoid(-ln 4) = 0.2, and exp(s) is then 3, 1, 1/3, 9, 4, 1/4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from negas_ros.scores import (
    DEFAULT_METHOD,
    SCORE_METHODS,
    ScoreMethod,
    ScoreParams,
    compute_score,
    energy,
    joint_energy,
    max_sigmoid,
    neglabel,
    negs,
    negs_diff,
    negs_margin,
    negs_ratio,
    negs_softmax,
    ood_confidence,
    score_method,
    sigmoid,
    softplus,
)

LN3, LN9, LN4 = math.log(3.0), math.log(9.0), math.log(4.0)

# Row 0: p = (0.75, 0.5), q = (0.25, 0.5, 0.2).  Row 1: p = (0.5, 0.9), q = (0.8, 0.9, 0.5).
ID = np.array([[LN3, 0.0], [0.0, LN9]])
NEG = np.array([[-LN3, 0.0, -LN4], [LN4, LN9, 0.0]])

ALL_METHODS = sorted(SCORE_METHODS)
RNG_SEED = 1234


def test_sigmoid_and_softplus_values_and_stability() -> None:
    np.testing.assert_allclose(sigmoid([0.0, LN3, -LN3, LN9]), [0.5, 0.75, 0.25, 0.9])
    np.testing.assert_allclose(softplus([0.0, LN3]), [math.log(2.0), math.log(4.0)])
    with np.errstate(over='raise', invalid='raise', divide='raise'):  # underflow is fine
        assert sigmoid([-1000.0, 1000.0]).tolist() == [0.0, 1.0]
        np.testing.assert_allclose(softplus([-1000.0, 1000.0]), [0.0, 1000.0])
    assert sigmoid(np.float32(1.0)).dtype == np.float64


# --- hand-computed values ---------------------------------------------------------------


def test_max_sigmoid() -> None:
    np.testing.assert_allclose(max_sigmoid(ID, NEG), [0.75, 0.9])


def test_energy() -> None:
    # log(3 + 1) and log(1 + 9)
    np.testing.assert_allclose(energy(ID, NEG), [math.log(4.0), math.log(10.0)])
    # T = 2: 2 * log(exp(ln3 / 2) + exp(0)) = 2 * log(sqrt(3) + 1)
    got = energy(ID, NEG, ScoreParams(temperature=2.0))
    np.testing.assert_allclose(got[0], 2.0 * math.log(math.sqrt(3.0) + 1.0))


def test_joint_energy() -> None:
    # log(1 + 3) + log(1 + 1) = log 8;  log(1 + 1) + log(1 + 9) = log 20
    np.testing.assert_allclose(joint_energy(ID, NEG), [math.log(8.0), math.log(20.0)])


def test_neglabel_one_group() -> None:
    # Row 0: (3 + 1) / (3 + 1 + 1/3 + 1 + 1/4) = 4 / (67/12) = 48/67.
    # Row 1: (1 + 9) / (1 + 9 + 4 + 9 + 1) = 10/24.
    np.testing.assert_allclose(neglabel(ID, NEG), [48.0 / 67.0, 10.0 / 24.0])


def test_neglabel_temperature() -> None:
    # T = 0.5 squares every exp: row 0 = (9 + 1) / (9 + 1 + 1/9 + 1 + 1/16).
    got = neglabel(ID, NEG, ScoreParams(temperature=0.5))
    np.testing.assert_allclose(got[0], 10.0 / (11.0 + 1.0 / 9.0 + 1.0 / 16.0))


def test_negs() -> None:
    # 0.75 * (1 - 0.5) and 0.9 * (1 - 0.9)
    np.testing.assert_allclose(negs(ID, NEG), [0.375, 0.09])


def test_negs_ratio() -> None:
    # (0.75 + 0.5) / (1.25 + 0.25 + 0.5 + 0.2) = 1.25 / 2.2;  1.4 / (1.4 + 2.2) = 7/18
    np.testing.assert_allclose(negs_ratio(ID, NEG), [1.25 / 2.2, 7.0 / 18.0])


def test_negs_diff() -> None:
    np.testing.assert_allclose(negs_diff(ID, NEG), [0.25, 0.0], atol=1e-15)


def test_negs_softmax() -> None:
    # T = 0.1: exponents are 10 * probability.
    e = math.exp
    row0 = (e(7.5) + e(5.0)) / (e(7.5) + e(5.0) + e(2.5) + e(5.0) + e(2.0))
    row1 = (e(5.0) + e(9.0)) / (e(5.0) + e(9.0) + e(8.0) + e(9.0) + e(5.0))
    np.testing.assert_allclose(negs_softmax(ID, NEG), [row0, row1])
    # T = 1: exponents are the probabilities themselves.
    row0_t1 = (e(0.75) + e(0.5)) / (e(0.75) + e(0.5) + e(0.25) + e(0.5) + e(0.2))
    got = negs_softmax(ID, NEG, ScoreParams(sigmoid_temperature=1.0))
    np.testing.assert_allclose(got[0], row0_t1)


def test_compute_score_dispatches_by_name() -> None:
    np.testing.assert_allclose(compute_score('negs', ID, NEG, ScoreParams()), [0.375, 0.09])
    np.testing.assert_allclose(compute_score('max_sigmoid', ID, NEG), [0.75, 0.9])
    assert DEFAULT_METHOD == 'negs'


# --- NegLabel grouping ------------------------------------------------------------------


def test_neglabel_groups_of_one_are_partition_free() -> None:
    # exp(s) = 3; negatives exp(t) = 1 and 3. Two groups of one: mean(3/4, 3/6) = 0.625;
    # one group: 3 / (3 + 1 + 3) = 3/7.
    s = np.array([[LN3]])
    t = np.array([[0.0, LN3]])
    np.testing.assert_allclose(neglabel(s, t, ScoreParams(neglabel_groups=2)), [0.625])
    np.testing.assert_allclose(neglabel(s, t, ScoreParams(neglabel_groups=1)), [3.0 / 7.0])
    # More groups than negatives: clamped to one negative per group.
    np.testing.assert_allclose(neglabel(s, t, ScoreParams(neglabel_groups=50)), [0.625])


def test_neglabel_group_average_is_one_of_the_partitions() -> None:
    # exp(s) = 1; negatives exp(t) = 1, 3, 9, 4. The three partitions into pairs give:
    s = np.array([[0.0]])
    t = np.array([[0.0, LN3, LN9, LN4]])

    def pair(a: float, b: float) -> float:
        return 1.0 / (1.0 + a + b)

    partitions = {
        ('01', '23'): (pair(1, 3) + pair(9, 4)) / 2,
        ('02', '13'): (pair(1, 9) + pair(3, 4)) / 2,
        ('03', '12'): (pair(1, 4) + pair(3, 9)) / 2,
    }
    seen = set()
    for seed in range(20):
        got = float(neglabel(s, t, ScoreParams(neglabel_groups=2, seed=seed))[0])
        matches = [key for key, value in partitions.items() if math.isclose(got, value)]
        assert len(matches) == 1, (seed, got)
        seen.add(matches[0])
    assert len(seen) > 1, 'different seeds should give different partitions'


def test_neglabel_is_deterministic_and_row_independent() -> None:
    rng = np.random.default_rng(RNG_SEED)
    s = rng.normal(0, 3, (16, 5))
    t = rng.normal(0, 3, (16, 40))
    params = ScoreParams(neglabel_groups=4, seed=7)
    first = neglabel(s, t, params)
    np.testing.assert_array_equal(first, neglabel(s, t, params))
    # The partition depends on M and the seed only: scoring rows one by one gives the same.
    single = np.concatenate([neglabel(s[i : i + 1], t[i : i + 1], params) for i in range(16)])
    np.testing.assert_allclose(single, first, rtol=1e-12)
    # Reference: the mean over the same partition, computed directly.
    order = np.random.default_rng(7).permutation(40)
    expected = np.mean(
        [
            np.exp(s).sum(1) / (np.exp(s).sum(1) + np.exp(t[:, g]).sum(1))
            for g in np.array_split(order, 4)
        ],
        axis=0,
    )
    np.testing.assert_allclose(first, expected, rtol=1e-12)


# --- invariants --------------------------------------------------------------------------


@pytest.mark.parametrize('method', ALL_METHODS)
def test_shapes_dtype_and_range(method: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    s = rng.normal(0, 5, (30, 4)).astype(np.float32)
    t = rng.normal(0, 5, (30, 9)).astype(np.float32)
    got = compute_score(method, s, t, ScoreParams(neglabel_groups=3))
    assert got.shape == (30,)
    assert got.dtype == np.float64
    assert np.isfinite(got).all()
    score_range = SCORE_METHODS[method].score_range
    if score_range is not None:
        assert (got >= score_range[0]).all() and (got <= score_range[1]).all()


@pytest.mark.parametrize('method', ALL_METHODS)
def test_empty_batch(method: str) -> None:
    got = compute_score(method, np.zeros((0, 3)), np.zeros((0, 5)))
    assert got.shape == (0,) and got.dtype == np.float64
    got = compute_score(method, np.zeros((0, 3)), np.zeros((0, 0)))
    assert got.shape == (0,)


@pytest.mark.parametrize('method', ALL_METHODS)
def test_batched_equals_single(method: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    s = rng.normal(0, 4, (8, 3))
    t = rng.normal(0, 4, (8, 6))
    params = ScoreParams(neglabel_groups=2, seed=3)
    batched = compute_score(method, s, t, params)
    single = [compute_score(method, s[i : i + 1], t[i : i + 1], params)[0] for i in range(8)]
    np.testing.assert_allclose(batched, single, rtol=1e-12)


@pytest.mark.parametrize('method', ALL_METHODS)
def test_extreme_logits_stay_finite(method: str) -> None:
    s = np.array([[800.0, -800.0], [-800.0, -900.0], [30.0, 0.0]])
    t = np.array([[-800.0, 800.0], [-800.0, -900.0], [40.0, -1.0]])
    with np.errstate(over='raise', invalid='raise', divide='raise'):
        got = compute_score(method, s, t)
    assert np.isfinite(got).all()


def test_negs_keeps_precision_when_a_negative_saturates() -> None:
    # 1 - sigmoid(40) is 0.0 in float64, sigmoid(-40) is not: OOD detections keep a ranking.
    got = negs(np.array([[5.0], [6.0]]), np.array([[40.0], [40.0]]))
    assert 0.0 < got[0] < got[1]
    np.testing.assert_allclose(got, sigmoid([5.0, 6.0]) * math.exp(-40.0), rtol=1e-12)


def test_negs_monotone_in_id_and_negative_logits() -> None:
    rng = np.random.default_rng(RNG_SEED)
    s = rng.normal(0, 3, (200, 4))
    t = rng.normal(0, 3, (200, 7))
    base = negs(s, t)
    rows = np.arange(200)
    up_id = s.copy()
    best_id = s.argmax(1)
    up_id[rows, best_id] += 0.5  # raising the top ID logit raises the score
    assert (negs(up_id, t) > base).all()
    up_neg = t.copy()
    best_neg = t.argmax(1)
    up_neg[rows, best_neg] += 0.5  # raising the top negative logit lowers it
    assert (negs(s, up_neg) < base).all()
    # Raising any logit never moves the score the wrong way.
    for col in range(4):
        bumped = s.copy()
        bumped[:, col] += 1.0
        assert (negs(bumped, t) >= base).all()
    for col in range(7):
        bumped = t.copy()
        bumped[:, col] += 1.0
        assert (negs(s, bumped) <= base).all()


@pytest.mark.parametrize('method', ['negs_ratio', 'negs_diff', 'negs_softmax', 'neglabel'])
def test_alternatives_move_with_id_and_negative_logits(method: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    s = rng.normal(0, 2, (100, 3))
    t = rng.normal(0, 2, (100, 5))
    rows = np.arange(100)
    base = compute_score(method, s, t)
    up_id = s.copy()
    up_id[rows, s.argmax(1)] += 0.5
    up_neg = t.copy()
    up_neg[rows, t.argmax(1)] += 0.5
    assert (compute_score(method, up_id, t) > base).all()
    assert (compute_score(method, s, up_neg) < base).all()


def test_negs_margin_counts_negatives_only_above_the_margin() -> None:
    # Row 0: max p 0.75, max q 0.5 -> 0.75 - 0.4. Row 1: max p 0.9, max q 0.9 -> 0.9 - 0.8.
    np.testing.assert_allclose(negs_margin(ID, NEG), [0.35, 0.1])
    # Negatives at or below the margin leave the detector's own confidence.
    quiet = np.full((2, 3), math.log(0.1 / 0.9))
    np.testing.assert_allclose(negs_margin(ID, quiet), max_sigmoid(ID, quiet))
    np.testing.assert_allclose(negs_margin(ID, np.zeros((2, 0))), [0.75, 0.9])
    # m = 0 is negs_diff; a larger margin never lowers a score.
    zero = ScoreParams(negative_margin=0.0)
    np.testing.assert_allclose(negs_margin(ID, NEG, zero), negs_diff(ID, NEG))
    high = negs_margin(ID, NEG, ScoreParams(negative_margin=0.6))
    np.testing.assert_allclose(high, [0.75, 0.9 - 0.3])
    rng = np.random.default_rng(RNG_SEED)
    s, t = rng.normal(0, 2, (100, 3)), rng.normal(0, 2, (100, 5))
    above = sigmoid(t.max(1)) > 0.1
    up_neg = t.copy()
    up_neg[np.arange(100), t.argmax(1)] += 0.5
    assert (negs_margin(s, up_neg)[above] < negs_margin(s, t)[above]).all()
    assert (negs_margin(s, up_neg) <= negs_margin(s, t)).all()


def test_negs_stays_usable_with_many_negatives() -> None:
    # 1000 negatives that barely respond (q = 0.01): the product of (1 - q_k) would be
    # 0.99 ** 1000 ~ 4e-5; the max keeps the ID detection at 0.9 * 0.99.
    s = np.array([[LN9]])
    t = np.full((1, 1000), math.log(0.01 / 0.99))
    np.testing.assert_allclose(negs(s, t), [0.9 * 0.99])


def test_no_negatives() -> None:
    s = np.array([[LN3, 0.0], [0.0, LN9]])
    t = np.zeros((2, 0))
    np.testing.assert_allclose(negs(s, t), [0.75, 0.9])
    np.testing.assert_allclose(negs_diff(s, t), [0.75, 0.9])
    np.testing.assert_array_equal(negs_ratio(s, t), [1.0, 1.0])
    np.testing.assert_array_equal(negs_softmax(s, t), [1.0, 1.0])
    np.testing.assert_array_equal(neglabel(s, t, ScoreParams(neglabel_groups=4)), [1.0, 1.0])
    np.testing.assert_allclose(energy(s, t), [math.log(4.0), math.log(10.0)])


def test_scores_ignore_negatives_where_documented() -> None:
    other = np.full((2, 3), 5.0)
    for fn in (max_sigmoid, energy, joint_energy):
        np.testing.assert_array_equal(fn(ID, NEG), fn(ID, other))


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('s', 't', 'fragment'),
    [
        (np.zeros(3), np.zeros((3, 1)), 'id_logits must be (N, K)'),
        (np.zeros((3, 0)), np.zeros((3, 1)), 'K >= 1'),
        (np.zeros((3, 2)), np.zeros((2, 1)), 'neg_logits must be (N=3, M)'),
        (np.zeros((3, 2)), np.zeros(3), 'neg_logits must be (N=3, M)'),
        (np.array([[0.0, np.nan]]), np.zeros((1, 1)), 'id_logits holds NaN'),
        (np.zeros((1, 2)), np.array([[np.inf]]), 'neg_logits holds NaN or infinite'),
        (np.zeros((1, 2)), np.array([[-np.inf]]), 'neg_logits holds NaN or infinite'),
    ],
)
@pytest.mark.parametrize('method', ALL_METHODS)
def test_bad_inputs(method: str, s: np.ndarray, t: np.ndarray, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        compute_score(method, s, t)
    assert fragment in str(info.value)


def test_unknown_method_lists_available() -> None:
    with pytest.raises(ValueError) as info:
        compute_score('msp', ID, NEG)
    message = str(info.value)
    assert "unknown score method 'msp'" in message
    for name in SCORE_METHODS:
        assert name in message
    with pytest.raises(ValueError, match='unknown score method'):
        score_method(['negs'])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    'kwargs',
    [
        {'temperature': 0.0},
        {'temperature': -1.0},
        {'temperature': math.inf},
        {'temperature': math.nan},
        {'temperature': '1'},
        {'sigmoid_temperature': 0.0},
        {'negative_margin': -0.1},
        {'negative_margin': 1.0},
        {'negative_margin': '0.1'},
        {'negative_margin': math.nan},
        {'neglabel_groups': 0},
        {'neglabel_groups': 1.5},
        {'neglabel_groups': True},
        {'seed': -1},
    ],
)
def test_score_params_reject(kwargs: dict[str, object]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        ScoreParams(**kwargs)  # type: ignore[arg-type]


def test_score_params_defaults() -> None:
    params = ScoreParams()
    assert (params.temperature, params.neglabel_groups, params.seed) == (1.0, 1, 0)
    assert params.sigmoid_temperature == 0.1
    assert params.negative_margin == 0.1
    assert ScoreParams(temperature=2).temperature == 2


# --- registry and ood_confidence -----------------------------------------------------------


def test_registry() -> None:
    assert set(SCORE_METHODS) == {
        'max_sigmoid',
        'energy',
        'joint_energy',
        'neglabel',
        'negs',
        'negs_ratio',
        'negs_diff',
        'negs_margin',
        'negs_softmax',
    }
    for name, method in SCORE_METHODS.items():
        assert isinstance(method, ScoreMethod)
        assert method.name == name
        assert method.description
    bounded = {name for name, method in SCORE_METHODS.items() if method.bounded}
    assert bounded == {'max_sigmoid', 'neglabel', 'negs', 'negs_ratio', 'negs_softmax'}
    assert SCORE_METHODS['negs_diff'].score_range == (-1.0, 1.0)
    assert SCORE_METHODS['negs_margin'].score_range == (-1.0, 1.0)
    assert SCORE_METHODS['energy'].score_range is None
    with pytest.raises(TypeError):
        SCORE_METHODS['x'] = SCORE_METHODS['negs']  # type: ignore[index]


def test_ood_confidence_bounded_methods() -> None:
    scores = np.array([0.0, 0.25, 1.0])
    for method in ('negs', 'max_sigmoid', 'neglabel'):
        np.testing.assert_allclose(ood_confidence(scores, method, 0.5), [1.0, 0.75, 0.0])
    np.testing.assert_allclose(
        ood_confidence(np.array([-1.0, 0.0, 0.5, 1.0]), 'negs_diff', 0.0), [1.0, 0.5, 0.25, 0.0]
    )


def test_ood_confidence_unbounded_methods() -> None:
    # sigmoid(threshold - score): 0.5 at the threshold, sigmoid(-ln 3) = 0.25 above it.
    scores = np.array([2.0, 2.0 + LN3, 2.0 - LN3])
    for method in ('energy', 'joint_energy'):
        np.testing.assert_allclose(ood_confidence(scores, method, 2.0), [0.5, 0.25, 0.75])


def test_ood_confidence_empty_and_unknown() -> None:
    assert ood_confidence(np.zeros(0), 'negs', 0.5).shape == (0,)
    with pytest.raises(ValueError, match='available'):
        ood_confidence(np.zeros(1), 'nope', 0.5)
