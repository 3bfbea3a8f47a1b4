"""What the OOD benchmark runs: network settings, table rows and ablations (pure data).

A *network setting* is one (NegA fusion, negative prompt set) pair: the network runs once per
image and setting, and every score method of every row that uses the setting is computed from
those logits. Settings are deduplicated by what the network computes, so an ablation that
coincides with the default (say ``weighted`` 0.5 when the card's fusion is ``weighted`` 0.5)
costs nothing extra.

Why one NegA-off setting serves many rows: with fusion ``off`` the negatives never enter the
neck, so the boxes, ID logits and NMS are bit for bit those of the ID labels alone, and a
negative's logit is read out by the head for the kept boxes only (a run with fewer negatives
gives the same logits up to float rounding of one matrix product). So the ``off`` setting is
run once with every negative set (similar, dissimilar, random), and every NegA-off row
(baseline scores, NegS with any set, none or the first n negatives) selects its columns.

A :class:`SplitSet` names the world splits a plan runs on: :data:`TEST_SPLITS` (id_test,
ood_near, ..., mixed_test; the default, what docs/results.md reports) or :data:`VAL_SPLITS`
(their validation twins id_val, ood_val_near, ..., mixed_val, drawn like them but disjoint).
Every tuning choice (negative list, NegA rule and weight, score form, thresholds) is made on
the validation set; the test set is for reporting only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
import math
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from negas_ros.labels import normalize_label
from negas_ros.world.splits import SPLITS as WORLD_SPLITS

__all__ = [
    'ABLATION_SPLITS',
    'ATTENTION_SPLITS',
    'FUSION_WEIGHTS',
    'ID_SPLIT',
    'MAIN_METHODS',
    'NEGATIVE_COUNTS',
    'OOD_SET_NAMES',
    'OOD_SPLITS',
    'SPLIT_SETS',
    'TEST_SPLITS',
    'VAL_SPLITS',
    'BenchmarkPlan',
    'NetworkSetting',
    'RowSpec',
    'SplitSet',
    'build_plan',
    'leftover_words',
    'random_word_vectors',
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
    def ablation(self) -> tuple[str, ...]:
        """Where the count and fusion ablations run: the ID split, known near and far OOD."""
        return (self.id, self.ood['near'], self.ood['far'])

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
ABLATION_SPLITS: tuple[str, ...] = TEST_SPLITS.ablation
"""Where the count and fusion ablations run (the main rows run on every split)."""
ATTENTION_SPLITS: tuple[str, ...] = TEST_SPLITS.attention
"""Where attention maps are captured and compared with the OOD object masks."""
NEGATIVE_COUNTS: tuple[int, ...] = (1, 2, 4)
FUSION_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 1.0)
MAIN_METHODS: tuple[tuple[str, str, str, bool], ...] = (
    # (row key, title, score method, uses the similar negatives)
    ('max_sigmoid', 'max-sigmoid (baseline)', 'max_sigmoid', False),
    ('energy', 'Energy', 'energy', False),
    ('joint_energy', 'JointEnergy', 'joint_energy', False),
    ('neglabel', 'NegLabel score', 'neglabel', True),
    ('negs', 'NegS alone (NegA off)', 'negs', True),
)


@dataclass(frozen=True)
class NetworkSetting:
    """One way of running the network over the benchmark images.

    key: its name in reports ('nega_off', 'nega', 'weighted_0.25', ...).
    fusion: 'off', 'max' or 'weighted'; weight: w of 'weighted' (0 otherwise).
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
        return (self.fusion, self.weight if self.fusion == 'weighted' else 0.0, self.negatives)

    def describe(self) -> str:
        if self.fusion == 'weighted':
            return f'weighted w={self.weight:g}'
        return self.fusion


@dataclass(frozen=True)
class RowSpec:
    """One row of a table: a score method on a setting's logits, with some of its negatives.

    key: the row's key in results.json. title: its name in the tables. setting: the key of
    the :class:`NetworkSetting`. method: a name of :data:`negas_ros.scores.SCORE_METHODS`.
    negatives: the negative labels whose logits the score sees (a subset of the setting's).
    A row is evaluated on its setting's splits.
    """

    key: str
    title: str
    setting: str
    method: str
    negatives: tuple[str, ...]


