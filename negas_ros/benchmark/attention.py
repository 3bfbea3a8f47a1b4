"""Overlap of text-guided attention maps with object masks (pure numpy).

Definitions (ours; the NegAS paper gives no measure, and the review that asked for one gave no
formula). For one image and one text-guided block with a (heads, h, w) attention map applied
in the block (values in [0, 1]; with NegA that is the *fused* map, see
:class:`negas_ros.backends.yolo_world.network.AttentionMaps`):

- ``a(i, j)``: the attention averaged over heads, on the block's grid of h x w cells, each cell
  covering ``stride x stride`` network-input pixels;
- ``o, d, g (i, j)``: the fraction of the cell's pixels that lie on an OOD object, on an ID
  object and on background (instance 0, clutter included); letterbox padding belongs to none
  of them, so ``v = o + d + g`` is the fraction of the cell that shows the image.

Per image and block:

- ``mass_in_ood = sum a o / sum a v``: the share of the attention mass that falls on OOD
  pixels, in [0, 1];
- ``area_ood = sum o / sum v``: the OOD share of the image, what ``mass_in_ood`` is for
  uniform attention (chance level); ``lift = mass_in_ood / area_ood``;
- ``mean_in_ood = sum a o / sum o``, ``mean_in_id = sum a d / sum d``,
  ``mean_background = sum a g / sum g``: area-weighted mean attention over OOD pixels, ID
  pixels and background; ``contrast = mean_in_ood / mean_background``;
- ``added_in_ood = sum e o / sum e v`` with ``e = a - a_id`` the attention NegA adds in this
  block (``a_id``: the same block's map from the ID texts alone, same input features): the
  share of the added attention that lands on OOD pixels (NaN without NegA, where e = 0).

A quantity whose denominator is 0 (no ID pixel, ...) is NaN for that image, and so are all
OOD quantities of an image without OOD pixels.
Aggregation (:func:`aggregate_overlaps`): per block, the mean over images where it is
defined (every image counts once, whatever its OOD area); ``mean over blocks`` is the mean of
the per-block values, every block counting once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
import math

import numpy as np
import numpy.typing as npt

__all__ = [
    'OVERLAP_FIELDS',
    'AttentionOverlap',
    'aggregate_overlaps',
    'attention_overlap',
    'cell_coverage',
    'input_space_mask',
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class AttentionOverlap:
    """The overlap numbers of one image and block (module docstring); NaN where undefined."""

    mass_in_ood: float
    area_ood: float
    lift: float
    mean_in_ood: float
    mean_in_id: float
    mean_background: float
    contrast: float
    added_in_ood: float = math.nan

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


OVERLAP_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AttentionOverlap))
"""The names of the :class:`AttentionOverlap` quantities, in report order."""


def input_space_mask(mask: npt.ArrayLike, input_hw: tuple[int, int],
                     resized_hw: tuple[int, int], pad_top: int, pad_left: int) -> BoolArray:
    """A source-image mask placed like the image in the letterboxed network input.

    mask: (H, W) bool in source pixels. input_hw: the network input (h, w); resized_hw, pad_top,
    pad_left: where the scaled image lies in it (a
    :class:`~negas_ros.backends.yolo_world.letterbox.Letterbox`). Nearest-neighbour: input
    pixel (y, x) of the image area takes the source pixel under its centre; padding is False.
    """
    source = np.asarray(mask, dtype=bool)
    if source.ndim != 2:
        raise ValueError(f'mask must be (H, W), got shape {source.shape}')
    (height, width), (rh, rw) = source.shape, resized_hw
    if pad_top < 0 or pad_left < 0 or pad_top + rh > input_hw[0] or pad_left + rw > input_hw[1]:
        raise ValueError(f'resized {resized_hw} at ({pad_top}, {pad_left}) does not fit in '
                         f'{input_hw}')
    rows = np.minimum(((np.arange(rh) + 0.5) * height / rh).astype(np.int64), height - 1)
    cols = np.minimum(((np.arange(rw) + 0.5) * width / rw).astype(np.int64), width - 1)
    out = np.zeros(input_hw, dtype=bool)
    out[pad_top:pad_top + rh, pad_left:pad_left + rw] = source[np.ix_(rows, cols)]
    return out


def cell_coverage(mask: npt.ArrayLike, grid_hw: tuple[int, int]) -> FloatArray:
    """Fraction of each grid cell's pixels that are True: (h*s, w*s) mask -> (h, w) in [0, 1].

    The mask's sides must be the same integer multiple s (the block's stride) of the grid's.
    """
    array = np.asarray(mask, dtype=np.float64)
    gh, gw = grid_hw
    if array.ndim != 2 or gh < 1 or gw < 1 or array.shape[0] % gh or array.shape[1] % gw:
        raise ValueError(f'mask {array.shape} is not a whole multiple of the grid {grid_hw}')
    sy, sx = array.shape[0] // gh, array.shape[1] // gw
    if sy != sx:
        raise ValueError(f'mask {array.shape} and grid {grid_hw} have different strides')
    result: FloatArray = array.reshape(gh, sy, gw, sx).mean(axis=(1, 3))
    return result


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def attention_overlap(attention: npt.ArrayLike, ood: npt.ArrayLike, id_objects: npt.ArrayLike,
                      background: npt.ArrayLike, id_attention: npt.ArrayLike | None = None
                      ) -> AttentionOverlap:
    """The overlap numbers of one image and block (definitions in the module docstring).

    attention: (heads, h, w) or (h, w) attention in [0, 1]; ood, id_objects, background:
    (h, w) cell coverages in [0, 1] (:func:`cell_coverage`), together at most 1 per cell.
    id_attention: the block's map from the ID texts alone, shaped like ``attention``, for
    ``added_in_ood`` (None: NaN). Negative differences (never produced by the NegA rules)
    count as 0.
    """
    att = np.asarray(attention, dtype=np.float64)
    if att.ndim == 3:
        att = att.mean(axis=0)
    added = None
    if id_attention is not None:
        base = np.asarray(id_attention, dtype=np.float64)
        if base.ndim == 3:
            base = base.mean(axis=0)
        if base.shape != att.shape:
            raise ValueError(f'id_attention {base.shape} and attention {att.shape} differ')
        added = np.clip(att - base, 0.0, None)
    o, d, g = (np.asarray(x, dtype=np.float64) for x in (ood, id_objects, background))
    if att.ndim != 2 or not att.shape == o.shape == d.shape == g.shape:
        raise ValueError(f'attention {att.shape} and coverages {o.shape}, {d.shape}, {g.shape} '
                         'must share one (h, w) grid')
    if not np.isfinite(att).all():
        raise ValueError('attention holds NaN or infinite values')
    if (o < 0).any() or (d < 0).any() or (g < 0).any() or (o + d + g > 1 + 1e-9).any():
        raise ValueError('coverages must be >= 0 and sum to at most 1 per cell')
    valid = o + d + g
    mass_ood = float((att * o).sum())
    # Without OOD pixels there is nothing to find: NaN, so that such images do not enter
    # the OOD averages as zeros.
    mass_in = _ratio(mass_ood, float((att * valid).sum())) if o.sum() > 0 else math.nan
    area = _ratio(float(o.sum()), float(valid.sum())) if o.sum() > 0 else math.nan
    mean_ood = _ratio(mass_ood, float(o.sum()))
    mean_bg = _ratio(float((att * g).sum()), float(g.sum()))
    return AttentionOverlap(
        mass_in_ood=mass_in,
        area_ood=area,
        lift=_ratio(mass_in, area) if not math.isnan(mass_in) else math.nan,
        mean_in_ood=mean_ood,
        mean_in_id=_ratio(float((att * d).sum()), float(d.sum())),
        mean_background=mean_bg,
        contrast=_ratio(mean_ood, mean_bg) if not math.isnan(mean_ood) else math.nan,
        added_in_ood=math.nan if added is None or o.sum() == 0 else _ratio(
            float((added * o).sum()), float((added * valid).sum())),
    )


def aggregate_overlaps(per_image: Iterable[Mapping[int, AttentionOverlap]],
                       blocks: Sequence[int]) -> dict[str, dict[str, float | int]]:
    """Average per-image overlaps: {block or 'mean': {quantity: value, 'images': n}}.

    per_image: for each image, its overlap per block (keyed by layer index). Per block and
    quantity, the mean over the images where the quantity is defined (NaN if none);
    ``images`` counts the images with OOD pixels. 'mean' averages the blocks' values.
    """
    columns: dict[int, dict[str, list[float]]] = {
        b: {name: [] for name in OVERLAP_FIELDS} for b in blocks}
    for overlaps in per_image:
        for block in blocks:
            values = overlaps[block].as_dict()
            for name in OVERLAP_FIELDS:
                columns[block][name].append(values[name])
    out: dict[str, dict[str, float | int]] = {}
    for block in blocks:
        entry: dict[str, float | int] = {}
        for name in OVERLAP_FIELDS:
            entry[name] = _nanmean(columns[block][name])
        area = np.asarray(columns[block]['area_ood'], dtype=np.float64)
        entry['images'] = int(np.count_nonzero(area > 0))
        out[str(block)] = entry
    mean: dict[str, float | int] = {
        name: _nanmean([float(out[str(b)][name]) for b in blocks]) for name in OVERLAP_FIELDS}
    mean['images'] = max((int(out[str(b)]['images']) for b in blocks), default=0)
    out['mean'] = mean
    return out


def _nanmean(values: Sequence[float]) -> float:
    """Mean of the values that are not NaN; NaN when none is."""
    array = np.asarray(values, dtype=np.float64)
    defined = array[~np.isnan(array)]
    return float(defined.mean()) if defined.size else math.nan
