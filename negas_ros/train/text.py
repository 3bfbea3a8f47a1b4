"""The mini VLM's text side in training: a frozen sentence encoder, a learned projection, and
the per-batch text sets.

As YOLO-World freezes CLIP's text tower, the mini detector freezes a real sentence encoder
(all-MiniLM-L6-v2, :class:`~negas_ros.backends.yolo_world.text.SentenceTextEncoder`) and learns
only a linear projection from its 384-d space to the detector's text width
(:class:`TextProjection`). Every training text is encoded once, before training
(:class:`PhraseBank`), so a step only multiplies by the projection. Because the encoder gives
every English phrase a meaningful vector, the trained detector reads labels it never saw by
their meaning, as a real open-vocabulary detector does.

Per batch the network sees a *text set* (:func:`sample_text_set`), the analogue of
YOLO-World's per-sample vocabulary, mixing:

- detection-style sets (every category present in the batch plus a random number of absent
  ones) and grounding-style sets (a random subset of the categories; objects of the others are
  background), so that the detector runs on any label subset, e.g. the 7 ID labels alone;
- label-phrase variety: a category is named by its name half the time and otherwise by one of
  its other phrases (:mod:`negas_ros.train.phrases`), in one of the caption templates; now and
  then a group phrase ("vehicle") stands for all of its categories at once;
- background words: a random number of WordNet object nouns far from every world category
  (and from the held-out ones) in the frozen space, as absent-class texts that must never
  fire, so that an unrelated word stays silent at run time.

Every box has at most one positive text in a set (a group phrase replaces the phrases of its
categories), so the single-label assigner and loss apply unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
import hashlib
import json
import os

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
import torch.nn.functional as nnf

from negas_ros.backends.yolo_world.config import ATTENTION_LAYERS
from negas_ros.backends.yolo_world.network import (
    BlockGuide,
    C2fAttn,
    PreparedText,
    YoloWorldNet,
)
from negas_ros.backends.yolo_world.text import SentenceTextEncoder

__all__ = [
    'BACKGROUND_QUANTILE',
    'BANK_FORMAT',
    'PhraseBank',
    'TextProjection',
    'TextSet',
    'build_phrase_bank',
    'prepare_text_trainable',
    'sample_text_set',
    'world_phrase_bank',
]

BACKGROUND_QUANTILE = 0.5
"""Background words are the candidates whose best cosine to any world phrase is below this
quantile of that cosine over the candidates (the farther half)."""


class TextProjection(nn.Module):
    """raw (N, D) frozen embeddings -> (N, E) unit-norm detector texts: normalise(raw W^T)."""

    def __init__(self, raw_dim: int, dim: int) -> None:
        super().__init__()
        if raw_dim < 1 or dim < 1:
            raise ValueError(f'dimensions must be >= 1, got {raw_dim}, {dim}')
        self.weight = nn.Parameter(torch.empty(dim, raw_dim))
        # Orthogonal rows: the projection starts as a rotation-like map that keeps the frozen
        # space's angles (up to the dropped dimensions) instead of a random squash.
        nn.init.orthogonal_(self.weight)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return nnf.normalize(raw @ self.weight.T, dim=-1)

    def matrix(self) -> npt.NDArray[np.float32]:
        """(E, D) float32 copy of the weight (what the model card's projection file holds)."""
        with torch.no_grad():
            out: npt.NDArray[np.float32] = self.weight.detach().cpu().numpy().astype(np.float32)
        return out


BANK_FORMAT = 'negas_ros phrase bank 1'
"""The ``format`` tag of a saved :class:`PhraseBank`."""


@dataclass(frozen=True)
class PhraseBank:
    """Every text the trainer can show, encoded once by the frozen encoder.

    categories: category names in class-index order (the data's vocabulary).
    texts (T,) and raw (T, D): unique strings and their frozen unit-norm embeddings.
    category_texts[c]: text indices naming category c with the bare template; index 0 is the
    category name itself. category_templated[c]: the same phrases in the other templates.
    groups: (text indices of the group phrase in every template, category indices it names).
    background: text indices of the background words.
    encoder: provenance of the frozen encoder. background_rule: how the background was drawn.
    """

    categories: tuple[str, ...]
    texts: tuple[str, ...]
    raw: npt.NDArray[np.float32]
    category_texts: tuple[tuple[int, ...], ...]
    category_templated: tuple[tuple[int, ...], ...]
    groups: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()
    background: tuple[int, ...] = ()
    encoder: str = ''
    background_rule: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.raw.shape[0] != len(self.texts):
            raise ValueError('one raw embedding per text is needed')
        if len(self.category_texts) != len(self.categories) or not self.categories:
            raise ValueError('every category needs its texts')
        if any(not ids for ids in self.category_texts):
            raise ValueError('every category needs at least its name')

    def name_indices(self) -> list[int]:
        """Text index of each category's name (class order): what validation prompts with."""
        return [ids[0] for ids in self.category_texts]

    def bare_phrases(self) -> list[str]:
        """Category and group phrases in the bare template (the vocabulary file's labels)."""
        out = [self.texts[i] for ids in self.category_texts for i in ids]
        out += [self.texts[ids[0]] for ids, _cats in self.groups]
        return list(dict.fromkeys(out))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the bank to one ``.npz`` file (the embeddings and, as JSON, the rest), so
        that a machine without the sentence encoder or WordNet (the GPU image) can train from
        it; :meth:`load` reads it back equal."""
        meta = {
            'format': BANK_FORMAT,
            'categories': list(self.categories),
            'texts': list(self.texts),
            'category_texts': [list(ids) for ids in self.category_texts],
            'category_templated': [list(ids) for ids in self.category_templated],
            'groups': [[list(ids), list(cats)] for ids, cats in self.groups],
            'background': list(self.background),
            'encoder': self.encoder,
            'background_rule': dict(self.background_rule),
        }
        with open(path, 'wb') as f:
            np.savez(f, raw=self.raw.astype(np.float32), meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PhraseBank:
        """A bank written by :meth:`save`. Raises ValueError naming the file when it is not
        one (no pickled objects are read)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                raw = np.asarray(data['raw'], np.float32)
                meta = json.loads(str(data['meta']))
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f'{path}: not a phrase bank written by PhraseBank.save ({err}); '
                             'write one with negas-ros train-world --bank-out') from err
        if meta.get('format') != BANK_FORMAT:
            raise ValueError(f'{path}: phrase bank format {meta.get("format")!r}, expected '
                             f'{BANK_FORMAT!r}; write it again with this version')
        try:
            return cls(
                tuple(meta['categories']), tuple(meta['texts']), raw,
                tuple(tuple(ids) for ids in meta['category_texts']),
                tuple(tuple(ids) for ids in meta['category_templated']),
                tuple((tuple(ids), tuple(cats)) for ids, cats in meta['groups']),
                tuple(meta['background']), meta['encoder'], dict(meta['background_rule']))
        except KeyError as err:
            raise ValueError(f'{path}: phrase bank without {err}; write it again with '
                             'negas-ros train-world --bank-out') from err

    def describe(self) -> dict[str, object]:
        """Facts for the model card: counts, the phrases, the background rule and a digest of
        the background list."""
        words = [self.texts[i] for i in self.background]
        return {
            'encoder': self.encoder,
            'phrases': {c: [self.texts[i] for i in ids]
                        for c, ids in zip(self.categories, self.category_texts, strict=True)},
            'groups': {self.texts[ids[0]]: [self.categories[c] for c in cats]
                       for ids, cats in self.groups},
            'texts': len(self.texts),
            'background_words': len(words),
            'background_sha256': hashlib.sha256('\n'.join(words).encode()).hexdigest()[:16],
            'background_examples': words[:20],
            'background_rule': dict(self.background_rule),
        }


