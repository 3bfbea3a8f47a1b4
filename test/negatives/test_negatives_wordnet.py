"""The WordNet reader, the shared filter, the miner, the random baseline and text encoders."""

from __future__ import annotations

from pathlib import Path
import shlex
import shutil

import numpy as np
import pytest
import yaml

from negas_ros.cli import main
from negas_ros.labels import load_labels, normalize_label
from negas_ros.negatives.filtering import NegativeFilter
from negas_ros.negatives.generate import generate_random, generate_wordnet
from negas_ros.negatives.mining import (
    Band,
    PoolEntry,
    WordNetSimilarity,
    candidate_pool,
    ranking_senses,
)
from negas_ros.negatives.output import read_id_labels
from negas_ros.negatives.wordnet import WordNet, WordNetError, find_wordnet_dir

BDD = (
    'pedestrian',
    'rider',
    'car',
    'truck',
    'bus',
    'train',
    'motorcycle',
    'bicycle',
    'traffic light',
    'traffic sign',
)
REPO = Path(__file__).resolve().parents[2]


def _assert_clean(
    negatives: list[str] | tuple[str, ...], ids: tuple[str, ...], wn: WordNet
) -> None:
    """No negative is an ID label, its plural, or a WordNet synonym of one (shared synset)."""
    id_keys = {normalize_label(i) for i in ids}
    id_synsets = {s for i in ids for s in wn.lookup(i)}
    assert len({normalize_label(n) for n in negatives}) == len(negatives)  # no duplicates
    for negative in negatives:
        assert normalize_label(negative) not in id_keys, negative
        assert normalize_label(negative + 's') not in id_keys, negative
        assert not set(wn.lookup(negative)) & id_synsets, negative


# --- reader ------------------------------------------------------------------------------


def test_reader_basics(wordnet: WordNet) -> None:
    assert wordnet.version == '3.0' and len(wordnet) == 82115
    car = wordnet.by_name('car.n.01')
    assert wordnet.name(car) == 'car.n.01'
    assert 'automobile' in wordnet.synset(car).lemmas
    assert wordnet.lookup('cars')[0] == car and wordnet.lookup('Cars') == wordnet.lookup('car')
    assert wordnet.morphy('mice') == ['mouse'] and wordnet.morphy('buses') == ['bus']
    assert wordnet.lookup('cell phone') == wordnet.lookup('cellphone')
    assert wordnet.by_name('motor_vehicle.n.01') in wordnet.ancestors(car)
    assert wordnet.by_name('cab.n.03') in wordnet.descendants(car)
    assert wordnet.is_physical(car)
    assert not wordnet.is_physical(wordnet.lookup('justice')[0])
    assert wordnet.is_physical(wordnet.by_name('statue.n.01'))  # physical and 'art'
    assert wordnet.wup_similarity(car, car) == 1.0
    with pytest.raises(ValueError, match='no noun synset'):
        wordnet.by_name('car.n.99')


def test_missing_wordnet_dir_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(WordNetError, match='apt-get install wordnet-base'):
        find_wordnet_dir(tmp_path)


