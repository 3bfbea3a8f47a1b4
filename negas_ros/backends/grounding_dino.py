"""Grounding DINO backend: transformers ``GroundingDinoForObjectDetection`` with NegA passes.

Importing this module registers the backend as ``'grounding_dino'`` and imports neither torch nor
transformers; they are imported when a backend is built.

Design choices (ours: the NegAS paper gives no Grounding DINO details)

Prompt and per-label logits
    A pass's prompt is ``'[CLS] car . person . traffic light . [SEP]'``: labels are lowercased and
    stripped, each followed by ``.``. Labels are tokenised one by one and concatenated, so each
    label's token span is known exactly (the concatenation is checked against the tokenizer on
    the whole prompt). The model outputs one logit per token, (B, Q, 256); a label's logit is
    the max over its own tokens (max of sigmoids == sigmoid of the max logit, sigmoid being
    monotone). This is per label; transformers' ``post_process_grounded_object_detection``
    instead scores a box by the max over all prompt tokens, [CLS], [SEP] and '.' included, and
    then names the phrase, so its box score can differ from our best label's score.

Passes (the 256-token limit) and how they merge
    Labels are packed in order into passes of at most ``max_text_tokens`` tokens (default: the
    model's ``max_text_len``, 256). With NegA on, every pass holds all ID labels first and then
    as many negatives as fit. Merge rule (ours), chosen so that a box's ID score does not grow
    with the number of passes, i.e. with the number of negatives:

    - the anchor is pass 0 (NegA on: ID labels + the first negatives; NegA off: the ID labels
      alone). Candidates are the anchor's queries, with the anchor's boxes, in query order;
      other passes never add boxes, so there are no cross-pass duplicates to remove, and, as in
      plain Grounding DINO (a DETR-style set predictor), there is no NMS within a pass;
    - each candidate is read in every other pass at that pass's query with the highest IoU to
      the candidate's box;
    - ID logits (``id_merge='mean'``, default): the mean over the anchor and every other ID pass
      whose best query overlaps the box with IoU >= ``match_iou`` (0.5) - a mean, never a max,
      so more passes do not lift the score. ``id_merge='anchor'`` keeps the anchor's logits;
    - a candidate is kept when its merged best ID sigmoid >= box_threshold;
    - a negative of another pass is read at that pass's best-IoU query whatever the IoU, and
      where no query of that pass overlaps the box, at the query with the nearest centre: the
      pass's own response nearest the box, so every negative can lower NegS. ``floor_logit``
      (-20) is left only for a pass without any query (never with a real model).

    The merge is vectorised: float32 IoU blocks between the candidates and each other pass's
    queries, pruned by a sweep on x (13 passes x 900 queries: see docs/benchmarks.md).

NegA off
    The ID detections and ID logits are exactly those of the ID-only prompt: the ID-only pass
    runs alone (batch of one, as an ID-only backend runs it) and is the anchor; the negatives
    are packed into negative-only passes and read by the rule above.

Caching
    Text encodings are computed once per :meth:`GroundingDinoBackend.set_labels`: the BERT text
    backbone runs there, once per forward group, and its output is cached. The model's
    ``text_backbone`` is replaced by a small module that returns the cached output when it is
    called with the cached ``input_ids`` (falling through to BERT otherwise), so the per-frame
    forward never re-runs BERT. Passes are batched (``passes_per_forward`` rows, the same image
    in every row) and the image backbone (Swin) runs once per frame: on the first row of the
    first forward group, its features kept for the frame and shared by every row and group.

Precision and failures
    ``half=True`` (CUDA) runs the model in fp16 except the deformable-attention sampling
    (grid_sample), which stays in fp32. NaN or inf logits or boxes raise
    :class:`~negas_ros.backends.base.NonFiniteOutputError` (never an empty result).

Preprocessing
    The checkpoint's ``preprocessor_config.json`` is read (resize rule, rescale, mean/std) and
    applied with torch on the model's device: antialiased resize as torchvision does in the
    transformers image processor, rounded to integer levels as its uint8 path, then rescale and
    normalise. No padding (one image per forward). Own code rather than the processor object
    because the processor needs torchvision or Pillow, which this package does not depend on;
    where one is installed, a test checks that the pixel values agree within one 8-bit level.
    Predicted boxes are normalised to the unpadded resized image, so they scale to the source
    image by its width and height.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import logging
import math
import re
import threading
import time
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from negas_ros.backends.base import (
    BackendSpec,
    NonFiniteOutputError,
    check_image,
    register_backend,
)
from negas_ros.detection import RawDetections

if TYPE_CHECKING:
    import torch

__all__ = [
    'GroundingDinoBackend',
    'PassOutput',
    'aggregate_passes',
    'box_iou',
    'build_prompt',
    'label_token_spans',
    'normalize_label',
    'plan_passes',
]

FloatArray = npt.NDArray[np.float32]

DEFAULT_MATCH_IOU = 0.5
DEFAULT_ID_MERGE = 'mean'
DEFAULT_FLOOR_LOGIT = -20.0
DEFAULT_PASSES_PER_FORWARD = 4

# Constructor keywords that BackendSpec.options may set.
SPEC_OPTIONS = ('max_text_tokens', 'passes_per_forward', 'match_iou', 'floor_logit', 'id_merge')
_LOG = logging.getLogger(__name__)
_DEVICE_RE = re.compile(r'^(cpu|cuda(:\d+)?)$')
_DELIMITERS = ('.', '?')  # phrase separators in transformers' Grounding DINO


# --------------------------------------------------------------------------- prompts and passes


def normalize_label(label: str) -> str:
    """Label text as it goes into the prompt: stripped, lowercased, inner whitespace single.

    Raises ValueError for an empty label or one holding a phrase delimiter ('.' or '?'), which
    would split it into two phrases.
    """
    text = ' '.join(label.strip().lower().split())
    if not text:
        raise ValueError(f'empty label {label!r}')
    if any(d in text for d in _DELIMITERS):
        raise ValueError(f"label {label!r} contains a phrase delimiter ('.' or '?')")
    return text


def build_prompt(labels: Sequence[str]) -> str:
    """Prompt text for labels: ``['car', 'traffic light'] -> 'car . traffic light .'``."""
    return ' '.join(f'{normalize_label(label)} .' for label in labels)


def label_token_spans(
    label_token_ids: Sequence[Sequence[int]], cls_id: int, sep_id: int, dot_id: int
) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``[CLS] l1 . l2 . ... [SEP]`` and each label's span.

    label_token_ids: per label, its word-piece ids without special tokens (non-empty).
    Returns (input_ids, spans) with ``input_ids[start:end]`` the tokens of label i for
    ``spans[i] == (start, end)``; len(input_ids) == 2 + sum(len(ids) + 1).
    """
    input_ids = [cls_id]
    spans: list[tuple[int, int]] = []
    for ids in label_token_ids:
        if not ids:
            raise ValueError('a label has no tokens')
        start = len(input_ids)
        input_ids.extend(ids)
        spans.append((start, len(input_ids)))
        input_ids.append(dot_id)
    input_ids.append(sep_id)
    return input_ids, spans


