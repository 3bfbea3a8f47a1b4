"""What the OOD benchmark runs: network settings, negative sets, table rows, ablations (pure).

A *network setting* is one (NegA rule, negative list) pair: the network runs once per image
and setting, and every score method of every row that uses the setting is computed from those
logits. Settings are deduplicated by what the network computes, so an ablation that coincides
with the card's rule (say ``gate`` 0.5 when the card's rule is ``gate`` 0.5) costs nothing
extra.

A *negative set* (:class:`NegativeSet`) is a named list of negative labels: ``shipped`` (the
main label file's ``negative_labels``, what the ``negs`` and ``negas`` rows read), any number
of extra lists (other label files for the same ID labels, e.g.
config/labels/ablation/world_llm_style.yaml) and ``random`` (random WordNet object nouns: the
detector's sentence encoder embeds any English phrase). Sets may share words.

Why one NegA-off setting serves many rows: with the rule ``off`` the negatives never enter the
neck, so the boxes, ID logits and NMS are bit for bit those of the ID labels alone, and a
negative's logit is read out by the head for the kept boxes only (a run with fewer negatives
gives the same logits up to float rounding of one matrix product). So the ``off`` setting is
run once with the union of every negative set (each word once), and every NegA-off row
(baseline scores, NegS with any set or none) selects its columns by word. Each set's NegA-on
row needs its own run: there the negatives shape the features.

A :class:`SplitSet` names the world splits a plan runs on: :data:`TEST_SPLITS` (id_test,
ood_near, ..., mixed_test; the default, what docs/results.md reports) or :data:`VAL_SPLITS`
(their validation twins id_val, ood_val_near, ..., mixed_val, drawn like them but disjoint).
Every tuning choice (negative list, NegA rule and weight, score form, thresholds) is made on
the validation set (:mod:`negas_ros.benchmark.select`); the test set is for reporting only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
import math
import re
from types import MappingProxyType

from negas_ros.backends.yolo_world.config import NEGA_FUSIONS
from negas_ros.labels import normalize_label
from negas_ros.world.splits import SPLITS as WORLD_SPLITS

__all__ = [
    'ATTENTION_GRID_RULES',
    'ATTENTION_SPLITS',
    'DEFAULT_FUSION_GRID',
    'ID_SPLIT',
    'MAIN_METHODS',
    'OOD_SET_NAMES',
    'OOD_SPLITS',
    'RESERVED_SET_KEYS',
    'SCORE_FORMS',
    'SPLIT_SETS',
    'TEST_SPLITS',
    'VAL_SPLITS',
    'WEIGHTED_FUSIONS',
    'BenchmarkPlan',
    'NegativeSet',
    'NetworkSetting',
    'RowSpec',
    'SplitSet',
    'build_plan',
    'check_set_key',
    'fusion_name',
    'parse_fusion_grid',
]

OOD_SET_NAMES: tuple[str, ...] = ('near', 'far', 'near_unseen', 'far_unseen')
"""Report names of the OOD sets (results.json keys), known categories first."""


@dataclass(frozen=True)
class SplitSet:
    """Which world splits the benchmark runs on: the test splits or their validation twins.

    name: 'test' or 'val' (the CLI's ``--splits``). id: the ID split (mAP, tau*, the 95%-TPR
    point). ood: report name (:data:`OOD_SET_NAMES`, in that order) -> world split.
    attention: splits where attention maps are captured and compared with the OOD masks.
    The same protocol on :data:`VAL_SPLITS` is where every tuning choice is made;
    :data:`TEST_SPLITS` (the default everywhere) is for reporting only.
    """

    name: str
    id: str
    ood: Mapping[str, str] = field(hash=False)
    attention: tuple[str, ...]

    def __post_init__(self) -> None:
        ood = dict(self.ood)
        if tuple(ood) != OOD_SET_NAMES:
            raise ValueError(f'split set {self.name!r}: OOD sets must be {OOD_SET_NAMES} in '
                             f'that order, got {tuple(ood)}')
        named = [self.id, *ood.values()]
        if len(set(named)) != len(named):
            raise ValueError(f'split set {self.name!r} repeats a split: {named}')
        if not self.attention:
            raise ValueError(f'split set {self.name!r} has no attention split')
        unknown = [s for s in (*named, *self.attention) if s not in WORLD_SPLITS]
        if unknown:
            raise ValueError(f'split set {self.name!r}: not world splits: {unknown}')
        object.__setattr__(self, 'ood', MappingProxyType(ood))
        object.__setattr__(self, 'attention', tuple(self.attention))

    @property
    def evaluated(self) -> tuple[str, ...]:
        """The ID split and the OOD splits, in report order (the main rows run on them)."""
        return (self.id, *self.ood.values())

    @property
    def every(self) -> tuple[str, ...]:
        """Every split the set names, each once: :attr:`evaluated`, then attention-only ones."""
        return tuple(dict.fromkeys((*self.evaluated, *self.attention)))

    def split(self, set_name: str) -> str:
        """The world split of a report set: 'id' or a key of :attr:`ood`."""
        return self.id if set_name == 'id' else self.ood[set_name]


TEST_SPLITS = SplitSet(
    'test', 'id_test',
    {'near': 'ood_near', 'far': 'ood_far',
     'near_unseen': 'ood_near_unseen', 'far_unseen': 'ood_far_unseen'},
    ('ood_near', 'mixed_test'))
"""The test splits: what docs/results.md reports (the default of every entry point)."""
VAL_SPLITS = SplitSet(
    'val', 'id_val',
    {'near': 'ood_val_near', 'far': 'ood_val_far',
     'near_unseen': 'ood_val_near_unseen', 'far_unseen': 'ood_val_far_unseen'},
    ('ood_val_near', 'mixed_val'))
"""Their validation twins (:data:`negas_ros.world.VALIDATION_TWINS`): where choices are tuned."""
SPLIT_SETS: Mapping[str, SplitSet] = MappingProxyType(
    {s.name: s for s in (TEST_SPLITS, VAL_SPLITS)})
"""``--splits`` name -> :class:`SplitSet`."""

# The test split set under its former names (kept for code that imports them).
ID_SPLIT = TEST_SPLITS.id
OOD_SPLITS: Mapping[str, str] = TEST_SPLITS.ood
"""Report name of each OOD set -> world split (test splits)."""
ATTENTION_SPLITS: tuple[str, ...] = TEST_SPLITS.attention
"""Where attention maps are captured and compared with the OOD object masks."""

WEIGHTED_FUSIONS: tuple[str, ...] = ('weighted', 'gate')
"""NegA rules that read the weight w (``nega_weight``); the others ignore it."""
DEFAULT_FUSION_GRID: tuple[tuple[str, float], ...] = (
    ('max', 0.0), ('weighted', 0.25), ('weighted', 0.5), ('weighted', 1.0),
    ('gate', 0.25), ('gate', 0.5), ('gate', 1.0), ('branch', 0.0), ('branch_union', 0.0),
    ('branch_contrast', 0.0))
"""The NegA rules of the 'fusion' ablation, (rule, w), besides 'off' (always there)."""
ATTENTION_GRID_RULES: tuple[str, ...] = ('max', 'branch', 'branch_contrast')
"""Grid rules whose attention is also captured (when they differ from the card's rule)."""
RESERVED_SET_KEYS: tuple[str, ...] = ('shipped', 'random', 'none', 'off')
"""Keys an extra negative set may not take (the plan's own sets and settings use them)."""
SCORE_FORMS: tuple[str, ...] = (
    'negs', 'negs_ratio', 'negs_diff', 'negs_margin', 'negs_softmax', 'neglabel')
"""Score methods of the 'score_forms' ablation (shipped negatives, NegA off and on)."""
MAIN_METHODS: tuple[tuple[str, str, str, bool], ...] = (
    # (row key, title, score method, reads the shipped negatives)
    ('max_sigmoid', 'max-sigmoid (baseline)', 'max_sigmoid', False),
    ('energy', 'Energy', 'energy', False),
    ('joint_energy', 'JointEnergy', 'joint_energy', False),
    ('neglabel', 'NegLabel score', 'neglabel', True),
    ('negs', 'NegS alone (NegA off)', 'negs', True),
)
_SET_KEY = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*')


def parse_fusion_grid(text: str) -> tuple[tuple[str, float], ...]:
    """``--fusion-grid``: 'RULE[:W],...' (e.g. 'max,gate:0.5,branch'), or 'none' for an empty
    grid (the fusion ablation then holds 'off' alone). W defaults to 0.5 for 'weighted' and
    'gate', 0 otherwise."""
    text = text.strip()
    if text == 'none':
        return ()
    grid = []
    nega_on = tuple(f for f in NEGA_FUSIONS if f != 'off')
    for item in (part.strip() for part in text.split(',')):
        rule, sep, weight = item.partition(':')
        if rule not in nega_on:
            raise ValueError(f'fusion grid: {rule!r} is not one of {nega_on}')
        try:
            w = float(weight) if sep else (0.5 if rule in WEIGHTED_FUSIONS else 0.0)
        except ValueError:
            raise ValueError(f'fusion grid: bad weight in {item!r}') from None
        grid.append((rule, w))
    return tuple(grid)


def check_set_key(key: str) -> str:
    """``key`` if it can name an extra negative set (letters, digits, '_', '.', '-'; not
    starting with a symbol; not one of :data:`RESERVED_SET_KEYS`), else ValueError."""
    if not _SET_KEY.fullmatch(key):
        raise ValueError(f'negative set key {key!r}: use letters, digits, "_", "." and "-" '
                         '(starting with a letter or digit)')
    if key in RESERVED_SET_KEYS:
        raise ValueError(f'negative set key {key!r} is reserved ({", ".join(RESERVED_SET_KEYS)})')
    return key


def _clean(word: str) -> str:
    return ' '.join(str(word).split())


@dataclass(frozen=True)
class NegativeSet:
    """A named list of negative labels.

    key: its name in row keys (``<key>/nega_off``) and results.json; title: its name in the
    tables; words: the labels, in list order (ends stripped, inner whitespace collapsed;
    distinct under :func:`negas_ros.labels.normalize_label`); source: where it came from (a
    label file and its provenance method, or how the words were drawn).
    """

    key: str
    title: str
    words: tuple[str, ...]
    source: str = ''

    def __post_init__(self) -> None:
        if not _SET_KEY.fullmatch(self.key):
            raise ValueError(f'negative set key {self.key!r}: use letters, digits, "_", "." '
                             'and "-" (starting with a letter or digit)')
        words = tuple(_clean(w) for w in self.words)
        if any(not w for w in words):
            raise ValueError(f'negative set {self.key!r} has an empty label')
        keys = [normalize_label(w) for w in words]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f'negative set {self.key!r} repeats labels: {repeated}')
        object.__setattr__(self, 'words', words)
        object.__setattr__(self, 'title', self.title or self.key)


