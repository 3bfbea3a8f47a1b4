"""Benchmark plan (negative sets, settings, rows, dedup) and the table assembly (report)."""

from __future__ import annotations

import numpy as np
import pytest

from negas_ros.benchmark.plan import (
    DEFAULT_FUSION_GRID,
    TEST_SPLITS,
    NegativeSet,
    NetworkSetting,
    build_plan,
    fusion_name,
    parse_fusion_grid,
)
from negas_ros.benchmark.protocol import RowResult
from negas_ros.benchmark.report import (
    MAP_DROP_POINTS,
    NEAR_FPR95_REDUCTION,
    NEAR_UNSEEN_FPR95_REDUCTION,
    markdown_table,
    named_categories,
    row_entry,
    target_check,
)

IDS = ('car', 'pedestrian', 'bus')
SHIPPED = ('golf cart', 'mannequin', 'tram', 'tractor', 'wheelchair')
RANDOM = ('dog', 'bench', 'umbrella', 'kite', 'lamp')
LLM = NegativeSet('llm', 'LLM-style list', ('van', 'tram', 'statue', 'golf cart'), 'llm.yaml')
LEARNED = NegativeSet('learned', 'learned rule', ('tractor', 'billboard'), 'learned.yaml')
GRID_NAMES = ['max', 'weighted_0.25', 'weighted_0.5', 'weighted_1', 'gate_0.25', 'gate_0.5',
              'gate_1', 'branch', 'branch_union', 'branch_contrast']


def test_plan_settings_and_rows() -> None:
    plan = build_plan(IDS, SHIPPED, RANDOM, 'max', 0.5, extra_sets=(LLM, LEARNED))
    keys = list(plan.settings)
    # 'max' of the fusion ablation is the card's rule: absorbed by 'nega', not run twice.
    assert 'max' not in keys
    assert keys == ['nega_off', 'nega', 'nega_llm', 'nega_learned', 'nega_random',
                    *(n for n in GRID_NAMES if n != 'max')]
    assert plan.settings['nega'].negatives == SHIPPED
    assert plan.settings['nega_llm'].negatives == LLM.words
    assert plan.settings['nega_random'].negatives == RANDOM
    for key in ('nega', 'nega_llm', 'nega_learned', 'nega_random'):
        assert plan.settings[key].fusion == 'max', key
    assert [r.key for r in plan.rows] == ['max_sigmoid', 'energy', 'joint_energy', 'neglabel',
                                         'negs', 'negas']
    rows = {r.key: r for r in plan.rows}
    assert rows['max_sigmoid'].negatives == () and rows['max_sigmoid'].setting == 'nega_off'
    assert rows['negs'].setting == 'nega_off' and rows['negs'].negatives == SHIPPED
    assert rows['neglabel'].negatives == SHIPPED
    assert rows['negas'].setting == 'nega' and rows['negas'].method == 'negs'
    # Every row reads only negatives its setting computed.
    for row in plan.all_rows():
        assert set(row.negatives) <= set(plan.settings[row.setting].negatives), row.key
    assert set(plan.ablations) == {'negatives', 'fusion', 'score_forms'}
    assert [r.key for r in plan.ablations['negatives']] == [
        'shipped/nega_off', 'shipped/nega_on', 'llm/nega_off', 'llm/nega_on',
        'learned/nega_off', 'learned/nega_on', 'random/nega_off', 'random/nega_on',
        'none/nega_off', 'none/nega_on']
    negatives = {r.key: r for r in plan.ablations['negatives']}
    assert negatives['llm/nega_off'].setting == 'nega_off'
    assert negatives['llm/nega_off'].negatives == LLM.words
    assert negatives['llm/nega_on'].setting == 'nega_llm'
    assert negatives['none/nega_on'].setting == 'nega_off'
    assert negatives['llm/nega_on'].title == 'LLM-style list, NegA on'
    assert [s.key for s in plan.negative_sets] == ['shipped', 'llm', 'learned', 'random']
    assert plan.extra_sets == (LLM, LEARNED)
    forms = [r.key for r in plan.ablations['score_forms']]
    assert forms == [f'{m}/{n}' for m in ('negs', 'negs_ratio', 'negs_diff', 'negs_margin',
                                         'negs_softmax', 'neglabel')
                     for n in ('nega_off', 'nega_on')]


