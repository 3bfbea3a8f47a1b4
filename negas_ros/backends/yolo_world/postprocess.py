"""Post-processing: the confidence filter and NMS on the ID labels (torch, no torchvision).

(Letterbox preprocessing and the box mapping back to the source live in :mod:`.letterbox`.)

Selection (the detector's confidence filter and NMS, on ID labels only)
    Score of an anchor = max over ID labels of sigmoid(logit); anchors with score >=
    box_threshold are kept (the best 30000 at most, ultralytics' ``max_nms``), then greedy NMS
    per ID class (the class of the best ID label) at ``iou_threshold``, best first, at most
    ``max_det`` boxes. Negative labels take no part, so they can neither suppress nor create ID
    boxes. :func:`select_detections` says where this differs from ultralytics'
    ``non_max_suppression`` (threshold inclusive, ranking by logit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    'MAX_NMS_CANDIDATES',
    'batched_nms',
    'select_detections',
]

# Best-scoring candidates entering NMS: ultralytics' max_nms. It binds only for inputs above
# ~1200 x 1200 (1280 x 1280 has 33600 anchors); at 640 (8400 anchors) every candidate enters
# NMS, where the former cap of 3000 dropped candidates at low thresholds. Measured
# on this project's 2-core CPU VM, one torch thread: batched_nms of 30000 candidates with
# max_det=300 takes 10-20 ms (random, crowded and anchor-grid scenes; the former kept-box loop
# took 250-390 ms for the same input), with temporaries of at most 512 x 4096 floats.
MAX_NMS_CANDIDATES = 30000
_NMS_MATRIX_MAX = 512  # NMS block: an IoU matrix of at most this many boxes squared
_NMS_KEPT_CHUNK = 4096  # kept boxes compared with a block at a time (block x chunk matrix)


def _overlaps(
    a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...], iou_threshold: float
) -> torch.Tensor:
    """(len(a), len(b)) bool: IoU(a_i, b_j) > iou_threshold; a and b are (x1, y1, x2, y2, area).

    IoU > t  <=>  inter > t * union (union > 0); an empty union never suppresses. Written so
    that the result for a pair does not depend on which side each box is on.
    """
    import torch

    ax1, ay1, ax2, ay2, a_area = a
    bx1, by1, bx2, by2, b_area = b
    w = (torch.minimum(ax2[:, None], bx2[None]) - torch.maximum(ax1[:, None], bx1[None]))
    h = (torch.minimum(ay2[:, None], by2[None]) - torch.maximum(ay1[:, None], by1[None]))
    inter = w.clamp(min=0) * h.clamp(min=0)
    return inter > iou_threshold * (a_area[:, None] + b_area[None] - inter)


def batched_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    iou_threshold: float,
    max_det: int | None = None,
) -> torch.Tensor:
    """Greedy per-class NMS: indices (n,) of kept boxes, best score first.

    boxes (N, 4) xyxy, scores (N,), classes (N,) integer. A box is dropped when its IoU with
    a kept box of the same class is > iou_threshold. Boxes of different classes never interact
    (each class is shifted to its own region, as torchvision's batched_nms does). Ties keep the
    lower index first (stable sort). Stops after ``max_det`` kept boxes.

    Exact greedy NMS by blocks of 512 boxes in score order: a block is first cleared of the
    boxes that an already kept box suppresses (IoU against the kept boxes, 4096 at a time),
    then the rest of it is swept greedily with its own IoU matrix. Memory is bounded by a
    512 x 4096 matrix (8 MB per temporary) whatever N is (never N x N: 3.6 GB at 30000), and
    the sweep stops at the block where ``max_det`` is reached. Measured on a 2-core CPU VM, one
    torch thread, max_det=300: 10-20 ms for 30000 boxes (random boxes of 80 classes, 300
    objects x 100 jittered duplicates, an anchor grid), ~3 ms for 3000, under 1 ms for 100;
    same results as the former kept-box loop, which took 250-390 ms for the 30000. Without
    max_det, 30000 mostly disjoint boxes (27000 kept) take ~6 s, since every block then meets
    every kept box; select_detections always passes max_det.
    """
    import torch

    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    boxes = boxes.float()
    span = (boxes.max() - boxes.min()).clamp(min=0) + 1
    shifted = boxes + (classes.to(boxes.dtype) * span)[:, None]
    order = torch.sort(scores.float(), descending=True, stable=True).indices
    x1, y1, x2, y2 = shifted[order].unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    limit = n if max_det is None else max_det
    block = max(1, int(_NMS_MATRIX_MAX))
    keep: list[int] = []
    kept = torch.zeros(0, dtype=torch.long, device=boxes.device)  # keep, as a tensor
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = torch.arange(start, stop, device=boxes.device)
        for c in range(0, kept.numel(), _NMS_KEPT_CHUNK):  # suppressed by earlier blocks
            if rows.numel() == 0:
                break
            k = kept[c : c + _NMS_KEPT_CHUNK]
            hit = _overlaps((x1[k], y1[k], x2[k], y2[k], areas[k]),
                            (x1[rows], y1[rows], x2[rows], y2[rows], areas[rows]),
                            iou_threshold).any(0)
            rows = rows[~hit]
        if rows.numel() == 0:
            continue
        sides = (x1[rows], y1[rows], x2[rows], y2[rows], areas[rows])
        over = _overlaps(sides, sides, iou_threshold).cpu().numpy()
        candidates = rows.cpu().tolist()
        removed = np.zeros(len(candidates), np.bool_)
        new: list[int] = []
        for i, index in enumerate(candidates):
            if removed[i]:
                continue
            new.append(index)
            if len(keep) + len(new) >= limit:
                break
            removed |= over[i]
        keep.extend(new)
        if len(keep) >= limit:
            break
        kept = torch.cat((kept, torch.as_tensor(new, dtype=torch.long, device=kept.device)))
    return order[torch.as_tensor(keep, dtype=torch.long, device=order.device)]


def select_detections(
    boxes: torch.Tensor,
    id_logits: torch.Tensor,
    box_threshold: float,
    iou_threshold: float,
    max_det: int,
) -> torch.Tensor:
    """Anchors reported for one image: confidence filter + class-aware NMS on ID labels.

    boxes (A, 4) xyxy, id_logits (A, K). Returns anchor indices (n,), best ID score first.

    Against ultralytics' ``non_max_suppression`` (single label per box, class-aware):
      - threshold: we keep ``sigmoid(best logit) >= box_threshold``, ultralytics keeps
        ``score > conf_thres``. Inclusive on purpose: every backend of this package reports
        "best ID sigmoid >= box_threshold" (the Backend contract, Grounding DINO alike), and
        ``box_threshold=0`` then means "every anchor". The two differ only for a score exactly
        equal to the threshold.
      - cap: at most MAX_NMS_CANDIDATES (30000, ultralytics' ``max_nms``) best candidates
        enter NMS; among equal logits at the cut the lower anchor index wins.
      - ranking: by the best ID logit, ultralytics by the sigmoid score. sigmoid is monotonic,
        so the order is the same except where float32 sigmoid saturates: every logit above
        ~16.6 gives exactly 1.0 (and logits a few 1e-7 apart can round to the same score
        elsewhere). There ultralytics sees ties, broken in an unspecified order by its sort
        and torchvision's NMS, where we still rank by logit; exact logit ties keep the lower
        anchor index first.
      - NMS: the same rule (drop IoU > iou_threshold with a kept box of the same class), at
        most ``max_det`` boxes.
    """
    import torch

    best_logit, best_class = id_logits.float().max(1)
    scores = torch.sigmoid(best_logit)
    candidates = torch.nonzero(scores >= box_threshold).flatten()
    if candidates.numel() == 0:
        return candidates
    if candidates.numel() > MAX_NMS_CANDIDATES:
        ranked = torch.sort(best_logit[candidates], descending=True, stable=True).indices
        candidates = candidates[torch.sort(ranked[:MAX_NMS_CANDIDATES]).values]
    # Rank by logit, not by sigmoid: float32 sigmoids tie where logits still differ.
    kept = batched_nms(
        boxes[candidates], best_logit[candidates], best_class[candidates], iou_threshold, max_det
    )
    return candidates[kept]
