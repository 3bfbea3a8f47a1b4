"""Measuring "visually close by design": simple appearance distances between categories.

Instances are compared by four appearance cues of their crops: silhouette (the mask shrunk
to 12 x 12), aspect ratio, colour (mean and spread of RGB) and a HOG-like histogram of
gradient orientations (9 bins in 2 x 2 cells). The distance between two categories is the
mean distance between their isolated random instances, summed over cues after dividing each
cue by its median over category pairs, so that no cue dominates by its units. These are
hand-made statistics, not a learned embedding: if a near-OOD category is closer to its ID
twin than every far-OOD category is, the closeness is in the pixels, not in the names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import math

import numpy as np
import numpy.typing as npt

from negas_ros.world.canvas import Sprite
from negas_ros.world.categories import CATEGORIES, CATEGORY_BY_NAME, FAR_OOD, TWINS, UNSEEN_FAR_OOD
from negas_ros.world.painters import paint
from negas_ros.world.textures import TextureBank

__all__ = ['CUES', 'TwinMargin', 'category_distances', 'sprite_cues', 'twin_margins']

FloatArray = npt.NDArray[np.float64]
CUES = ('silhouette', 'aspect', 'colour', 'gradients')
_CROP_PX = 64.0  # longest side of an instance when painted for measurement


def sprite_cues(sprite: Sprite) -> dict[str, FloatArray]:
    """The four appearance cues of one sprite (cropped to its mask)."""
    import cv2

    rows, cols = np.nonzero(sprite.mask)
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    mask = sprite.mask[y0:y1, x0:x1]
    rgb = sprite.rgb[y0:y1, x0:x1].astype(np.float32)
    silhouette = cv2.resize(mask.astype(np.float32), (12, 12), interpolation=cv2.INTER_AREA)
    pixels = rgb[mask] / 255.0
    colour = np.concatenate([pixels.mean(0), pixels.std(0)])
    grey = cv2.resize(np.where(mask, rgb.mean(-1), 128.0).astype(np.float32), (32, 32),
                      interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    magnitude = np.hypot(gx, gy)
    angle = (np.degrees(np.arctan2(gy, gx)) % 180.0) // 20.0
    hist = np.zeros((2, 2, 9), np.float64)
    for i in range(2):
        for j in range(2):
            cell = (slice(16 * i, 16 * i + 16), slice(16 * j, 16 * j + 16))
            hist[i, j] = np.bincount(angle[cell].astype(np.int64).ravel(),
                                     weights=magnitude[cell].ravel(), minlength=9)[:9]
    hist = hist.ravel() / max(float(np.linalg.norm(hist)), 1e-9)
    return {
        'silhouette': silhouette.ravel().astype(np.float64),
        'aspect': np.array([math.log((y1 - y0) / (x1 - x0))]),
        'colour': colour.astype(np.float64),
        'gradients': hist,
    }


def _cues_by_category(samples: int, seed: int) -> dict[str, list[dict[str, FloatArray]]]:
    bank = TextureBank(seed)
    cues: dict[str, list[dict[str, FloatArray]]] = {}
    for k, category in enumerate(CATEGORIES):
        rng = np.random.default_rng([seed, 0x5117, k])
        ppm = _CROP_PX / max(category.size_m)
        cues[category.name] = [sprite_cues(paint(category.name, rng, ppm, bank))
                               for _ in range(samples)]
    return cues


def category_distances(samples: int = 24, seed: int = 0) -> tuple[tuple[str, ...], FloatArray]:
    """(names, D): D[i, j] is the mean appearance distance between a random instance of
    category i and one of category j, from ``samples`` isolated instances per category.

    Per cue, instance distances are Euclidean; the category-pair means are divided by their
    median over pairs i < j, and the four cues are summed. D is symmetric; its diagonal is the
    spread within a category.
    """
    cues = _cues_by_category(samples, seed)
    names = tuple(cues)
    n = len(names)
    total = np.zeros((n, n))
    upper = np.triu_indices(n, 1)
    for cue in CUES:
        vectors = np.stack([c[cue] for name in names for c in cues[name]])
        d = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=-1)
        pair = d.reshape(n, samples, n, samples).mean(axis=(1, 3))
        total += pair / max(float(np.median(pair[upper])), 1e-12)
    return names, total


@dataclass(frozen=True)
class TwinMargin:
    """For one near-OOD category: its distance to its ID twin and to the far-OOD category
    nearest that twin (the claim holds when ``to_twin < nearest_far``)."""

    category: str
    twin: str
    to_twin: float
    nearest_far: float
    nearest_far_category: str


def twin_margins(names: Sequence[str], distances: FloatArray,
                 twins: Mapping[str, str] = TWINS) -> list[TwinMargin]:
    """One :class:`TwinMargin` per near-OOD category, far-OOD = known and unseen far ones."""
    index = {name: k for k, name in enumerate(names)}
    far = [name for name in FAR_OOD + UNSEEN_FAR_OOD if name in index]
    margins = []
    for near, twin in twins.items():
        if CATEGORY_BY_NAME[near].role != 'near':
            continue
        row = distances[index[twin]]
        nearest = min(far, key=lambda f: row[index[f]])
        margins.append(TwinMargin(near, twin, float(row[index[near]]), float(row[index[nearest]]),
                                  nearest))
    return margins