def test_one_nega_off_setting_holds_the_union_of_overlapping_sets() -> None:
    plan = build_plan(IDS, SHIPPED, ('dog', 'tram', 'bench'), 'max', extra_sets=(LLM, LEARNED))
    off = plan.settings['nega_off']
    assert off.fusion == 'off'
    # Each word once, in set order: shipped, llm, learned, random.
    assert off.negatives == (*SHIPPED, 'van', 'statue', 'billboard', 'dog', 'bench')
    assert len(set(off.negatives)) == len(off.negatives)
    assert [r.setting for r in plan.all_rows() if r.key.endswith('/nega_off')] == [
        'nega_off'] * (5 + 6)  # 5 sets (none included) + 6 score forms
    # Each set's NegA-on run keeps the set's own words, overlaps included.
    assert plan.settings['nega_learned'].negatives == ('tractor', 'billboard')
    assert plan.settings['nega_random'].negatives == ('dog', 'tram', 'bench')


def test_sets_run_on_every_evaluated_split() -> None:
    plan = build_plan(IDS, SHIPPED, RANDOM, 'max', extra_sets=(LLM,))
    evaluated = TEST_SPLITS.evaluated
    for key, setting in plan.settings.items():
        assert set(evaluated) <= set(setting.splits), key
    # Attention-only splits (mixed_test) only for the settings whose attention is captured.
    captured = {k for _t, k in plan.attention_settings}
    for key, setting in plan.settings.items():
        assert ('mixed_test' in setting.splits) == (key in captured), key
        assert bool(setting.attention) == (key in captured), key


def test_fusion_grid_rows_and_attention() -> None:
    plan = build_plan(IDS, SHIPPED, RANDOM, 'weighted', 0.5)
    fusion = {r.key: r.setting for r in plan.ablations['fusion']}
    assert list(fusion) == [f'{n}/{s}' for n in ['off', *GRID_NAMES]
                            for s in ('negs', 'max_sigmoid')]
    # weighted 0.5 is the card's rule: absorbed by 'nega'; the other rules run apart.
    assert fusion['weighted_0.5/negs'] == 'nega' and fusion['off/negs'] == 'nega_off'
    assert fusion['max/negs'] == 'max' and fusion['gate_0.5/negs'] == 'gate_0.5'
    assert 'weighted_0.5' not in plan.settings
    assert plan.settings['nega'].fusion == 'weighted' and plan.settings['nega'].weight == 0.5
    assert plan.settings['gate_0.25'].describe() == 'gate w=0.25'
    assert plan.settings['branch'].weight == 0.0 and plan.settings['branch'].describe() == 'branch'
    titles = {r.key: r.title for r in plan.ablations['fusion']}
    assert titles['gate_1/negs'] == 'gate w=1, NegS'
    assert titles['branch_union/max_sigmoid'] == 'branch_union, max-sigmoid'
    # Attention: off, the card's rule, random words, and the grid's max and branch rules.
    assert plan.attention_settings == (
        ('NegA off (baseline)', 'nega_off'), ('NegA weighted w=0.5', 'nega'),
        ('NegA weighted w=0.5, random words', 'nega_random'), ('NegA max', 'max'),
        ('NegA branch', 'branch'), ('NegA branch_contrast', 'branch_contrast'))
    for key in ('max', 'branch', 'branch_contrast'):
        assert plan.settings[key].splits == TEST_SPLITS.every, key
        assert plan.settings[key].attention == TEST_SPLITS.attention, key
    assert plan.settings['branch_union'].attention == ()
    assert plan.settings['branch_union'].splits == TEST_SPLITS.evaluated


@pytest.mark.parametrize(('fusion', 'weight', 'absorbed'), [
    ('max', 0.5, 'max'), ('branch', 0.3, 'branch'), ('gate', 0.5, 'gate_0.5'),
    ('branch_union', 0.0, 'branch_union')])