def test_reader_matches_nltk(wordnet: WordNet, tmp_path: Path) -> None:
    """Senses, hypernyms and Wu-Palmer agree with NLTK's reader over a copy of the files."""
    nltk = pytest.importorskip('nltk')
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class Reader(WordNetCorpusReader):  # type: ignore[misc]
        def map_wn(self, version: str = 'wordnet') -> None:
            return None  # NLTK 3.10 would map from its own (absent) 'wordnet' corpus

    root = tmp_path / 'wordnet'
    shutil.copytree(
        wordnet.directory, root, ignore=shutil.ignore_patterns('bin', 'pixmaps', 'wnres')
    )
    # Debian ships no lexnames file; NLTK needs one (45 lexicographer files, fixed in 3.0).
    names = [
        'adj.all',
        'adj.pert',
        'adv.all',
        'noun.Tops',
        'noun.act',
        'noun.animal',
        'noun.artifact',
        'noun.attribute',
        'noun.body',
        'noun.cognition',
        'noun.communication',
        'noun.event',
        'noun.feeling',
        'noun.food',
        'noun.group',
        'noun.location',
        'noun.motive',
        'noun.object',
        'noun.person',
        'noun.phenomenon',
        'noun.plant',
        'noun.possession',
        'noun.process',
        'noun.quantity',
        'noun.relation',
        'noun.shape',
        'noun.state',
        'noun.substance',
        'noun.time',
        'verb.body',
        'verb.change',
        'verb.cognition',
        'verb.communication',
        'verb.competition',
        'verb.consumption',
        'verb.contact',
        'verb.creation',
        'verb.emotion',
        'verb.motion',
        'verb.perception',
        'verb.possession',
        'verb.social',
        'verb.stative',
        'verb.weather',
        'adj.ppl',
    ]
    (root / 'lexnames').write_text(''.join(f'{i:02d}\t{n}\t0\n' for i, n in enumerate(names)))
    nltk.data.path.append(str(root))  # NLTK >= 3.9 reads only under its data path
    try:
        with pytest.warns(UserWarning):  # 'multilingual functions are not available'
            reader = Reader(str(root), None)
        words = [
            'car',
            'cars',
            'mice',
            'bus',
            'train',
            'dog',
            'bench',
            'hydrant',
            'lamp',
            'traffic_light',
            'kite',
            'mouse',
            'tie',
            'orange',
            'person',
            'bicycle',
        ]
        for word in words:
            ours = [wordnet.name(s) for s in wordnet.lookup(word)]
            theirs = list(dict.fromkeys(s.name() for s in reader.synsets(word, 'n')))
            assert ours == theirs, word
        pairs = [
            ('car.n.01', 'truck.n.01'),
            ('dog.n.01', 'cat.n.01'),
            ('bench.n.01', 'chair.n.01'),
            ('person.n.01', 'dog.n.01'),
            ('bicycle.n.01', 'kite.n.03'),
            ('lamp.n.02', 'hydrant.n.01'),
            ('train.n.01', 'bus.n.01'),
            ('orange.n.01', 'apple.n.01'),
        ]
        for a, b in pairs:
            ours_wup = wordnet.wup_similarity(wordnet.by_name(a), wordnet.by_name(b))
            assert ours_wup == pytest.approx(reader.synset(a).wup_similarity(reader.synset(b)))
            hyper = {wordnet.name(s) for s in wordnet.ancestors(wordnet.by_name(a))}
            closure = reader.synset(a).closure(lambda s: s.hypernyms() + s.instance_hypernyms())
            assert hyper == {s.name() for s in closure}
    finally:
        nltk.data.path.remove(str(root))


# --- filter ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('candidate', 'reason'),
    [
        ('Cars', 'id-label'),
        ('buses', 'id-label'),
        ('automobile', 'synonym'),
        ('machine', 'synonym'),
        ('walker', 'synonym'),
        ('bike', 'synonym'),
        ('taxi', 'hyponym'),
        ('pickup truck', 'hyponym'),
        ('moped', 'hyponym'),
        ('cyclist', 'hyponym'),
        ('vehicle', 'hypernym'),
        ('conveyance', 'hypernym'),
        ('bumper', 'part'),
        ('soldier', 'person'),
        ('toy car', 'synonym'),  # not in WordNet: checked as its head noun 'car'
        ('street light', 'shares-word'),
        ('happiness', 'non-visual'),
        ('3 cars', 'malformed'),
        ('a thing with far too many words', 'too-long'),
        ('fire hydrant', 'kept'),
        ('the Mailbox.', 'kept'),
        ('dog', 'kept'),  # its rare person sense does not count
        ('pig', 'kept'),
        ('forklift', 'kept'),
        ('cardboard mailbox', 'kept'),  # not in WordNet: checked as 'mailbox'
    ],
)
def test_filter_rules(wordnet: WordNet, candidate: str, reason: str) -> None:
    decision = NegativeFilter(BDD, wordnet).check(candidate)
    assert decision.reason == reason, decision.detail


def test_filter_select_dedupes_and_fills_quotas(wordnet: WordNet) -> None:
    nfilter = NegativeFilter(('car', 'dog'), wordnet)
    proposals = [
        ('forklift', 'car', None),
        ('Forklifts', 'car', None),
        ('tram', 'car', None),
        ('kiosk', 'car', None),
        ('wolf', 'dog', None),
        ('puppy', 'dog', None),
    ]
    kept, decisions = nfilter.select(proposals, per_source=2)
    assert kept == ['forklift', 'tram', 'wolf']
    assert [d.reason for d in decisions] == [
        'kept',
        'duplicate',
        'kept',
        'over-quota',
        'kept',
        'hyponym',
    ]


def test_plural_lemma_id_label_keeps_its_senses(wordnet: WordNet) -> None:
    nfilter = NegativeFilter(('scissors',), wordnet)  # comparison key 'scissor' is no lemma
    assert nfilter.id_senses['scissors']
    assert nfilter.check('pair of scissors').reason == 'synonym'
    assert nfilter.check('shears').reason == 'hyponym'


