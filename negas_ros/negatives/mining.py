"""WordNet negatives: mine object nouns, rank them by similarity to the ID labels, keep a band.

The rule (ours; NegAS publishes none). NegLabel (Jiang et al., ICLR 2024) scores each WordNet
word by the 95th percentile of its cosine similarities to the ID labels and keeps the *farthest*
ones, which suits CLIP classification. NegAS wants negatives that are *visually similar but
semantically different*, so we keep the *closest* ones that are not the same thing:

1. Pool: every noun synset that is a physical object in one of :data:`DEFAULT_LEXNAMES`
   (artifacts, animals, foods, natural objects, plants; not persons: person words name roles
   that overlap, nor substances or body parts, which are no boxes), not an instance (proper
   noun), named by a lower-case lemma of at most ``max_words`` words (its first such lemma).
2. Similarity ``s(c, i)`` of candidate c to ID label i: the cosine of the text encoder's
   embeddings of the two prompts (the detector's own text tower), or, offline, the Wu-Palmer
   similarity of c's synset to i's ranking sense (:func:`ranking_senses`).
3. Each candidate is assigned to its nearest ID label, with ``score = max_i s(c, i)`` (the
   100th percentile where NegLabel takes the 95th: one close ID label is what attracts
   attention).
4. Band: a candidate is eligible when ``floor <= score <= ceiling``. By default both are
   quantiles of the score over the pool (encoder-agnostic, like NegLabel's percentile rule):
   ``floor`` the 0.90 quantile (only the closest 10% of the pool), ``ceiling`` the 0.9995
   quantile (the very closest are near-synonyms that WordNet does not link); absolute values
   override them.
5. Per ID label, walk its eligible candidates from the most similar down and keep the first
   ``count`` that pass :class:`~negas_ros.negatives.filtering.NegativeFilter` (ties: more
   familiar words first, by SemCor senses, then fewer words, then alphabetical).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
import re
from typing import Protocol

import numpy as np
import numpy.typing as npt

from negas_ros.negatives.filtering import Decision, NegativeFilter
from negas_ros.negatives.wordnet import WordNet

__all__ = [
    'DEFAULT_LEXNAMES',
    'Band',
    'MiningResult',
    'PoolEntry',
    'Similarity',
    'WordNetSimilarity',
    'candidate_pool',
    'mine_negatives',
    'ranking_senses',
]

DEFAULT_LEXNAMES: tuple[str, ...] = (
    'noun.artifact',
    'noun.animal',
    'noun.food',
    'noun.object',
    'noun.plant',
)
_LEMMA = re.compile(r"[a-z][a-z' -]*")


@dataclass(frozen=True)
class PoolEntry:
    """One mined candidate: a synset and the label that names it."""

    offset: int
    label: str


class Similarity(Protocol):
    """Scores candidates against ID labels; larger is more similar."""

    description: str
    """What it is, for provenance ('wordnet-wup', 'clip openai/clip-vit-base-patch32')."""

    def __call__(
        self, candidates: Sequence[PoolEntry], id_labels: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        """A (len(candidates), len(id_labels)) array; NaN where an ID label cannot be scored."""
        ...


def candidate_pool(
    wordnet: WordNet,
    lexnames: Sequence[str] = DEFAULT_LEXNAMES,
    max_words: int = 2,
    max_chars: int = 24,
) -> list[PoolEntry]:
    """The mining pool (rule 1 of the module docstring), in WordNet file order.

    A synset is named by its first lemma that is lower case, at most ``max_words`` words and
    ``max_chars`` characters, and whose most frequent sense is this synset: a text encoder reads
    a word in its dominant sense, so 'express' (mostly not a train) cannot stand for the train.
    """
    allowed = frozenset(lexnames)
    pool: list[PoolEntry] = []
    for synset in wordnet.all_synsets():
        if synset.is_instance or synset.lexname not in allowed:
            continue
        if not wordnet.is_physical(synset.offset):
            continue
        label = next(
            (
                lemma
                for lemma in synset.lemmas
                if _LEMMA.fullmatch(lemma)
                and len(lemma.split()) <= max_words
                and len(lemma) <= max_chars
                and wordnet.lemma_senses(lemma.lower())[:1] == (synset.offset,)
            ),
            None,
        )
        if label is not None:
            pool.append(PoolEntry(synset.offset, label))
    return pool


def ranking_senses(
    nfilter: NegativeFilter,
    overrides: Mapping[str, str] | None = None,
    lexnames: Sequence[str] = (*DEFAULT_LEXNAMES, 'noun.person'),
) -> dict[str, tuple[int, ...]]:
    """The WordNet sense each ID label is ranked against (the filter uses all senses).

    ``overrides`` maps an ID label to a synset name ('mouse' -> 'mouse.n.04', the computer
    mouse, where WordNet's first sense is the rodent). Otherwise: the label's most frequent
    sense that is a physical object in ``lexnames``; else that of its head noun ('traffic
    light' is a signal in WordNet, so its head 'light', a source of illumination); else its
    first physical sense; else none (the label gets no WordNet-ranked negatives).
    Raises ValueError for an override of an unknown label or synset.
    """
    wn = nfilter.wordnet
    overrides = dict(overrides or {})
    unknown = [label for label in overrides if label not in nfilter.id_senses]
    if unknown:
        raise ValueError(f'--id-sense names labels that are not ID labels: {", ".join(unknown)}')
    allowed = frozenset(lexnames)

    def object_sense(senses: Sequence[int]) -> int | None:
        return next(
            (s for s in senses if wn.synset(s).lexname in allowed and wn.is_physical(s)), None
        )

    result: dict[str, tuple[int, ...]] = {}
    for label, senses in nfilter.id_senses.items():
        if label in overrides:
            result[label] = (wn.by_name(overrides[label]),)
            continue
        words = label.lower().split()
        chosen = object_sense(senses)
        if chosen is None and len(words) > 1:
            chosen = object_sense(wn.lookup(words[-1]))
        if chosen is None:
            chosen = next((s for s in senses if wn.is_physical(s)), None)
        result[label] = () if chosen is None else (chosen,)
    return result


class WordNetSimilarity:
    """Offline similarity: Wu-Palmer similarity in WordNet's hypernym graph.

    A proxy for the text encoder where none can be loaded: it knows the taxonomy (a hearse is
    near a car because both are motor vehicles), not the look (a mannequin is far from a
    pedestrian). ``senses`` maps each ID label to its ranking senses (:func:`ranking_senses`);
    a candidate scores the maximum over them. NaN (not a neighbour) where the two share only a
    generic class, i.e. their lowest common hypernym has min_depth < ``min_common_depth``
    (default 6: conveyance, device, structure, animal... count, but not organism, artifact,
    instrumentality, whole, object): sharing 'organism' says nothing about the look. NaN for an
    ID label without a ranking sense.
    """

    def __init__(
        self, wordnet: WordNet, senses: Mapping[str, Sequence[int]], min_common_depth: int = 6
    ) -> None:
        self.wordnet = wordnet
        self.senses = {label: tuple(s) for label, s in senses.items()}
        self.min_common_depth = min_common_depth
        self.description = f'wordnet-wup (min common depth {min_common_depth})'

    def __call__(
        self, candidates: Sequence[PoolEntry], id_labels: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        wn = self.wordnet
        scores = np.full((len(candidates), len(id_labels)), np.nan)
        for k, label in enumerate(id_labels):
            for target in self.senses.get(label, ()):
                for c, entry in enumerate(candidates):
                    common = wn.lowest_common_hypernym(entry.offset, target)
                    if wn.min_depth(common) < self.min_common_depth:
                        continue
                    value = wn.wup_similarity(entry.offset, target)
                    if not value <= scores[c, k]:  # NaN-safe max
                        scores[c, k] = value
        return scores


@dataclass(frozen=True)
class Band:
    """The eligible similarity band (rule 4); absolute bounds override the quantiles."""

    floor_quantile: float = 0.90
    ceiling_quantile: float = 0.9995
    floor: float | None = None
    ceiling: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor_quantile <= self.ceiling_quantile <= 1.0:
            raise ValueError(
                'band quantiles must satisfy 0 <= floor <= ceiling <= 1, got '
                f'{self.floor_quantile}, {self.ceiling_quantile}'
            )

    def bounds(self, scores: npt.NDArray[np.float64]) -> tuple[float, float]:
        """(floor, ceiling) for one ID label's similarities (finite ones; NaN ignored)."""
        finite = scores[np.isfinite(scores)]
        if finite.size == 0:
            return float('inf'), float('-inf')
        low = (
            self.floor
            if self.floor is not None
            else float(np.quantile(finite, self.floor_quantile))
        )
        high = (
            self.ceiling
            if self.ceiling is not None
            else float(np.quantile(finite, self.ceiling_quantile))
        )
        return low, high


@dataclass
class MiningResult:
    """What :func:`mine_negatives` found.

    negatives: the kept labels, grouped by ID label in ID order, best first in each group.
    by_id_label: the same, per ID label.
    decisions: one per candidate that was considered (in band, or above a ceiling), in
        ranking order; candidates below every floor are only counted.
    floors, ceilings: the band used, per ID label.
    below_floor: how many pool candidates were in no ID label's band (nor above a ceiling).
    pool_size: how many candidates were scored.
    """

    negatives: list[str]
    by_id_label: dict[str, list[str]]
    decisions: list[Decision]
    floors: dict[str, float]
    ceilings: dict[str, float]
    below_floor: int
    pool_size: int
    unranked_id_labels: list[str] = field(default_factory=list)


def mine_negatives(
    pool: Sequence[PoolEntry],
    nfilter: NegativeFilter,
    similarity: Similarity,
    count: int,
    band: Band | None = None,
) -> MiningResult:
    """Rank ``pool`` against the filter's ID labels and keep up to ``count`` per ID label.

    Rules 3-5 of the module docstring. Deterministic for a deterministic ``similarity``.
    Raises ValueError for count < 1 or an empty pool.
    """
    if count < 1:
        raise ValueError(f'count must be >= 1, got {count}')
    if not pool:
        raise ValueError('the candidate pool is empty; check the WordNet data and lexnames')
    band = band or Band()
    id_labels = nfilter.id_labels
    scores = np.asarray(similarity(pool, id_labels), dtype=np.float64)
    if scores.shape != (len(pool), len(id_labels)):
        raise ValueError(
            f'similarity returned shape {scores.shape}, expected {(len(pool), len(id_labels))}'
        )
    unranked = [label for k, label in enumerate(id_labels) if np.isnan(scores[:, k]).all()]
    wn = nfilter.wordnet
    bounds = [band.bounds(scores[:, k]) for k in range(len(id_labels))]
    floors = np.array([b[0] for b in bounds])
    ceilings = np.array([b[1] for b in bounds])
    with np.errstate(invalid='ignore'):  # NaN compares False: not a neighbour
        too_close: npt.NDArray[np.bool_] = np.asarray((scores > ceilings).any(axis=1))
        in_band: npt.NDArray[np.bool_] = np.asarray(
            (scores >= floors) & (scores <= ceilings) & ~too_close[:, None]
        )
    familiarity = np.array([wn.tagged_senses(e.label) for e in pool])
    words = np.array([len(e.label.split()) for e in pool])
    labels = np.array([e.label for e in pool])
    decisions: list[Decision] = []
    for c in (int(i) for i in np.flatnonzero(too_close)):
        k = int(np.nanargmax(scores[c] - ceilings))
        decisions.append(
            Decision(
                pool[c].label,
                pool[c].label,
                'above-ceiling',
                f'similarity {scores[c, k]:.3f} > ceiling {ceilings[k]:.3f}: too close to '
                f'{id_labels[k]!r} to be safely different',
                id_labels[k],
                float(scores[c, k]),
            )
        )
    # Per ID label, its eligible candidates from the most similar down (ties: more familiar,
    # fewer words, alphabetical); np.lexsort sorts by the last key first.
    queues: list[list[int]] = []
    for k in range(len(id_labels)):
        idx = np.flatnonzero(in_band[:, k])
        order = np.lexsort((labels[idx], words[idx], -familiarity[idx], -scores[idx, k]))
        queues.append([int(c) for c in idx[order]])
    # Round robin over the ID labels, so that neighbours shared by two labels (car and truck
    # share every motor vehicle) are split between them instead of all going to the first.
    by_id: dict[str, list[str]] = {label: [] for label in id_labels}
    kept_keys: dict[str, str] = {}
    seen: set[int] = set()
    cursors = [0] * len(id_labels)
    active = True
    while active:
        active = False
        for k, id_label in enumerate(id_labels):
            queue = queues[k]
            while len(by_id[id_label]) < count and cursors[k] < len(queue):
                c = queue[cursors[k]]
                cursors[k] += 1
                if c in seen:
                    continue  # considered for an earlier label: one decision per candidate
                seen.add(c)
                entry, score = pool[c], float(scores[c, k])
                decision, key = nfilter.check_unique(
                    entry.label, id_label, score, kept_keys, 'already kept near {!r}'
                )
                if decision.kept:
                    kept_keys[key] = id_label
                    by_id[id_label].append(decision.label)
                    decision = replace(
                        decision, detail=f'{wn.name(entry.offset)}; {decision.detail}'
                    )
                decisions.append(decision)
                if decision.kept:
                    active = True
                    break  # one kept per label per round
    negatives = [label for id_label in id_labels for label in by_id[id_label]]
    return MiningResult(
        negatives=negatives,
        by_id_label=by_id,
        decisions=decisions,
        floors={label: float(floors[k]) for k, label in enumerate(id_labels)},
        ceilings={label: float(ceilings[k]) for k, label in enumerate(id_labels)},
        below_floor=int(np.sum(~in_band.any(axis=1) & ~too_close)),
        pool_size=len(pool),
        unranked_id_labels=unranked,
    )
