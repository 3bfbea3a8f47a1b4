"""Label sets: the ID labels, the negative labels and the prompt template (pure, no ROS).

A label file is YAML::

    id_labels: [car, truck, bus, pedestrian]   # required, non-empty
    negative_labels: [van, tram, mailbox]      # optional, default []
    prompt_template: 'a photo of a {}.'        # optional, default '{}'
    provenance: {...}                          # optional, written by tools, ignored here

Labels are compared case-, whitespace- and plural-insensitively (see :func:`normalize_label`):
'Car', ' car ' and 'cars' are the same label, so one of them in ``id_labels`` and another in
``negative_labels`` is an error (the negative would suppress that ID class), and so is a
repeat within one list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import os
import string
from typing import Any

import yaml

__all__ = [
    'ALLOWED_KEYS',
    'LabelError',
    'LabelSet',
    'load_labels',
    'make_label_set',
    'normalize_label',
    'singular',
]

ALLOWED_KEYS: tuple[str, ...] = ('id_labels', 'negative_labels', 'prompt_template', 'provenance')
"""Top-level keys a label file may hold; ``provenance`` is accepted and ignored."""

_INLINE = '<inline>'


class LabelError(ValueError):
    """A label set or label file is invalid; the message names the source, the key and a fix."""


# Plural -> singular for words the suffix rules below get wrong.
_IRREGULAR_PLURALS: dict[str, str] = {
    'people': 'person',
    'men': 'man',
    'women': 'woman',
    'children': 'child',
    'mice': 'mouse',
    'geese': 'goose',
    'feet': 'foot',
    'teeth': 'tooth',
    'oxen': 'ox',
    'leaves': 'leaf',
    'knives': 'knife',
    'wives': 'wife',
    'lives': 'life',
    'wolves': 'wolf',
    'calves': 'calf',
    'halves': 'half',
    'shelves': 'shelf',
    'loaves': 'loaf',
    'thieves': 'thief',
    'scarves': 'scarf',
    'buses': 'bus',
    'irises': 'iris',
    'gases': 'gas',
    'lenses': 'lens',
    'canvases': 'canvas',
    'atlases': 'atlas',
    'tomatoes': 'tomato',
    'potatoes': 'potato',
    'heroes': 'hero',
    'mosquitoes': 'mosquito',
    'volcanoes': 'volcano',
    'torpedoes': 'torpedo',
    'echoes': 'echo',
    'dominoes': 'domino',
    'buffaloes': 'buffalo',
    'mangoes': 'mango',
}
# Singular words that end in 's' (left as they are).
_S_SINGULARS = frozenset(
    [
        'lens',
        'gas',
        'canvas',
        'atlas',
        'bias',
        'alias',
        'series',
        'species',
        'news',
        'chaos',
        'cosmos',
        'asbestos',
        'rhinoceros',
        'ethos',
        'pathos',
    ]
)
# Singular words ending in 'ie', whose plural ends in 'ies' but is not '-y' + 's'.
_IE_SINGULARS = frozenset(
    [
        'cookie',
        'movie',
        'zombie',
        'hoodie',
        'brownie',
        'selfie',
        'smoothie',
        'rookie',
        'goalie',
        'beanie',
        'collie',
        'necktie',
        'bowtie',
        'pixie',
        'genie',
        'calorie',
        'prairie',
    ]
)


def singular(word: str) -> str:
    """Return the singular of one lower-case English word, by simple rules.

    In order: irregular plurals (people -> person, men -> man, women -> woman,
    children -> child, mice -> mouse, geese -> goose, feet -> foot, teeth -> tooth,
    leaves -> leaf, knives -> knife, buses -> bus, tomatoes -> tomato, ...); words of at most
    three letters, words ending in -ss, -us, -is and a few singulars ending in -s (lens, gas,
    species, ...) are unchanged; -ies -> -y (bodies -> body; but cookies -> cookie and
    4-letter ties/pies -> tie/pie); -sses, -uses (not -ouses), -xes, -ches, -shes, -zzes ->
    drop 'es' (glasses -> glass, viruses -> virus, boxes -> box, benches -> bench,
    dishes -> dish); any other final -s -> drop 's' (cars -> car, houses -> house,
    horses -> horse, noises -> noise, shoes -> shoe). Other words are unchanged.

    The rules catch the common duplicates in label lists; they are not a lemmatiser. A rare
    miss (headaches -> headach) only lets a duplicate through, which is harmless.
    """
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if len(word) <= 3 or word in _S_SINGULARS or word.endswith(('ss', 'us', 'is')):
        return word
    if word.endswith('ies'):
        if word[:-1] in _IE_SINGULARS or len(word) == 4:
            return word[:-1]
        return word[:-3] + 'y'
    if word.endswith(('sses', 'xes', 'ches', 'shes', 'zzes')) or (
        word.endswith('uses') and not word.endswith('ouses')
    ):
        return word[:-2]
    if word.endswith('s'):
        return word[:-1]
    return word


def normalize_label(label: str) -> str:
    """Return the comparison key of a label: equal keys mean the same label.

    Case-folded; '-' and '_' read as spaces; runs of whitespace collapsed to one space, ends
    stripped; the last word (the head noun in English) made :func:`singular`. So
    'Traffic_Lights ' -> 'traffic light', 'People' -> 'person', 'buses' -> 'bus'.
    """
    words = label.casefold().replace('-', ' ').replace('_', ' ').split()
    if words:
        words[-1] = singular(words[-1])
    return ' '.join(words)


@dataclass(frozen=True)
class LabelSet:
    """The labels a detector is prompted with.

    id_labels: the in-distribution classes, non-empty, in class-index order.
    negative_labels: labels that mark a detection as out-of-distribution (may be empty).
    prompt_template: how a label becomes a prompt; exactly one '{}' replacement field.

    Construction cleans every label (ends stripped, inner whitespace collapsed) and checks the
    rules of :func:`make_label_set`, raising :class:`LabelError` naming ``<inline>``; a list
    of strings is accepted too and stored as a tuple.
    """

    id_labels: tuple[str, ...]
    negative_labels: tuple[str, ...]
    prompt_template: str = '{}'

    def __post_init__(self) -> None:
        id_labels, negative_labels, template = _check(
            self.id_labels, self.negative_labels, self.prompt_template, _INLINE
        )
        # Frozen dataclass: the cleaned values replace the given ones before anyone sees them.
        object.__setattr__(self, 'id_labels', id_labels)
        object.__setattr__(self, 'negative_labels', negative_labels)
        object.__setattr__(self, 'prompt_template', template)

    def id_prompts(self) -> tuple[str, ...]:
        """The ID labels put into :attr:`prompt_template`, in label order."""
        return tuple(self.prompt_template.format(label) for label in self.id_labels)

    def negative_prompts(self) -> tuple[str, ...]:
        """The negative labels put into :attr:`prompt_template`, in label order."""
        return tuple(self.prompt_template.format(label) for label in self.negative_labels)


def make_label_set(
    id_labels: Sequence[str],
    negative_labels: Sequence[str] = (),
    prompt_template: str | None = None,
    *,
    source: str = _INLINE,
) -> LabelSet:
    """Check and clean labels and return a :class:`LabelSet`.

    Rules, each broken one raising :class:`LabelError` whose message starts with ``source``
    and names the key (``id_labels``, ``negative_labels``, ``prompt_template``) and the index:

    - ``id_labels`` is a non-empty sequence (list or tuple); ``negative_labels`` a sequence,
      possibly empty; a bare string, a mapping or an unordered set is rejected (label order
      is class order);
    - every entry is a string that is non-empty after stripping (numbers, booleans and null
      are rejected: quote them in YAML);
    - no two entries of one list are the same label under :func:`normalize_label`;
    - no negative label is the same label as an ID label (the message names both);
    - ``prompt_template`` (None means '{}') is a string with exactly one '{}' field and no
      other replacement field ('{{' and '}}' are literal braces).

    Labels are stored stripped, with inner whitespace runs collapsed to one space.
    """
    template = '{}' if prompt_template is None else prompt_template
    ids, negs, template = _check(id_labels, negative_labels, template, source)
    return LabelSet(ids, negs, template)


def load_labels(path: str | os.PathLike[str]) -> LabelSet:
    """Read a label file (YAML, UTF-8; format in the module docstring) into a :class:`LabelSet`.

    Raises :class:`LabelError` naming the file when it is missing or unreadable, is not valid
    YAML (with the line), is empty or not a mapping, repeats a key, has a top-level key not in
    :data:`ALLOWED_KEYS`, lacks ``id_labels`` or breaks a rule of :func:`make_label_set`.
    ``negative_labels: null`` (the key with no value) means no negative labels;
    ``prompt_template: null`` means '{}'.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding='utf-8') as stream:
            # _UniqueKeyLoader is a SafeLoader: plain YAML types only, no Python objects.
            data: object = yaml.load(stream, Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise LabelError(f'{source}: label file not found; check the path') from None
    except (OSError, UnicodeDecodeError) as error:
        raise LabelError(f'{source}: cannot read label file: {error}') from None
    except yaml.YAMLError as error:
        raise LabelError(f'{source}: not valid YAML: {error}') from None
    if data is None:
        raise LabelError(f'{source}: label file is empty; it needs at least an id_labels list')
    if not isinstance(data, Mapping):
        raise LabelError(
            f'{source}: top level must be a mapping with keys {", ".join(ALLOWED_KEYS)}, '
            f'got {_describe(data)}'
        )
    unknown = [key for key in data if key not in ALLOWED_KEYS]
    if unknown:
        raise LabelError(
            f'{source}: unknown top-level key(s) {", ".join(repr(k) for k in unknown)}; '
            f'allowed keys: {", ".join(ALLOWED_KEYS)}'
        )
    if 'id_labels' not in data:
        raise LabelError(f'{source}: missing key id_labels; add a non-empty list of ID labels')
    negatives = data.get('negative_labels')
    template = data.get('prompt_template')
    ids, negs, checked_template = _check(
        data['id_labels'],
        () if negatives is None else negatives,
        '{}' if template is None else template,
        source,
    )
    return LabelSet(ids, negs, checked_template)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a repeated key in a mapping instead of keeping the last one."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable key: SafeLoader reports it itself below
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                'while constructing a mapping',
                node.start_mark,
                f'found duplicate key {key!r}',
                key_node.start_mark,
            )
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _check(
    id_labels: object, negative_labels: object, prompt_template: object, source: str
) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    ids = _label_list(id_labels, 'id_labels', source)
    if not ids:
        raise LabelError(f'{source}: id_labels is empty; list at least one in-distribution label')
    negs = _label_list(negative_labels, 'negative_labels', source)
    id_index = _unique_keys(ids, 'id_labels', source)
    neg_index = _unique_keys(negs, 'negative_labels', source)
    for key, neg_i in neg_index.items():
        if key in id_index:
            id_i = id_index[key]
            raise LabelError(
                f'{source}: negative_labels[{neg_i}] ({negs[neg_i]!r}) is the same label as '
                f'id_labels[{id_i}] ({ids[id_i]!r}) (case- and plural-insensitive); remove it '
                'from negative_labels, or it would suppress that ID class'
            )
    return ids, negs, _check_template(prompt_template, source)


