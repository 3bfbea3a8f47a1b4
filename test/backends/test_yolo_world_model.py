"""YOLO-World network, NegA fusion, NMS and letterbox on tiny random models (CPU, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import yolo_world_fixtures

torch = pytest.importorskip('torch')

from negas_ros.backends.yolo_world.config import (  # noqa: E402
    ATTENTION_LAYERS,
    VARIANTS,
    YoloWorldConfig,
    config_for_variant,
    config_from_shapes,
    variant_name,
)
from negas_ros.backends.yolo_world.letterbox import Letterbox, letterbox  # noqa: E402
from negas_ros.backends.yolo_world.network import YoloWorldNet, _max_similarity  # noqa: E402
from negas_ros.backends.yolo_world.postprocess import (  # noqa: E402
    batched_nms,
    select_detections,
)

pytestmark = pytest.mark.model
one_torch_thread = yolo_world_fixtures.one_torch_thread  # tiny models: one torch thread

IMG = 128  # tiny inputs: 16x16 + 8x8 + 4x4 = 336 anchors


def _net(seed: int = 0) -> YoloWorldNet:
    torch.manual_seed(seed)
    net = YoloWorldNet(config_for_variant('tiny')).eval()
    with torch.no_grad():  # random statistics and biases, so that nothing is trivially zero
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        for layer in ATTENTION_LAYERS:
            net.model[layer].attn.bias.normal_()
    return net


@pytest.fixture(scope='module')
def net() -> YoloWorldNet:
    return _net()


def _texts(k: int, m: int, dim: int = 64, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(k, dim, generator=g), torch.randn(m, dim, generator=g)


def _images(b: int = 1, seed: int = 2) -> torch.Tensor:
    return torch.rand(b, 3, IMG, IMG, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- sizes


def test_variant_sizes_match_the_released_architectures() -> None:
    table = {
        's': ((32, 64, 128, 256, 512), (1, 2, 2, 1), 1, (4, 2, 4, 8)),
        'm': ((48, 96, 192, 384, 576), (2, 4, 4, 2), 2, (6, 3, 6, 9)),
        'l': ((64, 128, 256, 512, 512), (3, 6, 6, 3), 3, (8, 4, 8, 8)),
        'x': ((80, 160, 320, 640, 640), (3, 6, 6, 3), 3, (10, 5, 10, 10)),
    }
    for name, (widths, depths, neck, heads) in table.items():
        cfg = config_for_variant(f'yolov8{name}-worldv2')
        assert (cfg.widths, cfg.backbone_depths, cfg.neck_depth, cfg.attn_heads) == (
            widths, depths, neck, heads)
        assert all(h // n == 32 for h, n in zip(cfg.neck_hidden, cfg.attn_heads, strict=True))
        assert cfg.embed_dim == 512 and cfg.reg_max == 16 and cfg.bn_eps == 1e-3
    with pytest.raises(ValueError, match='unknown YOLO-World variant'):
        config_for_variant('yolov8q-worldv2')


@pytest.mark.parametrize('variant', VARIANTS)
def test_config_is_read_back_from_state_dict_shapes(variant: str) -> None:
    with torch.device('meta'):  # shapes only: no memory, no time
        net = YoloWorldNet(config_for_variant(variant))
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert 'model.22.dfl.conv.weight' in shapes and 'model.12.attn.gl.weight' in shapes
    cfg = config_from_shapes(shapes)
    assert cfg == config_for_variant(variant)
    assert variant_name(cfg) == variant
    assert YoloWorldConfig.from_json(cfg.to_json()) == cfg


def test_config_rejects_inconsistent_sizes() -> None:
    with pytest.raises(ValueError, match='heads'):
        YoloWorldConfig((8, 16, 32, 64, 128), (1, 1, 1, 1), 1, (3, 1, 1, 1))
    with pytest.raises(ValueError, match='no'):
        config_from_shapes({'model.0.conv.weight': (8, 3, 3, 3)})


# --------------------------------------------------------------------------- forward and NegA


def test_forward_shapes_and_boxes(net: YoloWorldNet) -> None:
    ids, negs = _texts(3, 5)
    text = net.prepare_text(ids, negs)
    with torch.inference_mode():
        out = net(_images(2), text)
    anchors = sum((IMG // s) ** 2 for s in (8, 16, 32))
    assert out.boxes.shape == (2, anchors, 4)
    assert out.id_logits.shape == (2, anchors, 3)
    assert out.neg_logits(1).shape == (anchors, 5)
    assert torch.all(out.boxes[..., 2] >= out.boxes[..., 0])
    assert torch.all(out.boxes[..., 3] >= out.boxes[..., 1])
    # Each box contains its anchor point (DFL distances are >= 0).
    first = out.boxes[0, 0]
    assert first[0] <= 4.0 <= first[2] and first[1] <= 4.0 <= first[3]


def test_nega_off_gives_the_id_only_detector_bit_for_bit(net: YoloWorldNet) -> None:
    ids, negs = _texts(3, 7)
    x = _images()
    with torch.inference_mode():
        plain = net(x, net.prepare_text(ids, None, 'off'))
        for fusion in ('off', 'max', 'weighted'):  # no negatives: every rule is the plain path
            same = net(x, net.prepare_text(ids, None, fusion))
            assert torch.equal(same.boxes, plain.boxes)
            assert torch.equal(same.id_logits, plain.id_logits)
        off = net(x, net.prepare_text(ids, negs, 'off'))
        on = net(x, net.prepare_text(ids, negs, 'max'))
    assert torch.equal(off.boxes, plain.boxes)
    assert torch.equal(off.id_logits, plain.id_logits)
    assert not torch.equal(on.id_logits, plain.id_logits)  # NegA on does change the features


def test_max_fusion_equals_appending_negatives_to_the_vocabulary(net: YoloWorldNet) -> None:
    ids, negs = _texts(3, 6)
    x = _images()
    with torch.inference_mode():
        nega = net(x, net.prepare_text(ids, negs, 'max'))
        appended = net(x, net.prepare_text(torch.cat([ids, negs]), None, 'off'))
    torch.testing.assert_close(nega.id_logits, appended.id_logits[..., :3], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(nega.neg_logits(0), appended.id_logits[0, :, 3:], rtol=1e-5,
                               atol=1e-5)
    torch.testing.assert_close(nega.boxes, appended.boxes, rtol=1e-5, atol=1e-4)


def test_weighted_fusion_with_zero_weight_is_off(net: YoloWorldNet) -> None:
    ids, negs = _texts(2, 4)
    x = _images()
    with torch.inference_mode():
        off = net(x, net.prepare_text(ids, negs, 'off'))
        zero = net(x, net.prepare_text(ids, negs, 'weighted', 0.0))
        half = net(x, net.prepare_text(ids, negs, 'weighted', 0.5))
    assert torch.equal(zero.id_logits, off.id_logits)
    assert not torch.equal(half.id_logits, off.id_logits)
    with pytest.raises(ValueError, match='fusion'):
        net.prepare_text(ids, negs, 'softmax')
    with pytest.raises(ValueError, match='weight'):
        net.prepare_text(ids, negs, 'weighted', 1.5)


def test_attention_maps_are_captured_per_block(net: YoloWorldNet) -> None:
    ids, negs = _texts(2, 4)
    with torch.inference_mode(), net.capture_attention() as maps:
        net(_images(2), net.prepare_text(ids, negs, 'max'))
    assert [m.layer for m in maps] == list(ATTENTION_LAYERS)
    strides = {12: 16, 15: 8, 18: 16, 21: 32}
    for m, heads in zip(maps, net.config.attn_heads, strict=True):
        side = IMG // strides[m.layer]
        assert m.fused.shape == m.ids.shape == (2, heads, side, side)
        assert m.negs is not None and m.negs.shape == m.fused.shape
        assert float(m.fused.min()) >= 0.0 and float(m.fused.max()) <= 1.0
        assert torch.equal(m.fused, torch.maximum(m.ids, m.negs))  # union = max of sigmoids
    with torch.inference_mode():  # capture ended: nothing more is recorded
        net(_images(), net.prepare_text(ids, negs))
    assert len(maps) == 4


def test_batched_equals_single_and_fused_equals_unfused() -> None:
    net = _net(seed=3)
    ids, negs = _texts(3, 2)
    x = _images(2)
    with torch.inference_mode():
        text = net.prepare_text(ids, negs)
        both = net(x, text)
        single = net(x[1:], text)
        fused_net = _net(seed=3).fuse()
        fused = fused_net(x, fused_net.prepare_text(ids, negs))
    torch.testing.assert_close(both.id_logits[1:], single.id_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fused.id_logits, both.id_logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fused.boxes, both.boxes, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(fused.neg_logits(0), both.neg_logits(0), rtol=1e-4, atol=1e-4)


def test_negative_logits_on_demand_equal_the_full_computation(net: YoloWorldNet) -> None:
    ids, negs = _texts(2, 9)
    with torch.inference_mode():
        out = net(_images(), net.prepare_text(ids, negs))
        anchors = torch.tensor([0, 5, 255, 256, 300, 335])  # every level
        torch.testing.assert_close(out.neg_logits(0, anchors), out.neg_logits(0)[anchors])


def test_chunked_similarity_is_the_exact_max() -> None:
    g = torch.Generator().manual_seed(0)
    embed = torch.randn(1, 2, 50, 32, generator=g)
    guide = torch.randn(2, 32, 1300, generator=g)
    full = torch.matmul(embed, guide).amax(-1)
    torch.testing.assert_close(_max_similarity(embed, guide), full, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- NMS and selection


def _reference_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                   thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            if classes[i] != classes[j]:
                continue
            lt = np.maximum(boxes[i, :2], boxes[j, :2])
            rb = np.minimum(boxes[i, 2:], boxes[j, 2:])
            inter = np.prod(np.clip(rb - lt, 0, None))
            union = np.prod(boxes[i, 2:] - boxes[i, :2]) + np.prod(boxes[j, 2:] - boxes[j, :2])
            if inter / (union - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@pytest.mark.parametrize('matrix_max', [512, 10])  # both implementations of batched_nms
def test_nms_matches_a_reference_implementation(matrix_max: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from negas_ros.backends.yolo_world import postprocess

    monkeypatch.setattr(postprocess, '_NMS_MATRIX_MAX', matrix_max)
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (300, 2))
    wh = rng.uniform(5, 40, (300, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    classes = rng.integers(0, 3, 300)
    for thr in (0.3, 0.5, 0.7):
        keep = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                           torch.from_numpy(classes), thr)
        assert keep.tolist() == _reference_nms(boxes, scores, classes, thr)
    capped = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                         torch.from_numpy(classes), 0.5, max_det=7)
    assert capped.tolist() == _reference_nms(boxes, scores, classes, 0.5)[:7]
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), 0.5).numel() == 0


def test_select_filters_on_the_best_id_score_and_suppresses_per_class() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60.0], [0, 0, 10, 10]])
    id_logits = torch.tensor([[2.0, -5], [1.0, -5], [-5, 0.5], [-5, 0.1]])
    # Box 1 overlaps box 0 of its class; box 3 overlaps box 0 too, but is of the other class.
    assert select_detections(boxes, id_logits, 0.5, 0.5, 10).tolist() == [0, 2, 3]
    assert select_detections(boxes, id_logits, 0.0, 1.0, 10).tolist() == [0, 1, 2, 3]
    assert select_detections(boxes, id_logits, 0.6, 0.5, 10).tolist() == [0, 2]
    assert select_detections(boxes, id_logits, 0.99, 0.5, 10).numel() == 0


# --------------------------------------------------------------------------- letterbox


@pytest.mark.parametrize(('src', 'dst'), [((240, 320), (320, 320)), ((333, 211), (320, 320)),
                                          ((720, 1280), (384, 640)), ((50, 50), (128, 96))])
def test_letterbox_maps_boxes_back_to_source_pixels(src: tuple[int, int],
                                                    dst: tuple[int, int]) -> None:
    h, w = src
    image = np.zeros((h, w, 3), np.uint8)
    x1, y1, x2, y2 = w // 4, h // 3, w // 2, (2 * h) // 3
    image[y1:y2, x1:x2] = 255
    boxed, plan = letterbox(image, dst)
    assert boxed.shape == (*dst, 3)
    assert plan.pad_left + plan.resized_hw[1] <= dst[1]
    assert plan.pad_top + plan.resized_hw[0] <= dst[0]
    assert boxed[0, 0, 0] in (0, 114)
    ys, xs = np.nonzero(boxed[..., 0] > 127)
    found = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    back = plan.to_source(found)[0]
    scale = max(w / plan.resized_hw[1], h / plan.resized_hw[0])
    assert np.allclose(back, [x1, y1, x2, y2], atol=scale + 0.5)
    exact = np.array([[x1, y1, x2, y2]], np.float32)
    np.testing.assert_allclose(plan.to_source(plan.to_input(exact)), exact, atol=1e-3)


def test_letterbox_clips_to_the_source_image() -> None:
    plan = Letterbox.plan((240, 320), (320, 320))
    assert plan.pad_top == 40 and plan.pad_left == 0 and plan.resized_hw == (240, 320)
    out = plan.to_source(np.array([[-10, 0, 400, 400]], np.float32))
    np.testing.assert_array_equal(out, [[0, 0, 320, 240]])
