"""A 3-step training run on a fixed tiny batch lowers the loss; text-set sampling rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from negas_ros.backends.yolo_world.text import SentenceTextEncoder  # noqa: E402
from negas_ros.train import TrainConfig, train  # noqa: E402
from negas_ros.train.data import WorldDetectionData, collate  # noqa: E402
from negas_ros.train.text import PhraseBank, build_phrase_bank  # noqa: E402
from negas_ros.world import PRETRAIN_VOCAB, World  # noqa: E402


@pytest.fixture(scope='module')
def encoder() -> SentenceTextEncoder:
    return SentenceTextEncoder('all-MiniLM-L6-v2')


def _bank(encoder: SentenceTextEncoder, words: tuple[str, ...]) -> PhraseBank:
    return build_phrase_bank(encoder, words)


def test_three_steps_lower_the_loss_on_a_fixed_batch(encoder: SentenceTextEncoder) -> None:
    world = World(0)
    # Vocabulary = the categories of the two scenes: every word is present, so the text set
    # is the same at every step and the losses are comparable.
    scenes = [world.render('pretrain', i) for i in (0, 1)]
    words = tuple(sorted({o.category for scene in scenes for o in scene.objects}))
    data = WorldDetectionData(0, 'pretrain', words, (64, 64), 2)
    batch = collate([data[0], data[1]])
    cfg = TrainConfig(imgsz=64, width=0.125, embed_dim=32, batch=2, steps=3, warmup=1, lr=0.01,
                      log_every=1, val_every=0, workers=0, ema_tau=1.0)
    result = train(cfg, _bank(encoder, words), batches=itertools.repeat(batch))
    losses = [record['loss'] for record in result.history]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert losses[2] < losses[0], losses
    assert result.steps_done == 3 and not result.stopped_early
    # The exported (EMA) network is in eval mode; the projection maps the 384-d sentence
    # space to the network's text width.
    assert not result.net.training
    assert result.projection.matrix().shape == (32, 384)


def test_training_is_deterministic_for_a_seed(encoder: SentenceTextEncoder) -> None:
    data = WorldDetectionData(0, 'pretrain', PRETRAIN_VOCAB, (64, 64), 2, augment=True)
    batch = collate([data[0], data[1]])
    cfg = TrainConfig(imgsz=64, width=0.125, embed_dim=32, batch=2, steps=2, warmup=1,
                      log_every=1, val_every=0, workers=0)
    bank = _bank(encoder, PRETRAIN_VOCAB)
    first = train(cfg, bank, batches=itertools.repeat(batch))
    second = train(cfg, bank, batches=itertools.repeat(batch))
    assert [r['loss'] for r in first.history] == [r['loss'] for r in second.history]
    for (name, a), b in zip(first.net.state_dict().items(), second.net.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def test_augmented_sample_boxes_follow_the_flip() -> None:
    plain = WorldDetectionData(0, 'pretrain', PRETRAIN_VOCAB, (256, 256), 8)
    aug = WorldDetectionData(0, 'pretrain', PRETRAIN_VOCAB, (256, 256), 8, augment=True)
    for i in range(8):
        a, b = plain[i], aug[i]
        assert torch.equal(a.classes, b.classes)
        same = torch.allclose(a.boxes, b.boxes)
        flipped = torch.allclose(a.boxes[:, [0, 2]], 256 - b.boxes[:, [2, 0]], atol=1e-4)
        assert same or flipped
        assert a.image.shape == (3, 256, 256) and float(a.image.max()) <= 1.0