def _label_list(value: object, key: str, source: str) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise LabelError(
            f'{source}: {key} must be a list of strings, got {_describe(value)}; '
            f'write it as a YAML list, e.g. {key}: [car, truck]'
        )
    labels = []
    for index, entry in enumerate(value):
        if not isinstance(entry, str):
            raise LabelError(
                f'{source}: {key}[{index}] must be a non-empty string, got {_describe(entry)}; '
                'quote it in YAML if it is meant as text, or remove it'
            )
        cleaned = ' '.join(entry.split())
        if not cleaned:
            raise LabelError(
                f'{source}: {key}[{index}] is empty or blank; remove it or give it a label'
            )
        labels.append(cleaned)
    return tuple(labels)


def _unique_keys(labels: tuple[str, ...], key: str, source: str) -> dict[str, int]:
    """Map each label's comparison key to its index, rejecting repeats."""
    index_of: dict[str, int] = {}
    for index, label in enumerate(labels):
        norm = normalize_label(label)
        if norm in index_of:
            first = index_of[norm]
            raise LabelError(
                f'{source}: {key}[{index}] ({label!r}) repeats {key}[{first}] '
                f'({labels[first]!r}) (case-, whitespace- and plural-insensitive); '
                'remove one of them'
            )
        index_of[norm] = index
    return index_of


def _check_template(template: object, source: str) -> str:
    if not isinstance(template, str):
        raise LabelError(
            f"{source}: prompt_template must be a string with one '{{}}', "
            f"got {_describe(template)}; e.g. prompt_template: 'a photo of a {{}}.'"
        )
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        raise LabelError(
            f'{source}: prompt_template {template!r} has unbalanced braces ({error}); '
            "use exactly one '{}' and write literal braces as '{{' and '}}'"
        ) from None
    if fields != [('', '', None)]:
        raise LabelError(
            f"{source}: prompt_template {template!r} must contain exactly one '{{}}' and no "
            "other replacement field; e.g. 'a photo of a {}.'"
        )
    return template


def _describe(value: object) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return f'boolean {value}'
    if isinstance(value, (int, float)):
        return f'number {value!r}'
    if isinstance(value, str):
        return f'string {value!r}'
    return type(value).__name__