@dataclass(frozen=True)
class BenchmarkPlan:
    """Settings to run and rows to report.

    id_labels: the ID labels (class order); similar: the NegAS negatives (label file order);
    random: the random-word control; fusion, weight: the card's NegA rule, used by the
    ``negas`` row; dissimilar: vocabulary words left out by the NegAS choice (may be empty).
    Each negative set's labels are distinct from the other sets' and from the ID labels.
    settings: canonical settings by key, in run order. rows: the main table.
    ablations: ablation name -> rows. attention_settings: (name, setting key) pairs compared
    in the attention-overlap ablation. splits: the world splits the settings run on.
    """

    id_labels: tuple[str, ...]
    similar: tuple[str, ...]
    random: tuple[str, ...]
    fusion: str
    weight: float
    dissimilar: tuple[str, ...] = ()
    settings: dict[str, NetworkSetting] = field(default_factory=dict)
    rows: tuple[RowSpec, ...] = ()
    ablations: dict[str, tuple[RowSpec, ...]] = field(default_factory=dict)
    attention_settings: tuple[tuple[str, str], ...] = ()
    splits: SplitSet = TEST_SPLITS

    def all_rows(self) -> list[RowSpec]:
        return [*self.rows, *(row for rows in self.ablations.values() for row in rows)]

    def restricted(self, setting_keys: Iterable[str]) -> BenchmarkPlan:
        """The plan with only the given settings, the rows that use them, no attention."""
        keep = set(setting_keys)
        return BenchmarkPlan(
            self.id_labels, self.similar, self.random, self.fusion, self.weight,
            self.dissimilar, {k: v for k, v in self.settings.items() if k in keep},
            tuple(r for r in self.rows if r.setting in keep),
            {name: tuple(r for r in rows if r.setting in keep)
             for name, rows in self.ablations.items()},
            (), self.splits)


def leftover_words(pool: Sequence[str], exclude: Iterable[str]) -> tuple[str, ...]:
    """The words of ``pool`` not in ``exclude``, in pool order, each once.

    Labels compare as :func:`negas_ros.labels.normalize_label` does (case, spacing, plural).
    With the ID labels and the NegAS negatives excluded, what is left of a vocabulary is the
    words the NegAS rule judged least similar: the 'dissimilar' control.
    """
    banned = {normalize_label(word) for word in exclude}
    out: dict[str, str] = {}
    for word in pool:
        key = normalize_label(word)
        if word.strip() and key not in banned and key not in out:
            out[key] = word.strip()
    return tuple(out.values())


def random_word_vectors(count: int, dim: int, seed: int) -> npt.NDArray[np.float32]:
    """(count, dim) unit vectors with independent N(0, 1) entries before normalising.

    The embedding a learned-table text encoder gives a word it never trained on (its rows
    start as such Gaussian draws): the 'random words' control, drawn with ``seed``.
    """
    if count < 0 or dim < 1:
        raise ValueError(f'need count >= 0 and dim >= 1, got {count}, {dim}')
    x = np.random.default_rng(seed).standard_normal((count, dim))
    out: npt.NDArray[np.float32] = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(
        np.float32)
    return out


def _weight_key(weight: float) -> str:
    return f'{weight:g}'


