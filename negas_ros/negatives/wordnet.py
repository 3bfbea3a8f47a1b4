"""A small reader for the nouns of the Princeton WordNet 3.0 database files (pure, no ROS).

Reads ``data.noun``, ``index.noun`` and ``noun.exc`` from a WordNet dictionary directory such as
the one Debian's ``wordnet-base`` installs (``/usr/share/wordnet``). Why not NLTK's
``WordNetCorpusReader``: over that directory it fails (the Debian package ships no
``lexnames`` file, NLTK >= 3.9 refuses directories outside its data path and symlinks out of
its root, and NLTK 3.10 then wants its own downloaded 'wordnet' corpus to map versions), and it
parses all four parts of speech where the miner needs only nouns. The
lemma lookup (:meth:`WordNet.morphy`), the sense order and :meth:`WordNet.wup_similarity`
follow NLTK's definitions; ``test_wordnet_reader.py`` checks them against NLTK on a copy of
the files.

Synsets are identified by their byte offset in ``data.noun`` (an ``int``), as WordNet does;
:meth:`WordNet.name` gives NLTK's readable name (``car.n.01``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
import functools
import os
from pathlib import Path
import re

__all__ = [
    'ABSTRACTION',
    'DEFAULT_WORDNET_DIR',
    'ENTITY',
    'PHYSICAL_ENTITY',
    'WORDNET_DIR_ENV',
    'Synset',
    'WordNet',
    'WordNetError',
    'find_wordnet_dir',
    'load_wordnet',
]

DEFAULT_WORDNET_DIR = '/usr/share/wordnet'
WORDNET_DIR_ENV = 'NEGAS_WORDNET_DIR'
"""Environment variable that overrides :data:`DEFAULT_WORDNET_DIR`."""

# Offsets of the top synsets in WordNet 3.0 data.noun (checked on load by lemma).
ENTITY = 1740  # entity.n.01
PHYSICAL_ENTITY = 1930  # physical_entity.n.01
ABSTRACTION = 2137  # abstraction.n.06

# Lexicographer file numbers of nouns (WordNet's lexnames file, which Debian does not ship).
_NOUN_LEXNAMES: dict[int, str] = {
    3: 'noun.Tops',
    4: 'noun.act',
    5: 'noun.animal',
    6: 'noun.artifact',
    7: 'noun.attribute',
    8: 'noun.body',
    9: 'noun.cognition',
    10: 'noun.communication',
    11: 'noun.event',
    12: 'noun.feeling',
    13: 'noun.food',
    14: 'noun.group',
    15: 'noun.location',
    16: 'noun.motive',
    17: 'noun.object',
    18: 'noun.person',
    19: 'noun.phenomenon',
    20: 'noun.plant',
    21: 'noun.possession',
    22: 'noun.process',
    23: 'noun.quantity',
    24: 'noun.relation',
    25: 'noun.shape',
    26: 'noun.state',
    27: 'noun.substance',
    28: 'noun.time',
}

# WordNet's detachment rules for nouns, in NLTK's order (morphy).
_NOUN_SUFFIXES: tuple[tuple[str, str], ...] = (
    ('s', ''),
    ('ses', 's'),
    ('ves', 'f'),
    ('xes', 'x'),
    ('zes', 'z'),
    ('ches', 'ch'),
    ('shes', 'sh'),
    ('men', 'man'),
    ('ies', 'y'),
)


class WordNetError(OSError):
    """The WordNet files are missing or not in the expected format; the message says how to fix."""


@dataclass(frozen=True, slots=True)
class Synset:
    """One noun synset.

    offset: byte offset of its line in data.noun, its identity.
    lexname: lexicographer file, e.g. 'noun.artifact', 'noun.animal'.
    lemmas: its words in sense order, underscores read as spaces, case as in WordNet
        (proper nouns are capitalised).
    hypernyms: offsets of its direct hypernyms, class (@) and instance (@i) ones.
    hyponyms: offsets of its direct hyponyms, class (~) and instance (~i) ones.
    part_meronyms: offsets of its direct parts (%p).
    is_instance: an instance (a named individual, e.g. a city), i.e. it has @i hypernyms.
    gloss: the definition and examples.
    """

    offset: int
    lexname: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[int, ...]
    hyponyms: tuple[int, ...]
    part_meronyms: tuple[int, ...]
    is_instance: bool
    gloss: str


class WordNet:
    """The noun part of one WordNet database, fully in memory (about 82k synsets, ~1 s to load).

    Use :func:`load_wordnet` (cached per directory) rather than the constructor.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        root = Path(directory)
        data_path, index_path = root / 'data.noun', root / 'index.noun'
        for path in (data_path, index_path):
            if not path.is_file():
                raise WordNetError(
                    f'{path}: WordNet noun file not found; install the WordNet data '
                    "(Debian: 'apt-get install wordnet-base') or set "
                    f'{WORDNET_DIR_ENV} to a WordNet 3.0 dict directory'
                )
        self.directory = root
        self.version = 'unknown'
        self._synsets: dict[int, Synset] = {}
        self._index: dict[str, tuple[int, ...]] = {}
        self._tagged: dict[str, int] = {}
        self._exceptions: dict[str, tuple[str, ...]] = {}
        self._read_data(data_path)
        self._read_index(index_path)
        exc_path = root / 'noun.exc'
        if exc_path.is_file():
            self._read_exceptions(exc_path)
        top = self._synsets.get(PHYSICAL_ENTITY)
        if top is None or top.lemmas[0] != 'physical entity':
            raise WordNetError(
                f'{data_path}: offsets do not match WordNet 3.0 (physical_entity.n.01 is not at '
                f'{PHYSICAL_ENTITY}); only WordNet 3.0 data is supported'
            )

    # --- parsing -----------------------------------------------------------------------------

    def _read_data(self, path: Path) -> None:
        with open(path, encoding='utf-8', errors='replace') as stream:
            for line in stream:
                if line.startswith('  '):  # licence header, indented by two spaces
                    found = re.search(r'WordNet (\d+\.\d+)', line)
                    if found and self.version == 'unknown':
                        self.version = found.group(1)
                    continue
                body, _, gloss = line.partition(' | ')
                fields = body.split()
                offset, lex_filenum = int(fields[0]), int(fields[1])
                n_words = int(fields[3], 16)
                lemmas = tuple(fields[4 + 2 * i].replace('_', ' ') for i in range(n_words))
                at = 4 + 2 * n_words
                n_pointers = int(fields[at])
                hypernyms: list[int] = []
                hyponyms: list[int] = []
                parts: list[int] = []
                is_instance = False
                for p in range(n_pointers):
                    symbol, target, pos = fields[at + 1 + 4 * p : at + 4 + 4 * p]
                    if pos != 'n':
                        continue
                    if symbol in ('@', '@i'):
                        hypernyms.append(int(target))
                        is_instance = is_instance or symbol == '@i'
                    elif symbol in ('~', '~i'):
                        hyponyms.append(int(target))
                    elif symbol == '%p':
                        parts.append(int(target))
                self._synsets[offset] = Synset(
                    offset=offset,
                    lexname=_NOUN_LEXNAMES.get(lex_filenum, f'noun.{lex_filenum}'),
                    lemmas=lemmas,
                    hypernyms=tuple(hypernyms),
                    hyponyms=tuple(hyponyms),
                    part_meronyms=tuple(parts),
                    is_instance=is_instance,
                    gloss=gloss.strip(),
                )

    def _read_index(self, path: Path) -> None:
        with open(path, encoding='utf-8', errors='replace') as stream:
            for line in stream:
                if line.startswith('  '):
                    continue
                fields = line.split()
                n_senses, n_pointers = int(fields[2]), int(fields[3])
                # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offsets...
                lemma = fields[0].replace('_', ' ')
                self._tagged[lemma] = int(fields[4 + n_pointers + 1])
                offsets = fields[4 + n_pointers + 2 :]
                self._index[lemma] = tuple(int(o) for o in offsets[:n_senses])

    def _read_exceptions(self, path: Path) -> None:
        with open(path, encoding='utf-8', errors='replace') as stream:
            for line in stream:
                words = [w.replace('_', ' ') for w in line.split()]
                if len(words) >= 2:
                    self._exceptions[words[0]] = tuple(words[1:])

    # --- lookup ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._synsets)

    def synset(self, offset: int) -> Synset:
        """The synset at ``offset``; KeyError if there is none."""
        return self._synsets[offset]

    def all_synsets(self) -> Iterator[Synset]:
        """Every noun synset, in file (offset) order."""
        return iter(self._synsets.values())

    def lemma_senses(self, lemma: str) -> tuple[int, ...]:
        """Synset offsets of an exact index lemma (lower case, spaces), most frequent first."""
        return self._index.get(lemma, ())

    def tagged_senses(self, lemma: str) -> int:
        """How many senses of an exact index lemma occur in the SemCor corpus (index.noun's
        tagsense_cnt): a coarse familiarity signal, 0 for most rare and many technical words."""
        return self._tagged.get(lemma, 0)

    def morphy(self, word: str) -> list[str]:
        """Base forms of a noun that are WordNet lemmas, as NLTK's ``_morphy`` for nouns.

        ``word`` is lower-cased, with '_' read as a space. The word itself comes first when it
        is a lemma; then the exception list (noun.exc: 'mice' -> 'mouse') if it has an entry,
        else the detachment rules ('buses' -> 'bus', 'boxes' -> 'box'). Empty when none is.
        """
        form = word.lower().replace('_', ' ')
        if form in self._exceptions:
            forms = [form, *self._exceptions[form]]
        else:
            forms = [form] + [
                form[: -len(old)] + new for old, new in _NOUN_SUFFIXES if form.endswith(old)
            ]
        result: list[str] = []
        for candidate in forms:
            if candidate in self._index and candidate not in result:
                result.append(candidate)
        return result

    def lookup(self, word: str) -> tuple[int, ...]:
        """All noun senses of ``word`` (offsets, most frequent first, no repeats).

        Tries the word as written and the spellings WordNet might use for a compound: '-' as a
        space ('t-shirt' -> 't shirt'), spaces as '-' and spaces removed ('cell phone' ->
        'cellphone'); each through :meth:`morphy`. Empty for a word WordNet does not know.
        """
        return self._senses(word, frequent_only=False)

    def frequent_senses(self, word: str) -> tuple[int, ...]:
        """The senses of :meth:`lookup` that are in common use: per lemma, the first
        ``max(1, tagged_senses(lemma))`` (WordNet orders senses by their SemCor frequency, and
        senses never seen there are rare ones: 'dog' as 'a dull unattractive woman')."""
        return self._senses(word, frequent_only=True)

    def _senses(self, word: str, frequent_only: bool) -> tuple[int, ...]:
        text = ' '.join(word.lower().replace('_', ' ').split())
        variants = [text, text.replace('-', ' ')]
        if ' ' in text:
            variants += [text.replace(' ', '-'), text.replace(' ', '')]
        senses: list[int] = []
        for variant in variants:
            for lemma in self.morphy(variant):
                offsets = self._index[lemma]
                if frequent_only:
                    offsets = offsets[: max(1, self._tagged.get(lemma, 0))]
                for offset in offsets:
                    if offset not in senses:
                        senses.append(offset)
        return tuple(senses)

    def name(self, offset: int) -> str:
        """NLTK's name of a synset: first lemma in lower case, 'n', its sense number
        ('car.n.01')."""
        lemma = self._synsets[offset].lemmas[0].lower()
        senses = self._index.get(lemma, ())
        number = senses.index(offset) + 1 if offset in senses else 1
        return f'{lemma.replace(" ", "_")}.n.{number:02d}'

    def by_name(self, name: str) -> int:
        """The offset of a synset named as NLTK does ('mouse.n.04'); ValueError if unknown."""
        found = re.fullmatch(r'(.+)\.n\.(\d+)', name.strip())
        if found is None:
            raise ValueError(f"synset name {name!r} must look like 'mouse.n.04'")
        senses = self._index.get(found.group(1).lower().replace('_', ' '), ())
        number = int(found.group(2))
        if not 1 <= number <= len(senses):
            raise ValueError(
                f'WordNet has no noun synset {name!r} ({len(senses)} noun senses of that lemma)'
            )
        return senses[number - 1]

    # --- graph -------------------------------------------------------------------------------

    def ancestors(self, offset: int) -> frozenset[int]:
        """All transitive hypernyms (class and instance) of a synset, without itself."""
        return self._closure(offset, 'hypernyms')

    def descendants(self, offset: int) -> frozenset[int]:
        """All transitive hyponyms (class and instance) of a synset, without itself."""
        return self._closure(offset, 'hyponyms')

    @functools.lru_cache(maxsize=65536)  # noqa: B019 (one WordNet per directory, kept for life)
    def _closure(self, offset: int, relation: str) -> frozenset[int]:
        seen: set[int] = set()
        stack = list(getattr(self._synsets[offset], relation))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(getattr(self._synsets[current], relation))
        return frozenset(seen)

    def is_physical(self, offset: int) -> bool:
        """Has a hypernym path through physical_entity (a thing that can be seen).

        About 4k synsets also have a path through abstraction (statue.n.01 is a sculpture and
        so 'art'; most are substances classed as chemical compounds); they count as physical:
        the abstract path is a second classification, not what the word shows.
        """
        return offset == PHYSICAL_ENTITY or PHYSICAL_ENTITY in self.ancestors(offset)

    @functools.cache  # noqa: B019
    def min_depth(self, offset: int) -> int:
        """Edges on the shortest hypernym path to the root (entity is 0)."""
        up = self._synsets[offset].hypernyms
        return 0 if not up else 1 + min(self.min_depth(h) for h in up)

    @functools.cache  # noqa: B019
    def max_depth(self, offset: int) -> int:
        """Edges on the longest hypernym path to the root (entity is 0)."""
        up = self._synsets[offset].hypernyms
        return 0 if not up else 1 + max(self.max_depth(h) for h in up)

    @functools.lru_cache(maxsize=262144)  # noqa: B019
    def _up_distances(self, offset: int) -> dict[int, int]:
        """Shortest number of hypernym edges from a synset to each ancestor (itself: 0)."""
        distances = {offset: 0}
        queue = deque([offset])
        while queue:
            current = queue.popleft()
            for parent in self._synsets[current].hypernyms:
                if parent not in distances:
                    distances[parent] = distances[current] + 1
                    queue.append(parent)
        return distances

    def lowest_common_hypernym(self, a: int, b: int) -> int:
        """The subsumer Wu-Palmer uses: of the common hypernyms of a and b (each counting as
        its own), the one with the greatest min_depth; ties: a itself, else NLTK's name order."""
        common = self._up_distances(a).keys() & self._up_distances(b).keys()
        deepest = max(self.min_depth(s) for s in common)
        lowest = [s for s in common if self.min_depth(s) == deepest]
        if a in lowest:
            return a
        return min(lowest, key=self.name) if len(lowest) > 1 else lowest[0]

    def wup_similarity(self, a: int, b: int) -> float:
        """Wu-Palmer similarity in (0, 1], as NLTK computes it for nouns.

        With s = :meth:`lowest_common_hypernym` and depth = max_depth(s) + 1, the result is
        2 * depth / (d_a + d_b + 2 * depth), d_x the shortest path from x to s in the hypernym
        graph (NLTK's shortest_path_distance).
        1.0 only for a == b.
        """
        subsumer = self.lowest_common_hypernym(a, b)
        depth = self.max_depth(subsumer) + 1
        return (
            2.0 * depth / (self._distance(a, subsumer) + self._distance(b, subsumer) + 2 * depth)
        )

    def _distance(self, a: int, b: int) -> int:
        """NLTK's shortest_path_distance: fewest edges from a up to a common hypernym and down
        to b (with several hypernym paths this can beat the straight path up to b)."""
        up_a, up_b = self._up_distances(a), self._up_distances(b)
        return min(up_a[s] + up_b[s] for s in up_a.keys() & up_b.keys())

    def hypernym_chain(self, offset: int) -> list[int]:
        """One shortest hypernym path from the synset up to entity (for explanations)."""
        chain = [offset]
        while self._synsets[chain[-1]].hypernyms:
            chain.append(
                min(self._synsets[chain[-1]].hypernyms, key=lambda h: (self.min_depth(h), h))
            )
        return chain


def find_wordnet_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The WordNet dict directory to use: ``directory``, else $NEGAS_WORDNET_DIR, else Debian's.

    Raises :class:`WordNetError` (with the install command) when it holds no data.noun.
    """
    chosen = Path(directory or os.environ.get(WORDNET_DIR_ENV) or DEFAULT_WORDNET_DIR)
    if not (chosen / 'data.noun').is_file():
        raise WordNetError(
            f'{chosen}: no WordNet data (data.noun) there; install it with '
            f"'apt-get install wordnet-base' or point {WORDNET_DIR_ENV} / --wordnet-dir at a "
            'WordNet 3.0 dict directory'
        )
    return chosen


@functools.lru_cache(maxsize=4)
def _load_cached(directory: str) -> WordNet:
    return WordNet(directory)


def load_wordnet(directory: str | os.PathLike[str] | None = None) -> WordNet:
    """The :class:`WordNet` in :func:`find_wordnet_dir` ``(directory)``, loaded once a process."""
    return _load_cached(str(find_wordnet_dir(directory).resolve()))
