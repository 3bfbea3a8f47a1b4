"""Run the detector over the benchmark images once per network setting and keep small arrays.

Each image is rendered once and then goes through every setting that covers its split, one
forward each; what is kept per (image, setting) is the backend's
:class:`~negas_ros.detection.RawDetections` (boxes, ID and negative logits of the boxes that
survive NMS: a few KB) and, on attention splits, a few numbers per text-guided block. Images,
masks and attention maps are dropped as soon as the image is done, except for the one example
image per attention split that the attention figure shows.

torch is imported by the backend, not here; this module only drives it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
import logging
import time
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from negas_ros.benchmark.attention import (
    AttentionOverlap,
    attention_overlap,
    cell_coverage,
    input_space_mask,
)
from negas_ros.benchmark.plan import WEIGHTED_FUSIONS, BenchmarkPlan, NetworkSetting
from negas_ros.detection import RawDetections
from negas_ros.labels import normalize_label

if TYPE_CHECKING:
    from negas_ros.backends.yolo_world.backend import YoloWorldBackend
    from negas_ros.world import Scene, World

__all__ = ['AttentionExample', 'BenchmarkOutputs', 'SplitOutputs', 'TruthBox', 'collect',
           'truth_boxes']

_log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TruthBox:
    """A ground-truth box as :meth:`negas_ros.evaluation.DetectionSet.add_frame` reads it:
    category name and continuous pixel xyxy (the world's inclusive ends + 1)."""

    category: str
    box_xyxy: tuple[float, float, float, float]


@dataclass
class SplitOutputs:
    """What the benchmark keeps of one split, image by image (index order).

    sizes: (width, height) per image. truth: ground-truth boxes per image. categories: how
    many objects of each category the split's images hold. raw: setting key -> per-image
    detections. overlaps: setting key -> per-image {layer: AttentionOverlap} (attention splits).
    """

    split: str
    sizes: list[tuple[int, int]] = field(default_factory=list)
    truth: list[tuple[TruthBox, ...]] = field(default_factory=list)
    categories: Counter[str] = field(default_factory=Counter)
    raw: dict[str, list[RawDetections]] = field(default_factory=dict)
    overlaps: dict[str, list[dict[int, AttentionOverlap]]] = field(default_factory=dict)

    @property
    def num_images(self) -> int:
        return len(self.sizes)


@dataclass(frozen=True)
class AttentionExample:
    """One image's attention, kept for the figure: image (H, W, 3) uint8, ood_mask (H, W) bool,
    maps: setting key -> layer -> (h, w) attention averaged over heads."""

    split: str
    index: int
    image: npt.NDArray[np.uint8]
    ood_mask: npt.NDArray[np.bool_]
    maps: dict[str, dict[int, FloatArray]]


@dataclass
class BenchmarkOutputs:
    """Everything :func:`collect` keeps: per-split outputs, seconds spent, example maps."""

    splits: dict[str, SplitOutputs]
    timings: dict[str, float]
    examples: list[AttentionExample]
    forwards: int = 0


def _setting_backend(base: YoloWorldBackend, setting: NetworkSetting, device: str,
                     id_prompts: Sequence[str], template: str) -> YoloWorldBackend:
    """A backend over the same network whose card carries the setting's NegA rule (and its
    weight, for the rules that read one: 'weighted' and 'gate')."""
    from negas_ros.backends.yolo_world.backend import YoloWorldBackend

    card = base.card
    if setting.fusion != 'off':
        card = replace(card, nega_fusion=setting.fusion,
                       nega_weight=setting.weight if setting.fusion in WEIGHTED_FUSIONS
                       else card.nega_weight)
    backend = YoloWorldBackend(base.net, base.embedder, card, device=device, source=base.source)
    backend.set_labels(id_prompts, [template.format(w) for w in setting.negatives],
                       nega=setting.fusion != 'off')
    return backend


def _add(timings: dict[str, float], key: str, start: float) -> None:
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - start


def truth_boxes(scene: Scene) -> tuple[TruthBox, ...]:
    """A scene's objects as ground truth for DetectionSet.add_frame."""
    return tuple(TruthBox(obj.category, (float(obj.box[0]), float(obj.box[1]),
                                         float(obj.box[2]) + 1.0, float(obj.box[3]) + 1.0))
                 for obj in scene.objects)


def _to_source(attn: FloatArray, backend: YoloWorldBackend, source_hw: tuple[int, int]
               ) -> FloatArray:
    """A (h, w) grid map in source pixels: each source pixel takes the cell under it."""
    plan = backend.last_letterbox
    assert plan is not None
    stride = plan.input_hw[0] // attn.shape[0]
    height, width = source_hw
    (rh, rw) = plan.resized_hw
    ys = (plan.pad_top + (np.arange(height) + 0.5) * rh / height).astype(np.int64) // stride
    xs = (plan.pad_left + (np.arange(width) + 0.5) * rw / width).astype(np.int64) // stride
    out: FloatArray = attn[np.ix_(np.minimum(ys, attn.shape[0] - 1),
                                  np.minimum(xs, attn.shape[1] - 1))]
    return out


class _Coverages:
    """Per-grid OOD / ID / background cell coverages of one scene in network-input space."""

    def __init__(self, scene: Scene, id_keys: set[str], backend: YoloWorldBackend) -> None:
        plan = backend.last_letterbox
        assert plan is not None
        instance = scene.instance_map
        is_id = np.zeros(len(scene.objects) + 1, dtype=bool)
        is_ood = np.zeros(len(scene.objects) + 1, dtype=bool)
        for obj in scene.objects:
            known = normalize_label(obj.category) in id_keys
            is_id[obj.id], is_ood[obj.id] = known, not known
        self.ood_mask = is_ood[instance]
        masks = {'ood': self.ood_mask, 'id': is_id[instance], 'background': instance == 0}
        self._input = {name: input_space_mask(mask, plan.input_hw, plan.resized_hw,
                                              plan.pad_top, plan.pad_left)
                       for name, mask in masks.items()}
        self._grids: dict[tuple[int, int], dict[str, npt.NDArray[np.float64]]] = {}

    def at(self, grid_hw: tuple[int, int]) -> dict[str, npt.NDArray[np.float64]]:
        if grid_hw not in self._grids:
            self._grids[grid_hw] = {name: cell_coverage(mask, grid_hw)
                                    for name, mask in self._input.items()}
        return self._grids[grid_hw]


def collect(backend: YoloWorldBackend, plan: BenchmarkPlan, world: World,
            counts: Mapping[str, int], image_size: tuple[int, int], box_threshold: float,
            template: str = '{}', device: str = 'cpu',
            progress: Callable[[str, int, int], None] | None = None) -> BenchmarkOutputs:
    """Render ``counts[split]`` images (indices 0..n-1) of every split a setting covers and
    run each covering setting once per image.

    backend: the loaded detector (its network is shared by one backend per setting).
    counts: split -> number of images (a split absent or at 0 is skipped).
    image_size: (W, H) of the rendered images. box_threshold: the detector's candidate
    threshold in [0, 1]. template: the label file's prompt template.
    progress: called as progress(split, done, total) after each image.
    """
    id_prompts = [template.format(label) for label in plan.id_labels]
    id_keys = {normalize_label(label) for label in plan.id_labels}
    backends = {key: _setting_backend(backend, s, device, id_prompts, template)
                for key, s in plan.settings.items()}
    attention_keys = {key for _name, key in plan.attention_settings}
    order: list[str] = []
    for setting in plan.settings.values():
        order.extend(s for s in setting.splits if s not in order)
    timings: dict[str, float] = {}
    outputs: dict[str, SplitOutputs] = {}
    examples: list[AttentionExample] = []
    forwards = 0
    for split in order:
        total = int(counts.get(split, 0))
        if total <= 0:
            continue
        runs = [s for s in plan.settings.values() if split in s.splits]
        data = SplitOutputs(split, raw={s.key: [] for s in runs})
        capture = [s.key for s in runs if split in s.attention and s.key in attention_keys]
        for key in capture:
            data.overlaps[key] = []
        for index in range(total):
            start = time.perf_counter()
            scene = world.render(split, index, image_size)
            _add(timings, 'render', start)
            height, width = scene.image.shape[:2]
            data.sizes.append((width, height))
            data.truth.append(truth_boxes(scene))
            data.categories.update(obj.category for obj in scene.objects)
            coverages: _Coverages | None = None
            example_maps: dict[str, dict[int, FloatArray]] = {}
            for setting in runs:
                runner = backends[setting.key]
                start = time.perf_counter()
                if setting.key in capture:
                    with runner.capture_attention() as maps:
                        raw = runner.infer(scene.image, box_threshold)
                    _add(timings, f'network/{setting.key}', start)
                    start = time.perf_counter()
                    if coverages is None:
                        coverages = _Coverages(scene, id_keys, runner)
                    per_block: dict[int, AttentionOverlap] = {}
                    for block in maps:
                        attn = block.fused[0].float().mean(dim=0).cpu().numpy()
                        ids = block.ids[0].float().mean(dim=0).cpu().numpy()
                        grid = coverages.at((attn.shape[0], attn.shape[1]))
                        per_block[block.layer] = attention_overlap(
                            attn, grid['ood'], grid['id'], grid['background'],
                            ids if setting.fusion != 'off' else None)
                        if index == 0:
                            example_maps.setdefault(setting.key, {})[block.layer] = (
                                _to_source(attn, runner, scene.image.shape[:2]))
                    data.overlaps[setting.key].append(per_block)
                    _add(timings, 'attention', start)
                else:
                    raw = runner.infer(scene.image, box_threshold)
                    _add(timings, f'network/{setting.key}', start)
                forwards += 1
                data.raw[setting.key].append(raw)
            if example_maps and coverages is not None:
                examples.append(AttentionExample(split, index, scene.image.copy(),
                                                 coverages.ood_mask.copy(), example_maps))
            if progress is not None:
                progress(split, index + 1, total)
        outputs[split] = data
    return BenchmarkOutputs(outputs, timings, examples, forwards)