def test_the_card_rule_may_be_any_nega_on_rule(fusion: str, weight: float,
                                                absorbed: str) -> None:
    plan = build_plan(IDS, SHIPPED, RANDOM, fusion, weight)
    rows = {r.key: r for r in plan.rows}
    assert plan.settings[rows['negas'].setting].fusion == fusion
    assert absorbed not in plan.settings  # the grid's twin of the card's rule runs as 'nega'
    assert {r.key: r.setting for r in plan.ablations['fusion']}[f'{absorbed}/negs'] == 'nega'
    titles = [t for t, _k in plan.attention_settings]
    assert len(titles) == len(set(titles))
    captured = [k for _t, k in plan.attention_settings]
    assert captured[:3] == ['nega_off', 'nega', 'nega_random']
    assert captured[3:] == [k for k in ('max', 'branch', 'branch_contrast') if k != absorbed]


def test_signature_includes_the_weight_of_weighted_and_gate_only() -> None:
    def setting(fusion: str, weight: float) -> NetworkSetting:
        return NetworkSetting('k', fusion, weight, SHIPPED, ('id_test',))

    assert setting('gate', 0.25).signature != setting('gate', 0.5).signature
    assert setting('weighted', 0.25).signature != setting('weighted', 0.5).signature
    assert setting('gate', 0.5).signature != setting('weighted', 0.5).signature
    for rule in ('off', 'max', 'branch', 'branch_union', 'branch_contrast'):
        assert setting(rule, 0.25).signature == setting(rule, 0.75).signature, rule
        assert setting(rule, 0.25).describe() == rule
    assert setting('gate', 0.5).describe() == 'gate w=0.5'
    assert setting('weighted', 1.0).describe() == 'weighted w=1'
    assert [fusion_name(r, w) for r, w in DEFAULT_FUSION_GRID] == GRID_NAMES


def test_plan_without_random_words_and_restricted() -> None:
    plan = build_plan(IDS, SHIPPED, (), 'max')
    assert 'nega_random' not in plan.settings
    assert plan.random == () and [s.key for s in plan.negative_sets] == ['shipped']
    assert [r.key for r in plan.ablations['negatives']] == [
        'shipped/nega_off', 'shipped/nega_on', 'none/nega_off', 'none/nega_on']
    assert [k for _t, k in plan.attention_settings] == [
        'nega_off', 'nega', 'branch', 'branch_contrast']
    small = plan.restricted({'nega_off', 'nega'})
    assert set(small.settings) == {'nega_off', 'nega'}
    assert [r.key for r in small.rows] == [r.key for r in plan.rows]
    assert small.attention_settings == ()
    assert small.negative_sets == plan.negative_sets


def test_small_custom_grid() -> None:
    plan = build_plan(IDS, SHIPPED, RANDOM, 'gate', 0.5, fusion_grid=(('gate', 0.5),
                                                                      ('weighted', 0.0)))
    assert [r.key for r in plan.ablations['fusion']] == [
        'off/negs', 'off/max_sigmoid', 'gate_0.5/negs', 'gate_0.5/max_sigmoid',
        'weighted_0/negs', 'weighted_0/max_sigmoid']
    assert [k for _t, k in plan.attention_settings] == ['nega_off', 'nega', 'nega_random']


def test_extra_sets_without_nega_on_cost_no_network_run() -> None:
    full = build_plan(IDS, SHIPPED, RANDOM, extra_sets=(LLM, LEARNED))
    cheap = build_plan(IDS, SHIPPED, RANDOM, extra_sets=(LLM, LEARNED), extra_nega_on=False)
    assert set(full.settings) - set(cheap.settings) == {'nega_llm', 'nega_learned'}
    keys = [r.key for r in cheap.ablations['negatives']]
    assert 'llm/nega_off' in keys and 'llm/nega_on' not in keys
    assert 'shipped/nega_on' in keys and 'random/nega_on' in keys
    assert set(LLM.words) <= set(cheap.settings['nega_off'].negatives)


def test_parse_fusion_grid() -> None:
    assert parse_fusion_grid('max,gate:0.25,branch,weighted') == (
        ('max', 0.0), ('gate', 0.25), ('branch', 0.0), ('weighted', 0.5))
    assert parse_fusion_grid('none') == ()
    with pytest.raises(ValueError, match='not one of'):
        parse_fusion_grid('max,sum')
    with pytest.raises(ValueError, match='bad weight'):
        parse_fusion_grid('gate:half')


