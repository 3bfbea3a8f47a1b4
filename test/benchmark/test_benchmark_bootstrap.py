"""Paired image bootstrap of FPR95 (negas_ros.benchmark.bootstrap)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from negas_ros.benchmark.bootstrap import (
    paired_fpr95_bootstrap,
    selection_margins,
    weighted_fpr_at_tpr,
)
from negas_ros.benchmark.document import _choices_section
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


def _two_set_row(key: str, ids: np.ndarray, id_img: np.ndarray, oods: dict[str, np.ndarray],
                 ood_img: dict[str, np.ndarray]) -> RowResult:
    plan = build_plan(('car',), ('tram',), (), 'max')
    spec = {r.key: r for r in plan.rows}[key]
    return RowResult(spec, 0, {}, {}, 0.5, 0.5, 0.3, ids, oods, id_img, ood_img)


def test_selection_margins_tell_a_real_lead_from_a_tie() -> None:
    rng = np.random.default_rng(3)
    sets = ('near', 'near_unseen')
    id_img = rng.integers(0, 50, 400)
    ood_img = {s: rng.integers(0, 60, 150) for s in sets}
    ids = rng.normal(1, 1, 400)
    base = {s: rng.normal(0.5, 1, 150) for s in sets}

    def row(shift: float, key: str = 'negs') -> RowResult:
        return _two_set_row(key, ids, id_img, {s: base[s] - shift for s in sets}, ood_img)

    results = {'off/negs': row(0.0), 'gate/negs': row(1.0), 'twin/negs': row(1.0),
               'max/negs': row(3.0)}

    def criterion(r: RowResult) -> float:
        return float(np.mean([fpr_at_tpr(r.id_scores, r.ood_scores[s]) for s in sets]))

    candidates = {name: {'row': f'{name}/negs', 'value': criterion(results[f'{name}/negs']),
                         'auroc': 0.5, 'admissible': name != 'max'}
                  for name in ('off', 'gate', 'twin', 'max')}
    selection = {'criterion_sets': list(sets), 'families': {'nega_rule': {
        'title': 'NegA rule', 'winner': 'gate', 'value': candidates['gate']['value'],
        'candidates': candidates}}}
    margins = selection_margins(selection, results, 50, {s: 60 for s in sets}, reps=300,
                                references={'nega_rule': 'off'})
    report = margins['nega_rule']
    # 'max' scores best but is not admissible: never a rival. 'twin' equals the winner.
    assert report['winner'] == 'gate' and report['runner_up']['name'] == 'twin'
    assert report['runner_up']['lead_points_ci95'] == [0.0, 0.0]
    assert report['runner_up']['share_winner_better'] == 0.0
    reference = report['reference']
    assert reference['name'] == 'off'
    point = 100 * (candidates['off']['value'] - candidates['gate']['value'])
    assert reference['lead_points'] == pytest.approx(point)
    lo, hi = reference['lead_points_ci95']
    assert 0.0 < lo <= point <= hi
    assert reference['share_winner_better'] == 1.0
    assert margins == selection_margins(selection, results, 50, {s: 60 for s in sets},
                                        reps=300, references={'nega_rule': 'off'})
    lines = '\n'.join(_choices_section(
        {'rule': 'r', 'families': {'nega_rule': {**selection['families']['nega_rule']}}},
        margins))
    assert 'runner-up `twin`: +0.00 points (95% interval +0.00 to +0.00' in lines
    assert 'inside the noise' in lines.split('reference')[0]
    assert 'inside the noise' not in lines.split('reference `off`')[1].split('\n')[0]
    # Without the criterion's samples the margins cannot be drawn.
    with pytest.raises(ValueError, match='no samples'):
        selection_margins(selection, {k: _row('negs', ids, id_img, base['near'],
                                                ood_img['near']) for k in results},
                          50, {s: 60 for s in sets}, reps=10)
