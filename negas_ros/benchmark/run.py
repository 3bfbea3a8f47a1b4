"""Orchestration of the OOD benchmark: load, plan, collect, evaluate, assemble the document.

:func:`run_benchmark` does one run (full or quick) and returns a :class:`BenchmarkRun`;
:func:`results_document` turns it into the results.json document; :func:`reproduce_quick`
recomputes the quick subset's main rows alone (what the reproduction test compares with the
``quick`` block of results.json).

Negative sets: ``shipped`` is the main label file's ``negative_labels``; the extra sets are
other label files for the same ID labels (:func:`load_negative_set`; by default every
``*.yaml`` of config/labels/ablation/, :func:`default_negative_set_files`); ``random`` is
:func:`random_negative_set`: random WordNet object nouns through the same
:class:`~negas_ros.negatives.filtering.NegativeFilter` as every generated list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
import datetime
import hashlib
import logging
import math
import os
from pathlib import Path
import platform
import subprocess
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from negas_ros.benchmark.bootstrap import paired_fpr95_bootstrap, selection_margins
from negas_ros.benchmark.collect import BenchmarkOutputs, collect
from negas_ros.benchmark.plan import (
    DEFAULT_FUSION_GRID,
    TEST_SPLITS,
    BenchmarkPlan,
    NegativeSet,
    SplitSet,
    build_plan,
    check_set_key,
)
from negas_ros.benchmark.protocol import RowResult, evaluate_rows
from negas_ros.benchmark.report import named_categories, rows_document, target_check
from negas_ros.benchmark.select import select_choices
from negas_ros.evaluation import to_jsonable
from negas_ros.labels import LabelSet, load_labels
from negas_ros.machine import cpu_name
from negas_ros.package_paths import share_dir

if TYPE_CHECKING:
    from negas_ros.backends.yolo_world.backend import ModelCard, YoloWorldBackend

__all__ = [
    'DEFAULT_COUNTS',
    'QUICK_COUNTS',
    'QUICK_TOLERANCE',
    'REPO_ROOT',
    'BenchmarkConfig',
    'BenchmarkRun',
    'LoadedNegatives',
    'default_labels_path',
    'default_model_dir',
    'default_negative_set_files',
    'display_path',
    'load_negative_set',
    'load_negatives',
    'make_plan',
    'negative_set_key',
    'negative_sets_meta',
    'quick_differences',
    'random_negative_set',
    'recorded_negative_sets',
    'reproduce_quick',
    'results_document',
    'run_benchmark',
]

_log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Counts:
    """Images per split: id (the ID split, id_test or id_val), ood (each OOD split),
    attention (each attention split that is not an OOD split: mixed_test or mixed_val)."""

    id: int
    ood: int
    attention: int

    def per_split(self, splits: SplitSet = TEST_SPLITS) -> dict[str, int]:
        """World split -> number of images, for the splits of ``splits``."""
        counts = {splits.id: self.id, **dict.fromkeys(splits.ood.values(), self.ood)}
        for split in splits.attention:
            counts.setdefault(split, self.attention)
        return counts


DEFAULT_COUNTS = Counts(id=500, ood=600, attention=100)
"""Full run: about 10 minutes on 2 idle CPU cores with the shipped model (1 thread). More OOD
than ID images: few OOD objects score above tau*, and every OOD metric rests on those."""
QUICK_COUNTS = Counts(id=40, ood=20, attention=8)
"""The quick subset (``--quick``; the reproduction test): the first images of each split."""
QUICK_TOLERANCE = 1e-5
"""Largest |difference| allowed between a rerun of the quick subset and results.json. The same
float32 network on another CPU (the VM moves between hosts with different vector units) gives
mean responses and thresholds up to ~2e-6 apart (2026-12-02); a changed detection or verdict
moves a metric by 1/N, at least ~1e-3 on the quick subset."""


def default_model_dir() -> Path:
    """The shipped mini detector: ``negas_ros/models/negas_mini``."""
    return Path(__file__).resolve().parents[1] / 'models' / 'negas_mini'


def _config_path(*parts: str) -> Path:
    """``config/<parts>`` of the source tree if it exists, else of the install's share
    directory if that exists, else the source-tree path (for the error message)."""
    path = REPO_ROOT.joinpath('config', *parts)
    if path.exists():
        return path
    installed = share_dir(source_tree_fallback=False)
    if installed is None:  # no ament install: keep the source-tree path for the message
        return path
    shared = Path(installed).joinpath('config', *parts)
    return shared if shared.exists() else path


def default_labels_path() -> Path:
    """``config/labels/world.yaml`` of the source tree (or the install's share directory)."""
    return _config_path('labels', 'world.yaml')


def negative_set_key(path: Path | str) -> str:
    """The key of a default negative set: the file stem without a leading ``world_``
    (config/labels/ablation/world_llm_style.yaml -> 'llm_style')."""
    stem = Path(path).stem
    return stem[len('world_'):] if stem.startswith('world_') and len(stem) > 6 else stem


def default_negative_set_files() -> tuple[tuple[str, Path], ...]:
    """The default extra negative sets: every ``*.yaml`` of ``config/labels/ablation/`` (source
    tree, else the install's share directory), sorted by name, as (key, path) pairs
    (:func:`negative_set_key`). Empty when the directory does not exist."""
    directory = _config_path('labels', 'ablation')
    if not directory.is_dir():
        return ()
    return tuple((negative_set_key(p), p) for p in sorted(directory.glob('*.yaml')))


@dataclass(frozen=True)
class BenchmarkConfig:
    """One benchmark run.

    model: model directory / card / checkpoint (``load_model_card``). labels: label file with
    the ID labels and the NegAS negatives. counts: images per split; quick: the subset whose
    numbers are also reported (None: none). seed: world seed and random-negative draw.
    box_threshold: detector candidate threshold. image_size: (W, H) of rendered images; None:
    the model's input size, so that images reach the network unscaled, as in training.
    threads: torch CPU threads (results are reproducible for one thread count).
    device: torch device. splits: the world splits: :data:`~negas_ros.benchmark.plan.TEST_SPLITS`
    (the reported benchmark) or :data:`~negas_ros.benchmark.plan.VAL_SPLITS` (their
    validation twins, where every tuning choice is made).
    negative_sets: the extra negative sets as (key, label file) pairs; None: the default ones
    (:func:`default_negative_set_files`, resolved by :func:`run_benchmark`); (): none.
    random_words: the random-word control's words; None: drawn from WordNet with ``seed``
    (:func:`random_negative_set`). Giving them runs the benchmark without WordNet.
    fusion_grid: the NegA rules of the fusion ablation besides 'off'. extra_nega_on: whether
    the extra sets get NegA-on rows. negs_method: the NegS form of the negs/negas rows.
    set_score_forms: every set under every score form (see
    :func:`~negas_ros.benchmark.plan.build_plan`).
    """

    model: Path
    labels: Path
    counts: Counts = DEFAULT_COUNTS
    quick: Counts | None = QUICK_COUNTS
    seed: int = 0
    box_threshold: float = 0.05
    image_size: tuple[int, int] | None = None
    threads: int = 1
    device: str = 'cpu'
    splits: SplitSet = TEST_SPLITS
    negative_sets: tuple[tuple[str, Path], ...] | None = None
    random_words: tuple[str, ...] | None = None
    fusion_grid: tuple[tuple[str, float], ...] = DEFAULT_FUSION_GRID
    extra_nega_on: bool = True
    negs_method: str = 'negs'
    set_score_forms: bool = False

    def __post_init__(self) -> None:
        for name in ('id', 'ood', 'attention'):
            if getattr(self.counts, name) < 0:
                raise ValueError(f'image counts must be >= 0, got {name}={self.counts}')
        if self.counts.id < 1:
            raise ValueError('the benchmark needs at least one ID image')
        if not 0.0 <= self.box_threshold <= 1.0:
            raise ValueError(f'box_threshold must be in [0, 1], got {self.box_threshold}')
        if self.threads < 1:
            raise ValueError(f'threads must be >= 1, got {self.threads}')
        if self.seed < 0:
            raise ValueError(f'seed must be >= 0, got {self.seed}')
        if not isinstance(self.splits, SplitSet):
            raise TypeError(f'splits must be a SplitSet (TEST_SPLITS, VAL_SPLITS or '
                            f'SPLIT_SETS[name]), got {self.splits!r}')
        if self.negative_sets is not None:
            pairs = tuple((str(key), Path(path)) for key, path in self.negative_sets)
            keys = [check_set_key(key) for key, _ in pairs]
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            if repeated:
                raise ValueError(f'negative set keys repeat: {repeated}')
            object.__setattr__(self, 'negative_sets', pairs)
        if self.random_words is not None:
            object.__setattr__(self, 'random_words', tuple(self.random_words))


@dataclass(frozen=True)
class LoadedNegatives:
    """The negative sets of a run: shipped (the main label file's), the extra sets, random
    (empty when the control is left out), and the label file of each set read from one
    (key -> path: 'shipped' and every extra set)."""

    shipped: NegativeSet
    extra: tuple[NegativeSet, ...]
    random: NegativeSet
    files: Mapping[str, Path] = field(default_factory=dict)


@dataclass
class BenchmarkRun:
    """The outcome of :func:`run_benchmark`."""

    config: BenchmarkConfig
    labels: LabelSet
    plan: BenchmarkPlan
    outputs: BenchmarkOutputs
    results: dict[str, RowResult]
    quick: dict[str, RowResult] | None
    overlap: dict[str, dict[str, dict[str, dict[str, float | int]]]]
    timings: dict[str, float] = field(default_factory=dict)
    model_info: dict[str, Any] = field(default_factory=dict)
    negative_files: dict[str, Path] = field(default_factory=dict)


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open('rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _provenance_method(path: Path) -> str | None:
    """The ``provenance.method`` of a label file, if it has one."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    provenance = data.get('provenance') if isinstance(data, dict) else None
    method = provenance.get('method') if isinstance(provenance, dict) else None
    if method is None:
        return None
    return str(method).strip() or None


def load_negative_set(key: str, path: Path | str, id_labels: Sequence[str],
                      main: Path | str | None = None) -> NegativeSet:
    """An extra negative set from a label file: its ``negative_labels``, titled by its
    ``provenance.method`` (else the key).

    The file's ``id_labels`` must equal ``id_labels`` (those of the main label file ``main``),
    in order: a list is written for its ID labels. Raises ValueError (LabelError) naming both
    files otherwise, or when the file cannot be read or has no negative labels.
    """
    path = Path(path)
    check_set_key(key)
    labels = load_labels(path)
    if labels.id_labels != tuple(id_labels):
        main_name = 'the main label file' if main is None else f'the main label file {main}'
        raise ValueError(
            f'negative set {key!r}: {path} has id_labels {list(labels.id_labels)}, but '
            f'{main_name} has {list(id_labels)}; a negative set must be written for the same '
            'ID labels, in the same order (choose the sets with --negative-set KEY=YAML, or '
            'leave the default ones out with --no-default-sets)')
    if not labels.negative_labels:
        raise ValueError(f'negative set {key!r}: {path} has no negative_labels')
    method = _provenance_method(path)
    source = display_path(path) + (f' ({method})' if method else '')
    return NegativeSet(key, method or key, labels.negative_labels, source)


def random_negative_set(id_labels: Sequence[str], count: int, seed: int) -> NegativeSet:
    """The random-word control: ``count`` random WordNet object nouns.

    :func:`negas_ros.negatives.generate.generate_random` with ``ceil(count / K)`` words per ID
    label (K ID labels), seeded with ``seed`` and filtered by the same
    :class:`~negas_ros.negatives.filtering.NegativeFilter` as every generated list (no ID
    label, no synonym, hypernym, hyponym or part of one), truncated to ``count``. The
    detector's sentence encoder embeds any English phrase, so these are real words, unrelated
    to the scenes, like NegLabel's random everyday words. Needs WordNet (WordNetError, an
    OSError, without it); ``count`` 0 gives an empty set without it.
    """
    if count <= 0:
        return NegativeSet('random', 'random words', (), 'none drawn')
    from negas_ros.negatives import NegativeFilter, generate_random, load_wordnet

    ids = tuple(id_labels)
    wordnet = load_wordnet()
    per_label = max(1, math.ceil(count / len(ids)))
    result = generate_random(ids, NegativeFilter(ids, wordnet), per_label, seed)
    words = tuple(result.negatives[:count])
    if len(words) < count:
        _log.warning('only %d random words passed the filter (%d wanted)', len(words), count)
    source = (f'WordNet {wordnet.version} object nouns drawn at random (seed {seed}) through '
              'the NegativeFilter of the ID labels (negas_ros.negatives.generate_random)')
    return NegativeSet('random', 'random words', words, source)


def load_negatives(labels: LabelSet, labels_path: Path | str,
                   files: Sequence[tuple[str, Path]] | None, seed: int,
                   random_words: Sequence[str] | None = None) -> LoadedNegatives:
    """Every negative set of a run: shipped (``labels.negative_labels``), the extra sets of
    ``files`` ((key, label file) pairs; None: :func:`default_negative_set_files`), and random
    (``random_words`` if given, else :func:`random_negative_set` with as many words as the
    shipped list, drawn with ``seed``)."""
    labels_path = Path(labels_path)
    method = _provenance_method(labels_path)
    shipped = NegativeSet('shipped', 'shipped', labels.negative_labels,
                          display_path(labels_path) + (f' ({method})' if method else ''))
    pairs = default_negative_set_files() if files is None else tuple(files)
    extra = tuple(load_negative_set(key, path, labels.id_labels, display_path(labels_path))
                  for key, path in pairs)
    if random_words is not None:
        random = NegativeSet('random', 'random words', tuple(random_words), 'given explicitly')
    else:
        random = random_negative_set(labels.id_labels, len(labels.negative_labels), seed)
    return LoadedNegatives(shipped, extra, random,
                           {'shipped': labels_path, **{key: Path(p) for key, p in pairs}})


def load_backend(config: BenchmarkConfig) -> YoloWorldBackend:
    """Load the detector of ``config.model`` with ``config.threads`` torch threads."""
    import torch

    from negas_ros.backends.yolo_world.backend import YoloWorldBackend, load_model_card

    torch.set_num_threads(config.threads)
    return YoloWorldBackend.from_card(load_model_card(str(config.model)), config.device)


def make_plan(card: ModelCard, labels: LabelSet, negatives: LoadedNegatives,
              splits: SplitSet = TEST_SPLITS,
              fusion_grid: tuple[tuple[str, float], ...] = DEFAULT_FUSION_GRID,
              extra_nega_on: bool = True, negs_method: str = 'negs',
              set_score_forms: bool = False) -> BenchmarkPlan:
    """The benchmark plan for a model card, label set and negative sets on ``splits``: the
    ``negas`` row (and every set's NegA-on row) runs the card's NegA rule ('max' when the card
    says 'off')."""
    fusion = card.nega_fusion if card.nega_fusion != 'off' else 'max'
    return build_plan(labels.id_labels, negatives.shipped, negatives.random, fusion,
                      card.nega_weight, extra_sets=negatives.extra, splits=splits,
                      fusion_grid=fusion_grid, extra_nega_on=extra_nega_on,
                      negs_method=negs_method, set_score_forms=set_score_forms)


def image_size_for(backend: YoloWorldBackend, image_size: tuple[int, int] | None
                   ) -> tuple[int, int]:
    """(W, H) to render: the given size, or the model's input size (card imgsz is (H, W))."""
    if image_size is not None:
        return image_size
    height, width = backend.card.imgsz
    return (width, height)


def _progress(enabled: bool) -> Callable[[str, int, int], None] | None:
    if not enabled:
        return None
    started = time.perf_counter()

    def report(split: str, done: int, total: int) -> None:
        if done == total or done % max(1, total // 4) == 0:
            _log.info('%s: %d/%d images (%.0f s so far)', split, done, total,
                      time.perf_counter() - started)

    return report


def _aggregate_overlap(plan: BenchmarkPlan, outputs: BenchmarkOutputs
                       ) -> dict[str, dict[str, dict[str, dict[str, float | int]]]]:
    from negas_ros.backends.yolo_world.config import ATTENTION_LAYERS
    from negas_ros.benchmark.attention import aggregate_overlaps

    result: dict[str, dict[str, dict[str, dict[str, float | int]]]] = {}
    for split in plan.splits.attention:
        data = outputs.splits.get(split)
        if data is None:
            continue
        result[split] = {key: aggregate_overlaps(data.overlaps[key], ATTENTION_LAYERS)
                         for _title, key in plan.attention_settings if key in data.overlaps}
    return result


def run_benchmark(config: BenchmarkConfig, log_progress: bool = True) -> BenchmarkRun:
    """Run the whole benchmark (every setting, row and ablation) for ``config``."""
    from negas_ros.world import World

    start = time.perf_counter()
    labels = load_labels(config.labels)
    # The label files before the model: a wrong file fails at once, not after loading.
    if config.negative_sets is None:
        config = replace(config, negative_sets=default_negative_set_files())
    negatives = load_negatives(labels, config.labels, config.negative_sets, config.seed,
                               config.random_words)
    backend = load_backend(config)
    plan = make_plan(backend.card, labels, negatives, config.splits, config.fusion_grid,
                     config.extra_nega_on, config.negs_method, config.set_score_forms)
    loaded = time.perf_counter()
    size = image_size_for(backend, config.image_size)
    config = replace(config, image_size=size)
    outputs = collect(backend, plan, World(config.seed), config.counts.per_split(config.splits),
                      size, config.box_threshold, labels.prompt_template, config.device,
                      _progress(log_progress))
    collected = time.perf_counter()
    results = evaluate_rows(plan, outputs, plan.all_rows())
    quick = None
    if config.quick is not None and _covers(config.counts, config.quick):
        quick = evaluate_rows(plan, outputs, plan.rows,
                              limits=config.quick.per_split(config.splits))
    overlap = _aggregate_overlap(plan, outputs)
    done = time.perf_counter()
    timings = {'load': loaded - start, 'collect': collected - loaded,
               'evaluate': done - collected, 'total': done - start,
               **{f'collect/{k}': v for k, v in outputs.timings.items()}}
    card = backend.card
    model_info = {
        'model': display_path(config.model),
        'weights': display_path(card.weights),
        'weights_sha256': _sha256(card.weights),
        'text_embeddings': display_path(card.text_embeddings) if card.text_embeddings
        else None,
        'imgsz': list(card.imgsz), 'nega_fusion': card.nega_fusion,
        'nega_weight': card.nega_weight, 'iou_threshold': card.iou_threshold,
        'max_det': card.max_det,
        'labels': display_path(config.labels), 'labels_sha256': _sha256(config.labels),
    }
    return BenchmarkRun(config, labels, plan, outputs, results, quick, overlap, timings,
                        model_info, dict(negatives.files))


def _covers(counts: Counts, quick: Counts) -> bool:
    return counts.id >= quick.id and counts.ood >= quick.ood


def display_path(path: Path | str) -> str:
    """A path inside the repository relative to it (stable across checkouts), else absolute."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        return str(resolved)


def _machine() -> dict[str, Any]:
    cpu = cpu_name()
    info: dict[str, Any] = {'cpu': cpu, 'cores': os.cpu_count(), 'python':
                            platform.python_version(), 'numpy': np.__version__,
                            'system': f'{platform.system()} {platform.release()}'}
    try:
        import torch

        info['torch'] = torch.__version__
    except ImportError:
        pass
    try:
        commit = subprocess.run(['git', '-C', str(REPO_ROOT), 'rev-parse', '--short', 'HEAD'],
                                capture_output=True, text=True, check=True, timeout=10)
        info['git_commit'] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def _labels_provenance(path: Path) -> dict[str, Any]:
    """The ``provenance`` mapping of a label file (empty when it has none)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError):
        return {}
    provenance = data.get('provenance') if isinstance(data, dict) else None
    return dict(provenance) if isinstance(provenance, Mapping) else {}


SELECTION_REFERENCES = {'nega_rule': 'off'}
"""Per family, the candidate every winner is also measured against (NegA off: is NegA worth
having at all), beside the runner-up."""


def _selection_margins(run: BenchmarkRun, selection: Mapping[str, Any]
                       ) -> dict[str, dict[str, Any]]:
    """The validation choices' leads with image-bootstrap intervals; {} when the criterion's
    splits were not run."""
    splits = run.plan.splits
    sets = list(selection.get('criterion_sets') or ())
    names = [splits.ood.get(s) for s in sets]
    if splits.id not in run.outputs.splits or any(
            n is None or n not in run.outputs.splits for n in names):
        return {}
    ood_images = {s: run.outputs.splits[n].num_images for s, n in zip(sets, names, strict=True)
                  if n is not None}
    return selection_margins(selection, run.results, run.outputs.splits[splits.id].num_images,
                             ood_images, seed=run.config.seed, references=SELECTION_REFERENCES)


def results_document(run: BenchmarkRun, command: str) -> dict[str, Any]:
    """The results.json document of a run (layout: docs/results.md, 'results.json')."""
    plan = run.plan
    splits = plan.splits
    main = rows_document(run.results, plan, [r.key for r in plan.rows])
    doc: dict[str, Any] = dict(main)
    doc['ablations'] = {name: rows_document(run.results, plan, [r.key for r in rows])
                        for name, rows in plan.ablations.items()}
    doc['attention_overlap'] = to_jsonable(run.overlap)
    doc['selection'] = to_jsonable(select_choices(doc))
    margins = _selection_margins(run, doc['selection'])
    if margins:
        doc['selection_margins'] = to_jsonable(margins)
    for key, ood_set in (('target', 'near'), ('target_unseen', 'near_unseen')):
        check = target_check(main, ood_set)
        split = splits.ood[ood_set]
        base, ours = run.results['max_sigmoid'], run.results['negas']
        if split in run.outputs.splits and ood_set in base.ood_images and base.id_scores.size:
            check['bootstrap'] = paired_fpr95_bootstrap(
                base, ours, ood_set, run.outputs.splits[splits.id].num_images,
                run.outputs.splits[split].num_images, seed=run.config.seed)
        doc[key] = to_jsonable(check)
    if run.quick is not None and run.config.quick is not None:
        quick: dict[str, Any] = rows_document(run.quick, plan, [r.key for r in plan.rows])
        quick['images'] = run.config.quick.per_split(splits)
        quick['tolerance'] = QUICK_TOLERANCE
        doc['quick'] = quick
    counts = {split: data.num_images for split, data in run.outputs.splits.items()}
    doc['meta'] = to_jsonable({
        'command': command,
        'mode': 'quick' if run.config.counts == run.config.quick else 'full',
        'splits': {'set': splits.name, 'id': splits.id, 'ood': dict(splits.ood),
                   'attention': list(splits.attention)},
        'date': datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        'machine': _machine(),
        'threads': run.config.threads,
        'device': run.config.device,
        'seed': run.config.seed,
        'box_threshold': run.config.box_threshold,
        'negs_method': run.config.negs_method,
        'labels_provenance': _labels_provenance(run.config.labels),
        'image_size': list(run.config.image_size or ()),
        'images': counts,
        'categories': {split: dict(sorted(data.categories.items()))
                       for split, data in run.outputs.splits.items()},
        'rows': [r.key for r in plan.rows],
        'id_labels': list(plan.id_labels),
        'negative_sets': negative_sets_meta(plan, run.negative_files),
        'settings': {key: {'fusion': s.fusion, 'weight': s.weight,
                           'negatives': len(s.negatives), 'splits': list(s.splits)}
                     for key, s in plan.settings.items()},
        'model': run.model_info,
        'forwards': run.outputs.forwards,
        'timings_s': {k: round(v, 2) for k, v in run.timings.items()},
        'units': 'fractions in [0, 1]; results.md prints percent',
    })
    return doc


def negative_sets_meta(plan: BenchmarkPlan, files: Mapping[str, Path]) -> list[dict[str, Any]]:
    """results.json ``meta.negative_sets``: per set (table order) its key, title, label file
    (display path, None for random) and its sha256, source, words, and ``names``: per OOD set
    (near, far, near_unseen, far_unseen) the categories of its world split that the list
    literally names (:func:`~negas_ros.benchmark.report.named_categories`)."""
    from negas_ros.world.splits import SPLITS as WORLD_SPLITS

    out = []
    for nset in plan.negative_sets:
        path = files.get(nset.key)
        out.append({
            'key': nset.key, 'title': nset.title,
            'file': None if path is None else display_path(path),
            'sha256': None if path is None else _sha256(Path(path)),
            'source': nset.source, 'words': list(nset.words),
            'names': {name: named_categories(nset.words, WORLD_SPLITS[split].categories)
                      for name, split in plan.splits.ood.items()},
        })
    return out


def recorded_negative_sets(meta: Mapping[str, Any]
                           ) -> tuple[tuple[tuple[str, Path], ...] | None, tuple[str, ...] | None]:
    """The ``negative_sets`` and ``random_words`` arguments of :func:`reproduce_quick` that
    give the NegA-off run of a recorded run (results.json ``meta``) its negative columns: the
    extra sets' label files (paths relative to :data:`REPO_ROOT` unless absolute) and the
    random words. (None, None) for a document without ``meta.negative_sets`` (older runs):
    the defaults then."""
    entries = meta.get('negative_sets')
    if entries is None:
        return None, None
    files = tuple((e['key'], Path(e['file']) if Path(e['file']).is_absolute()
                   else REPO_ROOT / e['file'])
                  for e in entries if e['key'] not in ('shipped', 'random'))
    random = next((tuple(e['words']) for e in entries if e['key'] == 'random'), ())
    return files, random


def reproduce_quick(model: Path, labels: Path, seed: int, box_threshold: float,
                    image_size: tuple[int, int] | None, threads: int,
                    counts: Counts = QUICK_COUNTS,
                    splits: SplitSet = TEST_SPLITS, *,
                    negative_sets: Sequence[tuple[str, Path]] | None = None,
                    random_words: Sequence[str] | None = None,
                    negs_method: str = 'negs') -> dict[str, Any]:
    """The main rows on the quick subset of ``splits`` alone, as results.json entries.

    Runs only the two settings the main rows use (NegA off and the card's NegA), no attention
    capture: per image, each setting's outputs do not depend on what else runs, so the numbers
    equal those of the full run's quick block (up to float determinism on the machine).
    negative_sets, random_words: as in :class:`BenchmarkConfig` (None: the defaults), so that
    the NegA-off run gets the same negative columns as the full run did. negs_method: the NegS
    form of the negs and negas rows (results.json ``meta.negs_method``).
    """
    from negas_ros.world import World

    config = BenchmarkConfig(model, labels, counts, None, seed, box_threshold, image_size,
                             threads, splits=splits,
                             negative_sets=None if negative_sets is None else tuple(
                                 negative_sets),
                             random_words=None if random_words is None else tuple(
                                 random_words))
    label_set = load_labels(labels)
    negatives = load_negatives(label_set, labels, config.negative_sets, seed,
                               config.random_words)
    backend = load_backend(config)
    full = make_plan(backend.card, label_set, negatives, splits, negs_method=negs_method)
    plan = full.restricted({row.setting for row in full.rows})
    no_attention = Counts(counts.id, counts.ood, 0)  # mixed_test/_val serve attention only
    size = image_size_for(backend, image_size)
    outputs = collect(backend, plan, World(seed), no_attention.per_split(splits), size,
                      box_threshold, label_set.prompt_template)
    results = evaluate_rows(plan, outputs, plan.rows)
    return rows_document(results, plan, [r.key for r in plan.rows])


def quick_differences(reference: Mapping[str, Any], rerun: Mapping[str, Any],
                      tolerance: float = 0.0) -> list[tuple[str, Any, Any]]:
    """Every leaf that differs between two results.json row blocks: (path, reference, rerun).

    Numbers differ when |a - b| > tolerance; None only equals None; other values (titles,
    setting names) must be equal. Keys missing on one side count as differences.
    """
    out: list[tuple[str, Any, Any]] = []

    def walk(path: str, a: Any, b: Any) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in sorted(set(a) | set(b), key=str):
                walk(f'{path}.{key}' if path else str(key), a.get(key), b.get(key))
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(
                a, bool) and not isinstance(b, bool):
            if not abs(float(a) - float(b)) <= tolerance:
                out.append((path, a, b))
        elif a != b:
            out.append((path, a, b))

    walk('', reference, rerun)
    return out
