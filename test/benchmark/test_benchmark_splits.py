"""Split sets: one protocol on the test splits or on their validation twins."""

from __future__ import annotations

from pathlib import Path

import pytest

from negas_ros.benchmark import plan as plan_module
from negas_ros.benchmark.plan import (
    OOD_SET_NAMES,
    SPLIT_SETS,
    TEST_SPLITS,
    VAL_SPLITS,
    NegativeSet,
    SplitSet,
    build_plan,
)
from negas_ros.benchmark.run import BenchmarkConfig, Counts
from negas_ros.world import SPLITS, VALIDATION_TWINS

IDS = ('car', 'pedestrian', 'bus')
SIMILAR = ('golf cart', 'mannequin', 'tram', 'tractor', 'wheelchair')
RANDOM = ('r1', 'r2', 'r3')
OOD_TEST = {'near': 'ood_near', 'far': 'ood_far', 'near_unseen': 'ood_near_unseen',
            'far_unseen': 'ood_far_unseen'}


def test_test_splits_keep_the_former_constants() -> None:
    assert TEST_SPLITS.id == plan_module.ID_SPLIT == 'id_test'
    assert dict(TEST_SPLITS.ood) == dict(plan_module.OOD_SPLITS) == OOD_TEST
    assert TEST_SPLITS.attention == plan_module.ATTENTION_SPLITS == ('ood_near', 'mixed_test')
    assert TEST_SPLITS.every == ('id_test', 'ood_near', 'ood_far', 'ood_near_unseen',
                                 'ood_far_unseen', 'mixed_test')
    assert dict(SPLIT_SETS) == {'test': TEST_SPLITS, 'val': VAL_SPLITS}


def test_val_splits_are_the_validation_twins_of_the_test_splits() -> None:
    assert VAL_SPLITS.id == 'id_val'
    assert dict(VAL_SPLITS.ood) == {
        'near': 'ood_val_near', 'far': 'ood_val_far', 'near_unseen': 'ood_val_near_unseen',
        'far_unseen': 'ood_val_far_unseen'}
    assert VAL_SPLITS.attention == ('ood_val_near', 'mixed_val')
    for name in ('id', *OOD_SET_NAMES):
        assert VALIDATION_TWINS[VAL_SPLITS.split(name)] == TEST_SPLITS.split(name), name
    assert [VALIDATION_TWINS[s] for s in VAL_SPLITS.attention] == list(TEST_SPLITS.attention)
    assert [VALIDATION_TWINS[s] for s in VAL_SPLITS.every] == list(TEST_SPLITS.every)
    assert not set(VAL_SPLITS.every) & set(TEST_SPLITS.every)
    assert set(VAL_SPLITS.every) <= set(SPLITS)


