"""Negative-label rule on hand-made embeddings; the written model directory and label file
load through the backend and the label rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from negas_ros.backends.yolo_world import YoloWorldBackend, load_model_card  # noqa: E402
from negas_ros.backends.yolo_world.checkpoint import load_network  # noqa: E402
from negas_ros.labels import load_labels  # noqa: E402
from negas_ros.train.config import TrainConfig  # noqa: E402
from negas_ros.train.export import write_label_file, write_model_dir  # noqa: E402
from negas_ros.train.negatives import choose_negatives  # noqa: E402
from negas_ros.train.trainer import build_network  # noqa: E402

WORDS = ('car', 'pedestrian', 'golf cart', 'mannequin', 'dog', 'bench')
# car ~ golf cart (cosine 0.94), pedestrian ~ mannequin (0.89); next: car ~ dog (0.21),
# pedestrian ~ bench (0.30).
EMB = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.9, 0.1, 0.3, 0.0],
                [0.1, 0.8, 0.0, 0.4], [0.2, -0.3, 0.9, 0.1], [-0.5, 0.3, 0.0, 0.8]])


def test_nearest_words_per_id_label() -> None:
    one = choose_negatives(WORDS, EMB, ('car', 'pedestrian'), per_label=1)
    assert one.negatives == ('golf cart', 'mannequin')
    assert one.nearest['golf cart'][0] == 'car' and one.nearest['mannequin'][0] == 'pedestrian'
    two = choose_negatives(WORDS, EMB, ('car', 'pedestrian'), per_label=2)
    assert two.negatives == ('golf cart', 'mannequin', 'bench', 'dog')  # most similar first
    assert two.nearest['bench'] == ('pedestrian', pytest.approx(0.3 / np.sqrt(0.98)))
    for label in ('car', 'pedestrian'):
        assert label not in two.negatives
        cosines = [c for _, c in two.ranking[label]]
        assert cosines == sorted(cosines, reverse=True)
    excluded = choose_negatives(WORDS, EMB, ('car',), per_label=1, exclude=('golf cart',))
    assert 'golf cart' not in excluded.negatives


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match='not in the vocabulary'):
        choose_negatives(WORDS, EMB, ('truck',))
    with pytest.raises(ValueError, match='per_label'):
        choose_negatives(WORDS, EMB, ('car',), per_label=0)
    with pytest.raises(ValueError, match='no candidate'):
        choose_negatives(('car',), EMB[:1], ('car',))


def test_label_file_round_trip(tmp_path: Path) -> None:
    choice = choose_negatives(WORDS, EMB, ('car', 'pedestrian'), per_label=1)
    path = write_label_file(tmp_path / 'world.yaml', ('car', 'pedestrian'), choice, 'somewhere')
    labels = load_labels(path)
    assert labels.id_labels == ('car', 'pedestrian')
    assert labels.negative_labels == ('golf cart', 'mannequin')


def test_model_dir_loads_strictly_with_its_text_path(tmp_path: Path) -> None:
    from negas_ros.backends.yolo_world.text import SentenceTextEncoder

    cfg = TrainConfig(imgsz=64, width=0.125, embed_dim=32)
    net = build_network(cfg.network_config(), 64, len(WORDS)).eval()
    projection = np.random.default_rng(0).normal(size=(32, 384)).astype(np.float32)
    frozen = SentenceTextEncoder('all-MiniLM-L6-v2')
    table = frozen.encode_raw(list(WORDS)) @ projection.T
    write_model_dir(tmp_path, net, projection, WORDS, table, 64, 'all-MiniLM-L6-v2',
                    source='test')
    card = load_model_card(str(tmp_path))
    assert card.text_model == 'all-MiniLM-L6-v2' and card.imgsz == (64, 64)
    assert card.text_projection == tmp_path / 'text_projection.npz'
    backend = YoloWorldBackend.from_card(card)
    backend.set_labels(['car'], ['golf cart'], nega=True)
    assert backend.embedder._encoder is None  # both labels come from the cached table
    raw = backend.infer(np.zeros((48, 80, 3), np.uint8), 0.0)
    assert raw.id_logits.shape[1] == 1 and raw.neg_logits.shape[1] == 1
    # A word outside the cache goes through the frozen encoder and the projection, exactly
    # as the cached rows were made.
    backend.set_labels(['forklift'], [], nega=False)
    assert backend.embedder._encoder is not None
    expected = frozen.encode_raw(['forklift', 'car']) @ projection.T
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(backend.embedder.embed(['forklift', 'car']), expected,
                               atol=1e-5)
    # The weights were stored exactly (the backend fuses BatchNorm, so compare a fresh load).
    loaded, info = load_network(tmp_path / 'weights.safetensors')
    assert info.config == net.config
    for key, value in net.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    with pytest.raises(ValueError, match="cannot embed '🚗'"):  # no known token: named
        backend.set_labels(['car'], ['🚗'], nega=False)
    assert backend.labels == (('forklift',), (), False)  # the old label set stays in force
