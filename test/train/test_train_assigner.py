"""Task-aligned assigner on hand-made cases: which anchors are positive, one box per anchor,
the soft targets' normalisation, padding and edge cases."""

from __future__ import annotations

import pytest

torch = pytest.importorskip('torch')

from negas_ros.train.assigner import TaskAlignedAssigner, box_iou_pairwise  # noqa: E402

# Five anchors (pixels): four inside the box [0, 0, 32, 32], one outside.
POINTS = torch.tensor([[8.0, 8.0], [24.0, 8.0], [8.0, 24.0], [40.0, 40.0], [16.0, 16.0]])
GT = torch.tensor([[[0.0, 0.0, 32.0, 32.0]]])


def _boxes(*rows: list[float]) -> torch.Tensor:
    return torch.tensor([list(r) for r in rows])[None]


def test_topk_by_alignment_and_normalised_targets() -> None:
    # Anchor 0 predicts the box exactly (IoU 1), anchor 4 a box of IoU 1/2, anchors 1 and 2
    # tiny boxes, anchor 3 the box too but its centre is outside.
    pred = _boxes([0, 0, 32, 32], [20, 4, 22, 6], [4, 20, 6, 22], [0, 0, 32, 32],
                  [0, 0, 32, 16])
    scores = torch.full((1, 5, 3), 0.25)
    out = TaskAlignedAssigner(topk=2, alpha=0.5, beta=6.0)(
        scores, pred, POINTS, torch.tensor([[1]]), GT, torch.tensor([[True]]))
    assert out.fg_mask[0].tolist() == [True, False, False, False, True]
    # t = s^0.5 IoU^6; targets t * max IoU / max t: anchor 0 gets 1, anchor 4 gets (1/2)^6.
    assert out.target_scores[0, 0].tolist() == pytest.approx([0.0, 1.0, 0.0])
    assert out.target_scores[0, 4].tolist() == pytest.approx([0.0, 0.5**6, 0.0], rel=1e-4)
    assert out.target_scores[0, [1, 2, 3]].abs().sum() == 0
    assert torch.equal(out.target_boxes[0, 0], GT[0, 0])


def test_score_enters_the_alignment() -> None:
    # Same IoU everywhere: the anchors with the higher class score win the top-k.
    pred = _boxes(*[[0, 0, 32, 32]] * 5)
    scores = torch.zeros((1, 5, 2))
    scores[0, :, 0] = torch.tensor([0.1, 0.9, 0.8, 0.99, 0.2])
    out = TaskAlignedAssigner(topk=2)(scores, pred, POINTS, torch.tensor([[0]]), GT,
                                      torch.tensor([[True]]))
    assert out.fg_mask[0].tolist() == [False, True, True, False, False]  # 3 is outside


def test_fewer_candidates_than_topk_and_strictly_inside() -> None:
    # Box [8, 8, 24, 24]: anchor (16, 16) is inside; (8, 8), (24, 8), (8, 24) lie on its edge.
    pred = _boxes(*[[8, 8, 24, 24]] * 5)
    out = TaskAlignedAssigner(topk=10, min_candidates=0)(
        torch.full((1, 5, 1), 0.5), pred, POINTS, torch.tensor([[0]]),
        torch.tensor([[[8.0, 8, 24, 24]]]), torch.tensor([[True]]))
    assert out.fg_mask[0].tolist() == [False, False, False, False, True]


def test_thin_box_falls_back_to_the_nearest_anchors() -> None:
    # A pole [9, 0, 11, 32] holds no anchor centre; its centre (10, 16) is nearest to anchors
    # 4 (16, 16), then 0 (8, 8) and 2 (8, 24).
    thin = torch.tensor([[[9.0, 0.0, 11.0, 32.0]]])
    pred = thin.expand(1, 5, 4)
    args = (torch.full((1, 5, 1), 0.5), pred, POINTS, torch.tensor([[0]]), thin,
            torch.tensor([[True]]))
    assert not TaskAlignedAssigner(min_candidates=0)(*args).fg_mask.any()
    out = TaskAlignedAssigner(min_candidates=3)(*args)
    assert out.fg_mask[0].tolist() == [True, False, True, False, True]


def test_one_box_per_anchor_highest_iou_wins() -> None:
    # Two boxes containing anchors 0 and 4: anchor 0's prediction overlaps box B better,
    # anchor 4's prediction overlaps box A better. topk=5 makes both anchors positive for both.
    box_a = [0.0, 0.0, 32.0, 32.0]
    box_b = [0.0, 0.0, 20.0, 20.0]
    gt = torch.tensor([[box_a, box_b]])
    pred = _boxes([0, 0, 20, 20], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 30, 30])
    out = TaskAlignedAssigner(topk=5)(torch.full((1, 5, 2), 0.5), pred, POINTS,
                                      torch.tensor([[0, 1]]), gt, torch.tensor([[True, True]]))
    assert bool(out.fg_mask[0, 0]) and bool(out.fg_mask[0, 4])
    assert int(out.gt_index[0, 0]) == 1 and int(out.gt_index[0, 4]) == 0
    assert out.target_boxes[0, 0].tolist() == box_b
    # Each positive anchor carries exactly one class.
    positive = out.target_scores[0][out.fg_mask[0]]
    assert ((positive > 0).sum(-1) <= 1).all()


def test_padding_boxes_and_empty_images_assign_nothing() -> None:
    pred = _boxes(*[[0, 0, 32, 32]] * 5)
    scores = torch.full((1, 5, 2), 0.5)
    out = TaskAlignedAssigner()(scores, pred, POINTS, torch.tensor([[0]]), GT,
                                torch.tensor([[False]]))
    assert not out.fg_mask.any() and out.target_scores.sum() == 0
    empty = TaskAlignedAssigner()(scores, pred, POINTS, torch.zeros((1, 0), dtype=torch.long),
                                  torch.zeros((1, 0, 4)), torch.zeros((1, 0), dtype=torch.bool))
    assert not empty.fg_mask.any() and empty.target_scores.shape == (1, 5, 2)


def test_batched_equals_single() -> None:
    torch.manual_seed(0)
    pred = torch.rand(2, 5, 4) * 16
    pred[..., 2:] += pred[..., :2] + 4
    scores = torch.rand(2, 5, 3)
    labels = torch.tensor([[0, 2], [1, 0]])
    gt = torch.tensor([[[0.0, 0, 32, 32], [4, 4, 30, 20]], [[2.0, 2, 20, 28], [0, 0, 48, 48]]])
    mask = torch.tensor([[True, True], [True, False]])
    assigner = TaskAlignedAssigner(topk=3)
    both = assigner(scores, pred, POINTS, labels, gt, mask)
    for i in range(2):
        one = assigner(scores[i:i + 1], pred[i:i + 1], POINTS, labels[i:i + 1], gt[i:i + 1],
                       mask[i:i + 1])
        assert torch.equal(both.fg_mask[i], one.fg_mask[0])
        assert torch.allclose(both.target_scores[i], one.target_scores[0])


def test_pairwise_iou() -> None:
    iou = box_iou_pairwise(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 1, 3, 3],
                                                                       [0, 0, 2, 2]]))
    assert iou[0].tolist() == pytest.approx([1 / 7, 1.0])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match='topk'):
        TaskAlignedAssigner(topk=0)
    with pytest.raises(ValueError, match='min_candidates'):
        TaskAlignedAssigner(min_candidates=-1)