@pytest.mark.parametrize('ood, attention, match', [
    ({'near': 'ood_near', 'far': 'ood_far'}, ('mixed_test',), 'OOD sets must be'),
    ({**OOD_TEST, 'far': 'ood_near'}, ('mixed_test',), 'repeats a split'),
    ({**OOD_TEST, 'far': 'ood_faraway'}, ('mixed_test',), 'not world splits'),
    (OOD_TEST, ('mixed_tests',), 'not world splits'),
    (OOD_TEST, (), 'no attention split'),
])
def test_split_set_rejects(ood: dict[str, str], attention: tuple[str, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SplitSet('bad', 'id_test', ood, attention)


def test_split_set_is_frozen_hashable_and_compares_by_value() -> None:
    again = SplitSet('test', 'id_test', dict(OOD_TEST), ('ood_near', 'mixed_test'))
    assert again == TEST_SPLITS and hash(again) == hash(TEST_SPLITS)
    assert again != VAL_SPLITS
    with pytest.raises(TypeError):
        again.ood['near'] = 'ood_far'  # type: ignore[index]


def test_val_plan_runs_on_val_splits_only() -> None:
    extra = (NegativeSet('llm', 'LLM', ('dog', 'bench', 'tram')),)
    test = build_plan(IDS, SIMILAR, RANDOM, 'max', 0.5, extra_sets=extra)
    val = build_plan(IDS, SIMILAR, RANDOM, 'max', 0.5, extra_sets=extra, splits=VAL_SPLITS)
    assert test.splits == TEST_SPLITS and val.splits == VAL_SPLITS
    # The same settings and rows; only the splits under them change, each to its twin.
    assert list(val.settings) == list(test.settings)
    assert val.all_rows() == test.all_rows()
    assert val.attention_settings == test.attention_settings
    for key, setting in val.settings.items():
        assert set(setting.splits) <= set(VAL_SPLITS.every), key
        assert set(setting.attention) <= set(VAL_SPLITS.attention), key
        assert [VALIDATION_TWINS[s] for s in setting.splits] == list(
            test.settings[key].splits), key
        assert [VALIDATION_TWINS[s] for s in setting.attention] == list(
            test.settings[key].attention), key
    assert val.restricted({'nega_off', 'nega'}).splits == VAL_SPLITS


def test_counts_per_split() -> None:
    counts = Counts(id=5, ood=3, attention=2)
    assert counts.per_split() == counts.per_split(TEST_SPLITS) == {
        'id_test': 5, 'ood_near': 3, 'ood_far': 3, 'ood_near_unseen': 3,
        'ood_far_unseen': 3, 'mixed_test': 2}
    assert counts.per_split(VAL_SPLITS) == {
        'id_val': 5, 'ood_val_near': 3, 'ood_val_far': 3, 'ood_val_near_unseen': 3,
        'ood_val_far_unseen': 3, 'mixed_val': 2}


def test_config_splits_default_to_test_and_must_be_a_split_set() -> None:
    assert BenchmarkConfig(Path('m'), Path('l')).splits == TEST_SPLITS
    assert BenchmarkConfig(Path('m'), Path('l'), splits=VAL_SPLITS).splits == VAL_SPLITS
    with pytest.raises(TypeError, match='SplitSet'):
        BenchmarkConfig(Path('m'), Path('l'), splits='val')  # type: ignore[arg-type]


def test_command_records_the_split_set() -> None:
    from negas_ros.cli.ood_benchmark import _command

    test = BenchmarkConfig(Path('m'), Path('l'), image_size=(256, 256))
    assert '--splits' not in _command(test, None, False)  # the test command stays as it was
    assert '--negative-set' not in _command(test, None, False)
    val = BenchmarkConfig(Path('m'), Path('l'), image_size=(256, 256), splits=VAL_SPLITS)
    assert ' --splits val' in _command(val, Path('docs/validation'), False)


def test_cli_refuses_an_unknown_split_set_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    from negas_ros import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(['ood-benchmark', '--splits', 'ood_near'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--splits: invalid choice: 'ood_near'" in err and "'test', 'val'" in err


def test_results_of_one_split_set_never_overwrite_another(tmp_path: Path) -> None:
    from negas_ros.benchmark.document import check_out_dir

    check_out_dir(tmp_path / 'missing', VAL_SPLITS)  # nothing there: fine
    results = tmp_path / 'results.json'
    results.write_text('{"meta": {"seed": 0}}', encoding='utf-8')  # before split sets: test
    check_out_dir(tmp_path, TEST_SPLITS)
    with pytest.raises(ValueError, match="'test' splits; a run on the 'val' splits"):
        check_out_dir(tmp_path, VAL_SPLITS)
    results.write_text('{"meta": {"splits": {"set": "val"}}}', encoding='utf-8')
    check_out_dir(tmp_path, VAL_SPLITS)
    with pytest.raises(ValueError, match='will not overwrite'):
        check_out_dir(tmp_path, TEST_SPLITS)
    results.write_text('not json', encoding='utf-8')
    check_out_dir(tmp_path, VAL_SPLITS)  # unreadable: the writer replaces it
