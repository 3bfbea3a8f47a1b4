"""The filter every negative-label method shares: what may never be a negative of an ID set.

A negative label that names an ID object (the ID label itself, its plural, a synonym, a kind of
it, a word for a larger class containing it, or one of its parts) answers on real ID objects,
so NegS would flag those as unknown. :class:`NegativeFilter` rejects such candidates, and
non-visual or malformed ones, and says why (:class:`Decision`). The rules, first match wins:

1. ``malformed``: after cleaning (lower case, leading article and trailing punctuation
   dropped) not letters, spaces, hyphens or apostrophes, or no letter at all.
2. ``too-long``: more than ``max_words`` words or ``max_chars`` characters (detector prompts
   are token-limited, and long phrases are descriptions, not object names).
3. ``id-label``: the same label as an ID label under :func:`negas_ros.labels.normalize_label`
   (case, '-'/'_', plural of the last word), or a WordNet base form of it is ('mice').
4. ``synonym`` / ``hyponym`` / ``hypernym`` / ``part``: a WordNet noun sense of the
   candidate is a sense of an ID label, a kind of one (transitively), a class above one
   (transitively), or a part of one or of one of its hypernyms (part meronyms, with everything
   below them). Every sense of both words counts (a detector reads words, not senses), with
   two exceptions that use frequent senses (:meth:`WordNet.frequent_senses`): for kinds,
   a candidate sense that names a person counts only when frequent, because many animal and
   object words have a rare figurative person sense ('pig', 'cow', 'doll') that no detector
   reads into them; parts are taken only of frequent senses of the ID label, since its rare
   senses bring in absurd parts ('bollard' is part of the 'car' of an airship).
   An ID label WordNet does not know ('traffic sign') is checked as its head noun ('sign'),
   with every sense of that; the same for a candidate.
   ``person``: when an ID label names a kind of person (pedestrian, rider), every person word
   is dropped too ('soldier', 'cyclist'): person nouns name roles, and one person holds many at
   once, so any of them can name an ID object though WordNet lists them as siblings.
5. ``shares-word``: a content word in common with an ID label ('toy car' for 'car', 'street
   light' for 'traffic light'): Grounding DINO scores a phrase by its best token, so the shared
   token makes the negative answer on the ID object. Off with ``allow_shared_words``.
6. ``non-visual``: no noun sense has a hypernym path through physical_entity (all senses are
   abstractions, e.g. 'justice', or it is no noun); a sense with paths through both, like
   'statue' (a sculpture, also classed as art), is physical. A candidate WordNet does not know
   at all (nor its head noun) is ``unknown``, kept or dropped by ``keep_unknown``.
7. ``duplicate``: the same label (``normalize_label``) as one kept before; applied by
   :meth:`NegativeFilter.select`, which also fills the per-ID-label quotas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
import re

from negas_ros.labels import normalize_label, singular
from negas_ros.negatives.wordnet import WordNet

__all__ = ['KEPT', 'Decision', 'NegativeFilter', 'clean_label']

KEPT = 'kept'

# Words that carry no meaning of their own in a label; never count as a shared word.
_STOPWORDS = frozenset(['a', 'an', 'the', 'of', 'and', 'or', 'with', 'for', 'on', 'in', 'to'])
_LABEL_CHARS = re.compile(r"[a-z][a-z' -]*")
_LEADING_ARTICLE = re.compile(r'^(?:a|an|the)\s+')


@dataclass(frozen=True)
class Decision:
    """Why one candidate was kept or dropped.

    candidate: the text as proposed (LLM answer, WordNet lemma, ...).
    label: the cleaned label that is (or would have been) written.
    reason: ``kept`` or the rule that dropped it (module docstring), or a method's own
        reason such as ``below-floor``, ``above-ceiling`` or ``over-quota``.
    detail: one human sentence with the evidence (the ID label and synsets involved).
    source: the ID label the candidate was proposed for (LLM) or ranked nearest to (WordNet);
        None for random ones.
    score: similarity to ``source`` where the method ranks, else None.
    """

    candidate: str
    label: str
    reason: str
    detail: str = ''
    source: str | None = None
    score: float | None = None

    @property
    def kept(self) -> bool:
        return self.reason == KEPT


def clean_label(text: str) -> str:
    """A candidate as a label: lower case, '_' as space, inner whitespace collapsed, a leading
    article ('a', 'an', 'the'), surrounding quotes and trailing punctuation removed."""
    label = ' '.join(text.replace('_', ' ').lower().split())
    label = label.strip(' "\'`*.,;:!?()[]{}')
    return _LEADING_ARTICLE.sub('', label)


@dataclass(frozen=True)
class _Relation:
    kind: str  # synonym, hyponym, hypernym, part
    id_label: str
    id_sense: int


class NegativeFilter:
    """Checks candidates against one set of ID labels (rules in the module docstring).

    id_labels: the ID labels, non-empty.
    wordnet: the WordNet used for the relation and visual checks.
    max_words, max_chars: length limits (>= 1).
    allow_shared_words: keep candidates that share a content word with an ID label.
    keep_unknown: keep candidates WordNet does not know (their relations cannot be checked;
        the LLM method's default), else drop them as ``unknown``.
    """

    def __init__(
        self,
        id_labels: Sequence[str],
        wordnet: WordNet,
        *,
        max_words: int = 3,
        max_chars: int = 32,
        allow_shared_words: bool = False,
        keep_unknown: bool = True,
    ) -> None:
        if not id_labels:
            raise ValueError('id_labels is empty; give at least one ID label')
        if max_words < 1 or max_chars < 1:
            raise ValueError(f'max_words and max_chars must be >= 1, got {max_words}, {max_chars}')
        self.id_labels = tuple(id_labels)
        self.wordnet = wordnet
        self.max_words = max_words
        self.max_chars = max_chars
        self.allow_shared_words = allow_shared_words
        self.keep_unknown = keep_unknown
        self._id_keys: dict[str, str] = {}
        self._id_words: dict[str, str] = {}
        self._relations: dict[int, list[_Relation]] = {}
        self.id_senses: dict[str, tuple[int, ...]] = {}
        """Per ID label the WordNet senses it is checked as (its own, or its head noun's)."""
        self._person = wordnet.by_name('person.n.01')
        self._person_id: str | None = None
        self.id_fallback: dict[str, str] = {}
        """ID labels WordNet does not know, mapped to the head noun checked instead."""
        for label in self.id_labels:
            self._add_id_label(label)

    # --- setup -------------------------------------------------------------------------------

    def _add_id_label(self, label: str) -> None:
        key = normalize_label(label)
        self._id_keys[key] = label
        for base in self.wordnet.morphy(key):
            self._id_keys.setdefault(base, label)
        for word in _content_words(key):
            self._id_words.setdefault(word, label)
        senses, head = self._senses(key, label.lower())
        if head is not None:
            self.id_fallback[label] = head
        self.id_senses[label] = senses
        if self._person_id is None and any(self._is_person(s) for s in senses):
            self._person_id = label
        relations: list[tuple[str, int, Iterable[int]]] = []
        for sense in senses:
            relations.append(('synonym', sense, [sense]))
        for sense in senses:
            relations.append(('hyponym', sense, self.wordnet.descendants(sense)))
        for sense in senses:
            relations.append(('hypernym', sense, self.wordnet.ancestors(sense)))
        # Parts only of the label's frequent senses ('car' as an automobile, not as the
        # gondola of an airship, whose parts include 'bollard').
        words = [head] if head is not None else [label.lower(), key]
        frequent = {s for w in words for s in self.wordnet.frequent_senses(w)}
        for sense in (s for s in senses if s in frequent):
            for whole in (sense, *self.wordnet.ancestors(sense)):
                for part in self.wordnet.synset(whole).part_meronyms:
                    relations.append(('part', sense, [part, *self.wordnet.descendants(part)]))
        for kind, sense, offsets in relations:
            for offset in offsets:
                found = self._relations.setdefault(offset, [])
                if not any(r.kind == kind and r.id_label == label for r in found):
                    found.append(_Relation(kind, label, sense))

    def _senses(self, key: str, text: str) -> tuple[tuple[int, ...], str | None]:
        """WordNet senses of a label (its text and its comparison key: 'scissors' is a WordNet
        lemma, its key 'scissor' is not), or of its head noun when WordNet lacks the phrase."""
        senses = tuple(dict.fromkeys(self.wordnet.lookup(text) + self.wordnet.lookup(key)))
        words = key.split()
        if senses or len(words) < 2:
            return senses, None
        head = words[-1]
        return self.wordnet.lookup(head), head

    # --- checks ------------------------------------------------------------------------------

    def check(self, candidate: str, source: str | None = None) -> Decision:
        """The decision for one candidate by rules 1-6 (not ``duplicate``)."""
        label = clean_label(candidate)

        def drop(reason: str, detail: str) -> Decision:
            return Decision(candidate, label, reason, detail, source)

        if not label or not _LABEL_CHARS.fullmatch(label):
            return drop('malformed', 'not a plain noun phrase (letters, spaces, hyphens only)')
        words = label.split()
        if len(words) > self.max_words or len(label) > self.max_chars:
            return drop(
                'too-long',
                f'{len(words)} words / {len(label)} characters; limits {self.max_words} / '
                f'{self.max_chars}',
            )
        key = normalize_label(label)
        match = self._id_keys.get(key) or next(
            (self._id_keys[b] for b in self.wordnet.morphy(key) if b in self._id_keys), None
        )
        if match is not None:
            return drop('id-label', f'the same label as ID label {match!r}')
        senses, head = self._senses(key, label)
        frequent = tuple(
            dict.fromkeys(
                self.wordnet.frequent_senses(head)
                if head is not None
                else self.wordnet.frequent_senses(label) + self.wordnet.frequent_senses(key)
            )
        )
        via = f' (checked as its head noun {head!r})' if head is not None else ''
        # The most telling relation is reported when several hold.
        counted = {
            'synonym': senses,
            'hyponym': [s for s in senses if s in frequent or not self._is_person(s)],
            'hypernym': senses,
            'part': senses,
        }
        for kind, checked in counted.items():
            for sense in checked:
                for relation in self._relations.get(sense, ()):
                    if relation.kind == kind:
                        return drop(kind, self._relation_detail(relation, sense) + via)
        if self._person_id is not None:
            person = next((s for s in frequent if self._is_person(s)), None)
            if person is not None:
                return drop(
                    'person',
                    f'{self.wordnet.name(person)} names a person, and any person can '
                    f'be an ID {self._person_id!r} (roles overlap){via}',
                )
        if not self.allow_shared_words:
            for word in _content_words(key):
                if word in self._id_words:
                    return drop(
                        'shares-word',
                        f'shares the word {word!r} with ID label {self._id_words[word]!r}',
                    )
        if not senses:
            if self.keep_unknown:
                return Decision(
                    candidate,
                    label,
                    KEPT,
                    'not in WordNet: relations and visual check could not be made',
                    source,
                )
            return drop('unknown', 'not in WordNet, so its relations cannot be checked')
        words = key.split()
        if not any(self.wordnet.is_physical(s) for s in senses) and not (
            # WordNet files some visible things only as signals ('traffic light'): the head
            # noun ('light') decides then.
            len(words) > 1
            and any(self.wordnet.is_physical(s) for s in self.wordnet.lookup(words[-1]))
        ):
            names = ', '.join(self.wordnet.name(s) for s in senses[:3])
            return drop('non-visual', f'no physical sense ({names}){via}')
        return Decision(candidate, label, KEPT, f'no relation to an ID label{via}', source)

    def _is_person(self, sense: int) -> bool:
        return sense == self._person or self._person in self.wordnet.ancestors(sense)

    def _relation_detail(self, relation: _Relation, sense: int) -> str:
        wn = self.wordnet
        id_name = wn.name(relation.id_sense)
        if relation.kind == 'synonym':
            return f'a sense of ID label {relation.id_label!r} ({id_name})'
        if relation.kind == 'hyponym':
            return f'{wn.name(sense)} is a kind of ID label {relation.id_label!r} ({id_name})'
        if relation.kind == 'hypernym':
            return f'{wn.name(sense)} is a class above ID label {relation.id_label!r} ({id_name})'
        return f'{wn.name(sense)} is a part of ID label {relation.id_label!r} ({id_name})'

    def check_unique(
        self,
        candidate: str,
        source: str | None,
        score: float | None,
        kept_keys: Mapping[str, str],
        duplicate_detail: str,
    ) -> tuple[Decision, str]:
        """:meth:`check` with ``score`` recorded, then de-duplication against earlier keeps.

        kept_keys: normalised label of each label kept so far -> what the duplicate message
            names (the kept label, or the ID label it was kept for).
        duplicate_detail: the detail of a duplicate, a format string given that name (``{!r}``).
        Returns the decision (reason ``'duplicate'`` when the normalised label is in
        ``kept_keys``) and the candidate's normalised label ('' when the filter dropped it).
        """
        decision = replace(self.check(candidate, source), score=score)
        if not decision.kept:
            return decision, ''
        key = normalize_label(decision.label)
        if key in kept_keys:
            decision = replace(
                decision, reason='duplicate', detail=duplicate_detail.format(kept_keys[key])
            )
        return decision, key

    def select(
        self,
        proposals: Iterable[tuple[str, str | None, float | None]],
        per_source: int | None = None,
        total: int | None = None,
        stop_when_full: bool = False,
    ) -> tuple[list[str], list[Decision]]:
        """Filter proposals in order, drop duplicates and fill quotas.

        proposals: (candidate, source ID label or None, score or None), best first.
        per_source: keep at most this many per source ID label (None: no limit).
        total: keep at most this many in all (None: no limit).
        stop_when_full: stop reading proposals once ``total`` are kept (the rest get no
            decision), for long lazy streams such as random sampling.
        Returns the kept labels in proposal order and one :class:`Decision` per proposal.
        """
        kept: list[str] = []
        kept_keys: dict[str, str] = {}
        counts: dict[str | None, int] = {}
        decisions: list[Decision] = []
        for candidate, source, score in proposals:
            if stop_when_full and total is not None and len(kept) >= total:
                break
            decision, key = self.check_unique(
                candidate, source, score, kept_keys, 'same label as the kept {!r}'
            )
            if decision.kept:
                if per_source is not None and counts.get(source, 0) >= per_source:
                    decision = replace(
                        decision,
                        reason='over-quota',
                        detail=f'{per_source} already kept for {source!r}',
                    )
                elif total is not None and len(kept) >= total:
                    decision = replace(
                        decision, reason='over-quota', detail=f'{total} already kept'
                    )
                else:
                    kept.append(decision.label)
                    kept_keys[key] = decision.label
                    counts[source] = counts.get(source, 0) + 1
            decisions.append(decision)
        return kept, decisions


def _content_words(key: str) -> list[str]:
    return [singular(w) for w in key.replace('-', ' ').split() if w not in _STOPWORDS]
