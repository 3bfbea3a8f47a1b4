"""The choices of a validation run (negas_ros.benchmark.select) on a hand-made document."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from negas_ros.benchmark.select import MAX_MAP_DROP_POINTS, SELECTION_RULE, select_choices


def _row(near: float | None, near_unseen: float | None, map_: float | None,
         auroc: float = 0.8, auroc_unseen: float = 0.8) -> dict[str, Any]:
    return {'title': 't', 'near': {'fpr95': near, 'auroc': auroc},
            'far': {'fpr95': 0.01, 'auroc': 0.99},  # far sets take no part in the criterion
            'near_unseen': {'fpr95': near_unseen, 'auroc': auroc_unseen},
            'far_unseen': {'fpr95': 0.02, 'auroc': 0.98}, 'map': map_}


def _doc() -> dict[str, Any]:
    return {
        'max_sigmoid': _row(0.80, 0.70, 0.500),
        'negas': _row(0.60, 0.60, 0.499),
        'ablations': {
            'negatives': {
                'shipped/nega_off': _row(0.60, 0.70, 0.500),   # 0.65
                'shipped/nega_on': _row(0.10, 0.10, 0.500),    # NegA on: not a candidate
                'llm/nega_off': _row(0.50, 0.60, 0.500),       # 0.55: the winner
                'learned/nega_off': _row(0.55, 0.65, 0.500),   # 0.60
                'random/nega_off': _row(0.10, 0.10, 0.500),    # a control: left out
                'none/nega_off': _row(0.05, 0.05, 0.500),      # a control: left out
            },
            'fusion': {
                'off/negs': _row(0.60, 0.70, 0.500),           # 0.65
                'off/max_sigmoid': _row(0.01, 0.01, 0.500),    # not a NegS row
                'max/negs': _row(0.40, 0.50, 0.490),           # 0.45 but 1 mAP point lost
                'gate_0.5/negs': _row(0.50, 0.50, 0.4952),     # 0.50, 0.48 points lost: ok
                'branch/negs': _row(0.40, 0.60, 0.500, 0.9, 0.9),  # 0.50, higher AUROC: wins
                'branch_union/negs': _row(None, 0.10, 0.500),  # undefined criterion
            },
            'score_forms': {
                'negs/nega_off': _row(0.01, 0.01, 0.500),      # NegA off: not a candidate
                'negs/nega_on': _row(0.50, 0.50, 0.499),
                'negs_ratio/nega_on': _row(0.50, 0.50, 0.499),  # tie in everything: first wins
                'neglabel/nega_on': _row(0.70, 0.50, 0.499),
            },
        },
    }


def test_select_choices_by_hand() -> None:
    doc = _doc()
    before = copy.deepcopy(doc)
    choices = select_choices(doc)
    assert doc == before  # pure
    assert choices['rule'] == SELECTION_RULE and '0.5 points' in SELECTION_RULE
    assert choices['criterion_sets'] == ['near', 'near_unseen']
    assert choices['max_map_drop_points'] == MAX_MAP_DROP_POINTS == 0.5
    assert choices['baseline_map'] == 0.5
    families = choices['families']
    assert list(families) == ['negative_list', 'nega_rule', 'score_form']

    negatives = families['negative_list']
    assert negatives['winner'] == 'llm' and negatives['value'] == pytest.approx(0.55)
    assert list(negatives['candidates']) == ['shipped', 'llm', 'learned']
    assert {k: round(v['value'], 6) for k, v in negatives['candidates'].items()} == {
        'shipped': 0.65, 'llm': 0.55, 'learned': 0.6}
    assert negatives['candidates']['llm']['row'] == 'llm/nega_off'

    rules = families['nega_rule']
    assert list(rules['candidates']) == ['off', 'max', 'gate_0.5', 'branch', 'branch_union']
    assert rules['winner'] == 'branch' and rules['value'] == pytest.approx(0.5)
    cands = rules['candidates']
    assert cands['max']['admissible'] is False
    assert cands['max']['map_drop_points'] == pytest.approx(1.0)
    assert cands['gate_0.5']['admissible'] is True
    assert cands['branch']['auroc'] == pytest.approx(0.9)
    assert cands['branch_union']['value'] is None and cands['branch_union']['admissible']

    forms = families['score_form']
    assert list(forms['candidates']) == ['negs', 'negs_ratio', 'neglabel']
    assert forms['winner'] == 'negs' and forms['value'] == pytest.approx(0.5)
    assert forms['candidates']['neglabel']['value'] == pytest.approx(0.6)


def test_no_admissible_candidate_and_missing_ablations() -> None:
    doc = _doc()
    for entry in doc['ablations']['score_forms'].values():
        entry['map'] = 0.4  # 10 points below max-sigmoid
    del doc['ablations']['fusion']
    choices = select_choices(doc)
    assert set(choices['families']) == {'negative_list', 'score_form'}
    forms = choices['families']['score_form']
    assert forms['winner'] is None and forms['value'] is None
    assert all(not c['admissible'] for c in forms['candidates'].values())
    # Without a baseline mAP nothing is admissible.
    doc['max_sigmoid']['map'] = None
    assert select_choices(doc)['families']['negative_list']['winner'] is None


def test_list_and_form_family_skips_the_controls() -> None:
    from negas_ros.benchmark.select import select_choices

    def entry(near: float, unseen: float) -> dict:
        return {'near': {'fpr95': near, 'auroc': 0.8}, 'near_unseen': {'fpr95': unseen,
                                                                        'auroc': 0.8},
                'map': 0.4}

    doc = {'max_sigmoid': {'map': 0.4}, 'ablations': {'set_forms': {
        'shipped/negs': entry(0.8, 0.8), 'shipped/negs_diff': entry(0.6, 0.7),
        'llm_style/negs_diff': entry(0.7, 0.7), 'random/negs': entry(0.1, 0.1)}}}
    family = select_choices(doc)['families']['list_and_form']
    assert family['winner'] == 'shipped/negs_diff'
    assert 'random/negs' not in family['candidates']
