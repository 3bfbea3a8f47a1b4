"""YOLO-World backend on a tiny random-weight model directory (offline, CPU, seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
import yolo_world_fixtures

from negas_ros.backends.base import BackendSpec, available_backends, create_backend
from negas_ros.backends.yolo_world import (
    DEFAULT_TEXT_MODEL,
    YoloWorldBackend,
    load_model_card,
    load_text_embeddings,
    save_text_embeddings,
)

pytestmark = pytest.mark.model
# Shared fixture: one torch thread for the module (tiny_yolo_world_dir is in test/conftest.py).
one_torch_thread = yolo_world_fixtures.one_torch_thread

REPO_ROOT = Path(__file__).resolve().parents[2]
ID_LABELS = ['car', 'person', 'traffic light']
NEG_LABELS = ['mannequin', 'statue', 'poster', 'scooter']


@pytest.fixture(scope='module')
def backend(tiny_yolo_world_dir: Path) -> YoloWorldBackend:
    b = create_backend('yolo_world', BackendSpec(str(tiny_yolo_world_dir)))
    assert isinstance(b, YoloWorldBackend)
    return b


def _image(height: int = 211, width: int = 317, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- construction


def test_importing_the_backend_imports_no_ml_framework() -> None:
    script = textwrap.dedent("""
        import sys
        import negas_ros.backends.yolo_world as yw
        from negas_ros.backends.base import available_backends
        from negas_ros.backends.yolo_world import text, config, backend
        assert 'yolo_world' in available_backends()
        heavy = sorted(m for m in ('torch', 'transformers', 'cv2', 'safetensors')
                       if m in sys.modules)
        assert not heavy, heavy
        print('ok')
    """)
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=60, check=False)
    assert result.returncode == 0 and 'ok' in result.stdout, result.stderr


def test_model_parameter_forms(tiny_yolo_world_dir: Path, tmp_path: Path) -> None:
    assert 'yolo_world' in available_backends()
    card = load_model_card(str(tiny_yolo_world_dir))
    assert card.weights == tiny_yolo_world_dir / 'yolo_world_tiny.safetensors'
    assert card.text_model == str(tiny_yolo_world_dir / 'text_model')
    assert card.imgsz == (320, 320) and card.nega_fusion == 'max'
    assert load_model_card(str(tiny_yolo_world_dir / 'yolo_world.yaml')) == card
    bare = load_model_card(str(card.weights))
    assert bare.text_model == DEFAULT_TEXT_MODEL and bare.imgsz == (640, 640)
    offline = tmp_path / 'offline.yaml'
    offline.write_text(f'weights: {card.weights}\ntext_embeddings: vocab.npz\nimgsz: [256, 320]\n')
    loaded = load_model_card(str(offline))
    assert loaded.text_model is None and loaded.text_embeddings == tmp_path / 'vocab.npz'
    assert loaded.imgsz == (256, 320)
    for bad, match in [('IDEA-Research/grounding-dino-tiny', 'must be a checkpoint file'),
                       (str(tmp_path), 'has no yolo_world.yaml')]:
        with pytest.raises(ValueError, match=match):
            load_model_card(bad)
    for text, match in [('weights: a.pt\nbogus: 1\n', 'unknown model card keys: bogus'),
                        ('weights: a.pt\nimgsz: 100\n', 'multiples of 32'),
                        ('weights: a.pt\nnega_fusion: sum\n', 'nega_fusion'),
                        ('imgsz: 320\n', "needs 'weights'")]:
        offline.write_text(text)
        with pytest.raises(ValueError, match=match):
            load_model_card(str(offline))


def test_spec_options_override_the_card(tiny_yolo_world_dir: Path) -> None:
    @dataclass(frozen=True)
    class SpecWithOptions(BackendSpec):  # what a future BackendSpec with options looks like
        options: dict[str, Any] | None = None

    spec = SpecWithOptions(str(tiny_yolo_world_dir),
                           options={'nega_fusion': 'weighted', 'imgsz': 256})
    b = YoloWorldBackend.from_spec(spec)
    assert b.card.nega_fusion == 'weighted' and b.card.imgsz == (256, 256)


# --------------------------------------------------------------------------- inference


@pytest.mark.parametrize(('height', 'width'), [(240, 320), (211, 317), (600, 90), (7, 5)])
def test_infer_contract(backend: YoloWorldBackend, height: int, width: int) -> None:
    backend.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    raw = backend.infer(_image(height, width), box_threshold=0.0)
    assert 0 < len(raw) <= backend.card.max_det
    assert raw.boxes_xyxy.dtype == raw.id_logits.dtype == raw.neg_logits.dtype == np.float32
    assert raw.id_logits.shape == (len(raw), 3) and raw.neg_logits.shape == (len(raw), 4)
    b = raw.boxes_xyxy
    assert np.all(b[:, 0] >= 0) and np.all(b[:, 2] <= width) and np.all(b[:, 0] < b[:, 2])
    assert np.all(b[:, 1] >= 0) and np.all(b[:, 3] <= height) and np.all(b[:, 1] < b[:, 3])
    best = raw.id_logits.max(1)
    assert np.all(np.diff(best) <= 0)  # best first
    assert set(backend.last_timings) == {'preprocess', 'model', 'postprocess', 'total'}
    assert backend.last_letterbox is not None
    assert backend.last_letterbox.source_hw == (height, width)


def test_box_threshold_filters_on_the_best_id_score(backend: YoloWorldBackend) -> None:
    backend.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    image = _image()
    everything = backend.infer(image, 0.0)
    probs = 1 / (1 + np.exp(-everything.id_logits.max(1)))
    cut = float(np.median(probs))
    kept = backend.infer(image, cut)
    assert 0 < len(kept) < len(everything)
    assert np.all(1 / (1 + np.exp(-kept.id_logits.max(1))) >= cut - 1e-6)
    assert len(backend.infer(image, 1.0)) == 0


def test_nega_off_equals_the_id_only_detector_bit_for_bit(backend: YoloWorldBackend) -> None:
    image = _image(seed=3)
    backend.set_labels(ID_LABELS, [], nega=False)
    plain = backend.infer(image, 0.2)
    backend.set_labels(ID_LABELS, NEG_LABELS, nega=False)
    off = backend.infer(image, 0.2)
    np.testing.assert_array_equal(off.boxes_xyxy, plain.boxes_xyxy)
    np.testing.assert_array_equal(off.id_logits, plain.id_logits)
    assert off.neg_logits.shape == (len(off), 4)
    backend.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    on = backend.infer(image, 0.2)
    assert on.id_logits.shape != off.id_logits.shape or not np.array_equal(on.id_logits,
                                                                            off.id_logits)


def test_bad_inputs_and_failed_label_updates(backend: YoloWorldBackend) -> None:
    backend.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    with pytest.raises(ValueError, match='at least one ID label'):
        backend.set_labels([], NEG_LABELS, nega=True)
    assert backend.labels == (tuple(ID_LABELS), tuple(NEG_LABELS), True)  # old set in force
    with pytest.raises(ValueError, match='HxWx3'):
        backend.infer(np.zeros((4, 4), np.uint8), 0.1)
    with pytest.raises(ValueError, match='uint8'):
        backend.infer(np.zeros((4, 4, 3), np.float32), 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='box_threshold'):
        backend.infer(_image(), 1.5)


def test_attention_maps_through_the_backend(backend: YoloWorldBackend) -> None:
    backend.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    with backend.capture_attention() as maps:
        backend.infer(_image(), 0.5)
    assert [m.layer for m in maps] == [12, 15, 18, 21]
    assert maps[1].fused.shape[-2:] == (40, 40)  # stride 8 of the 320 px input
    assert maps[1].negs is not None


# --------------------------------------------------------------------------- text


def test_text_embeddings_are_unit_norm_and_batch_independent(backend: YoloWorldBackend) -> None:
    embed = backend.embedder.encoder.encode
    alone = embed(['traffic light'])
    mixed = embed(['a', 'traffic light', 'a much longer label with many words'])
    assert alone.shape == (1, 64)
    np.testing.assert_allclose(np.linalg.norm(mixed, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(mixed[1], alone[0], atol=1e-5)  # padding does not leak in
    assert not np.allclose(mixed[0], mixed[2])


def test_offline_vocabulary_replaces_the_text_tower(backend: YoloWorldBackend,
                                                    tiny_yolo_world_dir: Path,
                                                    tmp_path: Path) -> None:
    labels = ID_LABELS + NEG_LABELS
    vectors = backend.embedder.encoder.encode(labels)
    path = save_text_embeddings(tmp_path / 'vocab.npz', labels, vectors, source='tiny')
    table = load_text_embeddings(path)
    assert table.labels == tuple(labels) and table.source == 'tiny'
    np.testing.assert_allclose(table.embeddings, vectors, atol=1e-6)

    card = tmp_path / 'offline.yaml'
    card.write_text(f'weights: {tiny_yolo_world_dir / "yolo_world_tiny.safetensors"}\n'
                    f'text_embeddings: {path}\nimgsz: 320\n')
    offline = create_backend('yolo_world', BackendSpec(str(card)))
    assert isinstance(offline, YoloWorldBackend)
    offline.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    backend.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    np.testing.assert_allclose(offline._embed(labels), backend._embed(labels), atol=1e-6)
    # Random tiny weights give many near-tied scores, so compare the best detection only.
    image = _image(seed=5)
    a, b = offline.infer(image, 0.0), backend.infer(image, 0.0)
    np.testing.assert_allclose(a.boxes_xyxy[0], b.boxes_xyxy[0], atol=1e-3)
    np.testing.assert_allclose(a.id_logits[0], b.id_logits[0], atol=1e-4)
    np.testing.assert_allclose(a.neg_logits[0], b.neg_logits[0], atol=1e-4)
    assert offline.embedder._encoder is None  # the text tower was never loaded
    with pytest.raises(ValueError, match="'bicycle' are not in the text embeddings file"):
        offline.set_labels(['car', 'bicycle'], [], nega=True)


def test_nan_outputs_raise_instead_of_an_empty_result(tiny_yolo_world_dir: Path) -> None:
    import torch

    from negas_ros.backends.base import NonFiniteOutputError

    det = create_backend('yolo_world', BackendSpec(str(tiny_yolo_world_dir)))
    assert isinstance(det, YoloWorldBackend)
    det.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    det.infer(_image(), 0.0)
    with torch.no_grad():
        next(det.net.parameters()).fill_(float('nan'))  # the stem: every output turns NaN
    with pytest.raises(NonFiniteOutputError, match='NaN/inf'):
        det.infer(_image(), 0.5)


# --------------------------------------------------------------------------- batched inference

BATCH_SIZES = [(211, 317), (480, 640), (100, 100)]
# The tiny random model's scores are nearly constant (and exactly tied over the padding), so the
# batch's different float rounding reorders ties and changes which of them NMS and max_det keep.
# Compared without either (every anchor kept, IoU > 1 never suppresses), the results are the
# same detections, each within fp32 tolerance, up to the order of ties.
EXHAUSTIVE = {'iou_threshold': 1.0, 'max_det': 100_000}


@pytest.fixture(scope='module')
def exhaustive_backends(tiny_yolo_world_dir: Path) -> dict[str, YoloWorldBackend]:
    """'card': the card's NegA rule ('max'); 'branch': the branch rule selected by option."""
    out = {}
    for name, options in (('card', EXHAUSTIVE), ('branch', {**EXHAUSTIVE,
                                                            'nega_fusion': 'branch'})):
        b = create_backend('yolo_world', BackendSpec(str(tiny_yolo_world_dir), options=options))
        assert isinstance(b, YoloWorldBackend)
        out[name] = b
    assert out['card'].card.nega_fusion == load_model_card(str(tiny_yolo_world_dir)).nega_fusion
    assert out['branch'].card.nega_fusion == 'branch'
    return out


