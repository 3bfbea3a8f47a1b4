"""Measuring the mini detector's text side: neighbours and how well text similarity predicts
what the detector confuses (docs/text-encoder.md, written by scripts/text_encoder_report.py).

Two spaces are compared: the frozen sentence space (all-MiniLM-L6-v2, what ranks WordNet
candidates for ``negas-ros negatives generate``) and the detector's text space (the frozen
space through the learned projection). "Visual" similarity is read off the detector itself:
for the objects of category c, how strongly the label d answers on the detection that covers
them (mean sigmoid). NegAS wants negatives that look like the ID objects, so a text space is
useful for choosing negatives to the extent that its cosine ranks pairs like that confusion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ['Neighbours', 'nearest_neighbours', 'spearman']

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Neighbours:
    """word -> its k nearest other words with their cosine, most similar first."""

    table: dict[str, list[tuple[str, float]]]


def nearest_neighbours(words: Sequence[str], embeddings: npt.ArrayLike, k: int,
                       among: Sequence[str] | None = None) -> Neighbours:
    """For each word its ``k`` most cosine-similar words of ``among`` (default: all words),
    itself excluded; ties by word. embeddings: (len(words), D), any norm."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(words):
        raise ValueError(f'need ({len(words)}, D) embeddings, got {x.shape}')
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    pool = list(words if among is None else among)
    missing = [w for w in pool if w not in index]
    if missing:
        raise ValueError(f'words to rank among are not embedded: {missing}')
    sim = x @ x[[index[w] for w in pool]].T
    table = {}
    for i, word in enumerate(words):
        row = sorted(((pool[j], float(sim[i, j])) for j in range(len(pool)) if pool[j] != word),
                     key=lambda item: (-item[1], item[0]))
        table[word] = row[:k]
    return Neighbours(table)


def _ranks(values: FloatArray) -> FloatArray:
    """Average ranks (ties share their mean rank), 1-based."""
    order = np.argsort(values, kind='mergesort')
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Spearman rank correlation of two equal-length samples (NaN when either is constant)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError('need two 1-D samples of the same length >= 2')
    rx, ry = _ranks(x), _ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denom) if denom > 0 else float('nan')
