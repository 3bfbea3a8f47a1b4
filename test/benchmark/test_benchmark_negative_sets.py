"""Negative sets of the benchmark: label files, default discovery, random words, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from negas_ros.benchmark.plan import NegativeSet
from negas_ros.benchmark.run import (
    REPO_ROOT,
    BenchmarkConfig,
    default_negative_set_files,
    load_negative_set,
    load_negatives,
    negative_set_key,
    random_negative_set,
)
from negas_ros.labels import load_labels

IDS = ['car', 'pedestrian', 'bus', 'truck', 'bicycle', 'traffic light', 'traffic sign']


def _label_file(path: Path, ids: list[str], negatives: list[str],
                method: str | None = None) -> Path:
    text = f'id_labels: {ids}\nnegative_labels: {negatives}\n'
    if method is not None:
        text += f'provenance:\n  method: {method}\n'
    path.write_text(text.replace("'", ''), encoding='utf-8')
    return path


def test_set_key_from_file_name() -> None:
    assert negative_set_key('config/labels/ablation/world_llm_style.yaml') == 'llm_style'
    assert negative_set_key(Path('world_learned_rule.yaml')) == 'learned_rule'
    assert negative_set_key('coco_llm.yaml') == 'coco_llm'
    assert negative_set_key('world_.yaml') == 'world_'  # nothing left: the stem stays


def test_default_sets_are_the_ablation_label_files(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from negas_ros.benchmark import run

    found = dict(default_negative_set_files())
    assert found['llm_style'] == REPO_ROOT / 'config/labels/ablation/world_llm_style.yaml'
    assert all(p.suffix == '.yaml' and p.parent.name == 'ablation' for p in found.values())

    directory = tmp_path / 'config' / 'labels' / 'ablation'
    directory.mkdir(parents=True)
    for name in ('world_b.yaml', 'a.yaml', 'notes.txt', 'world_c.yml'):
        (directory / name).write_text('id_labels: [car]\n', encoding='utf-8')
    monkeypatch.setattr(run, 'REPO_ROOT', tmp_path)
    assert default_negative_set_files() == (('a', directory / 'a.yaml'),
                                            ('b', directory / 'world_b.yaml'))
    # Without a source tree: the install's share directory, if it has the folder, else none.
    monkeypatch.setattr(run, 'REPO_ROOT', tmp_path / 'elsewhere')
    for _key, path in default_negative_set_files():
        assert 'share' in path.parts and path.parent.name == 'ablation'


def test_load_negative_set_title_source_and_id_check(tmp_path: Path) -> None:
    path = _label_file(tmp_path / 'llm.yaml', IDS, ['van', 'statue'], 'hand-written list')
    nset = load_negative_set('llm', path, IDS, 'config/labels/world.yaml')
    assert nset == NegativeSet('llm', 'hand-written list', ('van', 'statue'),
                               f'{path} (hand-written list)')
    untitled = load_negative_set('plain', _label_file(tmp_path / 'p.yaml', IDS, ['van']), IDS)
    assert untitled.title == 'plain'
    other = _label_file(tmp_path / 'other.yaml', ['car', 'bus'], ['van'])
    with pytest.raises(ValueError) as error:
        load_negative_set('other', other, IDS, 'config/labels/world.yaml')
    message = str(error.value)
    assert str(other) in message and 'config/labels/world.yaml' in message
    assert "'other'" in message and 'same ID labels' in message
    reordered = _label_file(tmp_path / 'r.yaml', IDS[::-1], ['van'])
    with pytest.raises(ValueError, match='same ID labels'):
        load_negative_set('r', reordered, IDS)
    with pytest.raises(ValueError, match='no negative_labels'):
        load_negative_set('e', _label_file(tmp_path / 'e.yaml', IDS, []), IDS)
    with pytest.raises(ValueError, match='not found'):
        load_negative_set('m', tmp_path / 'missing.yaml', IDS)


def test_the_shipped_ablation_lists_fit_the_world_labels() -> None:
    main = REPO_ROOT / 'config' / 'labels' / 'world.yaml'
    ids = load_labels(main).id_labels
    for key, path in default_negative_set_files():
        nset = load_negative_set(key, path, ids, main)
        assert nset.words and nset.title != key, key  # every file states its provenance


def test_random_words_come_from_wordnet_through_the_filter() -> None:
    words = random_negative_set(IDS, 10, seed=3)
    assert words.key == 'random' and len(words.words) == 10
    assert 'WordNet' in words.source and 'seed 3' in words.source
    assert not {w.lower() for w in words.words} & set(IDS)
    assert random_negative_set(IDS, 10, seed=3) == words  # seeded
    assert random_negative_set(IDS, 10, seed=4).words != words.words
    assert random_negative_set(IDS, 3, seed=3).words == words.words[:3]
    assert random_negative_set(IDS, 0, seed=3).words == ()


def test_load_negatives(tmp_path: Path) -> None:
    main = _label_file(tmp_path / 'main.yaml', IDS, ['golf cart', 'tram'], 'learned rule')
    llm = _label_file(tmp_path / 'llm.yaml', IDS, ['van', 'tram'], 'llm list')
    labels = load_labels(main)
    loaded = load_negatives(labels, main, [('llm', llm)], seed=0, random_words=('dog', 'kite'))
    assert loaded.shipped.words == ('golf cart', 'tram') and loaded.shipped.title == 'shipped'
    assert loaded.shipped.source.endswith('(learned rule)')
    assert [s.key for s in loaded.extra] == ['llm'] and loaded.extra[0].title == 'llm list'
    assert loaded.random.words == ('dog', 'kite')
    assert dict(loaded.files) == {'shipped': main, 'llm': llm}
    drawn = load_negatives(labels, main, [], seed=0)
    assert len(drawn.random.words) == 2 and drawn.extra == ()


def test_config_checks_set_keys() -> None:
    config = BenchmarkConfig(Path('m'), Path('l'), negative_sets=[('a', 'x.yaml')])  # type: ignore[list-item]
    assert config.negative_sets == (('a', Path('x.yaml')),)
    assert BenchmarkConfig(Path('m'), Path('l')).negative_sets is None
    with pytest.raises(ValueError, match='repeat'):
        BenchmarkConfig(Path('m'), Path('l'), negative_sets=(('a', Path('x')), ('a', Path('y'))))
    with pytest.raises(ValueError, match='reserved'):
        BenchmarkConfig(Path('m'), Path('l'), negative_sets=(('random', Path('x')),))


def test_command_records_non_default_sets() -> None:
    from negas_ros.cli.ood_benchmark import _command

    default = BenchmarkConfig(Path('m'), Path('l'), image_size=(256, 256),
                              negative_sets=default_negative_set_files())
    assert '--negative-set' not in _command(default, None, False)
    assert '--no-default-sets' not in _command(default, None, False)
    none = BenchmarkConfig(Path('m'), Path('l'), image_size=(256, 256), negative_sets=())
    assert _command(none, None, False).endswith(' --no-default-sets')
    llm = REPO_ROOT / 'config/labels/ablation/world_llm_style.yaml'
    custom = BenchmarkConfig(Path('m'), Path('l'), image_size=(256, 256),
                             negative_sets=(('mine', llm),))
    assert _command(custom, None, False).endswith(
        ' --negative-set mine=config/labels/ablation/world_llm_style.yaml')


@pytest.mark.parametrize('value', ['llm', '=x.yaml', 'llm=', 'a/b=x.yaml', 'none=x.yaml'])
def test_cli_rejects_a_bad_negative_set_option(value: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from negas_ros import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(['ood-benchmark', '--negative-set', value])
    assert exit_info.value.code == 2
    assert 'argument --negative-set' in capsys.readouterr().err


def test_cli_parses_negative_sets() -> None:
    from negas_ros import cli

    args = cli.build_parser().parse_args(['ood-benchmark', '--negative-set', 'a=x.yaml',
                                          '--negative-set', 'b.2=dir/y.yaml'])
    assert args.negative_sets == [('a', Path('x.yaml')), ('b.2', Path('dir/y.yaml'))]
    assert args.no_default_sets is False
    args = cli.build_parser().parse_args(['ood-benchmark', '--no-default-sets'])
    assert args.negative_sets is None and args.no_default_sets is True


def test_cli_names_both_files_when_id_labels_differ(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from negas_ros import cli

    main = _label_file(tmp_path / 'main.yaml', IDS, ['golf cart'])
    other = _label_file(tmp_path / 'coco.yaml', ['person', 'car'], ['van'])
    model = tmp_path / 'model'
    model.mkdir()  # never loaded: the label files are checked first
    code = cli.main(['ood-benchmark', '--model', str(model), '--labels', str(main),
                     '--negative-set', f'coco={other}', '--out', str(tmp_path / 'out')])
    assert code == 2
    err = capsys.readouterr().err
    assert str(other) in err and str(main) in err and 'same ID labels' in err
    code = cli.main(['ood-benchmark', '--model', str(model), '--labels', str(main),
                     '--negative-set', f'gone={tmp_path / "gone.yaml"}'])
    assert code == 2
    assert "negative set 'gone'" in capsys.readouterr().err