@pytest.mark.parametrize(('kwargs', 'match'), [
    ({'shipped': ()}, 'NegAS negatives'),
    ({'fusion': 'off'}, 'NegA on'),
    ({'fusion': 'sum'}, 'NegA on'),
    ({'random': ('Pedestrians',)}, "'random' repeats an ID label"),
    ({'shipped': ('cars', 'tram')}, "'shipped' repeats an ID label"),
    ({'extra_sets': (NegativeSet('llm', 'x', ('van', 'Bus')),)}, "'llm' repeats an ID label"),
    ({'extra_sets': (LLM, LLM)}, 'keys repeat'),
    ({'extra_sets': (NegativeSet('random', 'x', ('van',)),)}, 'reserved'),
    ({'extra_sets': (NegativeSet('none', 'x', ('van',)),)}, 'reserved'),
    ({'extra_sets': (NegativeSet('empty', 'x', ()),)}, 'no words'),
    ({'weight': 1.5}, r'\[0, 1\]'),
    ({'fusion_grid': (('off', 0.0),)}, 'always part'),
    ({'fusion_grid': (('gate', 0.5), ('gate', 0.5))}, 'repeats'),
    ({'fusion_grid': (('gate', -0.1),)}, r'\[0, 1\]'),
])
def test_plan_rejects(kwargs: dict, match: str) -> None:
    args = {'id_labels': IDS, 'shipped': SHIPPED, 'random': RANDOM, 'fusion': 'max',
            'weight': 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        build_plan(**args)


def test_negative_set_checks_its_words() -> None:
    nset = NegativeSet('a.b-c_1', '', ('  golf   cart ', 'tram'))
    assert nset.words == ('golf cart', 'tram') and nset.title == 'a.b-c_1'
    with pytest.raises(ValueError, match='repeats labels'):
        NegativeSet('x', 'x', ('tram', 'Trams'))
    with pytest.raises(ValueError, match='empty label'):
        NegativeSet('x', 'x', ('tram', ' '))
    for key in ('', 'a/b', '_x', 'a=b'):
        with pytest.raises(ValueError, match='key'):
            NegativeSet(key, 'x', ('tram',))
    with pytest.raises(ValueError, match="key 'shipped'"):
        build_plan(IDS, NegativeSet('other', 'x', SHIPPED), RANDOM)


def test_named_categories() -> None:
    words = ('Golf carts', 'tram', 'van', 'trash-can')
    assert named_categories(words, ('golf cart', 'tram', 'tractor', 'trash can')) == [
        'golf cart', 'tram', 'trash can']
    assert named_categories((), ('tram',)) == []


def _result(plan_key: str = 'negas') -> tuple[RowResult, object]:
    plan = build_plan(IDS, SHIPPED, RANDOM, 'max')
    spec = {r.key: r for r in plan.rows}[plan_key]
    result = RowResult(
        spec, len(spec.negatives),
        {'near': {'fpr95': 0.5, 'auroc': 0.8, 'aupr': 0.9, 'aupr_in': 0.9, 'aupr_out': 0.6},
         'far': {'fpr95': None, 'auroc': None, 'aupr': None, 'aupr_in': None,
                 'aupr_out': None}},
        {'near': 10, 'far': 0, 'id': 20}, 0.4321, 0.6, 0.25, np.zeros(0), {})
    return result, plan


def test_row_entry_and_markdown_table() -> None:
    result, plan = _result()
    entry = row_entry(result, plan)  # type: ignore[arg-type]
    assert entry['near'] == {'fpr95': 0.5, 'auroc': 0.8, 'aupr': 0.9, 'aupr_out': 0.6}
    assert entry['far']['fpr95'] is None
    assert entry['map'] == 0.4321 and entry['negatives'] == len(SHIPPED)
    assert entry['nega'] == 'max' and entry['method'] == 'negs'
    table = markdown_table({'negas': entry}, ('near', 'far'), with_samples=True).splitlines()
    assert len(table) == 3
    header, rule, line = table
    assert header.count('|') == rule.count('|') == line.count('|')
    cells = [c.strip() for c in line.strip('|').split('|')]
    assert cells[:3] == [entry['title'], 'max', str(len(SHIPPED))]
    assert cells[3:9] == ['50.00', '80.00', '90.00', '–', '–', '–']
    assert cells[9:11] == ['43.21', '60.00']
    assert cells[11] == '20 / 10 / 0'


def test_target_check() -> None:
    assert (NEAR_FPR95_REDUCTION, NEAR_UNSEEN_FPR95_REDUCTION, MAP_DROP_POINTS) == (
        0.40, 0.25, 0.5)
    base = {'near': {'fpr95': 0.8}, 'near_unseen': {'fpr95': 0.8}, 'map': 0.50}
    good = {'near': {'fpr95': 0.45}, 'near_unseen': {'fpr95': 0.58}, 'map': 0.496}
    check = target_check({'max_sigmoid': base, 'negas': good})
    assert check['fpr95_reduction'] == pytest.approx(1 - 0.45 / 0.8)
    assert check['map_drop_points'] == pytest.approx(0.4)
    assert check['required_reduction'] == 0.40 and check['max_map_drop_points'] == 0.5
    assert check['met'] is True
    unseen = target_check({'max_sigmoid': base, 'negas': good}, 'near_unseen')
    assert unseen['required_reduction'] == 0.25 and unseen['met'] is True  # 27.5% >= 25%
    short = {'near': {'fpr95': 0.55}, 'map': 0.50}  # 31% < 40%
    assert target_check({'max_sigmoid': base, 'negas': short})['met'] is False
    costly = {'near': {'fpr95': 0.1}, 'map': 0.493}  # 0.7 mAP points lost
    assert target_check({'max_sigmoid': base, 'negas': costly})['met'] is False
    missing = {'near': {'fpr95': None}, 'map': 0.5}
    assert target_check({'max_sigmoid': base, 'negas': missing})['met'] is None


def test_quick_differences_tolerance() -> None:
    from negas_ros.benchmark.run import quick_differences

    a = {'negas': {'near': {'fpr95': 0.5, 'auroc': None}, 'map': 0.3, 'title': 'x'}}
    b = {'negas': {'near': {'fpr95': 0.5 + 1e-9, 'auroc': None}, 'map': 0.3, 'title': 'x'}}
    assert quick_differences(a, b, 1e-6) == []
    assert quick_differences(a, b) == [('negas.near.fpr95', 0.5, 0.5 + 1e-9)]
    c = {'negas': {'near': {'fpr95': 0.5, 'auroc': 0.7}, 'map': 0.3, 'title': 'x'}}
    assert quick_differences(a, c, 1.0) == [('negas.near.auroc', None, 0.7)]
    assert quick_differences(a, {'negas': {}}, 1.0)  # missing keys differ


def test_negs_method_sets_the_nega_s_form_everywhere_it_is_read() -> None:
    plan = build_plan(IDS, SHIPPED, RANDOM, extra_sets=(LLM,), negs_method='negs_diff')
    methods = {r.key: r.method for r in plan.all_rows()}
    assert methods['negs'] == methods['negas'] == 'negs_diff'
    assert methods['shipped/nega_off'] == methods['llm/nega_on'] == 'negs_diff'
    assert methods['branch/negs'] == 'negs_diff' and methods['max_sigmoid'] == 'max_sigmoid'
    assert methods['negs_ratio/nega_off'] == 'negs_ratio'  # the forms ablation keeps its own
    assert '[negs_diff]' in {r.key: r.title for r in plan.rows}['negas']
    with pytest.raises(ValueError, match='negs_method'):
        build_plan(IDS, SHIPPED, RANDOM, negs_method='energy')


def test_set_score_forms_rows_cost_no_network_run() -> None:
    plain = build_plan(IDS, SHIPPED, RANDOM, extra_sets=(LLM,))
    plan = build_plan(IDS, SHIPPED, RANDOM, extra_sets=(LLM,), set_score_forms=True)
    assert plan.settings.keys() == plain.settings.keys()
    rows = plan.ablations['set_forms']
    assert {r.setting for r in rows} == {'nega_off'}
    assert [r.key for r in rows][:2] == ['shipped/negs', 'shipped/negs_ratio']
    assert 'llm/negs_diff' in {r.key for r in rows}
    assert not any(r.key.startswith('random/') for r in rows)
