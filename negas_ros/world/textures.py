"""Seeded noise tiles shared by every image of a world (textures without per-image noise cost).

Generating smooth noise per image would dominate the render time, so a world builds a few
zero-mean, unit-variance float32 tiles once and each image (or object) takes a random window of
them. The tiles depend only on the world seed, so renders stay deterministic.
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ['TILE', 'TextureBank', 'TextureKind']

TILE = 512
"""Side of each square tile in pixels; larger windows wrap around."""

TextureKind = Literal['grain', 'blotch', 'fine', 'hstreak', 'vstreak', 'cloud']
_KINDS: tuple[TextureKind, ...] = ('grain', 'blotch', 'fine', 'hstreak', 'vstreak', 'cloud')

FloatImage = npt.NDArray[np.float32]
# (sigma x, sigma y) in pixels of the Gaussian that smooths each kind; grain stays white.
_SIGMAS: dict[str, tuple[float, float]] = {
    'fine': (1.5, 1.5), 'blotch': (6.0, 6.0), 'cloud': (24.0, 24.0),
    'hstreak': (12.0, 0.7), 'vstreak': (0.7, 12.0),
}
_Scalar = TypeVar('_Scalar', bound=np.generic)


class TextureBank:
    """Zero-mean, unit-variance float32 noise tiles, TILE x TILE each.

    Kinds: ``grain`` (white noise: sensor grain, asphalt), ``fine`` (blurred ~1.5 px: paint,
    fabric), ``blotch`` (blurred ~6 px: stone, fur, stains), ``hstreak``/``vstreak`` (blurred
    along one axis: wood grain, brushed metal, bark), ``cloud`` (blurred ~24 px: sky).
    """

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7E87]))
        self._tiles: dict[str, FloatImage] = {}
        for kind in _KINDS:
            noise = rng.standard_normal((TILE, TILE)).astype(np.float32)
            sigmas = _SIGMAS.get(kind)
            if sigmas is not None:
                noise = _blur_wrapped(noise, *sigmas)
            noise -= noise.mean()
            noise /= max(float(noise.std()), 1e-6)
            self._tiles[kind] = noise.astype(np.float32)
        # Sensor noise as uint8 around 8 so it can be added with saturating cv2.add/subtract.
        grain = self._tiles['grain']
        self.sensor_noise: npt.NDArray[np.uint8] = np.clip(grain * 3.0 + 8.0, 0, 16).astype(
            np.uint8)

    def window(self, kind: TextureKind, height: int, width: int,
               rng: np.random.Generator) -> FloatImage:
        """A (height, width) float32 window of tile ``kind`` at a random offset (wrapping)."""
        return _wrap_window(self._tiles[kind], height, width, rng)

    def sensor_window(self, height: int, width: int,
                      rng: np.random.Generator) -> npt.NDArray[np.uint8]:
        """A (height, width) uint8 window of sensor noise with mean 8."""
        return _wrap_window(self.sensor_noise, height, width, rng)


def _blur_wrapped(noise: FloatImage, sigma_x: float, sigma_y: float) -> FloatImage:
    """Gaussian blur with periodic borders, so that windows may wrap around seamlessly."""
    import cv2

    pad_x, pad_y = math.ceil(3 * sigma_x), math.ceil(3 * sigma_y)
    padded = np.pad(noise, ((pad_y, pad_y), (pad_x, pad_x)), mode='wrap')
    blurred = cv2.GaussianBlur(padded, (0, 0), sigmaX=sigma_x, sigmaY=sigma_y)
    return np.asarray(blurred[pad_y:pad_y + TILE, pad_x:pad_x + TILE], np.float32)


def _wrap_window(tile: npt.NDArray[_Scalar], height: int, width: int,
                 rng: np.random.Generator) -> npt.NDArray[_Scalar]:
    y0 = int(rng.integers(0, TILE))
    x0 = int(rng.integers(0, TILE))
    if y0 + height <= TILE and x0 + width <= TILE:
        return tile[y0:y0 + height, x0:x0 + width]
    rows = np.arange(y0, y0 + height) % TILE
    cols = np.arange(x0, x0 + width) % TILE
    return tile[np.ix_(rows, cols)]
