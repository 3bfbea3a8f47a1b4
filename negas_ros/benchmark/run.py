"""Orchestration of the OOD benchmark: load, plan, collect, evaluate, assemble the document.

:func:`run_benchmark` does one run (full or quick) and returns a :class:`BenchmarkRun`;
:func:`results_document` turns it into the results.json document; :func:`reproduce_quick`
recomputes the quick subset's main rows alone (what the reproduction test compares with the
``quick`` block of results.json).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
import datetime
import hashlib
import logging
import os
from pathlib import Path
import platform
import subprocess
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from negas_ros.benchmark.bootstrap import paired_fpr95_bootstrap
from negas_ros.benchmark.collect import BenchmarkOutputs, collect
from negas_ros.benchmark.plan import (
    TEST_SPLITS,
    BenchmarkPlan,
    SplitSet,
    build_plan,
    leftover_words,
    random_word_vectors,
)
from negas_ros.benchmark.protocol import RowResult, evaluate_rows
from negas_ros.benchmark.report import rows_document, target_check
from negas_ros.evaluation import to_jsonable
from negas_ros.labels import LabelSet, load_labels
from negas_ros.machine import cpu_name

if TYPE_CHECKING:
    from negas_ros.backends.yolo_world.backend import YoloWorldBackend

__all__ = [
    'DEFAULT_COUNTS',
    'QUICK_COUNTS',
    'QUICK_TOLERANCE',
    'REPO_ROOT',
    'BenchmarkConfig',
    'BenchmarkRun',
    'default_labels_path',
    'default_model_dir',
    'display_path',
    'quick_differences',
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
QUICK_TOLERANCE = 1e-6
"""Largest |difference| allowed between a rerun of the quick subset and results.json."""


def default_model_dir() -> Path:
    """The shipped mini detector: ``negas_ros/models/negas_mini``."""
    return Path(__file__).resolve().parents[1] / 'models' / 'negas_mini'


def default_labels_path() -> Path:
    """``config/labels/world.yaml`` of the source tree (or the install's share directory)."""
    path = REPO_ROOT / 'config' / 'labels' / 'world.yaml'
    if path.is_file():
        return path
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory('negas_ros')) / 'config' / 'labels' / 'world.yaml'
    except Exception:  # no ament index (source tree): keep the path for the error message
        return path


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


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open('rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


RANDOM_WORD = 'random word {:02d}'
"""Names of the random-word control's negatives (their embeddings: random_word_vectors)."""


def _vocabulary(backend: YoloWorldBackend, template: str) -> list[str]:
    """Words the model has embeddings for: the offline vocabulary's labels (un-templated), or
    the world's category names when the model has a text tower instead."""
    table = backend.embedder.table
    if table is None:
        from negas_ros.world import CATEGORIES

        return [c.name for c in CATEGORIES]
    prefix, _, suffix = template.partition('{}')
    words = []
    for label in table.labels:
        if label.startswith(prefix) and label.endswith(suffix) and len(label) > len(
                prefix) + len(suffix):
            words.append(label[len(prefix):len(label) - len(suffix)])
    return words


def with_random_words(backend: YoloWorldBackend, count: int, seed: int, template: str,
                      device: str = 'cpu') -> tuple[YoloWorldBackend, tuple[str, ...]]:
    """A backend over the same network whose embedder also knows ``count`` random words.

    Why random vectors and not random vocabulary words: the shipped model's vocabulary is the
    world's 18 category names, of which the NegAS rule keeps most; "random words" drawn from
    it would be the same words. A word outside it is, to a learned-table encoder, a random
    direction (:func:`~negas_ros.benchmark.plan.random_word_vectors`), as an everyday word is
    to CLIP an unrelated one. Returns the backend and the words' names (:data:`RANDOM_WORD`).
    """
    from negas_ros.backends.yolo_world.backend import YoloWorldBackend
    from negas_ros.backends.yolo_world.text import TextEmbedder, TextEmbeddingTable

    names = tuple(RANDOM_WORD.format(i + 1) for i in range(count))
    vectors = random_word_vectors(count, backend.net.config.embed_dim, seed)
    prompts = tuple(template.format(name) for name in names)
    old = backend.embedder.table
    if old is None:
        table = TextEmbeddingTable(prompts, vectors, 'ood-benchmark random words')
    else:
        table = TextEmbeddingTable(old.labels + prompts, np.vstack([old.embeddings, vectors]),
                                   old.source)
    embedder = TextEmbedder(table, backend.embedder.text_model, device,
                            backend.embedder.text_projection)
    return YoloWorldBackend(backend.net, embedder, backend.card, device=device,
                            source=backend.source), names


def load_backend(config: BenchmarkConfig) -> YoloWorldBackend:
    """Load the detector of ``config.model`` with ``config.threads`` torch threads."""
    import torch

    from negas_ros.backends.yolo_world.backend import YoloWorldBackend, load_model_card

    torch.set_num_threads(config.threads)
    return YoloWorldBackend.from_card(load_model_card(str(config.model)), config.device)


def make_plan(backend: YoloWorldBackend, labels: LabelSet, seed: int,
              device: str = 'cpu', splits: SplitSet = TEST_SPLITS
              ) -> tuple[YoloWorldBackend, BenchmarkPlan]:
    """The benchmark plan for a loaded model and label set on ``splits``, and the backend to
    run it with (it also knows the random words, drawn with ``seed``)."""
    similar = labels.negative_labels
    dissimilar = leftover_words(_vocabulary(backend, labels.prompt_template),
                                (*labels.id_labels, *similar))
    backend, random = with_random_words(backend, len(similar), seed, labels.prompt_template,
                                        device)
    card = backend.card
    fusion = card.nega_fusion if card.nega_fusion != 'off' else 'max'
    plan = build_plan(labels.id_labels, similar, random, fusion, card.nega_weight,
                      dissimilar=dissimilar, splits=splits)
    return backend, plan


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
    backend = load_backend(config)
    backend, plan = make_plan(backend, labels, config.seed, config.device, config.splits)
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
                        model_info)


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


