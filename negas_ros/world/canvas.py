"""Drawing one object in metres: a small RGB canvas with the object's exact mask.

Painters describe an object in its own metric frame (x to the right of the ground-contact
centre, y up from the ground) and :class:`SpriteCanvas` rasterises every primitive twice, into
the colour image and into the mask, with the same geometry (no anti-aliasing), so that the mask
is exactly the set of pixels the object painted. Coordinates are passed to OpenCV in fixed
point (``_SHIFT`` fractional bits) so that small, distant objects keep their proportions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import math

import numpy as np
import numpy.typing as npt

from negas_ros.world.textures import TextureBank, TextureKind

__all__ = [
    'Colour',
    'Sprite',
    'SpriteCanvas',
    'jitter',
    'mix',
    'pick',
    'scale',
]

Colour = tuple[int, int, int]
"""An RGB colour, each channel 0..255."""

RgbImage = npt.NDArray[np.uint8]
BoolImage = npt.NDArray[np.bool_]

_SHIFT = 3
_ONE = 1 << _SHIFT
_PAD = 1  # px of empty border so that rounding never clips a primitive


@dataclass
class Sprite:
    """A rasterised object.

    rgb: (h, w, 3) uint8 RGB, meaningful where ``mask`` is set.
    mask: (h, w) bool, the object's pixels.
    glow: (h, w) bool, emissive pixels (lamps) that keep their colour at night.
    foot: (x, y) pixel position in the sprite of the ground-contact centre.
    attributes: det_20 label attributes the painter knows (e.g. ``trafficLightColor``).
    """

    rgb: RgbImage
    mask: BoolImage
    glow: BoolImage
    foot: tuple[float, float]
    attributes: dict[str, str] = field(default_factory=dict)

    def flipped(self) -> Sprite:
        """The mirror image (objects face left or right)."""
        width = self.rgb.shape[1]
        return Sprite(self.rgb[:, ::-1].copy(), self.mask[:, ::-1].copy(),
                      self.glow[:, ::-1].copy(), (width - 1 - self.foot[0], self.foot[1]),
                      dict(self.attributes))


class SpriteCanvas:
    """A canvas covering ``x_min..x_max`` by ``0..height`` metres at ``ppm`` pixels per metre."""

    def __init__(self, ppm: float, x_min: float, x_max: float, height: float) -> None:
        if not (ppm > 0 and x_max > x_min and height > 0):
            raise ValueError(f'bad canvas: ppm={ppm}, x={x_min}..{x_max}, height={height}')
        self.ppm = ppm
        self.x_min = x_min
        self.top = height
        width_px = math.ceil((x_max - x_min) * ppm) + 2 * _PAD + 1
        height_px = math.ceil(height * ppm) + 2 * _PAD + 1
        self.rgb: RgbImage = np.zeros((height_px, width_px, 3), np.uint8)
        self.mask: RgbImage = np.zeros((height_px, width_px), np.uint8)
        self.glow: RgbImage = np.zeros((height_px, width_px), np.uint8)
        self.attributes: dict[str, str] = {}

    # ---- coordinates ----------------------------------------------------------------------

    def _pt(self, x: float, y: float) -> tuple[int, int]:
        px = ((x - self.x_min) * self.ppm + _PAD) * _ONE
        py = ((self.top - y) * self.ppm + _PAD) * _ONE
        return round(px), round(py)

    def _len(self, metres: float) -> int:
        return max(round(metres * self.ppm * _ONE), 1)

    def _thick(self, metres: float) -> int:
        return max(round(metres * self.ppm), 1)

    def pixels(self, metres: float) -> float:
        """A length in pixels (painters skip details that would be sub-pixel)."""
        return metres * self.ppm

    # ---- primitives (each drawn into colour, mask and optionally glow) --------------------

    def poly(self, points: Sequence[tuple[float, float]], colour: Colour,
             glow: bool = False) -> None:
        """A filled polygon through ``points`` (metres)."""
        import cv2

        pts = np.array([self._pt(x, y) for x, y in points], np.int32)
        for image, value in self._targets(colour, glow):
            cv2.fillPoly(image, [pts], value, cv2.LINE_8, _SHIFT)

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: Colour,
             glow: bool = False) -> None:
        """A filled axis-aligned rectangle with corners (x0, y0) and (x1, y1)."""
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour, glow)

    def circle(self, cx: float, cy: float, r: float, colour: Colour,
               width: float | None = None, glow: bool = False) -> None:
        """A disc, or a ring of line ``width`` metres when width is given."""
        import cv2

        thickness = -1 if width is None else self._thick(width)
        centre = self._pt(cx, cy)
        for image, value in self._targets(colour, glow):
            cv2.circle(image, centre, self._len(r), value, thickness, cv2.LINE_8, _SHIFT)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour: Colour,
                angle: float = 0.0, start: float = 0.0, end: float = 360.0,
                width: float | None = None, glow: bool = False) -> None:
        """A filled ellipse (or arc of line ``width``); angles in degrees, counter-clockwise."""
        import cv2

        thickness = -1 if width is None else self._thick(width)
        centre = self._pt(cx, cy)
        axes = (self._len(rx), self._len(ry))
        # OpenCV angles run clockwise in image coordinates; ours run counter-clockwise.
        for image, value in self._targets(colour, glow):
            cv2.ellipse(image, centre, axes, -angle, -end, -start, value, thickness,
                        cv2.LINE_8, _SHIFT)

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float,
             colour: Colour, glow: bool = False) -> None:
        """A straight stroke ``width`` metres wide (at least one pixel)."""
        import cv2

        p0, p1 = self._pt(x0, y0), self._pt(x1, y1)
        thickness = self._thick(width)
        for image, value in self._targets(colour, glow):
            cv2.line(image, p0, p1, value, thickness, cv2.LINE_8, _SHIFT)

    def polyline(self, points: Sequence[tuple[float, float]], width: float, colour: Colour,
                 closed: bool = False) -> None:
        """Connected strokes through ``points``."""
        import cv2

        pts = np.array([self._pt(x, y) for x, y in points], np.int32)
        thickness = self._thick(width)
        for image, value in self._targets(colour, False):
            cv2.polylines(image, [pts], closed, value, thickness, cv2.LINE_8, _SHIFT)

    def _targets(self, colour: Colour, glow: bool) -> list[tuple[RgbImage, tuple[int, ...]]]:
        targets: list[tuple[RgbImage, tuple[int, ...]]] = [(self.rgb, colour), (self.mask, (255,))]
        if glow:
            targets.append((self.glow, (255,)))
        return targets

    # ---- surface finish -------------------------------------------------------------------

    def texture(self, bank: TextureBank, kind: TextureKind, amplitude: float,
                rng: np.random.Generator, colour_noise: float = 0.0) -> None:
        """Add ``amplitude`` x a window of texture ``kind`` to the object's pixels.

        colour_noise > 0 also tints the texture per channel (fur, stone), as a fraction of
        amplitude.
        """
        height, width = self.mask.shape
        noise = bank.window(kind, height, width, rng) * np.float32(amplitude)
        add = np.repeat(noise[:, :, None], 3, axis=2)
        if colour_noise > 0:
            tint = rng.uniform(1 - colour_noise, 1 + colour_noise, 3).astype(np.float32)
            add *= tint
        self._add(add)

    def vertical_shading(self, top_gain: float, bottom_gain: float) -> None:
        """Scale brightness linearly from ``top_gain`` at the top to ``bottom_gain`` at the
        bottom of the canvas: a cheap cue of volume and overhead light."""
        height = self.mask.shape[0]
        ramp = np.linspace(top_gain, bottom_gain, height, dtype=np.float32)[:, None, None]
        rgb = self.rgb.astype(np.float32) * ramp
        self.rgb = np.clip(rgb, 0, 255).astype(np.uint8)

    def _add(self, add: npt.NDArray[np.float32]) -> None:
        rgb = self.rgb.astype(np.float32) + add
        self.rgb = np.clip(rgb, 0, 255).astype(np.uint8)

    def finish(self) -> Sprite:
        """The sprite; colour outside the mask is zeroed."""
        mask = self.mask > 0
        rgb = self.rgb
        rgb[~mask] = 0
        foot = ((0.0 - self.x_min) * self.ppm + _PAD, self.top * self.ppm + _PAD)
        return Sprite(rgb, mask, self.glow > 0, foot, dict(self.attributes))


# ---- colours -------------------------------------------------------------------------------


def _clip(value: float) -> int:
    return int(min(max(round(value), 0), 255))


def jitter(rng: np.random.Generator, colour: Colour, amount: float = 12.0) -> Colour:
    """``colour`` with each channel moved by up to +-amount, plus a shared brightness shift."""
    shared = rng.uniform(-amount, amount)
    r, g, b = (c + shared * 0.7 + rng.uniform(-amount, amount) * 0.5 for c in colour)
    return _clip(r), _clip(g), _clip(b)


def pick(rng: np.random.Generator, palette: Sequence[Colour], amount: float = 12.0) -> Colour:
    """A jittered colour from ``palette``."""
    return jitter(rng, palette[int(rng.integers(len(palette)))], amount)


def scale(colour: Colour, factor: float) -> Colour:
    """``colour`` brightened (factor > 1) or darkened (< 1)."""
    r, g, b = colour
    return _clip(r * factor), _clip(g * factor), _clip(b * factor)


def mix(a: Colour, b: Colour, t: float) -> Colour:
    """Linear blend: ``a`` at t = 0, ``b`` at t = 1."""
    return (_clip(a[0] + (b[0] - a[0]) * t), _clip(a[1] + (b[1] - a[1]) * t),
            _clip(a[2] + (b[2] - a[2]) * t))
