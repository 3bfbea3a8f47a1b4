"""Pruning a negative list with the detector's answers on ID images (``negatives prune``).

Why (ours; the NegAS paper gives no such step): a generated negative is chosen for being close
to an ID label in the text encoder's space, and a detector that never learned how that word's
objects differ from the ID objects answers to it on the ID objects themselves. NegS then
lowers the score of real ID detections, and the 95%-TPR threshold drops with them: such a
negative makes OOD detection worse, not better. Only the detector can tell which words it
confuses with the ID classes, and ID images are enough to find out: no OOD image is needed.

Rule: run the detector with the ID labels and the candidate negatives (NegA off: the ID
outputs are those of the plain detector) on ID images; every detection whose best ID sigmoid
is at least ``min_confidence`` is an ID sample. For each negative k, its response is the
``quantile`` of sigmoid(t_k) over the ID samples; a negative is kept when that response is at
most ``max_response``. Kept negatives keep their order (and their grouping by ID label).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from negas_ros.detection import RawDetections

__all__ = ['PruneResult', 'id_responses', 'prune_negatives']


@dataclass(frozen=True)
class PruneResult:
    """kept / dropped: negatives in input order; response: negative -> its ID response;
    samples: ID detections the responses are measured on."""

    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    response: dict[str, float]
    samples: int


def id_responses(raws: Iterable[RawDetections], negatives: Sequence[str],
                 min_confidence: float, quantile: float) -> tuple[npt.NDArray[np.float64], int]:
    """(M,) the ``quantile`` of each negative's sigmoid over the ID samples (detections with
    best ID sigmoid >= min_confidence) of ``raws``, and the number of samples (0: all NaN)."""
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f'quantile must be in [0, 1], got {quantile}')
    rows = []
    for raw in raws:
        if not len(raw):
            continue
        if raw.neg_logits.shape[1] != len(negatives):
            raise ValueError(f'detections carry {raw.neg_logits.shape[1]} negative logits for '
                             f'{len(negatives)} negatives')
        conf = 1.0 / (1.0 + np.exp(-raw.id_logits.astype(np.float64).max(axis=1)))
        keep = conf >= min_confidence
        if keep.any():
            rows.append(1.0 / (1.0 + np.exp(-raw.neg_logits[keep].astype(np.float64))))
    if not rows:
        return np.full(len(negatives), np.nan), 0
    probs = np.concatenate(rows)
    return np.quantile(probs, quantile, axis=0), int(probs.shape[0])


def prune_negatives(negatives: Sequence[str], responses: npt.ArrayLike,
                    max_response: float, samples: int = 0) -> PruneResult:
    """Keep the negatives whose ID response is at most ``max_response`` (module docstring).
    A NaN response (no ID sample) is an error: nothing was measured."""
    values = np.asarray(responses, dtype=np.float64)
    if values.shape != (len(negatives),):
        raise ValueError(f'{values.shape} responses for {len(negatives)} negatives')
    if np.isnan(values).any():
        raise ValueError('no ID detection to measure the negatives on: lower --min-confidence '
                         'or give more ID images')
    kept = tuple(w for w, v in zip(negatives, values.tolist(), strict=True) if v <= max_response)
    dropped = tuple(w for w in negatives if w not in set(kept))
    return PruneResult(kept, dropped, dict(zip(negatives, values.tolist(), strict=True)),
                       samples)
