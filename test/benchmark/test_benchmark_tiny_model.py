"""`negas-ros ood-benchmark` end to end on a tiny random-weight model (numbers meaningless;
files, layout, determinism and the quick-subset reproduction path are what is checked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from negas_ros.benchmark.run import (
    Counts,
    default_negative_set_files,
    quick_differences,
    recorded_negative_sets,
    reproduce_quick,
)

# Random weights give scores around 0.5: a high candidate threshold keeps the run small.
BOX_THRESHOLD = 0.56
COUNTS = Counts(id=4, ood=2, attention=1)
QUICK = Counts(id=3, ood=1, attention=1)


@pytest.fixture(scope='module')
def cli_run(
        tiny_yolo_world_dir: Path, world_labels: Path, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch_module: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    from negas_ros import cli
    from negas_ros.benchmark import run

    # The quick subset of this tiny run: smaller than the shipped QUICK_COUNTS.
    monkeypatch_module.setattr(run, 'QUICK_COUNTS', QUICK)
    out = tmp_path_factory.mktemp('bench')
    code = cli.main(['ood-benchmark', '--model', str(tiny_yolo_world_dir), '--labels',
                     str(world_labels), '--id-images', str(COUNTS.id), '--ood-images',
                     str(COUNTS.ood), '--attention-images', str(COUNTS.attention),
                     '--box-threshold', str(BOX_THRESHOLD), '--out', str(out)])
    assert code == 0
    return out, json.loads((out / 'results.json').read_text(encoding='utf-8'))


@pytest.fixture(scope='module')
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_files_and_layout(cli_run: tuple[Path, dict[str, Any]],
                          capsys: pytest.CaptureFixture[str]) -> None:
    out, doc = cli_run
    for name in ('results.md', 'results.json', 'img/results_roc.png', 'img/results_hist.png',
                 'img/results_attention.png'):
        assert (out / name).is_file(), name
    assert doc['meta']['rows'] == ['max_sigmoid', 'energy', 'joint_energy', 'neglabel', 'negs',
                                   'negas']
    for key in doc['meta']['rows']:
        entry = doc[key]
        for ood in ('near', 'far', 'near_unseen', 'far_unseen'):
            assert set(entry[ood]) >= {'fpr95', 'auroc', 'aupr'}, (key, ood)
        assert 'map' in entry
    assert doc['negas']['nega'] == 'max' and doc['max_sigmoid']['nega'] == 'off'
    assert set(doc['ablations']) == {'negatives', 'fusion', 'score_forms'}
    assert set(doc['attention_overlap']) == {'ood_near', 'mixed_test'}
    for per_setting in doc['attention_overlap'].values():
        # The card's rule is max: the grid's max is 'nega'; the two rules with a negative pass
        # of their own (branch, branch_contrast) are captured too.
        assert set(per_setting) == {'nega_off', 'nega', 'nega_random', 'branch',
                                    'branch_contrast'}
        for key in per_setting:
            assert set(per_setting[key]) == {'12', '15', '18', '21', 'mean'}
    assert doc['target']['required_reduction'] == 0.40
    assert doc['target_unseen']['required_reduction'] == 0.25
    assert doc['target']['max_map_drop_points'] == 0.5
    assert doc['meta']['images'] == {
        'id_test': 4, 'ood_near': 2, 'ood_far': 2, 'ood_near_unseen': 2,
        'ood_far_unseen': 2, 'mixed_test': 1}
    assert doc['quick']['images']['id_test'] == QUICK.id
    # Negative sets: shipped, the default extra lists (config/labels/ablation), random words.
    extra = [key for key, _path in default_negative_set_files()]
    assert 'llm_style' in extra
    sets = {e['key']: e for e in doc['meta']['negative_sets']}
    assert list(sets) == ['shipped', *extra, 'random']
    assert sets['llm_style']['file'] == 'config/labels/ablation/world_llm_style.yaml'
    assert len(sets['llm_style']['sha256']) == 64 and sets['random']['file'] is None
    shipped, random = sets['shipped']['words'], sets['random']['words']
    assert len(random) == len(shipped) == 5
    assert not {w.lower() for w in random} & set(doc['meta']['id_labels'])
    for entry in sets.values():
        assert set(entry['names']) == {'near', 'far', 'near_unseen', 'far_unseen'}
    assert sets['shipped']['names']['near'] == ['golf cart', 'mannequin', 'tractor', 'tram',
                                                'wheelchair']
    assert 'statue' in sets['llm_style']['names']['near_unseen']
    negatives = doc['ablations']['negatives']
    assert list(negatives) == [f'{k}/{n}' for k in ('shipped', *extra, 'random', 'none')
                               for n in ('nega_off', 'nega_on')]
    assert negatives['llm_style/nega_on']['setting'] == 'nega_llm_style'
    union = doc['meta']['settings']['nega_off']['negatives']
    assert union == len({w for e in sets.values() for w in e['words']})
    for name in ('fusion', 'score_forms'):
        for key, entry in doc['ablations'][name].items():
            for ood in ('near', 'far', 'near_unseen', 'far_unseen'):
                assert set(entry[ood]) >= {'fpr95', 'auroc', 'aupr'}, (name, key, ood)
    assert list(doc['ablations']['fusion'])[:4] == ['off/negs', 'off/max_sigmoid', 'max/negs',
                                                    'max/max_sigmoid']
    assert doc['ablations']['fusion']['gate_0.5/negs']['nega'] == 'gate w=0.5'
    # branch leaves the ID outputs of NegA off alone: same mAP and tau* as off.
    off = doc['max_sigmoid']
    for rule in ('branch', 'branch_contrast'):
        branch = doc['ablations']['fusion'][f'{rule}/max_sigmoid']
        assert (branch['map'], branch['tau']) == (off['map'], off['tau']), rule
    assert set(doc['selection']['families']) == {'negative_list', 'nega_rule', 'score_form'}
    assert set(doc['selection']['families']['negative_list']['candidates']) == {
        'shipped', *extra}
    text = (out / 'results.md').read_text(encoding='utf-8')
    assert '## Main table' in text and 'negas-ros ood-benchmark --model' in text
    assert '## Choices made on these splits' not in text  # test splits: not shown
    assert '--negative-set' not in doc['meta']['command']  # the default sets
    for key in sets:
        assert f'`{key}` names near' in text, key
    for old in ('dissimilar', 'Number of negatives', 'random direction'):
        assert old not in text, old
    assert 'gate = a_id·(1 − w·a_neg)' in text and 'branch_union =' in text


def test_quick_rerun_reproduces_the_quick_block(
        cli_run: tuple[Path, dict[str, Any]], tiny_yolo_world_dir: Path,
        world_labels: Path) -> None:
    _, doc = cli_run
    rerun = reproduce_quick(tiny_yolo_world_dir, world_labels, 0, BOX_THRESHOLD, (320, 320), 1,
                            counts=QUICK)
    reference = {key: doc['quick'][key] for key in doc['meta']['rows']}
    # Same machine, same thread count: bit-identical (the shipped-model test allows a tolerance).
    assert quick_differences(reference, rerun) == []


VAL_NAMES = ('id_val', 'ood_val_near', 'ood_val_far', 'ood_val_near_unseen', 'ood_val_far_unseen',
             'mixed_val')
TEST_NAMES = ('id_test', 'ood_near', 'ood_far', 'ood_near_unseen', 'ood_far_unseen',
              'mixed_test')


@pytest.fixture(scope='module')
def val_cli_run(tiny_yolo_world_dir: Path, world_labels: Path,
                tmp_path_factory: pytest.TempPathFactory,
                monkeypatch_module: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    """The same run on the validation splits, without --out, in a stand-in source tree."""
    from negas_ros import cli
    from negas_ros.benchmark import run

    monkeypatch_module.setattr(run, 'QUICK_COUNTS', QUICK)
    repo = tmp_path_factory.mktemp('repo')
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run, 'REPO_ROOT', repo)
        code = cli.main(['ood-benchmark', '--splits', 'val', '--model', str(tiny_yolo_world_dir),
                         '--labels', str(world_labels), '--id-images', str(COUNTS.id),
                         '--ood-images', str(COUNTS.ood), '--attention-images',
                         str(COUNTS.attention), '--box-threshold', str(BOX_THRESHOLD)])
    assert code == 0
    # A validation run never writes over the test results: its default is docs/validation/.
    assert not (repo / 'docs' / 'results.json').exists()
    assert not (repo / 'docs' / 'results.md').exists()
    out = repo / 'docs' / 'validation'
    return out, json.loads((out / 'results.json').read_text(encoding='utf-8'))


def test_val_run_uses_only_val_splits(val_cli_run: tuple[Path, dict[str, Any]]) -> None:
    out, doc = val_cli_run
    for name in ('results.md', 'results.json', 'img/results_roc.png', 'img/results_hist.png',
                 'img/results_attention.png'):
        assert (out / name).is_file(), name
    meta = doc['meta']
    assert meta['splits'] == {
        'set': 'val', 'id': 'id_val',
        'ood': {'near': 'ood_val_near', 'far': 'ood_val_far',
                'near_unseen': 'ood_val_near_unseen', 'far_unseen': 'ood_val_far_unseen'},
        'attention': ['ood_val_near', 'mixed_val']}
    assert meta['images'] == {
        'id_val': 4, 'ood_val_near': 2, 'ood_val_far': 2, 'ood_val_near_unseen': 2,
        'ood_val_far_unseen': 2, 'mixed_val': 1}
    assert set(meta['categories']) == set(VAL_NAMES)
    for key, setting in meta['settings'].items():
        assert set(setting['splits']) <= set(VAL_NAMES), key
    assert set(doc['attention_overlap']) == {'ood_val_near', 'mixed_val'}
    assert set(doc['quick']['images']) == set(VAL_NAMES)
    assert doc['quick']['images']['id_val'] == QUICK.id
    assert '--splits val' in meta['command'] and '--out docs/validation' in meta['command']
    for key in meta['rows']:
        for ood in ('near', 'far', 'near_unseen', 'far_unseen'):
            assert set(doc[key][ood]) >= {'fpr95', 'auroc', 'aupr'}, (key, ood)
    text = (out / 'results.md').read_text(encoding='utf-8')
    assert 'ID: `id_val`' in text and '`ood_val_near`' in text and 'mixed_val' in text
    assert '**Validation run**' in text
    for name in TEST_NAMES:
        assert name not in text, name  # no text names a test split
    assert '## Choices made on these splits' in text
    assert doc['selection']['rule'] in text
    # Every choice's lead over its runner-up (and NegA's over 'off') with a bootstrap interval.
    margins, families = doc['selection_margins'], doc['selection']['families']
    assert margins and set(margins) <= set(families)
    for family, margin in margins.items():
        assert margin['winner'] == families[family]['winner']
        for role, label in (('runner_up', 'runner-up'), ('reference', 'reference')):
            if role in margin:
                rival = margin[role]
                lo, hi = rival['lead_points_ci95']
                assert lo <= hi and 0.0 <= rival['share_winner_better'] <= 1.0
                if role == 'reference' and rival['name'] == margin['runner_up']['name']:
                    label = 'runner-up'  # shown once
                assert f"lead over the {label} `{rival['name']}`" in text
    if families['nega_rule']['winner'] != 'off':
        assert margins['nega_rule']['reference']['name'] == 'off'


def test_val_run_differs_from_the_test_run(cli_run: tuple[Path, dict[str, Any]],
                                           val_cli_run: tuple[Path, dict[str, Any]]) -> None:
    (_, test), (_, val) = cli_run, val_cli_run
    assert set(test['meta']['images']) == set(TEST_NAMES)
    assert '--splits' not in test['meta']['command']
    assert test['meta']['splits']['set'] == 'test'
    assert test['meta']['rows'] == val['meta']['rows']
    rows = test['meta']['rows']
    # Other images, other numbers (same model, labels, seed and counts).
    assert quick_differences({k: test[k] for k in rows}, {k: val[k] for k in rows}) != []
    truth = [sorted(test['meta']['categories'][t].items()) for t in TEST_NAMES]
    assert truth != [sorted(val['meta']['categories'][v].items()) for v in VAL_NAMES]


def test_cli_refuses_a_val_run_over_test_results(
        cli_run: tuple[Path, dict[str, Any]], tiny_yolo_world_dir: Path, world_labels: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from negas_ros import cli

    out, _ = cli_run
    before = (out / 'results.json').read_bytes()
    code = cli.main(['ood-benchmark', '--splits', 'val', '--model', str(tiny_yolo_world_dir),
                     '--labels', str(world_labels), '--out', str(out)])
    assert code == 2  # refused before running, with one clear line
    assert "holds results on the 'test' splits" in capsys.readouterr().err
    assert (out / 'results.json').read_bytes() == before


def test_val_quick_rerun_reproduces_its_quick_block(
        val_cli_run: tuple[Path, dict[str, Any]], tiny_yolo_world_dir: Path,
        world_labels: Path) -> None:
    from negas_ros.benchmark.plan import VAL_SPLITS

    _, doc = val_cli_run
    # The same negative columns as the run (which saw another source tree): from its meta.
    files, random = recorded_negative_sets(doc['meta'])
    assert random is not None and len(random) == 5
    rerun = reproduce_quick(tiny_yolo_world_dir, world_labels, 0, BOX_THRESHOLD, (320, 320), 1,
                            counts=QUICK, splits=VAL_SPLITS, negative_sets=files,
                            random_words=random)
    reference = {key: doc['quick'][key] for key in doc['meta']['rows']}
    assert quick_differences(reference, rerun) == []


def test_nega_off_id_outputs_do_not_depend_on_negatives(tiny_yolo_world_dir: Path) -> None:
    """The plan serves every NegA-off row from one run with all negatives: this must hold."""
    from negas_ros.backends.yolo_world.backend import YoloWorldBackend, load_model_card
    from negas_ros.world import World

    backend = YoloWorldBackend.from_card(load_model_card(str(tiny_yolo_world_dir)))
    image = World(0).render('ood_near', 0).image
    ids = ['car', 'pedestrian', 'bus']
    backend.set_labels(ids, [], nega=False)
    alone = backend.infer(image, BOX_THRESHOLD)
    backend.set_labels(ids, ['golf cart', 'tram', 'dog', 'bench'], nega=False)
    with_negs = backend.infer(image, BOX_THRESHOLD)
    np.testing.assert_array_equal(alone.boxes_xyxy, with_negs.boxes_xyxy)
    np.testing.assert_array_equal(alone.id_logits, with_negs.id_logits)
    backend.set_labels(ids, ['golf cart', 'tram'], nega=False)
    fewer = backend.infer(image, BOX_THRESHOLD)
    np.testing.assert_allclose(fewer.neg_logits, with_negs.neg_logits[:, :2], rtol=0,
                               atol=1e-5)