def build_plan(id_labels: Sequence[str], similar: Sequence[str], random: Sequence[str],
               fusion: str = 'max', weight: float = 0.5,
               counts: Sequence[int] = NEGATIVE_COUNTS,
               weights: Sequence[float] = FUSION_WEIGHTS,
               dissimilar: Sequence[str] = (),
               splits: SplitSet = TEST_SPLITS) -> BenchmarkPlan:
    """The full benchmark plan.

    id_labels: K >= 1 labels; similar: the NegAS negatives (M >= 1); random: the random-word
    control (may be empty: its rows are then left out). fusion / weight: the NegA rule of
    the ``negas`` row ('max' or 'weighted'; 'off' is rejected). counts: numbers of negatives
    for the count ablation (the first n of ``similar``; n >= M is covered by 'all').
    weights: w of the 'weighted' rule in the fusion ablation, in (0, 1].
    dissimilar: a third negative set for the negative-set ablation (may be empty).
    splits: the world splits the settings run on (:data:`TEST_SPLITS` or :data:`VAL_SPLITS`).
    """
    if not id_labels:
        raise ValueError('at least one ID label is needed')
    if not similar:
        raise ValueError('the benchmark needs the NegAS negatives (negative_labels is empty)')
    if fusion not in ('max', 'weighted'):
        raise ValueError(f"the negas row needs NegA on ('max' or 'weighted'), got {fusion!r}")
    for w in (weight, *weights):
        if not (math.isfinite(w) and 0.0 < w <= 1.0):
            raise ValueError(f'fusion weights must lie in (0, 1], got {w}')
    similar_t, random_t, dissimilar_t = tuple(similar), tuple(random), tuple(dissimilar)
    seen = {normalize_label(w) for w in id_labels}
    for name, words in (('similar', similar_t), ('dissimilar', dissimilar_t),
                        ('random', random_t)):
        keys = [normalize_label(w) for w in words]
        repeated = sorted(set(keys) & seen | {k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f'{name} negatives repeat an ID label or another set: {repeated}')
        seen.update(keys)

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

    every, attention = splits.every, splits.attention
    off = add(NetworkSetting('nega_off', 'off', 0.0, similar_t + dissimilar_t + random_t,
                             every, attention))
    on = add(NetworkSetting('nega', fusion, weight if fusion == 'weighted' else 0.0, similar_t,
                            every, attention))
    on_dissimilar = None
    if dissimilar_t:
        on_dissimilar = add(NetworkSetting('nega_dissimilar', fusion,
                                           weight if fusion == 'weighted' else 0.0,
                                           dissimilar_t, splits.evaluated))
    on_random = None
    if random_t:
        on_random = add(NetworkSetting('nega_random', fusion,
                                       weight if fusion == 'weighted' else 0.0, random_t,
                                       every, attention))

    def row(key: str, title: str, setting: str, method: str,
            negatives: tuple[str, ...]) -> RowSpec:
        return RowSpec(key, title, setting, method, negatives)

    rows = [row(key, title, off, method, similar_t if uses else ())
            for key, title, method, uses in MAIN_METHODS]
    rows.append(row('negas', f'NegA ({settings[on].describe()}) + NegS (NegAS)', on, 'negs',
                    similar_t))

    ablations: dict[str, tuple[RowSpec, ...]] = {}
    sets = [('similar', 'similar (NegAS)', similar_t, on), ('none', 'none', (), off)]
    if on_random is not None:
        sets.insert(1, ('random', 'random words', random_t, on_random))
    if on_dissimilar is not None:
        sets.insert(1, ('dissimilar', 'dissimilar (left out)', dissimilar_t, on_dissimilar))
    negative_rows = []
    for name, title, words, on_key in sets:
        # Without negatives NegA has nothing to add: 'none, NegA on' is the NegA-off network.
        on_title = f'{title}, NegA on' if words else f'{title}, NegA on (= off)'
        negative_rows.append(row(f'{name}/nega_off', f'{title}, NegA off', off, 'negs', words))
        negative_rows.append(row(f'{name}/nega_on', on_title, on_key, 'negs', words))
    ablations['negatives'] = tuple(negative_rows)

    count_rows = [row('0/nega_off', '0 (none), NegA off', off, 'negs', ()),
                  row('0/nega_on', '0 (none), NegA on (= off)', off, 'negs', ())]
    m = len(similar_t)
    for n in sorted({c for c in counts if 0 < c < m}):
        words = similar_t[:n]
        key = add(NetworkSetting(f'nega_n{n}', fusion, weight if fusion == 'weighted' else 0.0,
                                 words, splits.ablation))
        count_rows.append(row(f'{n}/nega_off', f'{n}, NegA off', off, 'negs', words))
        count_rows.append(row(f'{n}/nega_on', f'{n}, NegA on', key, 'negs', words))
    count_rows.append(row('all/nega_off', f'all ({m}), NegA off', off, 'negs', similar_t))
    count_rows.append(row('all/nega_on', f'all ({m}), NegA on', on, 'negs', similar_t))
    ablations['num_negatives'] = tuple(count_rows)

    fusion_keys = [('off', off), ('max', add(NetworkSetting('max', 'max', 0.0, similar_t,
                                                            splits.ablation)))]
    for w in weights:
        fusion_keys.append((f'weighted_{_weight_key(w)}', add(NetworkSetting(
            f'weighted_{_weight_key(w)}', 'weighted', float(w), similar_t, splits.ablation))))
    fusion_rows = []
    for name, key in fusion_keys:
        title = settings[key].describe() if name != 'off' else 'off'
        fusion_rows.append(row(f'{name}/negs', f'{title}, NegS', key, 'negs', similar_t))
        fusion_rows.append(row(f'{name}/max_sigmoid', f'{title}, max-sigmoid', key,
                               'max_sigmoid', ()))
    ablations['fusion'] = tuple(fusion_rows)

    form_rows = []
    for method in ('negs', 'negs_ratio', 'negs_diff', 'negs_softmax', 'neglabel'):
        form_rows.append(row(f'{method}/nega_off', f'{method}, NegA off', off, method,
                             similar_t))
        form_rows.append(row(f'{method}/nega_on', f'{method}, NegA on', on, method, similar_t))
    ablations['score_forms'] = tuple(form_rows)

    attention_settings = [('NegA off (baseline)', off), (f'NegA {settings[on].describe()}', on)]
    if on_random is not None:
        attention_settings.append(
            (f'NegA {settings[on_random].describe()}, random words', on_random))
    return BenchmarkPlan(tuple(id_labels), similar_t, random_t, fusion, float(weight),
                         dissimilar_t, settings, tuple(rows), ablations,
                         tuple(attention_settings), splits)
