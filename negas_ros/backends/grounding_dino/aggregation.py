"""Merge of the prompt passes of one image into candidates (numpy only).

The rule is in the package docstring (:mod:`negas_ros.backends.grounding_dino`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
import numpy.typing as npt

from negas_ros.detection import RawDetections, box_iou

__all__ = [
    'DEFAULT_FLOOR_LOGIT',
    'DEFAULT_ID_MERGE',
    'DEFAULT_MATCH_IOU',
    'ID_MERGES',
    'PassOutput',
    'aggregate_passes',
    'box_iou',
]

FloatArray = npt.NDArray[np.float32]

DEFAULT_MATCH_IOU = 0.5
DEFAULT_ID_MERGE = 'mean'
DEFAULT_FLOOR_LOGIT = -20.0


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
    """Merge the passes of one image into candidates (the rule in the package docstring).

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
        for j, (other, use_id) in enumerate(readers):
            query, iou = best[:, j], best_iou[:, j]
            if other.neg_indices and other.boxes_xyxy.shape[0]:
                # The negative's response at its pass's query overlapping the box most (nearest
                # centre when none overlaps): every negative can lower NegS.
                neg[:, np.asarray(other.neg_indices, np.intp)] = other.neg_logits[query]
            if use_id and other.id_logits is not None and other.boxes_xyxy.shape[0]:
                same = (iou >= match_iou)[:, None]
                id_sum += np.where(same, other.id_logits[query], 0.0)
                id_count += same
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
    boxes: FloatArray, pass_boxes: Sequence[FloatArray], chunk: int = 24
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """For each box and each pass: the index of the pass's query with the highest IoU, and it.

    boxes (N, 4); pass_boxes: P arrays (Q_p, 4). Returns (N, P) indices and (N, P) IoUs; where no
    query of a pass overlaps a box, IoU 0 and the query with the nearest centre.
    Sweep on x: boxes and each pass's queries are sorted by x1, and a chunk of neighbouring
    boxes is compared only with the contiguous run of each pass's queries from the first whose
    running maximum of x2 passes the chunk's smallest x1 to the last whose x1 is below its
    largest x2; no query outside that run can overlap the chunk. Exact (up to ties between
    equal IoUs), and a few times fewer IoUs than the dense matrix.
    One (chunk, P, run) block per chunk for all passes together, each pass's run padded to the
    longest with an empty box that never wins: fewer numpy calls than a block per pass, and
    small chunks keep the block in cache (24 boxes was fastest of 8-64 on the 13 x 900 query
    benchmark frame).
    """
    n, p = boxes.shape[0], len(pass_boxes)
    best = np.zeros((n, p), np.intp)
    best_iou = np.zeros((n, p), np.float32)
    sizes = np.array([q.shape[0] for q in pass_boxes], np.intp)
    if not n or not sizes.sum():
        return best, best_iou
    order = np.argsort(boxes[:, 0], kind='stable')
    sorted_boxes = boxes[order].astype(np.float32)
    starts = np.arange(0, n, chunk)
    chunk_x1 = sorted_boxes[starts, 0]  # sorted by x1: the chunk's smallest
    chunk_x2 = np.maximum.reduceat(sorted_boxes[:, 2], starts)

    # Every pass's queries sorted by x1, stacked, then one empty box far outside any image for
    # padding: it overlaps nothing and has area 0, so its ratio is 0 and argmax (the first
    # maximum) prefers any real query of equal ratio.
    q_orders = [np.argsort(q[:, 0], kind='stable') for q in pass_boxes]
    stacked = np.concatenate([q[o] for q, o in zip(pass_boxes, q_orders, strict=True)]
                             + [np.full((1, 4), -1e30, np.float32)])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pad = int(sizes.sum())
    lo = np.zeros((starts.size, p), np.intp)
    hi = np.zeros((starts.size, p), np.intp)
    for j in range(p):
        if not sizes[j]:
            continue
        x1 = stacked[offsets[j] : offsets[j] + sizes[j], 0]
        # Queries before index k all end by reach[k - 1]: the first that can reach a chunk.
        reach = np.maximum.accumulate(stacked[offsets[j] : offsets[j] + sizes[j], 2])
        lo[:, j] = np.searchsorted(reach, chunk_x1, 'right')
        hi[:, j] = np.searchsorted(x1, chunk_x2, 'right')
    length = np.maximum(hi - lo, 0)
    columns = _columns(stacked)
    # Scratch for the IoU blocks, reshaped to each chunk's block so that every view is
    # contiguous: three arrays overwritten per chunk, then one left at zero.
    block_size = chunk * p * int(length.max())
    scratch = np.empty(4 * block_size, np.float32)
    scratch[3 * block_size :] = 0.0
    for c, start in enumerate(starts):
        width = int(length[c].max())
        if not width:
            continue
        step = np.arange(width)
        index = np.where(step < length[c][:, None], (offsets + lo[c])[:, None] + step, pad)
        block = sorted_boxes[start : start + chunk]
        shape = (block.shape[0], p, width)
        size = math.prod(shape)
        work = [scratch[k * size : (k + 1) * size].reshape(shape) for k in range(3)]
        work.append(scratch[3 * block_size : 3 * block_size + size].reshape(shape))
        ratio = _overlap_ratio_columns(block, tuple(col[index] for col in columns), work)
        arg = ratio.argmax(axis=2)
        top = np.take_along_axis(ratio, arg[:, :, None], axis=2)[:, :, 0]
        rows = order[start : start + chunk]
        best[rows] = np.minimum(lo[c] + arg, np.maximum(sizes - 1, 0))
        best_iou[rows] = np.maximum(top / (1.0 - top), 0.0)
    for j, o in enumerate(q_orders):
        if sizes[j]:
            best[:, j] = o[best[:, j]]
    # Boxes no query of a pass touches: the query whose centre is nearest.
    for j, queries in enumerate(pass_boxes):
        alone = np.flatnonzero(best_iou[:, j] <= 0.0)
        if alone.size and queries.shape[0]:
            centre = (boxes[alone, :2] + boxes[alone, 2:]) / 2
            q_centre = (queries[:, :2] + queries[:, 2:]) / 2
            dist = ((centre[:, None, :] - q_centre[None, :, :]) ** 2).sum(axis=2)
            best[alone, j] = dist.argmin(axis=1)
    return best, best_iou