def build_phrase_bank(
    encoder: SentenceTextEncoder,
    categories: Sequence[str],
    phrases: Mapping[str, Sequence[str]] | None = None,
    groups: Sequence[tuple[str, Sequence[str]]] = (),
    templates: Sequence[str] = ('{}',),
    background_candidates: Sequence[str] = (),
    exclude_near: Sequence[str] = (),
    background_quantile: float = BACKGROUND_QUANTILE,
) -> PhraseBank:
    """Encode every training text once.

    categories: class order. phrases: category -> phrases, its name first (default: the name
    alone). groups: (phrase, categories it names). templates: frames, the bare '{}' first.
    background_candidates: words to draw background texts from; kept are those whose best
    cosine to every category and group phrase and to ``exclude_near`` (e.g. the held-out
    categories and their synonyms) lies below the ``background_quantile`` quantile of that
    cosine over the candidates, and that are none of those phrases.
    """
    if not templates or templates[0] != '{}':
        raise ValueError("the first template must be the bare '{}'")
    index = {c: i for i, c in enumerate(categories)}
    phrases = phrases or {c: (c,) for c in categories}
    texts: dict[str, int] = {}

    def add(text: str) -> int:
        return texts.setdefault(text, len(texts))

    category_texts, category_templated = [], []
    for c in categories:
        names = tuple(phrases.get(c, (c,)))
        if not names or names[0] != c:
            raise ValueError(f'the phrases of {c!r} must start with its name')
        category_texts.append(tuple(add(p) for p in names))
        category_templated.append(tuple(add(t.format(p)) for p in names for t in templates[1:]))
    group_entries = []
    for phrase, members in groups:
        missing = [m for m in members if m not in index]
        if missing:
            raise ValueError(f'group {phrase!r} names unknown categories {missing}')
        group_entries.append((tuple(add(t.format(phrase)) for t in templates),
                              tuple(index[m] for m in members)))
    world_texts = list(texts)
    raw_world = encoder.encode_raw(world_texts)
    rule: dict[str, object] = {}
    background: list[str] = []
    candidates = [w for w in dict.fromkeys(background_candidates) if w not in texts]
    if candidates:
        anchors = [p for c in categories for p in phrases.get(c, (c,))]
        anchors += [g for g, _ in groups] + list(exclude_near)
        anchor_raw = encoder.encode_raw(list(dict.fromkeys(anchors)))
        cand_raw = encoder.encode_raw(candidates)
        best = (cand_raw @ anchor_raw.T).max(axis=1)
        limit = float(np.quantile(best, background_quantile))
        background = [w for w, b in zip(candidates, best.tolist(), strict=True) if b < limit]
        rule = {'candidates': len(candidates), 'quantile': background_quantile,
                'max_cosine_below': round(limit, 4), 'anchors': len(set(anchors))}
        raw_bg = cand_raw[[i for i, b in enumerate(best.tolist()) if b < limit]]
    else:
        raw_bg = np.zeros((0, raw_world.shape[1]), np.float32)
    bg_ids = tuple(range(len(texts), len(texts) + len(background)))
    all_texts = tuple(world_texts) + tuple(background)
    raw = np.concatenate([raw_world, raw_bg]).astype(np.float32)
    return PhraseBank(tuple(categories), all_texts, raw, tuple(category_texts),
                      tuple(category_templated), tuple(group_entries), bg_ids,
                      encoder.name, rule)


