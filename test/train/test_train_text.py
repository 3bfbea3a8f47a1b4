"""The mini detector's training text side: the phrase bank, the per-batch text sets, the
projection, and that no training text ever names a held-out category."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from negas_ros.backends.yolo_world.text import SentenceTextEncoder  # noqa: E402
from negas_ros.labels import normalize_label  # noqa: E402
from negas_ros.train.phrases import (  # noqa: E402
    CATEGORY_PHRASES,
    GROUP_PHRASES,
    TEMPLATES,
    UNSEEN_SYNONYMS,
    all_phrases,
)
from negas_ros.train.text import (  # noqa: E402
    PhraseBank,
    TextProjection,
    build_phrase_bank,
    sample_text_set,
    world_phrase_bank,
)
from negas_ros.world import PRETRAIN_VOCAB, UNSEEN  # noqa: E402

# Candidate background words: some far from every world phrase, some close to one.
CANDIDATES = ('accordion', 'cannelloni', 'thermopile', 'atomic clock', 'highlighter',
              'sapphire berry', 'automobile', 'puppy', 'sculpture', 'lorry', 'hydrant',
              'dustbin', 'moped', 'tramcar', 'mandolin', 'rambutan')


@pytest.fixture(scope='module')
def encoder() -> SentenceTextEncoder:
    return SentenceTextEncoder('all-MiniLM-L6-v2')


@pytest.fixture(scope='module')
def bank(encoder: SentenceTextEncoder) -> PhraseBank:
    return build_phrase_bank(encoder, PRETRAIN_VOCAB, CATEGORY_PHRASES, GROUP_PHRASES,
                             TEMPLATES, CANDIDATES, (*UNSEEN, *UNSEEN_SYNONYMS))


def _names_category(bank: PhraseBank, text_id: int, category: int) -> bool:
    text = bank.texts[text_id]
    phrases = CATEGORY_PHRASES[bank.categories[category]]
    framed = {t.format(p) for p in phrases for t in TEMPLATES}
    groups = {t.format(g) for g, members in GROUP_PHRASES if bank.categories[category] in members
              for t in TEMPLATES}
    return text in framed or text in groups


def test_phrase_data_is_consistent() -> None:
    assert set(CATEGORY_PHRASES) == set(PRETRAIN_VOCAB)
    for category, phrases in CATEGORY_PHRASES.items():
        assert phrases[0] == category and len(set(phrases)) == len(phrases)
    for _phrase, members in GROUP_PHRASES:
        assert set(members) <= set(PRETRAIN_VOCAB)
    # A phrase names one category (a group phrase is not a category phrase).
    owners: dict[str, str] = {}
    for category, phrases in CATEGORY_PHRASES.items():
        for phrase in phrases:
            assert owners.setdefault(phrase, category) == category, phrase
    assert not set(owners) & {g for g, _ in GROUP_PHRASES}
    assert TEMPLATES[0] == '{}'


def test_no_training_phrase_names_a_held_out_category() -> None:
    held_out = {normalize_label(w) for w in (*UNSEEN, *UNSEEN_SYNONYMS)}
    for phrase in all_phrases():
        assert normalize_label(phrase) not in held_out, phrase
        for word in phrase.split():
            assert normalize_label(word) not in held_out, phrase


def test_background_words_are_far_and_never_world_phrases(bank: PhraseBank) -> None:
    background = {bank.texts[i] for i in bank.background}
    # Synonyms of seen categories and of held-out ones are close to an anchor: never drawn.
    for close in ('automobile', 'puppy', 'sculpture', 'lorry', 'hydrant', 'dustbin', 'moped',
                  'tramcar'):
        assert close not in background, close
    assert {'thermopile', 'cannelloni'} <= background
    world_texts = set(bank.texts) - background
    candidates = [c for c in CANDIDATES if c not in world_texts]  # 'lorry' is a car phrase
    assert bank.background_rule['candidates'] == len(candidates)
    assert 0 < len(background) <= len(candidates) // 2 + 1


def test_bank_embeddings_are_the_encoder_outputs(bank: PhraseBank,
                                                 encoder: SentenceTextEncoder) -> None:
    rows = [0, len(bank.texts) // 2, len(bank.texts) - 1]
    expected = encoder.encode_raw([bank.texts[i] for i in rows])
    np.testing.assert_allclose(bank.raw[rows], expected, atol=1e-5)
    assert [bank.texts[i] for i in bank.name_indices()] == list(PRETRAIN_VOCAB)


def test_text_sets(bank: PhraseBank) -> None:
    rng = np.random.default_rng(0)
    present = [0, 3, 8, 14]
    background = set(bank.background)
    used_variety = used_group = used_background = False
    for _ in range(300):
        detection = sample_text_set(present, bank, rng, grounding_fraction=0.0,
                                    phrase_variety=0.5, group_prob=0.3, max_background=8)
        texts = detection.text_ids.tolist()
        assert len(set(texts)) == len(texts)
        # Every present category has a positive text, and it names that category.
        for c in present:
            slot = int(detection.position[c])
            assert slot >= 0 and _names_category(bank, texts[slot], c)
        # Every text is a background word or names every category mapped to it.
        mapped = {int(s) for s in detection.position if s >= 0}
        for slot, text in enumerate(texts):
            if text in background:
                used_background = True
                assert slot not in mapped
            else:
                assert slot in mapped
        slots = detection.position[detection.position >= 0]
        if len(set(slots.tolist())) < len(slots):
            used_group = True  # a group phrase: all its categories share one slot
        used_variety |= any(bank.texts[t] not in PRETRAIN_VOCAB for t in texts
                            if t not in background)
        grounding = sample_text_set(present, bank, rng, grounding_fraction=1.0)
        assert 1 <= len(grounding.text_ids) <= len(PRETRAIN_VOCAB) + 16
    assert used_variety and used_group and used_background


def test_text_sets_are_seeded(bank: PhraseBank) -> None:
    a = [sample_text_set([1, 2], bank, np.random.default_rng(5), 0.5).text_ids.tolist()
         for _ in range(3)]
    b = [sample_text_set([1, 2], bank, np.random.default_rng(5), 0.5).text_ids.tolist()
         for _ in range(3)]
    assert a == b


def test_projection_is_unit_norm_and_matches_the_encoder(encoder: SentenceTextEncoder) -> None:
    torch.manual_seed(0)
    projection = TextProjection(384, 32)
    raw = torch.from_numpy(encoder.encode_raw(['car', 'golf cart', 'statue']))
    out = projection(raw)
    np.testing.assert_allclose(out.norm(dim=1).detach().numpy(), 1.0, atol=1e-6)
    projected = SentenceTextEncoder('all-MiniLM-L6-v2', projection.matrix())
    np.testing.assert_allclose(projected.encode(['car', 'golf cart', 'statue']),
                               out.detach().numpy(), atol=1e-5)
    assert projected.dim == 32 and projected.raw_dim == 384


def test_bank_rejects_bad_phrases(encoder: SentenceTextEncoder) -> None:
    with pytest.raises(ValueError, match='must start with its name'):
        build_phrase_bank(encoder, ('car',), {'car': ('automobile', 'car')})
    with pytest.raises(ValueError, match='unknown categories'):
        build_phrase_bank(encoder, ('car',), None, [('vehicle', ('car', 'bus'))])
    with pytest.raises(ValueError, match=r"bare '\{\}'"):
        build_phrase_bank(encoder, ('car',), templates=('a {}',))


def test_world_bank_background_passes_the_negative_filter() -> None:
    bank = world_phrase_bank('all-MiniLM-L6-v2', 300, seed=0)
    assert bank.categories == PRETRAIN_VOCAB
    background = [bank.texts[i] for i in bank.background]
    assert background
    held_out = {normalize_label(w) for w in (*UNSEEN, *UNSEEN_SYNONYMS)}
    assert not {normalize_label(w) for w in background} & held_out
    assert bank.describe()['background_words'] == len(background)