def _pack(costs: Sequence[int], room: int, what: str) -> list[list[int]]:
    """Greedy in-order packing of item indices into bins of total cost <= room."""
    bins: list[list[int]] = []
    used = room + 1  # forces a first bin
    for index, cost in enumerate(costs):
        if cost > room:
            raise ValueError(f'{what} {index} needs {cost} tokens; only {room} fit in a pass')
        if used + cost > room:
            bins.append([])
            used = 0
        bins[-1].append(index)
        used += cost
    return bins


def plan_passes(
    id_costs: Sequence[int], neg_costs: Sequence[int], max_tokens: int, nega: bool
) -> list[tuple[list[int], list[int]]]:
    """Split labels into prompt passes of at most ``max_tokens`` tokens each.

    A label's cost is its token count + 1 (its '.'); each pass also spends 2 on [CLS] and [SEP].
    Returns [(ID label indices, negative label indices)] per pass, indices in input order.
    nega=True: every pass holds all ID labels, negatives are packed into the room left (one pass
    with the ID labels alone when there are no negatives). nega=False: pass 0 holds the ID labels
    alone, then negative-only passes. Raises ValueError when the ID labels, or one negative
    label next to them, do not fit.
    """
    if not id_costs:
        raise ValueError('at least one ID label is needed')
    budget = max_tokens - 2
    id_total = sum(id_costs)
    if id_total > budget:
        raise ValueError(
            f'the ID labels need {id_total + 2} tokens, over the {max_tokens}-token prompt limit'
        )
    id_indices = list(range(len(id_costs)))
    if nega:
        if not neg_costs:
            return [(id_indices, [])]
        chunks = _pack(neg_costs, budget - id_total, 'negative label')
        return [(list(id_indices), chunk) for chunk in chunks]
    return [(id_indices, [])] + [
        ([], chunk) for chunk in _pack(neg_costs, budget, 'negative label')
    ]


# --------------------------------------------------------------------------- aggregation (numpy)