def _columns(boxes: FloatArray) -> tuple[FloatArray, ...]:
    """x1, y1, x2, y2 and area of (M, 4) boxes, each a contiguous float32 (M,) array."""
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, k], dtype=np.float32) for k in range(4))
    return x1, y1, x2, y2, (x2 - x1) * (y2 - y1)


def _overlap_ratio_columns(a: FloatArray, b: Sequence[FloatArray], work: Sequence[FloatArray]
                           ) -> FloatArray:
    """inter / (area_a + area_b), (N, *S) float32, of (N, 4) boxes against boxes of any shape S
    given by :func:`_columns`: IoU = r / (1 - r), so the same argmax as IoU.

    work: four (N, *S) float32 scratch arrays; the first three are overwritten (the result is
    work[0]), the last must hold zeros. The sweep only needs the argmax, and converts the winners.
    numpy's maximum and minimum are several times slower with an operand broadcast along the
    last axis (or a scalar) than on contiguous arrays, so each box coordinate is first copied
    over the block, and widths are clamped against an array of zeros. A 1e-12 on area_a keeps
    two empty boxes at 0.
    """
    bx1, by1, bx2, by2, area_b = b
    expand = (slice(None),) + (None,) * bx1.ndim
    inter, height, low, zeros = work[0], work[1], work[2], work[3]
    _extent_overlap(a[:, 0][expand], a[:, 2][expand], bx1, bx2, inter, low)
    np.maximum(inter, zeros, out=inter)
    _extent_overlap(a[:, 1][expand], a[:, 3][expand], by1, by2, height, low)
    # Height not clamped: with the width clamped, a pair apart in y gets a ratio <= 0, which
    # never beats an overlapping query, and the caller reads a best ratio <= 0 as no overlap.
    np.multiply(inter, height, out=inter)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + np.float32(1e-12)
    np.add(area_a[expand], area_b, out=height)
    np.divide(inter, height, out=inter)
    return inter


def _extent_overlap(a_lo: FloatArray, a_hi: FloatArray, b_lo: FloatArray, b_hi: FloatArray,
                    out: FloatArray, low: FloatArray) -> None:
    """out = min(a_hi, b_hi) - max(a_lo, b_lo) on one axis, unclamped; low is scratch.

    a_* broadcast over out; each is copied over the block before maximum/minimum (see
    :func:`_overlap_ratio_columns`).
    """
    np.copyto(out, a_hi)
    np.minimum(out, b_hi, out=out)
    np.copyto(low, a_lo)
    np.maximum(low, b_lo, out=low)
    np.subtract(out, low, out=out)