@dataclass(frozen=True)
class NetworkSetting:
    """One way of running the network over the benchmark images.

    key: its name in reports ('nega_off', 'nega', 'nega_random', 'weighted_0.25', ...).
    fusion: a NegA rule of :data:`~negas_ros.backends.yolo_world.config.NEGA_FUSIONS`;
    weight: w of 'weighted' and 'gate' (0 for the others, which ignore it).
    negatives: the negative labels given to the detector, in column order.
    splits: the world splits it runs on; attention: splits where attention is captured.
    """

    key: str
    fusion: str
    weight: float
    negatives: tuple[str, ...]
    splits: tuple[str, ...]
    attention: tuple[str, ...] = ()

    @property
    def signature(self) -> tuple[str, float, tuple[str, ...]]:
        """What the network computes: equal signatures give equal outputs."""
        weight = self.weight if self.fusion in WEIGHTED_FUSIONS else 0.0
        return (self.fusion, weight, self.negatives)

    def describe(self) -> str:
        """'off', 'max', 'weighted w=0.25', 'gate w=0.5', 'branch', 'branch_union'."""
        if self.fusion in WEIGHTED_FUSIONS:
            return f'{self.fusion} w={self.weight:g}'
        return self.fusion


def fusion_name(fusion: str, weight: float) -> str:
    """The fusion ablation's name of a rule: 'max', 'weighted_0.25', 'gate_1', 'branch'."""
    return f'{fusion}_{weight:g}' if fusion in WEIGHTED_FUSIONS else fusion


