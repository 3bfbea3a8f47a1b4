"""Benchmark plan (settings, rows, dedup) and the table assembly (report)."""

from __future__ import annotations

import numpy as np
import pytest

from negas_ros.benchmark.plan import build_plan, leftover_words, random_word_vectors
from negas_ros.benchmark.protocol import RowResult
from negas_ros.benchmark.report import markdown_table, row_entry, target_check

IDS = ('car', 'pedestrian', 'bus')
SIMILAR = ('golf cart', 'mannequin', 'tram', 'tractor', 'wheelchair')
RANDOM = ('dog', 'bench', 'umbrella', 'kite', 'lamp')


def test_plan_settings_and_rows() -> None:
    plan = build_plan(IDS, SIMILAR, RANDOM, 'max', 0.5)
    keys = list(plan.settings)
    # 'max' of the fusion ablation is the card's rule: absorbed by 'nega', not run twice.
    assert 'max' not in keys
    assert keys[:3] == ['nega_off', 'nega', 'nega_random']
    assert {'weighted_0.25', 'weighted_0.5', 'weighted_1', 'nega_n1', 'nega_n2',
            'nega_n4'} <= set(keys)
    off = plan.settings['nega_off']
    assert off.fusion == 'off' and off.negatives == SIMILAR + RANDOM
    assert plan.settings['nega'].negatives == SIMILAR
    assert plan.settings['nega_n2'].negatives == SIMILAR[:2]
    assert [r.key for r in plan.rows] == ['max_sigmoid', 'energy', 'joint_energy', 'neglabel',
                                         'negs', 'negas']
    rows = {r.key: r for r in plan.rows}
    assert rows['max_sigmoid'].negatives == () and rows['max_sigmoid'].setting == 'nega_off'
    assert rows['negs'].setting == 'nega_off' and rows['negs'].negatives == SIMILAR
    assert rows['negas'].setting == 'nega' and rows['negas'].method == 'negs'
    # Every row reads only negatives its setting computed, on the setting's splits.
    for row in plan.all_rows():
        assert set(row.negatives) <= set(plan.settings[row.setting].negatives), row.key
    fusion = {r.key: r.setting for r in plan.ablations['fusion']}
    assert fusion['max/negs'] == 'nega' and fusion['off/negs'] == 'nega_off'
    counts = [r.key for r in plan.ablations['num_negatives']]
    assert counts[-2:] == ['all/nega_off', 'all/nega_on'] and '4/nega_on' in counts
    assert [k for k, _ in plan.attention_settings] == [
        'NegA off (baseline)', 'NegA max', 'NegA max, random words']
    assert [k for _, k in plan.attention_settings] == ['nega_off', 'nega', 'nega_random']
    # Ablations run on fewer splits than the main settings.
    assert 'ood_far_unseen' in plan.settings['nega'].splits
    assert 'ood_far_unseen' not in plan.settings['weighted_1'].splits


def test_weighted_default_absorbs_its_ablation_and_counts_above_m_are_skipped() -> None:
    plan = build_plan(IDS, SIMILAR[:3], RANDOM[:3], 'weighted', 0.5, counts=(1, 3, 8))
    assert 'weighted_0.5' not in plan.settings
    assert plan.settings['nega'].fusion == 'weighted' and plan.settings['nega'].weight == 0.5
    fusion = {r.key: r.setting for r in plan.ablations['fusion']}
    assert fusion['weighted_0.5/negs'] == 'nega' and fusion['max/negs'] == 'max'
    assert [s for s in plan.settings if s.startswith('nega_n')] == ['nega_n1']


def test_plan_without_random_words_and_restricted() -> None:
    plan = build_plan(IDS, SIMILAR, (), 'max')
    assert 'nega_random' not in plan.settings
    assert [r.key for r in plan.ablations['negatives']] == [
        'similar/nega_off', 'similar/nega_on', 'none/nega_off', 'none/nega_on']
    small = plan.restricted({'nega_off', 'nega'})
    assert set(small.settings) == {'nega_off', 'nega'}
    assert [r.key for r in small.rows] == [r.key for r in plan.rows]
    assert small.attention_settings == ()


