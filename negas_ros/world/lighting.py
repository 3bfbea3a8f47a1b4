"""Photometric changes applied to a composed scene: fog, global tone and colour cast, rain,
camera blur and sensor noise.

The global tone curve is a per-channel lookup table (one ``cv2.LUT`` call) so lighting costs
almost nothing per image. Emissive pixels (lit lamps, lit windows) keep their colour, which is
what makes night scenes readable.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from negas_ros.world.background import Camera, Conditions
from negas_ros.world.textures import TextureBank

__all__ = ['apply_conditions', 'fog_background', 'fog_colour', 'fog_sprite_alpha']

RgbImage = npt.NDArray[np.uint8]
BoolImage = npt.NDArray[np.bool_]


def fog_colour(cond: Conditions) -> tuple[int, int, int]:
    return (60, 62, 70) if cond.timeofday == 'night' else (196, 198, 202)


def fog_sprite_alpha(cond: Conditions, depth: float) -> float:
    """How much of the fog colour replaces an object at ``depth`` metres (0: none)."""
    return 0.0 if cond.fog <= 0 else float(min(1.0 - np.exp(-depth * cond.fog), 0.9))


def fog_background(img: RgbImage, camera: Camera, cond: Conditions) -> RgbImage:
    """Blend the background toward the fog colour by the ground depth of each row."""
    if cond.fog <= 0:
        return img
    rows = np.arange(camera.height, dtype=np.float32)
    below = rows > camera.horizon
    depth = np.full(camera.height, np.inf, np.float32)
    depth[below] = camera.focal * camera.cam_height / (rows[below] - camera.horizon)
    alpha = np.minimum(1.0 - np.exp(-depth * cond.fog), 0.9)[:, None, None]
    fog = np.asarray(fog_colour(cond), np.float32)
    out = img.astype(np.float32) * (1 - alpha) + fog * alpha
    return np.asarray(out, np.uint8)


def _tone_lut(cond: Conditions) -> npt.NDArray[np.uint8]:
    v = np.arange(256, dtype=np.float64) / 255.0
    v = np.power(v, cond.gamma)
    v = (v - 0.5) * cond.contrast + 0.5
    channels = [np.clip(v * cond.brightness * gain * 255.0, 0, 255) for gain in cond.cast]
    return np.stack(channels, axis=-1).round().astype(np.uint8).reshape(256, 1, 3)


def apply_conditions(img: RgbImage, glow: BoolImage, cond: Conditions, rng: np.random.Generator,
                     bank: TextureBank) -> RgbImage:
    """The final camera image: tone, cast, rain streaks, slight blur and sensor noise."""
    import cv2

    height, width = img.shape[:2]
    out = cv2.LUT(img, _tone_lut(cond))
    if glow.any():
        out[glow] = img[glow]
    if cond.weather == 'rainy':
        streaks = out.copy()
        length = max(height / 40, 4.0)
        slant = float(rng.uniform(-0.3, 0.3))
        for _ in range(int(width * height / 700)):
            x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
            cv2.line(streaks, (int(x), int(y)), (int(x + slant * length), int(y + length)),
                     (205, 205, 215), 1)
        out = cv2.addWeighted(streaks, 0.35, out, 0.65, 0.0)
    out = cv2.GaussianBlur(out, (3, 3), 0.6)
    noise = bank.sensor_window(height, width, rng)
    out = cv2.add(out, cv2.merge([noise, noise, noise]))
    out = cv2.subtract(out, np.full_like(out, 8))
    return np.ascontiguousarray(out, dtype=np.uint8)