@dataclass(frozen=True)
class RowSpec:
    """One row of a table: a score method on a setting's logits, with some of its negatives.

    key: the row's key in results.json. title: its name in the tables. setting: the key of
    the :class:`NetworkSetting`. method: a name of :data:`negas_ros.scores.SCORE_METHODS`.
    negatives: the negative labels whose logits the score sees (a subset of the setting's,
    looked up by word). A row is evaluated on its setting's splits.
    """

    key: str
    title: str
    setting: str
    method: str
    negatives: tuple[str, ...]


@dataclass(frozen=True)
class BenchmarkPlan:
    """Settings to run and rows to report.

    id_labels: the ID labels (class order); shipped: the main label file's negatives (what
    ``negs`` and ``negas`` read); random: the random-word control (may be empty); fusion,
    weight: the card's NegA rule, used by the ``negas`` row and every set's NegA-on row.
    negative_sets: every negative set in table order: shipped, the extra sets, random (when
    not empty). settings: canonical settings by key, in run order. rows: the main table.
    ablations: ablation name ('negatives', 'fusion', 'score_forms') -> rows.
    attention_settings: (title, setting key) pairs compared in the attention ablation.
    splits: the world splits the settings run on.
    """

    id_labels: tuple[str, ...]
    shipped: tuple[str, ...]
    random: tuple[str, ...]
    fusion: str
    weight: float
    negative_sets: tuple[NegativeSet, ...] = ()
    settings: dict[str, NetworkSetting] = field(default_factory=dict)
    rows: tuple[RowSpec, ...] = ()
    ablations: dict[str, tuple[RowSpec, ...]] = field(default_factory=dict)
    attention_settings: tuple[tuple[str, str], ...] = ()
    splits: SplitSet = TEST_SPLITS

    @property
    def extra_sets(self) -> tuple[NegativeSet, ...]:
        """The negative sets other than shipped and random, in table order."""
        return tuple(s for s in self.negative_sets if s.key not in ('shipped', 'random'))

    def all_rows(self) -> list[RowSpec]:
        return [*self.rows, *(row for rows in self.ablations.values() for row in rows)]

    def restricted(self, setting_keys: Iterable[str]) -> BenchmarkPlan:
        """The plan with only the given settings, the rows that use them, no attention."""
        keep = set(setting_keys)
        return BenchmarkPlan(
            self.id_labels, self.shipped, self.random, self.fusion, self.weight,
            self.negative_sets, {k: v for k, v in self.settings.items() if k in keep},
            tuple(r for r in self.rows if r.setting in keep),
            {name: tuple(r for r in rows if r.setting in keep)
             for name, rows in self.ablations.items()},
            (), self.splits)


