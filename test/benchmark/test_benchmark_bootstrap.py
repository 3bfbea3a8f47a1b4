"""Paired image bootstrap of FPR95 (negas_ros.benchmark.bootstrap)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from negas_ros.benchmark.bootstrap import paired_fpr95_bootstrap, weighted_fpr_at_tpr
from negas_ros.benchmark.plan import build_plan
from negas_ros.benchmark.protocol import RowResult
from negas_ros.metrics import fpr_at_tpr


def test_weighted_fpr_equals_repeated_samples() -> None:
    rng = np.random.default_rng(0)
    ids, oods = rng.normal(1, 1, 57), rng.normal(0, 1, 31)
    ids[5] = ids[6]  # a tie
    assert weighted_fpr_at_tpr(ids, np.ones(57), oods, np.ones(31)) == fpr_at_tpr(ids, oods)
    wid, wood = rng.integers(0, 4, 57), rng.integers(0, 4, 31)
    expected = fpr_at_tpr(np.repeat(ids, wid), np.repeat(oods, wood))
    assert weighted_fpr_at_tpr(ids, wid, oods, wood) == pytest.approx(expected, abs=1e-15)
    assert math.isnan(weighted_fpr_at_tpr(ids, np.zeros(57), oods, wood))


def _row(key: str, ids: np.ndarray, id_img: np.ndarray, oods: np.ndarray,
         ood_img: np.ndarray) -> RowResult:
    plan = build_plan(('car',), ('tram',), (), 'max')
    spec = {r.key: r for r in plan.rows}[key]
    return RowResult(spec, 0, {}, {}, 0.5, 0.5, 0.3, ids, {'near': oods}, id_img,
                     {'near': ood_img})


def test_paired_bootstrap() -> None:
    rng = np.random.default_rng(1)
    id_img, ood_img = rng.integers(0, 40, 300), rng.integers(0, 60, 120)
    ids, oods = rng.normal(1, 1, 300), rng.normal(0, 1, 120)
    base = _row('max_sigmoid', ids, id_img, oods, ood_img)
    same = paired_fpr95_bootstrap(base, base, 'near', 40, 60, reps=200)
    assert same['fpr95_reduction_ci95'] == [0.0, 0.0]  # paired: identical rows never differ
    better = _row('negas', ids, id_img, oods - 1.0, ood_img)
    result = paired_fpr95_bootstrap(base, better, 'near', 40, 60, reps=300, seed=2)
    lo, hi = result['fpr95_baseline_ci95']  # type: ignore[misc]
    assert lo <= fpr_at_tpr(ids, oods) <= hi
    lo, hi = result['fpr95_reduction_ci95']  # type: ignore[misc]
    point = 1 - fpr_at_tpr(ids, oods - 1.0) / fpr_at_tpr(ids, oods)
    assert 0.0 < lo <= point <= hi <= 1.0
    assert 0.0 <= result['share_met'] <= 1.0  # type: ignore[operator]
    assert result == paired_fpr95_bootstrap(base, better, 'near', 40, 60, reps=300, seed=2)
    with pytest.raises(ValueError):
        paired_fpr95_bootstrap(base, better, 'far', 40, 60)