@pytest.mark.parametrize(('kwargs', 'match'), [
    ({'similar': ()}, 'NegAS negatives'),
    ({'fusion': 'off'}, 'NegA on'),
    ({'random': ('Mannequins',)}, 'repeat'),
    ({'similar': ('cars',)}, 'repeat'),
    ({'weight': 0.0}, r'\(0, 1\]'),
])
def test_plan_rejects(kwargs: dict, match: str) -> None:
    args = {'id_labels': IDS, 'similar': SIMILAR, 'random': RANDOM, 'fusion': 'max',
            'weight': 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        build_plan(**args)


def test_leftover_words_and_random_word_vectors() -> None:
    pool = ['car', 'Cars', 'dog', 'golf cart', ' dog ', 'bench', 'lamp']
    assert leftover_words(pool, ['car', 'golf carts']) == ('dog', 'bench', 'lamp')
    vectors = random_word_vectors(4, 16, seed=3)
    assert vectors.shape == (4, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors, random_word_vectors(4, 16, seed=3))
    assert not np.array_equal(vectors, random_word_vectors(4, 16, seed=4))
    with pytest.raises(ValueError):
        random_word_vectors(-1, 16, 0)


def test_dissimilar_set_gets_its_rows() -> None:
    plan = build_plan(IDS, SIMILAR, RANDOM, 'max', dissimilar=('hydrant', 'kite2'))
    assert plan.settings['nega_off'].negatives == (*SIMILAR, 'hydrant', 'kite2', *RANDOM)
    assert plan.settings['nega_dissimilar'].negatives == ('hydrant', 'kite2')
    assert [r.key for r in plan.ablations['negatives']] == [
        'similar/nega_off', 'similar/nega_on', 'dissimilar/nega_off', 'dissimilar/nega_on',
        'random/nega_off', 'random/nega_on', 'none/nega_off', 'none/nega_on']
    with pytest.raises(ValueError, match='dissimilar'):
        build_plan(IDS, SIMILAR, RANDOM, 'max', dissimilar=('tram',))


def _result(plan_key: str = 'negas') -> tuple[RowResult, object]:
    plan = build_plan(IDS, SIMILAR, RANDOM, 'max')
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
    assert entry['map'] == 0.4321 and entry['negatives'] == len(SIMILAR)
    assert entry['nega'] == 'max' and entry['method'] == 'negs'
    table = markdown_table({'negas': entry}, ('near', 'far'), with_samples=True).splitlines()
    assert len(table) == 3
    header, rule, line = table
    assert header.count('|') == rule.count('|') == line.count('|')
    cells = [c.strip() for c in line.strip('|').split('|')]
    assert cells[:3] == [entry['title'], 'max', str(len(SIMILAR))]
    assert cells[3:9] == ['50.00', '80.00', '90.00', '–', '–', '–']
    assert cells[9:11] == ['43.21', '60.00']
    assert cells[11] == '20 / 10 / 0'


def test_target_check() -> None:
    base = {'near': {'fpr95': 0.8}, 'map': 0.50}
    good = {'near': {'fpr95': 0.55}, 'map': 0.495}
    check = target_check({'max_sigmoid': base, 'negas': good})
    assert check['fpr95_reduction'] == pytest.approx(1 - 0.55 / 0.8)
    assert check['map_drop_points'] == pytest.approx(0.5)
    assert check['met'] is True
    short = {'near': {'fpr95': 0.7}, 'map': 0.50}
    assert target_check({'max_sigmoid': base, 'negas': short})['met'] is False
    costly = {'near': {'fpr95': 0.1}, 'map': 0.48}  # 2 mAP points lost
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
