"""NegAS negative labels for the world, chosen from the learned text embeddings.

NegAS wants negatives that are *visually similar but semantically different* from the ID
labels. An LLM answers "what looks like a car but is not one" from its knowledge of images
and words; our mini VLM's only knowledge is its pretraining, and its text embeddings were
learned *from images*: the row of a word is pulled towards the region features of that word's
objects and pushed away from every other object's. Two words whose objects look alike end up
with close rows (both must match nearly the same features and differ only along the few
directions that tell the objects apart), so cosine similarity of the learned rows is a
visual similarity, read off the model without looking at any OOD test image.

Rule (fixed before training; :func:`choose_negatives`)
    candidates = vocabulary - ID labels - excluded words (synonyms, hyponyms or hypernyms of an
    ID label; the world's vocabulary has none, the argument exists for other vocabularies);
    for each ID label, its ``per_label`` most similar candidates (cosine of learned rows);
    negatives = the union, ordered by their best similarity to any ID label.

As in the real setting, where an LLM's negatives for 'car' include 'van' and COCO-OOD holds
vans, the world's known near-OOD categories can be among the negatives: they are in the
vocabulary and were trained on. The held-out categories (:data:`negas_ros.world.UNSEEN`)
never can: they are not in the vocabulary. Benchmarks should report both cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ['NegativeChoice', 'choose_negatives', 'similarity_table']


@dataclass(frozen=True)
class NegativeChoice:
    """negatives: chosen words, most similar first. nearest: negative -> (ID label, cosine) of
    its most similar ID label. ranking: ID label -> every candidate with its cosine, most
    similar first. per_label: the rule's k."""

    negatives: tuple[str, ...]
    nearest: dict[str, tuple[str, float]]
    ranking: dict[str, list[tuple[str, float]]]
    per_label: int


def similarity_table(embeddings: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(V, E) embeddings -> (V, V) cosine similarities."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    out: npt.NDArray[np.float64] = x @ x.T
    return out


def choose_negatives(
    words: Sequence[str],
    embeddings: npt.ArrayLike,
    id_labels: Sequence[str],
    per_label: int = 2,
    exclude: Sequence[str] = (),
) -> NegativeChoice:
    """Apply the module's rule. words (V,) and embeddings (V, E) in the same order; every ID
    label must be a word. Raises ValueError when no candidate is left."""
    if per_label < 1:
        raise ValueError(f'per_label must be >= 1, got {per_label}')
    index = {w: i for i, w in enumerate(words)}
    missing = [label for label in id_labels if label not in index]
    if missing:
        raise ValueError(f'ID labels not in the vocabulary: {missing}')
    banned = set(id_labels) | set(exclude)
    candidates = [w for w in words if w not in banned]
    if not candidates:
        raise ValueError('no candidate negatives: the vocabulary holds only ID labels')
    sim = similarity_table(embeddings)
    ranking: dict[str, list[tuple[str, float]]] = {}
    chosen: dict[str, tuple[str, float]] = {}
    for label in id_labels:
        row = sorted(((c, float(sim[index[label], index[c]])) for c in candidates),
                     key=lambda item: (-item[1], item[0]))
        ranking[label] = row
        for word, _ in row[:per_label]:
            best = max(((lab, float(sim[index[lab], index[word]])) for lab in id_labels),
                       key=lambda item: item[1])
            chosen[word] = best
    order = sorted(chosen, key=lambda w: (-chosen[w][1], w))
    return NegativeChoice(tuple(order), {w: chosen[w] for w in order}, ranking, per_label)