def world_phrase_bank(text_model: str, background_candidates: int, seed: int,
                      device: str = 'cpu') -> PhraseBank:
    """The phrase bank of the world's pretraining (:mod:`negas_ros.train.phrases`).

    Categories: :data:`~negas_ros.world.PRETRAIN_VOCAB`. Background candidates: a seeded draw
    of ``background_candidates`` nouns from the WordNet object-noun pool that the negative
    miner uses (:func:`negas_ros.negatives.mining.candidate_pool`; 0: no background words),
    kept when the negative filter finds no WordNet relation to any world category and they are
    far from every world phrase and from the held-out categories and their synonyms.
    """
    from negas_ros.train.phrases import (
        CATEGORY_PHRASES,
        GROUP_PHRASES,
        TEMPLATES,
        UNSEEN_SYNONYMS,
    )
    from negas_ros.world import PRETRAIN_VOCAB, UNSEEN

    encoder = SentenceTextEncoder(text_model, device=device)
    candidates: list[str] = []
    if background_candidates:
        from negas_ros.negatives.filtering import NegativeFilter
        from negas_ros.negatives.mining import candidate_pool
        from negas_ros.negatives.wordnet import load_wordnet
        from negas_ros.world import CATEGORIES

        wordnet = load_wordnet()
        pool = sorted({entry.label for entry in candidate_pool(wordnet)})
        rng = np.random.default_rng([seed, 0xB6])
        take = rng.choice(len(pool), size=min(background_candidates, len(pool)), replace=False)
        # The same filter users' negatives go through, against every world category: no
        # synonym, kind, class or part of one (a 'bloodhound' must never be trained as a word
        # that does not fire on dogs).
        related = NegativeFilter([c.name for c in CATEGORIES], wordnet)
        candidates = [w for w in (pool[i] for i in sorted(take.tolist()))
                      if related.check(w).kept]
    bank = build_phrase_bank(encoder, PRETRAIN_VOCAB, CATEGORY_PHRASES, GROUP_PHRASES,
                             TEMPLATES, candidates, (*UNSEEN, *UNSEEN_SYNONYMS))
    # What drew the background, so that a bank saved for another machine is described in full.
    return replace(bank, background_rule={**bank.background_rule, 'drawn': background_candidates,
                                          'seed': seed})


