"""Letterbox preprocessing and the box mapping back to the source image (numpy + OpenCV).

Letterbox (as the YOLO models were trained)
    The image is scaled by r = min(h / H, w / W) to (round(H r), round(W r)) with bilinear
    interpolation, then padded with grey 114 to the network size (h, w), the padding split
    between both sides (left = round(dw - 0.1), top = round(dh - 0.1)). Scaling maps pixel edges
    to pixel edges, so a network-input coordinate u maps back to the source exactly by
    ``x = (u - left) * W / round(W r)`` (and likewise for y): per axis, with the rounded size,
    not with r, so that the mapping is exact for both axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ['LETTERBOX_PAD', 'Letterbox', 'letterbox']

LETTERBOX_PAD = 114


@dataclass(frozen=True)
class Letterbox:
    """How a source image was placed into the network input.

    source_hw: (H, W) of the source image; input_hw: (h, w) of the network input;
    resized_hw: size of the scaled image inside it; pad_left, pad_top: its offset (pixels).
    """

    source_hw: tuple[int, int]
    input_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    pad_left: int
    pad_top: int

    @staticmethod
    def plan(source_hw: tuple[int, int], input_hw: tuple[int, int]) -> Letterbox:
        src_h, src_w = source_hw
        dst_h, dst_w = input_hw
        if min(src_h, src_w, dst_h, dst_w) < 1:
            raise ValueError(f'empty image: source {source_hw}, input {input_hw}')
        r = min(dst_h / src_h, dst_w / src_w)
        new_h = min(dst_h, max(1, round(src_h * r)))
        new_w = min(dst_w, max(1, round(src_w * r)))
        dh = (dst_h - new_h) / 2
        dw = (dst_w - new_w) / 2
        return Letterbox(
            source_hw=(src_h, src_w),
            input_hw=(dst_h, dst_w),
            resized_hw=(new_h, new_w),
            pad_left=round(dw - 0.1),
            pad_top=round(dh - 0.1),
        )

    def to_source(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(N, 4) xyxy network-input pixels -> source pixels, clipped to [0, W] x [0, H]."""
        src_h, src_w = self.source_hw
        new_h, new_w = self.resized_hw
        sx = src_w / new_w
        sy = src_h / new_h
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0] = np.clip((boxes[:, 0] - self.pad_left) * sx, 0, src_w)
        out[:, 1] = np.clip((boxes[:, 1] - self.pad_top) * sy, 0, src_h)
        out[:, 2] = np.clip((boxes[:, 2] - self.pad_left) * sx, 0, src_w)
        out[:, 3] = np.clip((boxes[:, 3] - self.pad_top) * sy, 0, src_h)
        return out

    def to_input(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Inverse of :meth:`to_source` (without its clipping): source -> network pixels."""
        src_h, src_w = self.source_hw
        new_h, new_w = self.resized_hw
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = boxes[:, 0::2] * (new_w / src_w) + self.pad_left
        out[:, 1::2] = boxes[:, 1::2] * (new_h / src_h) + self.pad_top
        return out


def letterbox(
    image: npt.NDArray[np.uint8], input_hw: tuple[int, int]
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Scale and pad an (H, W, 3) uint8 image to input_hw; returns (image (h, w, 3), plan)."""
    plan = Letterbox.plan((int(image.shape[0]), int(image.shape[1])), input_hw)
    new_h, new_w = plan.resized_hw
    resized: npt.NDArray[Any] = image
    if (new_h, new_w) != plan.source_hw:
        import cv2  # only when resizing: an image of the input size needs no OpenCV

        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    out = np.full((*input_hw, 3), LETTERBOX_PAD, np.uint8)
    out[plan.pad_top : plan.pad_top + new_h, plan.pad_left : plan.pad_left + new_w] = resized
    return out, plan
