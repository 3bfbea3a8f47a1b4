"""Task-aligned label assignment (TAL), written from the TOOD paper (Feng et al., ICCV 2021)
and its use in YOLOv8; no code from the AGPL/GPL implementations.

For every ground-truth box g and anchor a of one image:

    t(g, a) = s(a, c_g)^alpha * IoU(box(a), g)^beta

where s(a, c_g) is the predicted probability (sigmoid) of g's class at anchor a and box(a) its
predicted box. An anchor is a *candidate* of g when its centre lies strictly inside g; the
``topk`` candidates with the largest t are g's positives. Ours: a box with fewer than
``min_candidates`` anchor centres inside (a pole a few pixels wide can fall between the
stride-8 centres and would never be learned) also takes its ``min_candidates`` anchors nearest
to its centre as candidates. An anchor that ends up positive for
several boxes keeps only the box it overlaps most (IoU), so that every anchor regresses one box
(YOLOv8's rule). Soft class targets: for positive anchor a of box g,

    target(a, c_g) = t(g, a) * max_{a' pos of g} IoU(a', g) / max_{a' pos of g} t(g, a')

(TOOD's normalisation: the best-aligned anchor of g gets the best IoU any of g's anchors
reaches, the others proportionally less), 0 for the other classes and for negative anchors.
Everything runs under ``torch.no_grad``: assignment is a target, never differentiated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ['Assignment', 'TaskAlignedAssigner', 'box_iou_pairwise']

_EPS = 1e-9


def box_iou_pairwise(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """IoU of (..., N, 4) against (..., M, 4) xyxy boxes -> (..., N, M)."""
    lt = torch.maximum(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
    rb = torch.minimum(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area1 = (boxes1[..., 2:] - boxes1[..., :2]).clamp(min=0).prod(-1)
    area2 = (boxes2[..., 2:] - boxes2[..., :2]).clamp(min=0).prod(-1)
    return inter / (area1[..., :, None] + area2[..., None, :] - inter + _EPS)


@dataclass(frozen=True)
class Assignment:
    """Targets for B images with A anchors, G (padded) boxes per image and C texts.

    fg_mask: (B, A) bool, positive anchors.
    gt_index: (B, A) long, the box each anchor regresses (0 where not positive).
    target_boxes: (B, A, 4) xyxy pixels of that box (meaningful where fg_mask).
    target_scores: (B, A, C) soft class targets in [0, 1] (zero rows for negatives).
    """

    fg_mask: torch.Tensor
    gt_index: torch.Tensor
    target_boxes: torch.Tensor
    target_scores: torch.Tensor


class TaskAlignedAssigner:
    """TAL (module docstring). topk: positives per box; alpha, beta: exponents of the score and
    the IoU in the alignment metric (YOLOv8's defaults 10, 0.5, 6.0); min_candidates: the
    fallback for thin boxes (0 turns it off)."""

    def __init__(self, topk: int = 10, alpha: float = 0.5, beta: float = 6.0,
                 min_candidates: int = 3) -> None:
        if topk < 1:
            raise ValueError(f'topk must be >= 1, got {topk}')
        if min_candidates < 0:
            raise ValueError(f'min_candidates must be >= 0, got {min_candidates}')
        self.min_candidates = min_candidates
        if alpha < 0 or beta < 0:
            raise ValueError(f'alpha and beta must be >= 0, got {alpha}, {beta}')
        self.topk = topk
        self.alpha = alpha
        self.beta = beta

    @torch.no_grad()
    def __call__(
        self,
        pred_scores: torch.Tensor,
        pred_boxes: torch.Tensor,
        anchor_points: torch.Tensor,
        gt_labels: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_mask: torch.Tensor,
    ) -> Assignment:
        """Assign anchors to boxes.

        pred_scores: (B, A, C) probabilities in [0, 1]; pred_boxes: (B, A, 4) xyxy pixels;
        anchor_points: (A, 2) anchor centres (x, y) in pixels; gt_labels: (B, G) long text
        indices in [0, C); gt_boxes: (B, G, 4) xyxy pixels; gt_mask: (B, G) bool, real boxes
        (False for padding).
        """
        b, a, c = pred_scores.shape
        g = gt_boxes.shape[1]
        device = pred_scores.device
        if g == 0 or not bool(gt_mask.any()):
            return Assignment(
                torch.zeros((b, a), dtype=torch.bool, device=device),
                torch.zeros((b, a), dtype=torch.long, device=device),
                torch.zeros((b, a, 4), device=device),
                torch.zeros((b, a, c), device=device),
            )
        # Candidates: anchor centre strictly inside the box.
        xy = anchor_points[None, None]  # (1, 1, A, 2)
        deltas = torch.cat((xy - gt_boxes[:, :, None, :2], gt_boxes[:, :, None, 2:] - xy), -1)
        inside = (deltas.amin(-1) > _EPS) & gt_mask[:, :, None]  # (B, G, A)
        m = min(self.min_candidates, a)
        if m:
            sparse = (inside.sum(-1) < m) & gt_mask  # (B, G)
            if bool(sparse.any()):
                centre = (gt_boxes[..., :2] + gt_boxes[..., 2:]) / 2  # (B, G, 2)
                dist = (xy - centre[:, :, None, :]).pow(2).sum(-1)  # (B, G, A)
                nearest = torch.zeros_like(inside)
                nearest.scatter_(-1, dist.topk(m, dim=-1, largest=False).indices, True)
                inside = inside | (nearest & sparse[:, :, None])

        ious = box_iou_pairwise(gt_boxes, pred_boxes).clamp(min=0)  # (B, G, A)
        labels = gt_labels.clamp(0, c - 1)
        cls_scores = torch.gather(
            pred_scores.transpose(1, 2), 1, labels[:, :, None].expand(b, g, a)
        )  # (B, G, A): score of each box's class at every anchor
        align = cls_scores.pow(self.alpha) * ious.pow(self.beta) * inside

        # Top-k candidates per box; non-candidates carry -1 so that they are never picked
        # ahead of a candidate, and are masked out when a box has fewer than k candidates.
        k = min(self.topk, a)
        ranked = torch.where(inside, align, torch.full_like(align, -1.0))
        top = ranked.topk(k, dim=-1).indices  # (B, G, k)
        selected = torch.zeros_like(inside)
        selected.scatter_(-1, top, True)
        positive = selected & inside  # (B, G, A)

        # One box per anchor: where several claim it, the one with the highest IoU wins.
        claims = positive.sum(1)  # (B, A)
        if bool((claims > 1).any()):
            best = ious.masked_fill(~positive, -1.0).argmax(1)  # (B, A)
            winner = torch.zeros_like(positive)
            winner.scatter_(1, best[:, None, :], True)
            positive = torch.where((claims > 1)[:, None, :], winner & positive, positive)
        fg_mask = positive.any(1)  # (B, A)
        gt_index = positive.float().argmax(1)  # (B, A); 0 where no box (masked by fg_mask)

        # Soft targets, TOOD normalisation per box.
        align = align * positive
        align_max = align.amax(-1, keepdim=True)  # (B, G, 1)
        iou_max = (ious * positive).amax(-1, keepdim=True)
        norm = (align * iou_max / (align_max + _EPS)).amax(1)  # (B, A): one box per anchor
        batch = torch.arange(b, device=device)[:, None]
        target_labels = labels[batch, gt_index]  # (B, A)
        target_boxes = gt_boxes[batch, gt_index]  # (B, A, 4)
        target_scores = torch.zeros((b, a, c), device=device, dtype=pred_scores.dtype)
        target_scores.scatter_(-1, target_labels[..., None], 1.0)
        target_scores = target_scores * (norm * fg_mask)[..., None]
        return Assignment(fg_mask, gt_index, target_boxes, target_scores)
