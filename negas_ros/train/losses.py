"""Detection losses of YOLOv8-style training, written from the papers (no GPL/AGPL code).

- Classification: binary cross-entropy of every anchor-text logit against the soft targets of
  the task-aligned assigner (region-text contrastive with sigmoid, as YOLO-World trains),
  summed and divided by the sum of the targets (so that the loss does not depend on how many
  anchors an image has).
- Box: 1 - CIoU (Zheng et al., AAAI 2020) of each positive anchor's box against its target,
  weighted by the anchor's target score.
- DFL (distribution focal loss, Li et al., NeurIPS 2020): each box side is a distance in grid
  units predicted as a softmax over ``reg_max`` bins; the target distance y between bins
  i = floor(y) and i + 1 gets cross-entropy ``(i + 1 - y) CE(i) + (y - i) CE(i + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import torch
import torch.nn.functional as nnf

from negas_ros.train.assigner import Assignment

__all__ = [
    'LossWeights',
    'attention_loss',
    'bbox_ciou',
    'box_cell_mask',
    'detection_loss',
    'dfl_loss',
]

_EPS = 1e-7


def bbox_ciou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Complete IoU of matching boxes: pred, target (..., 4) xyxy -> (...,) in [-1.5, 1].

    CIoU = IoU - rho^2 / c^2 - alpha v, with rho the distance between the centres, c the
    diagonal of the smallest box enclosing both, v = 4/pi^2 (atan(w_t/h_t) - atan(w/h))^2 the
    aspect-ratio term and alpha = v / (1 - IoU + v) its trade-off weight, held constant in the
    gradient as in the paper.
    """
    px1, py1, px2, py2 = pred.unbind(-1)
    tx1, ty1, tx2, ty2 = target.unbind(-1)
    pw, ph = (px2 - px1).clamp(min=_EPS), (py2 - py1).clamp(min=_EPS)
    tw, th = (tx2 - tx1).clamp(min=_EPS), (ty2 - ty1).clamp(min=_EPS)
    iw = (torch.minimum(px2, tx2) - torch.maximum(px1, tx1)).clamp(min=0)
    ih = (torch.minimum(py2, ty2) - torch.maximum(py1, ty1)).clamp(min=0)
    inter = iw * ih
    iou = inter / (pw * ph + tw * th - inter + _EPS)
    cw = torch.maximum(px2, tx2) - torch.minimum(px1, tx1)
    ch = torch.maximum(py2, ty2) - torch.minimum(py1, ty1)
    c2 = cw.pow(2) + ch.pow(2) + _EPS
    rho2 = ((px1 + px2 - tx1 - tx2).pow(2) + (py1 + py2 - ty1 - ty2).pow(2)) / 4
    v = (4 / math.pi**2) * (torch.atan(tw / th) - torch.atan(pw / ph)).pow(2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + _EPS)
    return iou - rho2 / c2 - alpha * v