def box_iou(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """IoU matrix (N, M) of xyxy boxes a (N, 4) and b (M, 4); 0 where the union is empty."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: npt.NDArray[np.float64] = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    return out


@dataclass(frozen=True)
class PassOutput:
    """One prompt pass on one image, all Q queries.

    boxes_xyxy: (Q, 4) float32 source-image pixels.
    id_logits: (Q, K) float32, or None for a negative-only pass (NegA off).
    neg_logits: (Q, m) float32 responses to the m negatives of this pass.
    neg_indices: (m,) index of each column in the full negative label list.
    """

    boxes_xyxy: FloatArray
    id_logits: FloatArray | None
    neg_logits: FloatArray
    neg_indices: tuple[int, ...]


ID_MERGES = ('mean', 'anchor')


def aggregate_passes(
    passes: Sequence[PassOutput],
    num_id: int,
    num_neg: int,
    box_threshold: float,
    match_iou: float = DEFAULT_MATCH_IOU,
    floor_logit: float = DEFAULT_FLOOR_LOGIT,
    id_merge: str = DEFAULT_ID_MERGE,
) -> RawDetections:
    """Merge the passes of one image into candidates (the rule in the module docstring).

    The anchor is the first pass with ID logits; candidates are its queries, in query order,
    whose merged best ID sigmoid >= box_threshold. With a single pass (or ``id_merge='anchor'``)
    the candidates' boxes and ID logits are the anchor's values, unchanged.
    """
    if id_merge not in ID_MERGES:
        raise ValueError(f'id_merge must be one of {", ".join(ID_MERGES)}, got {id_merge!r}')
    anchor_index = next((i for i, p in enumerate(passes) if p.id_logits is not None), None)
    if anchor_index is None:
        raise ValueError('no pass holds ID logits')
    anchor = passes[anchor_index]
    assert anchor.id_logits is not None
    others = [p for i, p in enumerate(passes) if i != anchor_index]
    id_others = [p.id_logits is not None and id_merge == 'mean' for p in others]
    threshold_logit = _logit(box_threshold)

    # Which anchor queries can reach the threshold: a mean is never above its largest term, so
    # an anchor query qualifies only if it, or a query of another ID pass matched to it, does.
    # This keeps the matching below cheap at the usual thresholds.
    eligible = anchor.id_logits.max(axis=1) >= threshold_logit
    strong = [p.boxes_xyxy[p.id_logits.max(axis=1) >= threshold_logit]
              for p, use_id in zip(others, id_others, strict=True)
              if use_id and p.id_logits is not None]
    strong_boxes = np.concatenate(strong) if strong else np.zeros((0, 4), np.float32)
    if strong_boxes.shape[0]:
        rest = np.flatnonzero(~eligible)
        if rest.size:
            reach = _best_matches(anchor.boxes_xyxy[rest], [strong_boxes])[1][:, 0] >= match_iou
            eligible[rest[reach]] = True
    cand = np.flatnonzero(eligible)
    boxes = anchor.boxes_xyxy[cand]

    id_sum = anchor.id_logits[cand].astype(np.float64)
    id_count = np.ones((cand.size, 1), np.float64)
    neg = np.full((cand.size, num_neg), floor_logit, np.float32)
    if anchor.neg_indices:
        neg[:, np.asarray(anchor.neg_indices, np.intp)] = anchor.neg_logits[cand]
    readers = [(p, use_id) for p, use_id in zip(others, id_others, strict=True)
               if p.neg_indices or use_id]
    if cand.size and readers:
        best, best_iou = _best_matches(boxes, [p.boxes_xyxy for p, _ in readers])
        rows = np.arange(cand.size)
        for j, (other, use_id) in enumerate(readers):
            query, iou = best[:, j], best_iou[:, j]
            if other.neg_indices and other.boxes_xyxy.shape[0]:
                # The negative's response at its pass's query overlapping the box most (nearest
                # centre when none overlaps): every negative can lower NegS.
                cols = np.asarray(other.neg_indices, np.intp)
                neg[np.ix_(rows, cols)] = other.neg_logits[query]
            if use_id and other.id_logits is not None:
                same = iou >= match_iou
                id_sum[same] += other.id_logits[query[same]]
                id_count[same] += 1.0
    id_logits = (id_sum / id_count).astype(np.float32)
    keep = id_logits.max(axis=1) >= threshold_logit if id_logits.size else np.zeros(0, np.bool_)
    return RawDetections(boxes[keep].astype(np.float32, copy=False), id_logits[keep], neg[keep])


def _logit(probability: float) -> float:
    """The logit whose sigmoid is probability (threshold in logit space; +-inf at 0 and 1)."""
    if probability <= 0.0:
        return -math.inf
    if probability >= 1.0:
        return math.inf
    return math.log(probability / (1.0 - probability))


def _best_matches(
    boxes: FloatArray, pass_boxes: Sequence[FloatArray], chunk: int = 64
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """For each box and each pass: the index of the pass's query with the highest IoU, and it.

    boxes (N, 4); pass_boxes: P arrays (Q_p, 4). Returns (N, P) indices and (N, P) IoUs; where no
    query of a pass overlaps a box, IoU 0 and the query with the nearest centre.
    Sweep on x: boxes and each pass's queries are sorted by x1, and a chunk of neighbouring
    boxes is compared only with the contiguous run of queries from the first whose running
    maximum of x2 passes the chunk's smallest x1 to the last whose x1 is below its largest x2;
    no query outside that run can overlap the chunk. Exact (up to ties between equal IoUs),
    and a few times fewer IoUs than the dense matrix.
    """
    n, p = boxes.shape[0], len(pass_boxes)
    best = np.zeros((n, p), np.intp)
    best_iou = np.zeros((n, p), np.float32)
    if not n:
        return best, best_iou
    order = np.argsort(boxes[:, 0], kind='stable')
    sorted_boxes = boxes[order].astype(np.float32)
    for j, queries in enumerate(pass_boxes):
        if not queries.shape[0]:
            continue
        q_order = np.argsort(queries[:, 0], kind='stable')
        q_sorted = queries[q_order].astype(np.float32)
        # Queries before index k all end by reach[k - 1]: the first that can reach a box.
        reach = np.maximum.accumulate(q_sorted[:, 2])
        for start in range(0, n, chunk):
            block = sorted_boxes[start : start + chunk]
            lo = int(np.searchsorted(reach, block[:, 0].min(), 'right'))
            hi = int(np.searchsorted(q_sorted[:, 0], block[:, 2].max(), 'right'))
            if hi <= lo:
                continue
            ratio = _overlap_ratio(block, q_sorted[lo:hi])
            arg = ratio.argmax(axis=1)
            top = ratio[np.arange(block.shape[0]), arg]
            rows = order[start : start + chunk]
            best[rows, j] = q_order[lo + arg]
            best_iou[rows, j] = top / (1.0 - top)
        # Boxes no query of this pass touches: the query whose centre is nearest.
        alone = np.flatnonzero(best_iou[:, j] <= 0.0)
        if alone.size:
            centre = (boxes[alone, :2] + boxes[alone, 2:]) / 2
            q_centre = (queries[:, :2] + queries[:, 2:]) / 2
            dist = ((centre[:, None, :] - q_centre[None, :, :]) ** 2).sum(axis=2)
            best[alone, j] = dist.argmin(axis=1)
    return best, best_iou


def _iou_f32(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU matrix (N, M) in float32 (the merge's hot loop; see _overlap_ratio)."""
    ratio = _overlap_ratio(a, b)
    np.subtract(1.0, ratio, out=ratio)
    np.divide(1.0, ratio, out=ratio)
    np.subtract(ratio, 1.0, out=ratio)  # r / (1 - r) == 1 / (1 - r) - 1
    return ratio


def _overlap_ratio(a: FloatArray, b: FloatArray) -> FloatArray:
    """inter / (area_a + area_b), (N, M) float32: IoU = r / (1 - r), the same argmax as IoU.

    Eleven in-place array operations instead of thirteen for IoU itself; the sweep only needs
    the argmax, and converts the winners. A 1e-12 on area_a keeps two empty boxes at 0.
    """
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    inter = np.minimum(a[:, None, 2], b[None, :, 2])
    np.subtract(inter, x1, out=inter)
    np.maximum(inter, 0.0, out=inter)
    np.maximum(a[:, None, 1], b[None, :, 1], out=x1)
    height = np.minimum(a[:, None, 3], b[None, :, 3])
    np.subtract(height, x1, out=height)
    np.maximum(height, 0.0, out=height)
    np.multiply(inter, height, out=inter)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + np.float32(1e-12)
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    np.add(area_a[:, None], area_b[None, :], out=height)
    np.divide(inter, height, out=inter)
    return inter


# --------------------------------------------------------------------------- torch helpers


@dataclass(frozen=True)
class _ImageConfig:
    """The parts of a Grounding DINO preprocessor_config.json that we apply."""

    do_resize: bool
    shortest_edge: int | None
    longest_edge: int | None
    fixed_hw: tuple[int, int] | None
    mode: str
    do_rescale: bool
    rescale_factor: float
    do_normalize: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @staticmethod
    def from_dict(cfg: dict[str, Any]) -> _ImageConfig:
        size = cfg.get('size') or {'shortest_edge': 800, 'longest_edge': 1333}
        if isinstance(size, int):  # legacy: shortest edge as an int, plus max_size
            size = {'shortest_edge': size, 'longest_edge': cfg.get('max_size')}
        shortest = size.get('shortest_edge')
        longest = size.get('longest_edge', cfg.get('max_size'))
        fixed = None
        if shortest is None:
            if 'height' in size and 'width' in size:
                fixed = (int(size['height']), int(size['width']))
            else:
                raise ValueError(f'unsupported preprocessor size {size!r}')
        modes = {0: 'nearest', 2: 'bilinear', 3: 'bicubic'}  # PIL resample codes
        resample = int(cfg.get('resample', 2))
        if resample not in modes:
            raise ValueError(f'unsupported preprocessor resample {resample}')
        mean = cfg.get('image_mean', [0.485, 0.456, 0.406])
        std = cfg.get('image_std', [0.229, 0.224, 0.225])
        return _ImageConfig(
            do_resize=bool(cfg.get('do_resize', True)),
            shortest_edge=None if shortest is None else int(shortest),
            longest_edge=None if longest is None else int(longest),
            fixed_hw=fixed,
            mode=modes[resample],
            do_rescale=bool(cfg.get('do_rescale', True)),
            rescale_factor=float(cfg.get('rescale_factor', 1 / 255)),
            do_normalize=bool(cfg.get('do_normalize', True)),
            mean=(float(mean[0]), float(mean[1]), float(mean[2])),
            std=(float(std[0]), float(std[1]), float(std[2])),
        )

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Network-input (height, width) for a source image, as the transformers processor."""
        if not self.do_resize:
            return height, width
        if self.fixed_hw is not None:
            return self.fixed_hw
        from transformers.image_transforms import get_size_with_aspect_ratio

        assert self.shortest_edge is not None
        return get_size_with_aspect_ratio((height, width), self.shortest_edge, self.longest_edge)


@dataclass(frozen=True)
class _Group:
    """Passes run in one forward (one batch row each) and the tensors that feed it."""

    passes: tuple[int, ...]
    input_ids: torch.Tensor  # (B, L) long, padded
    attention_mask: torch.Tensor  # (B, L) long
    token_type_ids: torch.Tensor  # (B, L) long
    token_pos: torch.Tensor  # (B, T) long: label-token positions, padded with 0
    token_label: torch.Tensor  # (B, T) long: label slot of each, padding -> slot n_max
    n_labels: tuple[int, ...]  # labels per row (ID first, then negatives)
    n_max: int


@dataclass(frozen=True)
class _LabelState:
    id_labels: tuple[str, ...]
    neg_labels: tuple[str, ...]
    nega: bool
    prompts: tuple[str, ...]  # per pass
    pass_ids: tuple[tuple[int, ...], ...]  # per pass: ID label indices
    pass_negs: tuple[tuple[int, ...], ...]  # per pass: negative label indices
    groups: tuple[_Group, ...]
    text_cache: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # (input_ids, BERT hidden states)


def _torch_modules() -> tuple[type[Any], type[Any], type[Any]]:
    """nn.Module wrappers, defined lazily so that importing this module does not import torch."""
    global _MODULES
    if _MODULES is not None:
        return _MODULES
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    class CachedTextBackbone(torch.nn.Module):
        """Stands in for the BERT text backbone: returns cached outputs for known input_ids.

        The cache is filled by set_labels; an unknown input falls through to BERT, so direct
        calls of the model stay correct.
        """

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.entries: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor | None = None,
            token_type_ids: torch.Tensor | None = None,
            position_ids: torch.Tensor | None = None,
            return_dict: bool | None = True,
            **kwargs: Any,
        ) -> Any:
            for ids, hidden in self.entries:
                if ids is input_ids or (
                    ids.shape == input_ids.shape and torch.equal(ids, input_ids)
                ):
                    return BaseModelOutput(last_hidden_state=hidden) if return_dict else (hidden,)
            return self.inner(
                input_ids,
                attention_mask,
                token_type_ids,
                position_ids,
                return_dict=return_dict,
                **kwargs,
            )

    class SharedImageEncoder(torch.nn.Module):
        """Runs the image backbone once per frame and shares its features with every pass.

        Every row of our batches holds the same image (one row per prompt pass), so the backbone
        runs on row 0 only. Between :meth:`begin_frame` and :meth:`end_frame` (the backend's
        infer) its output is kept and reused by every forward group of that frame; outside a
        frame (direct calls of the model) nothing is cached.
        """

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self._frame_open = False
            self._cached: Any = None

        def begin_frame(self) -> None:
            self._frame_open, self._cached = True, None

        def end_frame(self) -> None:
            self._frame_open, self._cached = False, None

        def forward(self, pixel_values: torch.Tensor, pixel_mask: torch.Tensor) -> Any:
            batch = pixel_values.shape[0]
            if self._frame_open and self._cached is not None:
                out = self._cached
            else:
                out = self.inner(pixel_values[:1], pixel_mask[:1])
                if self._frame_open:
                    self._cached = out
            if batch == 1:
                return out
            return [
                (fmap.expand(batch, *fmap.shape[1:]), mask.expand(batch, *mask.shape[1:]))
                for fmap, mask in out
            ]

    class Fp32Sampling(torch.nn.Module):
        """Runs multi-scale deformable sampling (grid_sample) in fp32 inside an fp16 model.

        grid_sample in half precision loses the sub-pixel sampling positions and gave NaN on
        CPU; the sampling is a small part of the cost, so it runs in fp32 and casts back.
        """

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, value: torch.Tensor, spatial_shapes: torch.Tensor,
                    spatial_shapes_list: Any, level_start_index: torch.Tensor,
                    sampling_locations: torch.Tensor, attention_weights: torch.Tensor,
                    im2col_step: int) -> torch.Tensor:
            out = self.inner(value.float(), spatial_shapes, spatial_shapes_list,
                             level_start_index, sampling_locations.float(),
                             attention_weights.float(), im2col_step)
            return cast(torch.Tensor, out).to(value.dtype)

    _MODULES = (CachedTextBackbone, SharedImageEncoder, Fp32Sampling)
    return _MODULES


_MODULES: tuple[type[Any], type[Any], type[Any]] | None = None


def keep_sampling_in_fp32(net: Any) -> int:
    """Wrap every deformable-attention sampler of a transformers Grounding DINO in fp32.

    Used for ``half=True``; returns how many samplers were wrapped (idempotent).
    """
    fp32_cls = _torch_modules()[2]
    wrapped = 0
    for module in net.modules():
        inner = getattr(module, 'attn', None)
        if type(module).__name__ == 'GroundingDinoMultiscaleDeformableAttention' and inner:
            if not isinstance(inner, fp32_cls):
                module.attn = fp32_cls(inner)
            wrapped += 1
    return wrapped


# --------------------------------------------------------------------------- the backend


class GroundingDinoBackend:
    """Grounding DINO through transformers, answering for ID and negative labels.

    Args:
        model: hub id (e.g. ``IDEA-Research/grounding-dino-tiny``) or local checkpoint directory
            holding config, weights, tokenizer and preprocessor_config.json.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        half: fp16 weights and activations; CUDA only.
        max_text_tokens: prompt limit per pass, [CLS] and [SEP] included; default and maximum
            the model's ``max_text_len`` (256). Smaller values force more passes (tests).
        passes_per_forward: passes batched into one forward.
        match_iou / floor_logit / id_merge: the pass-merge rule of the module docstring.

    Thread-safe: infer calls serialise on an internal lock; set_labels encodes the texts
    outside it and then swaps the whole label set in at once, between two frames.
    ``last_timings`` holds the seconds of the last :meth:`infer`: 'preprocess', 'model',
    'postprocess' and 'total'.
    """

    def __init__(
        self,
        model: str,
        device: str = 'cpu',
        half: bool = False,
        *,
        max_text_tokens: int | None = None,
        passes_per_forward: int = DEFAULT_PASSES_PER_FORWARD,
        match_iou: float = DEFAULT_MATCH_IOU,
        floor_logit: float = DEFAULT_FLOOR_LOGIT,
        id_merge: str = DEFAULT_ID_MERGE,
    ) -> None:
        if not isinstance(device, str) or not _DEVICE_RE.match(device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        if half and device == 'cpu':
            raise ValueError('half=True (fp16) needs a CUDA device; use half=False on cpu')
        if passes_per_forward < 1:
            raise ValueError(f'passes_per_forward must be >= 1, got {passes_per_forward}')
        if not 0.0 < match_iou <= 1.0:
            raise ValueError(f'match_iou must be in (0, 1], got {match_iou}')
        if id_merge not in ID_MERGES:
            raise ValueError(f'id_merge must be one of {", ".join(ID_MERGES)}, got {id_merge!r}')
        if not math.isfinite(floor_logit):
            raise ValueError(f'floor_logit must be finite, got {floor_logit}')

        import torch
        from transformers import (
            AutoTokenizer,
            GroundingDinoForObjectDetection,
            ImageProcessingMixin,
        )

        if device.startswith('cuda'):
            if not torch.cuda.is_available():
                raise ValueError(f'device {device!r} requested but CUDA is not available')
            index = int(device.split(':')[1]) if ':' in device else 0
            if index >= torch.cuda.device_count():
                raise ValueError(
                    f'device {device!r}: only {torch.cuda.device_count()} CUDA device(s)'
                )
        self._device = torch.device(device)
        self._dtype = torch.float16 if half else torch.float32
        self._tokenizer: Any = AutoTokenizer.from_pretrained(model)
        image_cfg, _ = ImageProcessingMixin.get_image_processor_dict(model)
        self._image_cfg = _ImageConfig.from_dict(image_cfg)
        loader: Any = GroundingDinoForObjectDetection  # its decorated classmethods confuse mypy
        net: Any = loader.from_pretrained(model)
        net.to(device=self._device, dtype=self._dtype)
        net.eval()
        net.requires_grad_(False)
        # The transformers module, for analysis (e.g. attention maps). Its text backbone and image
        # encoder are wrapped below, which renames their state-dict keys: do not save it.
        self.model: Any = net

        limit = int(net.config.max_text_len)
        if max_text_tokens is None:
            max_text_tokens = limit
        if not 4 <= max_text_tokens <= limit:
            raise ValueError(f'max_text_tokens must be in [4, {limit}], got {max_text_tokens}')
        self._max_text_tokens = max_text_tokens
        self._passes_per_forward = passes_per_forward
        self._match_iou = match_iou
        self._id_merge = id_merge
        self._floor_logit = floor_logit

        tok = cast(Any, self._tokenizer)
        self._cls_id = int(tok.cls_token_id)
        self._sep_id = int(tok.sep_token_id)
        self._dot_id = int(tok.convert_tokens_to_ids('.'))
        self._pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else 0)
        self._special_ids = frozenset(int(i) for i in net.model.special_tokens.tolist())
        missing = {self._cls_id, self._sep_id, self._dot_id} - self._special_ids
        if missing:
            # The model splits phrases at these ids only; other ids would merge all labels.
            raise ValueError(
                f'tokenizer ids {sorted(missing)} for [CLS]/[SEP]/. are not the delimiter ids '
                f'{sorted(self._special_ids)} of the model'
            )

        cached_text_cls, shared_image_cls, _ = _torch_modules()
        if half and keep_sampling_in_fp32(net) == 0:
            raise ValueError('half=True: no deformable-attention sampler found to keep in fp32 '
                             '(unexpected transformers Grounding DINO layout)')
        self.text_encoder: torch.nn.Module = net.model.text_backbone  # BERT, for hooks/tests
        self._text_cache = cached_text_cls(self.text_encoder)
        net.model.text_backbone = self._text_cache
        backbone = net.model.backbone
        self._image_encoder = shared_image_cls(backbone.conv_encoder)
        backbone.conv_encoder = self._image_encoder

        self._lock = threading.Lock()
        self._state: _LabelState | None = None
        self.last_timings: dict[str, float] = {}

    @classmethod
    def from_spec(cls, spec: BackendSpec) -> GroundingDinoBackend:
        """Registry factory: the spec's model, device and half, and its options.

        Options are the keyword arguments of the constructor (``max_text_tokens``,
        ``passes_per_forward``, ``match_iou``, ``floor_logit``, ``id_merge``); keys meant for
        other backends are ignored with a warning, as BackendSpec promises.
        """
        options = dict(spec.options or {})
        unknown = sorted(set(options) - set(SPEC_OPTIONS))
        if unknown:
            _LOG.warning('grounding_dino ignores backend options it does not know: %s',
                         ', '.join(unknown))
        known = {key: options[key] for key in SPEC_OPTIONS if key in options}
        return cls(spec.model, device=spec.device, half=spec.half, **known)

    # ----------------------------------------------------------------------- labels

    @property
    def prompts(self) -> tuple[str, ...]:
        """Prompt text of each pass for the current label set (empty before set_labels)."""
        return () if self._state is None else self._state.prompts

    @property
    def pass_labels(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """Per pass: (ID label indices, negative label indices)."""
        if self._state is None:
            return ()
        return tuple(zip(self._state.pass_ids, self._state.pass_negs, strict=True))

    def _label_tokens(self, label: str) -> list[int]:
        ids = [int(i) for i in self._tokenizer(label, add_special_tokens=False)['input_ids']]
        if not ids:
            raise ValueError(f'label {label!r} has no tokens')
        if self._special_ids.intersection(ids) or self._pad_id in ids:
            raise ValueError(f'label {label!r} tokenises to a delimiter or padding token')
        return ids

    def set_labels(
        self, id_labels: Sequence[str], negative_labels: Sequence[str], nega: bool
    ) -> None:
        """Plan the passes and encode their texts once (BERT runs here, never in infer).

        id_labels: K >= 1 labels; negative_labels: M >= 0 labels. Logits of infer come in this
        order. nega: negatives share the prompt with the ID labels (NegA) or live in separate
        passes so that the ID outputs equal those of an ID-only prompt. Raises ValueError for an
        empty ID list, a bad label or labels that do not fit the prompt limit. On error the
        previous label set stays in force.
        """
        import torch
        from transformers.models.grounding_dino.modeling_grounding_dino import (
            generate_masks_with_special_tokens_and_transfer_map,
        )

        ids = tuple(normalize_label(label) for label in id_labels)
        negs = tuple(normalize_label(label) for label in negative_labels)
        if not ids:
            raise ValueError('at least one ID label is needed')
        id_tokens = [self._label_tokens(label) for label in ids]
        neg_tokens = [self._label_tokens(label) for label in negs]
        plan = plan_passes(
            [len(t) + 1 for t in id_tokens],
            [len(t) + 1 for t in neg_tokens],
            self._max_text_tokens,
            bool(nega),
        )

        prompts: list[str] = []
        pass_inputs: list[list[int]] = []
        pass_spans: list[list[tuple[int, int]]] = []
        for id_idx, neg_idx in plan:
            labels = [ids[i] for i in id_idx] + [negs[i] for i in neg_idx]
            tokens = [id_tokens[i] for i in id_idx] + [neg_tokens[i] for i in neg_idx]
            prompt_ids, spans = label_token_spans(tokens, self._cls_id, self._sep_id, self._dot_id)
            prompt = build_prompt(labels)
            # Guards the span bookkeeping: per-label tokenisation must equal the whole prompt's.
            full = [int(i) for i in self._tokenizer(prompt)['input_ids']]
            if full != prompt_ids:
                raise ValueError(f'tokenizer splits the prompt {prompt!r} differently per label')
            prompts.append(prompt)
            pass_inputs.append(prompt_ids)
            pass_spans.append(spans)

        # Forward groups: the ID-only pass of NegA off runs alone, exactly as an ID-only backend.
        order = list(range(len(plan)))
        step = self._passes_per_forward
        if nega:
            chunks = [order[i : i + step] for i in range(0, len(order), step)]
        else:
            rest = order[1:]
            chunks = [[0]] + [rest[i : i + step] for i in range(0, len(rest), step)]

        groups: list[_Group] = []
        cache: list[tuple[torch.Tensor, torch.Tensor]] = []
        dev = self._device
        with torch.inference_mode():
            for chunk in chunks:
                length = max(len(pass_inputs[p]) for p in chunk)
                rows = [
                    pass_inputs[p] + [self._pad_id] * (length - len(pass_inputs[p])) for p in chunk
                ]
                input_ids = torch.tensor(rows, dtype=torch.long, device=dev)
                attention_mask = torch.tensor(
                    [
                        [1] * len(pass_inputs[p]) + [0] * (length - len(pass_inputs[p]))
                        for p in chunk
                    ],
                    dtype=torch.long,
                    device=dev,
                )
                token_type_ids = torch.zeros_like(input_ids)
                n_labels = tuple(len(pass_spans[p]) for p in chunk)
                n_max = max(n_labels)
                pos_rows = [[t for s, e in pass_spans[p] for t in range(s, e)] for p in chunk]
                lab_rows = [
                    [j for j, (s, e) in enumerate(pass_spans[p]) for _ in range(s, e)]
                    for p in chunk
                ]
                width = max(len(r) for r in pos_rows)
                token_pos = torch.tensor(
                    [r + [0] * (width - len(r)) for r in pos_rows], dtype=torch.long, device=dev
                )
                token_label = torch.tensor(
                    [r + [n_max] * (width - len(r)) for r in lab_rows],
                    dtype=torch.long,
                    device=dev,
                )
                groups.append(
                    _Group(
                        tuple(chunk),
                        input_ids,
                        attention_mask,
                        token_type_ids,
                        token_pos,
                        token_label,
                        n_labels,
                        n_max,
                    )
                )
                # The same inputs the model's forward hands to its text backbone.
                masks, position_ids = generate_masks_with_special_tokens_and_transfer_map(
                    cast(Any, input_ids), self.model.model.special_tokens
                )
                hidden = self.text_encoder(
                    input_ids, masks[:, None, :, :], token_type_ids, position_ids, return_dict=True
                ).last_hidden_state
                cache.append((input_ids, hidden))

        state = _LabelState(
            id_labels=ids,
            neg_labels=negs,
            nega=bool(nega),
            prompts=tuple(prompts),
            pass_ids=tuple(tuple(i) for i, _ in plan),
            pass_negs=tuple(tuple(n) for _, n in plan),
            groups=tuple(groups),
            text_cache=tuple(cache),
        )
        with self._lock:
            self._state = state
            self._text_cache.entries = state.text_cache

    # ----------------------------------------------------------------------- inference

    def _preprocess(self, image_rgb: npt.NDArray[np.uint8]) -> torch.Tensor:
        """(1, 3, h, w) normalised pixel values on the model's device and dtype."""
        import torch
        import torch.nn.functional as nnf

        height, width = image_rgb.shape[:2]
        x = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(self._device)
        x = x.permute(2, 0, 1)[None].float()
        cfg = self._image_cfg
        out_h, out_w = cfg.output_size(height, width)
        if (out_h, out_w) != (height, width):
            if cfg.mode == 'nearest':
                x = nnf.interpolate(x, size=(out_h, out_w), mode='nearest')
            else:
                x = nnf.interpolate(
                    x, size=(out_h, out_w), mode=cfg.mode, align_corners=False, antialias=True
                )
            x = x.round_().clamp_(0, 255)  # the processor resizes uint8 images
        if cfg.do_rescale:
            x = x * cfg.rescale_factor
        if cfg.do_normalize:
            mean = torch.tensor(cfg.mean, device=self._device).view(1, 3, 1, 1)
            std = torch.tensor(cfg.std, device=self._device).view(1, 3, 1, 1)
            x = (x - mean) / std
        return x.to(self._dtype)

    def _forward(
        self, state: _LabelState, pixel_values: torch.Tensor
    ) -> list[tuple[_Group, torch.Tensor, torch.Tensor]]:
        """Per group: (group, label logits (B, Q, n_max) float32, boxes cxcywh (B, Q, 4))."""
        import torch

        results = []
        for group in state.groups:
            batch = len(group.passes)
            out = self.model(
                pixel_values=pixel_values.expand(batch, -1, -1, -1),
                input_ids=group.input_ids,
                attention_mask=group.attention_mask,
                token_type_ids=group.token_type_ids,
            )
            logits = out.logits.float()  # (B, Q, max_text_len)
            queries = logits.shape[1]
            pos = group.token_pos[:, None, :].expand(batch, queries, -1)
            lab = group.token_label[:, None, :].expand(batch, queries, -1)
            per_label = torch.full(
                (batch, queries, group.n_max + 1), float('-inf'), device=logits.device
            )
            label_logits = logits.gather(2, pos)
            boxes = out.pred_boxes.float()
            # A NaN fails every threshold test, so without this check a broken model or an
            # fp16 overflow would look like "nothing detected".
            if not (torch.isfinite(label_logits).all() and torch.isfinite(boxes).all()):
                raise NonFiniteOutputError(
                    f'Grounding DINO produced NaN/inf logits or boxes (passes {group.passes}, '
                    f'dtype {self._dtype}); the model or its precision is broken')
            # Max over each label's tokens; the extra slot n_max swallows the padding.
            per_label.scatter_reduce_(2, lab, label_logits, reduce='amax')
            results.append((group, per_label[..., : group.n_max], boxes))
        return results

    def _pass_outputs(
        self,
        state: _LabelState,
        forwards: list[tuple[_Group, torch.Tensor, torch.Tensor]],
        height: int,
        width: int,
    ) -> list[PassOutput]:
        outputs: dict[int, PassOutput] = {}
        scale = np.array([width, height, width, height], np.float32)
        for group, per_label, boxes in forwards:
            per_label_np = per_label.cpu().numpy()
            boxes_np = boxes.cpu().numpy()
            for row, p in enumerate(group.passes):
                cx, cy, w, h = np.moveaxis(boxes_np[row], -1, 0)
                xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1) * scale
                xyxy = np.clip(xyxy, 0, scale).astype(np.float32)
                k = len(state.pass_ids[p])
                n = group.n_labels[row]
                outputs[p] = PassOutput(
                    boxes_xyxy=xyxy,
                    id_logits=per_label_np[row, :, :k] if k else None,
                    neg_logits=per_label_np[row, :, k:n],
                    neg_indices=state.pass_negs[p],
                )
        return [outputs[p] for p in range(len(state.prompts))]

    def infer(self, image_rgb: npt.NDArray[np.uint8], box_threshold: float) -> RawDetections:
        """Detect on one image.

        image_rgb: (H, W, 3) uint8 RGB, H, W >= 1. box_threshold in [0, 1].
        Returns RawDetections: boxes (N, 4) float32 source-image pixel xyxy clipped to
        [0, W] x [0, H]; id_logits (N, K) and neg_logits (N, M) float32 pre-sigmoid, in the
        label order of set_labels; only queries whose best ID sigmoid >= box_threshold.
        Raises ValueError for a bad image or threshold, RuntimeError before set_labels.
        """
        import torch

        check_image(image_rgb, box_threshold)
        height, width = int(image_rgb.shape[0]), int(image_rgb.shape[1])

        with self._lock:
            state = self._state
            if state is None:
                raise RuntimeError('set_labels must be called before infer')
            sync = self._device.type == 'cuda'
            start = time.perf_counter()
            with torch.inference_mode():
                pixel_values = self._preprocess(image_rgb)
                if sync:
                    torch.cuda.synchronize(self._device)
                t_pre = time.perf_counter()
                self._image_encoder.begin_frame()  # the backbone runs once for all passes
                try:
                    forwards = self._forward(state, pixel_values)
                finally:
                    self._image_encoder.end_frame()
                if sync:
                    torch.cuda.synchronize(self._device)
                t_model = time.perf_counter()
                passes = self._pass_outputs(state, forwards, height, width)
            raw = aggregate_passes(
                passes,
                len(state.id_labels),
                len(state.neg_labels),
                box_threshold,
                self._match_iou,
                self._floor_logit,
                self._id_merge,
            )
            end = time.perf_counter()
            self.last_timings = {
                'preprocess': t_pre - start,
                'model': t_model - t_pre,
                'postprocess': end - t_model,
                'total': end - start,
            }
        return raw


register_backend('grounding_dino', GroundingDinoBackend.from_spec)
