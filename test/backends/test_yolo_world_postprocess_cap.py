"""YOLO-World selection on crowded frames: the NMS candidate cap, blockwise NMS, thresholds.

ultralytics' non_max_suppression lets its best ``max_nms=30000`` candidates into NMS; ours used
to stop at 3000, which on a crowded frame (or a low box_threshold: 8400 anchors at 640) dropped
whole objects whose candidates all ranked below 3000 duplicates of another object.
"""

from __future__ import annotations

import pytest
import yolo_world_fixtures

torch = pytest.importorskip('torch')

from negas_ros.backends.yolo_world import postprocess  # noqa: E402
from negas_ros.backends.yolo_world.postprocess import (  # noqa: E402
    MAX_NMS_CANDIDATES,
    batched_nms,
    select_detections,
)

one_torch_thread = yolo_world_fixtures.one_torch_thread


def _crowd(duplicates_a: int, duplicates_b: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Two objects far apart, each seen by many anchors (jittered boxes, one ID label); every
    anchor of A outscores every anchor of B, all above 0.5."""
    g = torch.Generator().manual_seed(seed)
    a = torch.tensor([100.0, 100.0, 200.0, 220.0])
    b = torch.tensor([600.0, 300.0, 680.0, 420.0])
    boxes = torch.cat([a + torch.randn(duplicates_a, 4, generator=g),
                       b + torch.randn(duplicates_b, 4, generator=g)])
    logits = torch.cat([3.0 + torch.rand(duplicates_a, generator=g),
                        1.0 + torch.rand(duplicates_b, generator=g)])
    return boxes, logits[:, None]


def test_the_cap_is_ultralytics_max_nms() -> None:
    assert MAX_NMS_CANDIDATES == 30000


def test_a_crowded_frame_keeps_the_object_the_old_cap_lost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    boxes, logits = _crowd(3200, 300)  # 3500 candidates over the threshold
    keep = select_detections(boxes, logits, 0.5, 0.7, 300)
    assert keep.tolist()[0] < 3200 and keep.numel() == 2 and int(keep[1]) >= 3200  # A, then B
    monkeypatch.setattr(postprocess, 'MAX_NMS_CANDIDATES', 3000)  # what we had
    lost = select_detections(boxes, logits, 0.5, 0.7, 300)
    assert lost.tolist() == keep.tolist()[:1]  # the 3000 best were all A: B never reached NMS


def test_more_than_3000_separate_boxes_are_all_reported() -> None:
    ys, xs = torch.meshgrid(torch.arange(50.0), torch.arange(80.0), indexing='ij')
    corner = torch.stack([xs.flatten(), ys.flatten()], 1) * 10  # 4000 disjoint 8x8 boxes
    boxes = torch.cat([corner, corner + 8], 1)
    logits = torch.linspace(4.0, 0.5, 4000)[:, None]
    keep = select_detections(boxes, logits, 0.5, 0.5, 10000)
    assert keep.tolist() == list(range(4000))  # the old cap reported the best 3000 only


def test_the_cap_keeps_the_best_logits_lower_index_first_on_ties(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postprocess, 'MAX_NMS_CANDIDATES', 5)
    corner = torch.arange(8.0)[:, None] * 10
    boxes = torch.cat([corner, corner, corner + 8, corner + 8], 1)  # 8 disjoint boxes
    logits = torch.tensor([1.0, 3.0, 2.0, 2.0, 0.5, 2.0, 2.0, 3.0])[:, None]
    keep = select_detections(boxes, logits, 0.5, 0.5, 100)
    assert keep.tolist() == [1, 7, 2, 3, 5]  # 3.0, 3.0, then the first three of the four 2.0


def test_the_threshold_is_inclusive() -> None:
    # sigmoid(0) is exactly 0.5: we keep it (score >= box_threshold, the package's contract);
    # ultralytics' score > conf_thres would not.
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    logits = torch.tensor([[0.0], [-1e-3]])
    assert float(torch.sigmoid(logits[0, 0])) == 0.5
    assert select_detections(boxes, logits, 0.5, 0.5, 10).tolist() == [0]


def test_saturated_sigmoids_are_still_ranked_by_logit() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.5, 0.0, 10.5, 10.0]])  # IoU 0.9
    logits = torch.tensor([[20.0], [30.0]])
    assert torch.sigmoid(logits[0]) == torch.sigmoid(logits[1]) == 1.0  # a tie in float32
    assert select_detections(boxes, logits, 0.5, 0.5, 10).tolist() == [1]  # the larger logit


def _anchor_scene(n: int, classes: int, seed: int) -> tuple[torch.Tensor, ...]:
    """n boxes around a stride-8 anchor grid, overlapping their neighbours, random scores."""
    g = torch.Generator().manual_seed(seed)
    side = int(n**0.5) + 1
    ys, xs = torch.meshgrid(torch.arange(float(side)), torch.arange(float(side)), indexing='ij')
    centre = torch.stack([xs.flatten(), ys.flatten()], 1)[:n] * 8
    half = torch.rand(n, 2, generator=g) * 40 + 8
    boxes = torch.cat([centre - half, centre + half], 1)
    return boxes, torch.rand(n, generator=g), torch.randint(0, classes, (n,), generator=g)


def _assert_greedy(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor,
                   thr: float, max_det: int | None, keep: torch.Tensor) -> None:
    """keep is greedy NMS: best first, no two kept boxes of a class overlap > thr, and every
    box ranked before the last decision is kept or overlaps > thr a better kept box."""
    n = boxes.shape[0]
    order = torch.sort(scores, descending=True, stable=True).indices
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n)
    kept_rank = rank[keep]
    assert torch.all(kept_rank[1:] > kept_rank[:-1])
    last = int(kept_rank[-1]) if max_det is not None and keep.numel() == max_det else n - 1
    x1, y1, x2, y2 = boxes.unbind(1)
    k = keep
    w = (torch.minimum(x2[k, None], x2[None]) - torch.maximum(x1[k, None], x1[None])).clamp(min=0)
    h = (torch.minimum(y2[k, None], y2[None]) - torch.maximum(y1[k, None], y1[None])).clamp(min=0)
    inter = w * h
    area = (x2 - x1) * (y2 - y1)
    over = (inter > thr * (area[k, None] + area[None] - inter)) & (classes[k, None] == classes)
    before = kept_rank[:, None] < rank[None]  # kept box ranked better than the column box
    suppressed = (over & before).any(0)
    decided = rank <= last
    is_kept = torch.zeros(n, dtype=torch.bool)
    is_kept[keep] = True
    assert not torch.any(is_kept & suppressed)  # no kept box overlaps a better kept box
    assert torch.all((is_kept | suppressed)[decided])  # every decided box is explained


def test_nms_of_30000_candidates_is_exact_greedy_nms() -> None:
    boxes, scores, classes = _anchor_scene(30000, 5, seed=0)
    keep = batched_nms(boxes, scores, classes, 0.7, 300)
    assert keep.numel() == 300
    _assert_greedy(boxes, scores, classes, 0.7, 300, keep)


@pytest.mark.parametrize(('block', 'chunk'), [(64, 7), (5, 9), (100000, 4096)])
def test_blocks_and_chunks_do_not_change_the_result(block: int, chunk: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    boxes, scores, classes = _anchor_scene(800, 3, seed=1)
    reference = batched_nms(boxes, scores, classes, 0.5)
    _assert_greedy(boxes, scores, classes, 0.5, None, reference)
    monkeypatch.setattr(postprocess, '_NMS_MATRIX_MAX', block)
    monkeypatch.setattr(postprocess, '_NMS_KEPT_CHUNK', chunk)
    assert torch.equal(batched_nms(boxes, scores, classes, 0.5), reference)
    capped = batched_nms(boxes, scores, classes, 0.5, max_det=37)
    assert torch.equal(capped, reference[:37])
