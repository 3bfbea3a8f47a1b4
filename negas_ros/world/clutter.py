"""Standing distractors that are not objects: trees, bare poles, bushes, utility cabinets, fences.

They are drawn like objects (sprites at their depth, so they can hide objects behind them) but
never labelled: a detector must learn that a bare pole is not a traffic light and a bush is
not a potted plant. Their pixels are 0 (background) in the instance map.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from negas_ros.world.canvas import Colour, Sprite, SpriteCanvas, jitter, pick, scale
from negas_ros.world.textures import TextureBank

__all__ = ['CLUTTER', 'ClutterKind']

Rng = np.random.Generator
_LEAVES: tuple[Colour, ...] = ((52, 104, 44), (74, 128, 52), (40, 84, 48), (96, 132, 58))


def _u(rng: Rng, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def paint_tree(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    trunk_h, crown = _u(rng, 2.0, 3.5), _u(rng, 1.6, 3.2)
    c = SpriteCanvas(ppm, -crown, crown, trunk_h + 2 * crown)
    bark = pick(rng, ((92, 70, 52), (110, 96, 84), (70, 56, 44)), 10)
    top = trunk_h + crown * 0.5
    c.poly([(-0.18, 0.0), (0.18, 0.0), (0.1, top), (-0.1, top)], bark)
    leaf = pick(rng, _LEAVES, 10)
    for _ in range(int(rng.integers(4, 9))):
        r = _u(rng, 0.35, 0.6) * crown
        x = _u(rng, -crown + r, crown - r)
        y = trunk_h + _u(rng, r, 2 * crown - r)
        c.circle(x, y, r, jitter(rng, leaf, 14))
    c.texture(bank, 'blotch', 16.0, rng, colour_noise=0.2)
    c.vertical_shading(1.1, 0.8)
    return c.finish()


def paint_bare_pole(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    height = _u(rng, 3.0, 9.0)
    c = SpriteCanvas(ppm, -0.9, 0.9, height)
    colour = pick(rng, ((110, 84, 60), (125, 127, 130), (40, 42, 44), (48, 76, 54)), 8)
    width = _u(rng, 0.08, 0.25)
    c.rect(-width / 2, 0.0, width / 2, height, colour)
    if height > 6 and rng.random() < 0.5:  # cross-arm of a utility pole
        c.rect(-0.85, height - 0.6, 0.85, height - 0.5, colour)
    c.texture(bank, 'vstreak', 6.0, rng)
    return c.finish()


def paint_bush(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    width, height = _u(rng, 0.8, 3.0), _u(rng, 0.5, 1.3)
    c = SpriteCanvas(ppm, -width / 2, width / 2, height)
    leaf = pick(rng, _LEAVES, 10)
    for _ in range(int(rng.integers(4, 9))):
        rx = _u(rng, 0.2, 0.35) * width
        ry = min(_u(rng, 0.4, 0.6) * height, height / 2)
        c.ellipse(_u(rng, -width / 2 + rx, width / 2 - rx), ry, rx, ry, jitter(rng, leaf, 14))
    c.texture(bank, 'blotch', 16.0, rng, colour_noise=0.2)
    return c.finish()


def paint_cabinet(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    width, height = _u(rng, 0.6, 1.2), _u(rng, 1.0, 1.6)
    colour = pick(rng, ((140, 144, 140), (70, 96, 80), (190, 190, 182)), 8)
    c = SpriteCanvas(ppm, -width / 2, width / 2, height)
    c.rect(-width / 2, 0.0, width / 2, height, colour)
    c.line(0.0, 0.05, 0.0, height - 0.05, 0.02, scale(colour, 0.7))
    c.texture(bank, 'fine', 4.0, rng)
    c.vertical_shading(1.05, 0.9)
    return c.finish()


def paint_fence(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    length, height = _u(rng, 2.0, 6.0), _u(rng, 0.8, 1.2)
    colour = pick(rng, ((40, 40, 42), (150, 150, 152), (120, 90, 60), (235, 235, 230)), 8)
    c = SpriteCanvas(ppm, -length / 2, length / 2, height)
    for y in (height * 0.35, height * 0.85):
        c.rect(-length / 2, y, length / 2, y + 0.05, colour)
    x = -length / 2
    while x <= length / 2:
        c.rect(x, 0.0, x + 0.05, height, colour)
        x += _u(rng, 0.15, 0.3) if rng.random() < 0.5 else 1.0
    return c.finish()


ClutterKind = str
CLUTTER: Mapping[ClutterKind, tuple[Callable[[Rng, float, TextureBank], Sprite], float]] = {
    'tree': (paint_tree, 1.2),
    'pole': (paint_bare_pole, 0.3),
    'bush': (paint_bush, 1.0),
    'cabinet': (paint_cabinet, 0.6),
    'fence': (paint_fence, 0.2),
}
"""Kind -> (painter, ground depth in metres)."""
