"""Seeded street-like frames for the demo and tests (pure numpy + cv2, no downloads)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ['street_frame']


def street_frame(index: int, width: int = 640, height: int = 480,
                 seed: int = 0) -> npt.NDArray[np.uint8]:
    """A BGR uint8 (height, width, 3) frame: sky, road, and a few moving box-like objects.

    The same (index, size, seed) always gives the same frame; objects drift with index so the
    stream looks like a camera passing a scene.
    """
    import cv2

    rng = np.random.default_rng(seed)
    frame = np.empty((height, width, 3), np.uint8)
    horizon = height * 2 // 5
    sky = np.linspace(235, 170, horizon, dtype=np.float32)[:, None]
    frame[:horizon] = np.stack([sky, sky * 0.85, sky * 0.6], axis=-1).astype(np.uint8)
    frame[horizon:] = (70, 72, 75)
    cv2.line(frame, (width // 2, horizon), (width // 2, height), (230, 230, 230), 3)
    for k in range(6):
        colour = tuple(int(c) for c in rng.integers(30, 230, size=3))
        w = int(rng.integers(width // 12, width // 5))
        h = int(w * rng.uniform(0.5, 1.4))
        speed = int(rng.integers(-12, 12))
        x = int((rng.integers(0, width) + speed * index) % max(1, width - w))
        y = int(rng.integers(horizon - h // 2, height - h))
        if k % 3 == 0:
            cv2.circle(frame, (x + w // 2, y + h // 2), max(4, w // 3), colour, -1)
        else:
            cv2.rectangle(frame, (x, y), (x + w, y + h), colour, -1)
            cv2.rectangle(frame, (x + w // 8, y + h // 6), (x + w - w // 8, y + h // 2),
                          (40, 40, 40), -1)
    noise = rng.integers(0, 12, size=frame.shape, dtype=np.uint8)
    return np.asarray(cv2.add(frame, noise), dtype=np.uint8)