def _as_set(value: Sequence[str] | NegativeSet, key: str, title: str) -> NegativeSet:
    if isinstance(value, NegativeSet):
        if value.key != key:
            raise ValueError(f'the {key} negative set must have key {key!r}, got {value.key!r}')
        return value
    return NegativeSet(key, title, tuple(value))


def _check_weight(weight: float, what: str) -> float:
    if not (math.isfinite(weight) and 0.0 <= weight <= 1.0):
        raise ValueError(f'{what}: the NegA weight must lie in [0, 1], got {weight}')
    return float(weight)


def build_plan(id_labels: Sequence[str], shipped: Sequence[str] | NegativeSet,
               random: Sequence[str] | NegativeSet, fusion: str = 'max', weight: float = 0.5,
               *, extra_sets: Sequence[NegativeSet] = (),
               fusion_grid: Sequence[tuple[str, float]] = DEFAULT_FUSION_GRID,
               splits: SplitSet = TEST_SPLITS, extra_nega_on: bool = True,
               negs_method: str = 'negs', set_score_forms: bool = False) -> BenchmarkPlan:
    """The full benchmark plan.

    id_labels: K >= 1 labels. shipped: the main label file's negatives (M >= 1; a
    :class:`NegativeSet` keyed 'shipped' or the words). random: the random-word control (a set
    keyed 'random' or the words; may be empty: its rows are then left out). fusion / weight:
    the card's NegA rule (any of NEGA_FUSIONS but 'off'; w in [0, 1], read by 'weighted' and
    'gate'). extra_sets: further negative sets (distinct keys, not in
    :data:`RESERVED_SET_KEYS`, at least one word each). Sets may share words: the NegA-off
    setting gets their union, each spelling once, so that every row reads the embeddings of its
    own words; no set may name an ID label (compared with
    :func:`~negas_ros.labels.normalize_label`).
    fusion_grid: (rule, w) pairs of the fusion ablation besides 'off' (distinct names, see
    :func:`fusion_name`). splits: the world splits (:data:`TEST_SPLITS` or :data:`VAL_SPLITS`).
    extra_nega_on: give every extra set a NegA-on row (its own network setting); False keeps
    their NegA-off rows only, which cost no network run (choosing among many candidate lists).
    negs_method: the NegS form (one of :data:`SCORE_FORMS`) of the ``negs`` and ``negas`` rows,
    the negative-set rows and the fusion rows' NegS column (row keys stay the same; the
    validation run chooses the form). set_score_forms: add the 'set_forms' ablation, every
    negative set (but 'random') under every score form with NegA off (no network run), for
    choosing the list and the form together.
    """
    if not id_labels:
        raise ValueError('at least one ID label is needed')
    shipped_set = _as_set(shipped, 'shipped', 'shipped')
    random_set = _as_set(random, 'random', 'random words')
    if not shipped_set.words:
        raise ValueError('the benchmark needs the NegAS negatives (negative_labels is empty)')
    nega_on = tuple(f for f in NEGA_FUSIONS if f != 'off')
    if fusion not in nega_on:
        raise ValueError(f'the negas row needs NegA on (one of {nega_on}), got {fusion!r}')
    card_weight = _check_weight(weight, f'the card rule {fusion!r}')
    extras = tuple(extra_sets)
    for extra in extras:
        check_set_key(extra.key)
        if not extra.words:
            raise ValueError(f'negative set {extra.key!r} has no words')
    keys = [s.key for s in extras]
    repeated_keys = sorted({k for k in keys if keys.count(k) > 1})
    if repeated_keys:
        raise ValueError(f'negative set keys repeat: {repeated_keys}')
    sets = (shipped_set, *extras, *((random_set,) if random_set.words else ()))
    id_keys = {normalize_label(w) for w in id_labels}
    for nset in sets:
        repeated = sorted({w for w in nset.words if normalize_label(w) in id_keys})
        if repeated:
            raise ValueError(f'negative set {nset.key!r} repeats an ID label: {repeated}')
    grid: list[tuple[str, str, float]] = []
    for rule, w in fusion_grid:
        if rule not in nega_on:
            raise ValueError(f'fusion grid: {rule!r} is not a NegA-on rule {nega_on} ("off" is '
                             'always part of the ablation)')
        w = _check_weight(w, f'fusion grid {rule!r}')
        name = fusion_name(rule, w)
        if name in {g[0] for g in grid}:
            raise ValueError(f'fusion grid repeats {name!r}')
        grid.append((name, rule, w if rule in WEIGHTED_FUSIONS else 0.0))

    settings: dict[str, NetworkSetting] = {}
    by_signature: dict[tuple[str, float, tuple[str, ...]], str] = {}

    def add(setting: NetworkSetting) -> str:
        """Register a setting; an equal one already registered absorbs its splits."""
        canonical = by_signature.get(setting.signature)
        if canonical is None:
            settings[setting.key] = setting
            by_signature[setting.signature] = setting.key
            return setting.key
        old = settings[canonical]
        settings[canonical] = NetworkSetting(
            old.key, old.fusion, old.weight, old.negatives,
            tuple(dict.fromkeys(old.splits + setting.splits)),
            tuple(dict.fromkeys(old.attention + setting.attention)))
        return canonical

    every, attention, evaluated = splits.every, splits.attention, splits.evaluated
    shipped_t = shipped_set.words
    card_w = card_weight if fusion in WEIGHTED_FUSIONS else 0.0
    union = tuple(dict.fromkeys(w for nset in sets for w in nset.words))
    off = add(NetworkSetting('nega_off', 'off', 0.0, union, every, attention))
    on = add(NetworkSetting('nega', fusion, card_w, shipped_t, every, attention))
    on_keys = {'shipped': on}
    for extra in extras if extra_nega_on else ():
        on_keys[extra.key] = add(NetworkSetting(f'nega_{extra.key}', fusion, card_w,
                                                extra.words, evaluated))
    if random_set.words:
        on_keys['random'] = add(NetworkSetting('nega_random', fusion, card_w, random_set.words,
                                               every, attention))

    if negs_method not in SCORE_FORMS:
        raise ValueError(f'negs_method must be one of {SCORE_FORMS}, got {negs_method!r}')
    form = '' if negs_method == 'negs' else f' [{negs_method}]'
    rows = [RowSpec(key, title + (form if key == 'negs' else ''), off,
                    negs_method if key == 'negs' else method, shipped_t if uses else ())
            for key, title, method, uses in MAIN_METHODS]
    rows.append(RowSpec('negas', f'NegA ({settings[on].describe()}) + NegS (NegAS){form}', on,
                        negs_method, shipped_t))

    ablations: dict[str, tuple[RowSpec, ...]] = {}
    negative_rows = []
    for nset in sets:
        negative_rows.append(RowSpec(f'{nset.key}/nega_off', f'{nset.title}, NegA off', off,
                                     negs_method, nset.words))
        if nset.key in on_keys:
            negative_rows.append(RowSpec(f'{nset.key}/nega_on', f'{nset.title}, NegA on',
                                         on_keys[nset.key], negs_method, nset.words))
    # Without negatives NegA has nothing to add: 'none, NegA on' is the NegA-off network.
    negative_rows.append(RowSpec('none/nega_off', 'none, NegA off', off, negs_method, ()))
    negative_rows.append(RowSpec('none/nega_on', 'none, NegA on (= off)', off, negs_method,
                                 ()))
    ablations['negatives'] = tuple(negative_rows)

    fusion_keys = [('off', off)]
    for name, rule, w in grid:
        captured = rule in ATTENTION_GRID_RULES
        fusion_keys.append((name, add(NetworkSetting(
            name, rule, w, shipped_t, every if captured else evaluated,
            attention if captured else ()))))
    fusion_rows = []
    for name, key in fusion_keys:
        title = settings[key].describe()
        fusion_rows.append(RowSpec(f'{name}/negs', f'{title}, NegS{form}', key, negs_method,
                                   shipped_t))
        fusion_rows.append(RowSpec(f'{name}/max_sigmoid', f'{title}, max-sigmoid', key,
                                   'max_sigmoid', ()))
    ablations['fusion'] = tuple(fusion_rows)

    form_rows = []
    for method in SCORE_FORMS:
        form_rows.append(RowSpec(f'{method}/nega_off', f'{method}, NegA off', off, method,
                                 shipped_t))
        form_rows.append(RowSpec(f'{method}/nega_on', f'{method}, NegA on', on, method,
                                 shipped_t))
    ablations['score_forms'] = tuple(form_rows)
    if set_score_forms:
        ablations['set_forms'] = tuple(
            RowSpec(f'{nset.key}/{method}', f'{nset.title}, {method}', off, method, nset.words)
            for nset in sets if nset.key != 'random' for method in SCORE_FORMS)

    attention_settings = [('NegA off (baseline)', off), (f'NegA {settings[on].describe()}', on)]
    if 'random' in on_keys:
        attention_settings.append(
            (f"NegA {settings[on_keys['random']].describe()}, random words", on_keys['random']))
    for _name, key in fusion_keys[1:]:
        rule = settings[key].fusion
        if rule in ATTENTION_GRID_RULES and key not in {k for _t, k in attention_settings}:
            attention_settings.append((f'NegA {settings[key].describe()}', key))
    return BenchmarkPlan(tuple(id_labels), shipped_t, random_set.words, fusion, card_weight,
                         sets, settings, tuple(rows), ablations, tuple(attention_settings),
                         splits)
