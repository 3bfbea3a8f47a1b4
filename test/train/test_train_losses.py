"""CIoU and DFL on hand-computed examples; zero loss for perfect predictions."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip('torch')

from negas_ros.train.assigner import Assignment  # noqa: E402
from negas_ros.train.losses import bbox_ciou, detection_loss, dfl_loss  # noqa: E402


def test_ciou_identical_boxes_is_one() -> None:
    box = torch.tensor([[3.0, 4.0, 10.0, 20.0]])
    assert float(bbox_ciou(box, box)[0]) == pytest.approx(1.0, abs=1e-5)


def test_ciou_disjoint_same_shape() -> None:
    # IoU 0; centres (1, 1) and (5, 1): rho^2 = 16; enclosing box 6 x 2: c^2 = 40; v = 0.
    value = bbox_ciou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[4.0, 0, 6, 2]]))
    assert float(value[0]) == pytest.approx(-16 / 40, abs=1e-5)


def test_ciou_with_aspect_term() -> None:
    # pred 2 x 2 inside target 4 x 2: IoU 1/2, rho^2 = 1, c^2 = 20,
    # v = 4/pi^2 (atan 2 - atan 1)^2, alpha = v / (1 - IoU + v).
    v = 4 / math.pi**2 * (math.atan(2.0) - math.atan(1.0)) ** 2
    expected = 0.5 - 1 / 20 - v / (0.5 + v) * v
    value = bbox_ciou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[0.0, 0, 4, 2]]))
    assert float(value[0]) == pytest.approx(expected, abs=1e-5)


def test_ciou_gradient_moves_pred_towards_target() -> None:
    pred = torch.tensor([[0.0, 0, 2, 2]], requires_grad=True)
    (1 - bbox_ciou(pred, torch.tensor([[4.0, 0, 6, 2]]))).sum().backward()
    assert pred.grad is not None
    # Shifting the box right (towards the target) lowers the loss; so does widening it right.
    assert float(pred.grad[0, 0] + pred.grad[0, 2]) < 0
    assert float(pred.grad[0, 2]) < 0


def test_dfl_values() -> None:
    uniform = torch.zeros((1, 4, 16))
    assert float(dfl_loss(uniform, torch.full((1, 4), 2.3))[0]) == pytest.approx(math.log(16))
    # Half the mass on bins 2 and 3, target 2.5: CE = log 2.
    half = torch.full((1, 4, 16), -1e4)
    half[..., 2:4] = 0.0
    assert float(dfl_loss(half, torch.full((1, 4), 2.5))[0]) == pytest.approx(math.log(2))
    # Target 3.0 exactly and all mass on bin 3: zero.
    sharp = torch.full((1, 4, 16), -1e4)
    sharp[..., 3] = 0.0
    assert float(dfl_loss(sharp, torch.full((1, 4), 3.0))[0]) == pytest.approx(0.0, abs=1e-6)
    # Targets beyond the last bin are clamped, not an index error.
    assert math.isfinite(float(dfl_loss(uniform, torch.full((1, 4), 99.0))[0]))


def test_perfect_prediction_has_zero_loss() -> None:
    # One image, two anchors (stride 8) at (4, 4) and (12, 4); anchor 0 is positive for text 1
    # with box [0, 0, 16, 8]: sides (4, 4, 12, 4) / 8 = (0.5, 0.5, 1.5, 0.5) -> integer bins
    # are needed for a zero DFL, so use the box [-4, -4, 12, 12]: sides (1, 1, 1, 1).
    points = torch.tensor([[4.0, 4.0], [12.0, 4.0]])
    strides = torch.tensor([8.0, 8.0])
    target_box = torch.tensor([-4.0, -4.0, 12.0, 12.0])
    scores = torch.zeros((1, 2, 3))
    scores[0, 0, 1] = 1.0
    assignment = Assignment(
        fg_mask=torch.tensor([[True, False]]),
        gt_index=torch.zeros((1, 2), dtype=torch.long),
        target_boxes=torch.stack([target_box, torch.zeros(4)])[None],
        target_scores=scores,
    )
    cls_logits = torch.where(scores > 0, 60.0, -60.0)
    box_logits = torch.full((1, 2, 4, 16), -1e4)
    box_logits[0, :, :, 1] = 0.0  # every side exactly 1 bin
    pred_boxes = torch.stack([target_box, torch.tensor([4.0, -4, 20, 12])])[None]
    total, parts = detection_loss(cls_logits, box_logits, pred_boxes, points, strides,
                                  assignment)
    assert float(total) == pytest.approx(0.0, abs=1e-5)
    assert parts == pytest.approx({'box': 0.0, 'cls': 0.0, 'dfl': 0.0}, abs=1e-5)
    # A wrong class score is not free.
    worse, _ = detection_loss(-cls_logits, box_logits, pred_boxes, points, strides, assignment)
    assert float(worse) > 1.0


def test_no_positives_gives_classification_loss_only() -> None:
    assignment = Assignment(torch.zeros((1, 2), dtype=torch.bool),
                            torch.zeros((1, 2), dtype=torch.long), torch.zeros((1, 2, 4)),
                            torch.zeros((1, 2, 3)))
    logits = torch.zeros((1, 2, 3), requires_grad=True)
    total, parts = detection_loss(logits, torch.zeros((1, 2, 4, 16)), torch.zeros((1, 2, 4)),
                                  torch.zeros((2, 2)), torch.ones(2), assignment)
    assert parts['box'] == 0.0 and parts['dfl'] == 0.0
    assert parts['cls'] == pytest.approx(6 * math.log(2), rel=1e-5)  # sum / max(sum, 1)
    total.backward()
    assert logits.grad is not None


def test_box_cell_mask_marks_cells_whose_centre_is_inside_a_valid_box() -> None:
    from negas_ros.train.losses import box_cell_mask

    boxes = torch.tensor([[[0.0, 0.0, 16.0, 8.0], [40.0, 40.0, 64.0, 64.0]]])
    mask = box_cell_mask(boxes, torch.tensor([[True, False]]), (8, 8), 8.0)
    expected = torch.zeros(1, 8, 8)
    expected[0, 0, :2] = 1.0  # centres (4, 4) and (12, 4)
    assert torch.equal(mask, expected)


def test_attention_loss_is_lowest_for_the_object_mask() -> None:
    from negas_ros.train.losses import attention_loss, box_cell_mask

    boxes = torch.tensor([[[8.0, 8.0, 40.0, 40.0]]])
    valid = torch.tensor([[True]])
    target = box_cell_mask(boxes, valid, (4, 4), 16.0)
    good = target[:, None].expand(1, 2, 4, 4) * 0.98 + 0.01
    flat = torch.full((1, 2, 4, 4), 0.5)
    inverted = 1.0 - good
    losses = [float(attention_loss([m], boxes, valid, (64, 64))) for m in (good, flat, inverted)]
    assert losses[0] < losses[1] < losses[2]
    # Objects without a positive text ask for no attention at all.
    none = float(attention_loss([torch.full((1, 2, 4, 4), 0.01)], boxes,
                                torch.tensor([[False]]), (64, 64)))
    assert none < 0.02