def test_unknown_candidates_kept_or_dropped(wordnet: WordNet) -> None:
    assert NegativeFilter(('car',), wordnet).check('zzyzx').kept
    assert NegativeFilter(('car',), wordnet, keep_unknown=False).check('zzyzx').reason == (
        'unknown'
    )


def test_id_label_unknown_to_wordnet_uses_head_noun(wordnet: WordNet) -> None:
    nfilter = NegativeFilter(('traffic sign',), wordnet)
    assert nfilter.id_fallback == {'traffic sign': 'sign'}
    assert nfilter.check('stop sign').reason == 'synonym'


# --- mining, random, output ----------------------------------------------------------------


def test_pool_is_physical_named_objects(wordnet: WordNet) -> None:
    pool = candidate_pool(wordnet)
    assert 15000 < len(pool) < 25000
    labels = {e.label for e in pool}
    assert {'forklift', 'mailbox', 'hearse'} <= labels
    assert 'justice' not in labels and 'soldier' not in labels  # abstract; a person
    assert all(wordnet.is_physical(e.offset) for e in pool[::50])


def test_ranking_senses_and_override(wordnet: WordNet) -> None:
    nfilter = NegativeFilter(('mouse', 'traffic light', 'bus'), wordnet)
    senses = ranking_senses(nfilter, {'mouse': 'mouse.n.04'})
    assert {k: [wordnet.name(s) for s in v] for k, v in senses.items()} == {
        'mouse': ['mouse.n.04'],
        'traffic light': ['light.n.02'],
        'bus': ['bus.n.01'],
    }
    with pytest.raises(ValueError, match='not ID labels'):
        ranking_senses(nfilter, {'cat': 'cat.n.01'})


def test_wordnet_generation_is_clean_and_close(wordnet: WordNet) -> None:
    nfilter = NegativeFilter(BDD, wordnet)
    senses = ranking_senses(nfilter)
    result = generate_wordnet(BDD, nfilter, WordNetSimilarity(wordnet, senses), 4, senses=senses)
    negatives = result.negatives
    assert 10 <= len(negatives) <= 40
    assert all(len(found) <= 4 for found in result.by_id_label.values())
    _assert_clean(negatives, BDD, wordnet)
    car = wordnet.by_name('car.n.01')
    vehicle = wordnet.by_name('vehicle.n.01')
    near_car = result.by_id_label['car']
    assert near_car
    for negative in near_car:  # close: other vehicles, none a kind of car
        senses = wordnet.lookup(negative)
        assert any(vehicle in wordnet.ancestors(s) for s in senses), negative
        assert all(car not in wordnet.ancestors(s) for s in senses), negative
    reasons = {d.reason for d in result.decisions}
    assert {'kept', 'hyponym'} <= reasons
    assert result.provenance['method'] == 'wordnet'
    assert result.provenance['wordnet'] == 'WordNet 3.0'


def test_band_ceiling_drops_the_closest(wordnet: WordNet) -> None:
    nfilter = NegativeFilter(('car',), wordnet)
    senses = ranking_senses(nfilter)
    similarity = WordNetSimilarity(wordnet, senses)
    loose = generate_wordnet(('car',), nfilter, similarity, 3, band=Band(0.5, 1.0))
    strict = generate_wordnet(('car',), nfilter, similarity, 3, band=Band(0.5, 1.0, ceiling=0.9))
    assert any(d.reason == 'above-ceiling' for d in strict.decisions)
    assert all(d.score is None or d.score <= 0.9 for d in strict.decisions if d.kept)
    assert loose.negatives != strict.negatives


def test_random_is_seeded_and_clean(wordnet: WordNet) -> None:
    nfilter = NegativeFilter(BDD, wordnet)
    first = generate_random(BDD, nfilter, 3, seed=1)
    assert first.negatives == generate_random(BDD, nfilter, 3, seed=1).negatives
    assert first.negatives != generate_random(BDD, nfilter, 3, seed=2).negatives
    assert len(first.negatives) == 30
    _assert_clean(first.negatives, BDD, wordnet)
    assert first.provenance['parameters']['seed'] == 1  # type: ignore[index]