@dataclass(frozen=True)
class TextSet:
    """One batch's texts: text_ids (N,) bank indices in set order; position (V,) the set
    position of each category's positive text, -1 where none (its objects are background)."""

    text_ids: npt.NDArray[np.int64]
    position: npt.NDArray[np.int64]


def sample_text_set(
    present: Sequence[int],
    bank: PhraseBank,
    rng: np.random.Generator,
    grounding_fraction: float,
    phrase_variety: float = 0.5,
    group_prob: float = 0.1,
    max_background: int = 16,
) -> TextSet:
    """The text set of one batch (the module docstring has the rule).

    present: category indices with objects in the batch. phrase_variety: probability that a
    category is named by another phrase than its name (and, independently, that the phrase is
    framed by a caption template). group_prob: probability of one group phrase. max_background:
    at most this many background words (uniform count from 0). Never empty.
    """
    vocab = len(bank.categories)
    present_set = sorted({int(p) for p in present})
    if rng.random() < grounding_fraction or not present_set:
        size = int(rng.integers(1, vocab + 1))
        chosen = {int(c) for c in rng.choice(vocab, size=size, replace=False)}
    else:
        absent = [c for c in range(vocab) if c not in present_set]
        count = int(rng.integers(0, len(absent) + 1))
        extra = rng.choice(absent, size=count, replace=False).tolist() if count else []
        chosen = set(present_set) | {int(c) for c in extra}
    texts: list[int] = []
    owner: list[tuple[int, ...]] = []  # categories each text is positive for
    if bank.groups and rng.random() < group_prob:
        usable = [g for g in bank.groups if chosen & set(g[1])]
        if usable:
            ids, members = usable[int(rng.integers(len(usable)))]
            framed = rng.random() < phrase_variety and len(ids) > 1
            texts.append(ids[int(rng.integers(1, len(ids)))] if framed else ids[0])
            owner.append(members)
            chosen -= set(members)
    for c in sorted(chosen):
        names = bank.category_texts[c]
        if rng.random() < phrase_variety and len(names) > 1:
            pick = int(rng.integers(1, len(names)))
        else:
            pick = 0
        text = names[pick]
        templated = bank.category_templated[c]
        if templated and rng.random() < phrase_variety * 0.5:
            per_phrase = len(templated) // len(names)
            text = templated[pick * per_phrase + int(rng.integers(per_phrase))]
        texts.append(text)
        owner.append((c,))
    if bank.background and max_background > 0:
        count = int(rng.integers(0, max_background + 1))
        if count:
            draw = rng.choice(len(bank.background), size=min(count, len(bank.background)),
                              replace=False)
            for i in draw.tolist():
                texts.append(bank.background[i])
                owner.append(())
    order = rng.permutation(len(texts))
    position = np.full(vocab, -1, dtype=np.int64)
    for slot, k in enumerate(order.tolist()):
        for c in owner[k]:
            position[c] = slot
    text_ids = np.asarray([texts[k] for k in order.tolist()], dtype=np.int64)
    return TextSet(text_ids, position)


def prepare_text_trainable(net: YoloWorldNet, text: torch.Tensor) -> PreparedText:
    """:meth:`YoloWorldNet.prepare_text` with gradients (that one runs under no_grad, for
    inference): text (N, E) unit-norm -> guides and head weights, no negatives, fusion 'max'."""
    guides = []
    for layer in ATTENTION_LAYERS:
        block = net.model[layer]
        assert isinstance(block, C2fAttn)
        guides.append(BlockGuide(block.attn.guide(text), None))
    return PreparedText(
        guides=tuple(guides),
        head_ids=nnf.normalize(text, dim=-1),
        head_negs=text.new_zeros((0, text.shape[1])),
        fusion='max',
        weight=0.5,
    )
