"""The mini VLM's offline text encoder: one learned vector per vocabulary word.

YOLO-World freezes CLIP's text tower; we cannot download it, and the world's vocabulary is
closed (:data:`negas_ros.world.PRETRAIN_VOCAB`), so the "text encoder" is an embedding table
trained jointly with the detector. Rows are L2-normalised before use, as CLIP embeddings are,
so that the exported table (:func:`negas_ros.backends.yolo_world.save_text_embeddings`) feeds
the backend exactly what the network saw in training.

Per batch the network sees a *text set*, the analogue of YOLO-World's per-sample vocabulary
(positives plus sampled negative texts); :func:`sample_text_set` draws it. Two kinds, mixed:

- detection-style (as YOLO-World's detection data): every category present in the batch plus a
  random number of absent vocabulary words as negative texts;
- grounding-style (as its grounding data, where only the phrases of the caption are labelled):
  a random subset of the whole vocabulary; objects whose category is not in it are background.
  This teaches the detector to run on any label subset, e.g. the 7 ID labels alone, with the
  other categories' objects unlabelled, which is how it is deployed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as nnf

from negas_ros.backends.yolo_world.config import ATTENTION_LAYERS
from negas_ros.backends.yolo_world.network import (
    BlockGuide,
    C2fAttn,
    PreparedText,
    YoloWorldNet,
)

__all__ = ['LearnedVocabulary', 'prepare_text_trainable', 'sample_text_set']


class LearnedVocabulary(nn.Module):
    """words (V,) -> a (V, E) table; ``forward(indices (N,)) -> (N, E)`` unit-norm rows."""

    def __init__(self, words: Sequence[str], dim: int) -> None:
        super().__init__()
        if len(set(words)) != len(words) or not words:
            raise ValueError('vocabulary words must be unique and non-empty')
        if dim < 1:
            raise ValueError(f'dim must be >= 1, got {dim}')
        self.words = tuple(words)
        self.weight = nn.Parameter(torch.randn(len(words), dim))

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return nnf.normalize(self.weight[indices], dim=-1)

    def table(self) -> np.ndarray:
        """(V, E) float32 unit-norm embeddings of all words, in word order."""
        with torch.no_grad():
            out: np.ndarray = nnf.normalize(self.weight, dim=-1).cpu().numpy().astype(np.float32)
        return out


def prepare_text_trainable(net: YoloWorldNet, text: torch.Tensor) -> PreparedText:
    """:meth:`YoloWorldNet.prepare_text` with gradients (that one runs under no_grad, for
    inference): text (N, E) unit-norm -> guides and head weights, no negatives, fusion 'max'."""
    guides = []
    for layer in ATTENTION_LAYERS:
        block = net.model[layer]
        assert isinstance(block, C2fAttn)
        guides.append(BlockGuide(block.attn.guide(text), None))
    return PreparedText(
        guides=tuple(guides),
        head_ids=nnf.normalize(text, dim=-1),
        head_negs=text.new_zeros((0, text.shape[1])),
        fusion='max',
        weight=0.5,
    )


def sample_text_set(
    present: Sequence[int], vocab_size: int, rng: np.random.Generator, grounding_fraction: float
) -> np.ndarray:
    """Vocabulary indices of one batch's text set (shuffled; the module docstring has the rule).

    present: indices of categories with objects in the batch. grounding_fraction: probability
    of a grounding-style set. Never empty.
    """
    present_set = sorted(set(int(p) for p in present))
    if rng.random() < grounding_fraction or not present_set:
        size = int(rng.integers(1, vocab_size + 1))
        chosen = rng.choice(vocab_size, size=size, replace=False)
    else:
        absent = np.array([i for i in range(vocab_size) if i not in present_set], dtype=np.int64)
        count = int(rng.integers(0, absent.size + 1))
        extra = rng.choice(absent, size=count, replace=False) if count else absent[:0]
        chosen = np.concatenate([np.array(present_set, dtype=np.int64), extra])
    out: np.ndarray = rng.permutation(chosen).astype(np.int64)
    return out