def test_cli_wordnet_and_random_write_loadable_files(
    tmp_path: Path, wordnet: WordNet, capsys: pytest.CaptureFixture[str]
) -> None:
    source = REPO / 'config' / 'labels' / 'bdd100k.yaml'
    for method in ('wordnet', 'random'):
        out = tmp_path / f'{method}.yaml'
        assert (
            main(
                [
                    'negatives',
                    'generate',
                    '--method',
                    method,
                    '--id-labels',
                    str(source),
                    '--out',
                    str(out),
                    '--count',
                    '3',
                    '--explain',
                ]
            )
            == 0
        )
        labels = load_labels(out)
        assert labels.id_labels == read_id_labels(source).labels
        assert labels.negative_labels
        _assert_clean(labels.negative_labels, labels.id_labels, wordnet)
        data = yaml.safe_load(out.read_text())
        provenance = data['provenance']
        assert provenance['method'] == method and provenance['date']
        assert provenance['wordnet'] == 'WordNet 3.0'
        assert f'--method {method}' in provenance['command']
        assert (tmp_path / f'{method}.yaml.explain.tsv').read_text().startswith('candidate\t')
    assert '+ ' in capsys.readouterr().out


def test_cli_check_reports_violations(tmp_path: Path) -> None:
    bad = tmp_path / 'bad.yaml'
    bad.write_text('id_labels: [car]\nnegative_labels: [automobile, forklift]\n')
    assert main(['negatives', 'check', str(bad)]) == 1
    good = tmp_path / 'good.yaml'
    good.write_text('id_labels: [car]\nnegative_labels: [forklift]\n')
    assert main(['negatives', 'check', str(good)]) == 0


def test_text_id_file_rules(tmp_path: Path) -> None:
    ids = tmp_path / 'ids.txt'
    ids.write_text('# comment\ncar\n\n  traffic  light \n')
    assert read_id_labels(ids).labels == ('car', 'traffic light')
    ids.write_text('car\ncars\n')
    with pytest.raises(ValueError, match='repeats'):
        read_id_labels(ids)


# --- text encoders (tiny random models written here) ----------------------------------------


_VOCAB = [
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    'a',
    'photo',
    'of',
    'car',
    'truck',
    'forklift',
    'mailbox',
    'hearse',
    'go',
    '-',
    'kart',
    'bus',
    'lamp',
    '.',
]