def results_document(run: BenchmarkRun, command: str) -> dict[str, Any]:
    """The results.json document of a run (layout: docs/results.md, 'results.json')."""
    plan = run.plan
    splits = plan.splits
    main = rows_document(run.results, plan, [r.key for r in plan.rows])
    doc: dict[str, Any] = dict(main)
    doc['ablations'] = {name: rows_document(run.results, plan, [r.key for r in rows])
                        for name, rows in plan.ablations.items()}
    doc['attention_overlap'] = to_jsonable(run.overlap)
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
        'image_size': list(run.config.image_size or ()),
        'images': counts,
        'categories': {split: dict(sorted(data.categories.items()))
                       for split, data in run.outputs.splits.items()},
        'rows': [r.key for r in plan.rows],
        'id_labels': list(plan.id_labels),
        'negatives_similar': list(plan.similar),
        'negatives_random': list(plan.random),
        'negatives_dissimilar': list(plan.dissimilar),
        'settings': {key: {'fusion': s.fusion, 'weight': s.weight,
                           'negatives': len(s.negatives), 'splits': list(s.splits)}
                     for key, s in plan.settings.items()},
        'model': run.model_info,
        'forwards': run.outputs.forwards,
        'timings_s': {k: round(v, 2) for k, v in run.timings.items()},
        'units': 'fractions in [0, 1]; results.md prints percent',
    })
    return doc


def reproduce_quick(model: Path, labels: Path, seed: int, box_threshold: float,
                    image_size: tuple[int, int] | None, threads: int,
                    counts: Counts = QUICK_COUNTS,
                    splits: SplitSet = TEST_SPLITS) -> dict[str, Any]:
    """The main rows on the quick subset of ``splits`` alone, as results.json entries.

    Runs only the two settings the main rows use (NegA off and the card's NegA), no attention
    capture: per image, each setting's outputs do not depend on what else runs, so the numbers
    equal those of the full run's quick block (up to float determinism on the machine).
    """
    from negas_ros.world import World

    config = BenchmarkConfig(model, labels, counts, None, seed, box_threshold, image_size,
                             threads, splits=splits)
    label_set = load_labels(labels)
    backend = load_backend(config)
    backend, full = make_plan(backend, label_set, seed, splits=splits)
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