@pytest.mark.parametrize(('rule', 'nega'), [('card', True), ('card', False), ('branch', True)])
def test_infer_batch_equals_one_image_inference(
    exhaustive_backends: dict[str, YoloWorldBackend], rule: str, nega: bool
) -> None:
    det = exhaustive_backends[rule]
    det.set_labels(ID_LABELS, NEG_LABELS, nega=nega)
    images = [_image(h, w, seed=i) for i, (h, w) in enumerate(BATCH_SIZES)]
    singles = [det.infer(image, 0.0) for image in images]
    batch = det.infer_batch(images, 0.0)
    assert len(batch) == len(images)
    assert set(det.last_timings) == {'preprocess', 'model', 'postprocess', 'total', 'batch'}
    assert det.last_timings['batch'] == len(images)
    assert [p.source_hw for p in det.last_letterboxes] == BATCH_SIZES
    assert det.last_letterbox is det.last_letterboxes[-1]
    for one, many in zip(singles, batch, strict=True):
        assert len(one) > 300 and len(many) == len(one)  # more than the default max_det
        assert many.neg_logits.shape == (len(many), len(NEG_LABELS))
        _assert_same_detections(many, one)


def _assert_same_detections(actual: Any, expected: Any) -> None:
    """Each expected row matches its own actual row: boxes within 1e-3, logits within 1e-4."""
    unused = np.ones(len(actual), bool)
    for i in range(len(expected)):
        close = (unused
                 & (np.abs(actual.boxes_xyxy - expected.boxes_xyxy[i]).max(1) <= 1e-3)
                 & (np.abs(actual.id_logits - expected.id_logits[i]).max(1) <= 1e-4)
                 & (np.abs(actual.neg_logits - expected.neg_logits[i]).max(1) <= 1e-4))
        assert close.any(), f'detection {i} of the single-image result has no batched match'
        unused[np.flatnonzero(close)[0]] = False