def _tiny_bert(directory: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    (directory / 'vocab.txt').write_text('\n'.join(_VOCAB) + '\n')
    BertTokenizer(str(directory / 'vocab.txt')).save_pretrained(str(directory))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(_VOCAB),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(str(directory))
    return directory


def _tiny_clip(directory: Path) -> Path:
    import torch
    from transformers import BertTokenizer, CLIPTextConfig, CLIPTextModelWithProjection

    (directory / 'vocab.txt').write_text('\n'.join(_VOCAB) + '\n')
    BertTokenizer(str(directory / 'vocab.txt')).save_pretrained(str(directory))
    torch.manual_seed(0)
    config = CLIPTextConfig(
        vocab_size=len(_VOCAB),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        projection_dim=16,
        max_position_embeddings=32,
        eos_token_id=3,
        pad_token_id=0,
        bos_token_id=2,
    )
    CLIPTextModelWithProjection(config).save_pretrained(str(directory))
    return directory


@pytest.mark.model
@pytest.mark.parametrize('writer', [_tiny_bert, _tiny_clip], ids=['bert', 'clip'])
def test_transformers_encoder_is_normalised_and_deterministic(
    tmp_path: Path, writer: object
) -> None:
    pytest.importorskip('transformers')
    from negas_ros.negatives.encoders import EncoderSimilarity, TransformersTextEncoder

    directory = writer(tmp_path)  # type: ignore[operator]
    encoder = TransformersTextEncoder(str(directory), batch_size=2)
    texts = ['car', 'truck', 'go-kart', 'a photo of a forklift', 'mailbox']
    vectors = encoder.encode(texts)
    assert vectors.shape[0] == 5 and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(
        vectors, TransformersTextEncoder(str(directory)).encode(texts), atol=1e-5
    )  # batch size does not change the result
    similarity = EncoderSimilarity(encoder, 'a photo of a {}.')
    scores = similarity([PoolEntry(0, 'hearse'), PoolEntry(1, 'car')], ['car', 'bus'])
    assert scores.shape == (2, 2) and scores[1, 0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.model
def test_cli_wordnet_with_encoder(tmp_path: Path, wordnet: WordNet) -> None:
    pytest.importorskip('transformers')
    directory = _tiny_bert(tmp_path / 'bert')
    ids = tmp_path / 'ids.txt'
    ids.write_text('car\nbus\n')
    out = tmp_path / 'out.yaml'
    assert (
        main(
            [
                'negatives',
                'generate',
                '--method',
                'wordnet',
                '--id-labels',
                str(ids),
                '--out',
                str(out),
                '--count',
                '2',
                '--encoder',
                str(directory),
            ]
        )
        == 0
    )
    labels = load_labels(out)
    assert len(labels.negative_labels) == 4
    _assert_clean(labels.negative_labels, labels.id_labels, wordnet)
    provenance = yaml.safe_load(out.read_text())['provenance']
    assert provenance['ranking'].startswith('cosine of bert ')


# --- the committed generated lists -----------------------------------------------------------


@pytest.mark.parametrize('name', ['voc', 'bdd100k', 'coco'])
def test_generated_lists_load_clean_and_match_their_command(
    name: str, tmp_path: Path, wordnet: WordNet
) -> None:
    """config/labels/generated/<name>.yaml loads, passes the filter, has the ID labels of
    config/labels/<name>.yaml, and its recorded command regenerates the same negatives."""
    path = REPO / 'config' / 'labels' / 'generated' / f'{name}.yaml'
    labels = load_labels(path)
    assert labels.id_labels == read_id_labels(REPO / 'config' / 'labels' / f'{name}.yaml').labels
    _assert_clean(labels.negative_labels, labels.id_labels, wordnet)
    command = shlex.split(yaml.safe_load(path.read_text())['provenance']['command'])
    assert command[:3] == ['negas-ros', 'negatives', 'generate']
    out = tmp_path / 'again.yaml'
    argv = command[1:]
    argv[argv.index('--out') + 1] = str(out)
    argv[argv.index('--id-labels') + 1] = str(REPO / argv[argv.index('--id-labels') + 1])
    assert main(argv) == 0
    assert load_labels(out).negative_labels == labels.negative_labels


@pytest.mark.model
def test_gloss_ranking_reads_definitions_not_word_pieces(wordnet: WordNet) -> None:
    """With the shipped sentence encoder, a bare rare word is read by its sub-word pieces
    ('carob' and 'carboy' land next to 'car'); ranked with definitions, the vehicles that look
    like cars and bicycles come first (why --rank-text gloss exists)."""
    pytest.importorskip('transformers')
    from negas_ros.negatives.encoders import EncoderSimilarity, TransformersTextEncoder

    nfilter = NegativeFilter(('car', 'bicycle'), wordnet)
    senses = ranking_senses(nfilter)
    pool = {e.label: e for e in candidate_pool(wordnet)}
    lexical, visual = ['carob', 'carboy', 'carminative'], ['go-kart', 'motor scooter', 'moped']
    entries = [pool[w] for w in lexical + visual]
    encoder = TransformersTextEncoder('all-MiniLM-L6-v2')
    by_name = EncoderSimilarity(encoder, rank_text='name', wordnet=wordnet, id_senses=senses)
    by_gloss = EncoderSimilarity(encoder, rank_text='gloss', wordnet=wordnet, id_senses=senses)
    assert by_gloss.id_text('car') == 'car: a motor vehicle with four wheels'
    assert by_gloss.candidate_text(pool['go-kart']).startswith('go-kart: a small low motor')
    assert by_name.candidate_text(pool['go-kart']) == 'go-kart'
    name_scores = by_name(entries, ['car', 'bicycle']).max(axis=1)
    gloss_scores = by_gloss(entries, ['car', 'bicycle']).max(axis=1)
    assert name_scores[:3].min() > name_scores[3:].min()  # the lexical words win by name
    assert gloss_scores[3:].min() > gloss_scores[:3].max() + 0.2  # and lose by definition
    with pytest.raises(ValueError, match='needs the WordNet'):
        EncoderSimilarity(encoder, rank_text='gloss')
    with pytest.raises(ValueError, match='rank_text must be one of'):
        EncoderSimilarity(encoder, rank_text='caption')


def test_cli_gloss_ranking_needs_an_encoder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = tmp_path / 'ids.txt'
    ids.write_text('car\n')
    out = tmp_path / 'out.yaml'
    argv = ['negatives', 'generate', '--method', 'wordnet', '--id-labels', str(ids)]
    assert main([*argv, '--out', str(out), '--rank-text', 'gloss']) == 2
    assert '--rank-text gloss needs --encoder' in capsys.readouterr().err
    argv[3] = 'random'
    assert main([*argv, '--out', str(out), '--rank-text', 'gloss']) == 2
    assert '--method random ranks none' in capsys.readouterr().err
    assert not out.exists()