def dfl_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distribution focal loss per side: logits (N, 4, R) over R bins, target (N, 4) distances
    in bin units (clamped to [0, R - 1.01]) -> (N,) mean over the four sides."""
    reg = logits.shape[-1]
    target = target.clamp(0, reg - 1 - 0.01)
    left = target.floor().long()
    right = left + 1
    w_left = right.float() - target
    w_right = 1 - w_left
    log_probs = logits.float().log_softmax(-1)
    ce_left = -log_probs.gather(-1, left[..., None]).squeeze(-1)
    ce_right = -log_probs.gather(-1, right[..., None]).squeeze(-1)
    out: torch.Tensor = (ce_left * w_left + ce_right * w_right).mean(-1)
    return out


@dataclass(frozen=True)
class LossWeights:
    """Gains of the three terms (YOLOv8's defaults: box 7.5, cls 0.5, dfl 1.5)."""

    box: float = 7.5
    cls: float = 0.5
    dfl: float = 1.5


def detection_loss(
    cls_logits: torch.Tensor,
    box_logits: torch.Tensor,
    pred_boxes: torch.Tensor,
    anchor_points: torch.Tensor,
    strides: torch.Tensor,
    assignment: Assignment,
    weights: LossWeights = LossWeights(),
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss (scaled by the batch size, as YOLOv8) and its parts (per image).

    cls_logits: (B, A, C) pre-sigmoid text logits; box_logits: (B, A, 4, R) DFL bin logits
    (sides left, top, right, bottom); pred_boxes: (B, A, 4) xyxy pixels decoded from
    box_logits; anchor_points: (A, 2) pixels; strides: (A,) pixels; assignment: targets from
    :class:`~negas_ros.train.assigner.TaskAlignedAssigner`.
    """
    batch = cls_logits.shape[0]
    targets = assignment.target_scores
    target_sum = targets.sum().clamp(min=1.0)
    loss_cls = nnf.binary_cross_entropy_with_logits(
        cls_logits.float(), targets.float(), reduction='sum'
    ) / target_sum
    fg = assignment.fg_mask
    if bool(fg.any()):
        weight = targets.sum(-1)[fg]  # (P,)
        ciou = bbox_ciou(pred_boxes[fg], assignment.target_boxes[fg])
        loss_box = ((1.0 - ciou) * weight).sum() / target_sum
        points = anchor_points[None].expand_as(pred_boxes[..., :2])[fg]  # (P, 2)
        stride = strides[None].expand(fg.shape)[fg][:, None]  # (P, 1)
        tb = assignment.target_boxes[fg]
        sides = torch.cat((points - tb[:, :2], tb[:, 2:] - points), -1) / stride
        loss_dfl = (dfl_loss(box_logits[fg], sides) * weight).sum() / target_sum
    else:
        loss_box = loss_dfl = cls_logits.sum() * 0.0
    total = weights.box * loss_box + weights.cls * loss_cls + weights.dfl * loss_dfl
    parts = {'box': float(loss_box.detach()), 'cls': float(loss_cls.detach()),
             'dfl': float(loss_dfl.detach())}
    return total * batch, parts


def box_cell_mask(boxes: torch.Tensor, valid: torch.Tensor, grid_hw: tuple[int, int],
                  stride: float) -> torch.Tensor:
    """(B, h, w) float mask of the grid cells whose centre lies inside a valid box.

    boxes: (B, G, 4) xyxy network-input pixels; valid: (B, G) bool; stride: pixels per cell.
    """
    h, w = grid_hw
    ys = (torch.arange(h, dtype=boxes.dtype, device=boxes.device) + 0.5) * stride
    xs = (torch.arange(w, dtype=boxes.dtype, device=boxes.device) + 0.5) * stride
    x1, y1, x2, y2 = (boxes[..., k][..., None, None] for k in range(4))  # (B, G, 1, 1)
    inside = ((xs[None, None, None, :] >= x1) & (xs[None, None, None, :] <= x2)
              & (ys[None, None, :, None] >= y1) & (ys[None, None, :, None] <= y2))
    inside &= valid[..., None, None]
    return inside.any(dim=1).to(boxes.dtype)


def attention_loss(maps: list[torch.Tensor], boxes: torch.Tensor, valid: torch.Tensor,
                   input_hw: tuple[int, int]) -> torch.Tensor:
    """Text-conditioned attention supervision (ours; YOLO-World trains its attention through
    the detection loss alone): the head-mean of each text-guided block's max-sigmoid map should
    be high on the cells of objects that a text of the batch's set names, low elsewhere.

    maps: per block (B, heads, h, w) attention in [0, 1]; boxes: (B, G, 4) xyxy pixels; valid:
    (B, G) objects with a positive text. Returns the mean over blocks of the per-cell binary
    cross-entropy.
    """
    total = boxes.new_zeros(())
    for attn in maps:
        h, w = attn.shape[2:]
        target = box_cell_mask(boxes, valid, (h, w), input_hw[0] / h)
        mean = attn.float().mean(dim=1).clamp(1e-6, 1.0 - 1e-6)
        total = total + nnf.binary_cross_entropy(mean, target)
    return total / max(1, len(maps))
