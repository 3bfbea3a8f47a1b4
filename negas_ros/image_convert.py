"""Camera image payloads to RGB arrays (pure: takes message fields, not messages)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ['SUPPORTED_ENCODINGS', 'ImageError', 'compressed_to_rgb', 'raw_to_rgb', 'rgb_to_bgr']

SUPPORTED_ENCODINGS = ('bgr8', 'rgb8', 'mono8', 'bgra8', 'rgba8')
_CHANNELS = {'bgr8': 3, 'rgb8': 3, 'mono8': 1, 'bgra8': 4, 'rgba8': 4}

RgbImage = npt.NDArray[np.uint8]


class ImageError(ValueError):
    """A frame that cannot be used; the node skips it and counts it."""


def raw_to_rgb(
    encoding: str, height: int, width: int, step: int, data: bytes | bytearray | memoryview,
    is_bigendian: int = 0,
) -> RgbImage:
    """sensor_msgs/Image fields to an (H, W, 3) uint8 RGB array (a copy, C-contiguous).

    Rows may be padded (step >= width * channels). Raises ImageError for an unsupported
    encoding, zero size, or data whose length does not match step * height.
    """
    del is_bigendian  # 8-bit encodings only: byte order does not apply
    channels = _CHANNELS.get(encoding)
    if channels is None:
        raise ImageError(
            f"unsupported encoding '{encoding}'; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    if height <= 0 or width <= 0:
        raise ImageError(f'zero-size image ({width}x{height})')
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageError(f'step {step} is smaller than width * channels = {row_bytes}')
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size != step * height:
        raise ImageError(
            f'data length {buffer.size} does not match step * height = {step * height}')
    pixels = buffer.reshape(height, step)[:, :row_bytes].reshape(height, width, channels)
    if encoding == 'rgb8':
        return np.ascontiguousarray(pixels)
    # OpenCV's colour conversions are several times faster than numpy's reversed-stride copies
    # (0.14 vs 2.4 ms for 640x480 bgr8): this runs once per frame in the node.
    import cv2

    code = _CV2_TO_RGB.get(encoding)
    if code is not None:
        return np.ascontiguousarray(cv2.cvtColor(pixels, getattr(cv2, code)))
    return np.ascontiguousarray(pixels[:, :, :3])  # rgba8


_CV2_TO_RGB = {'bgr8': 'COLOR_BGR2RGB', 'bgra8': 'COLOR_BGRA2RGB', 'mono8': 'COLOR_GRAY2RGB'}


def compressed_to_rgb(fmt: str, data: bytes | bytearray | memoryview) -> RgbImage:
    """sensor_msgs/CompressedImage payload (JPEG or PNG) to an (H, W, 3) uint8 RGB array."""
    import cv2

    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size == 0:
        raise ImageError(f"empty compressed image (format '{fmt}')")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ImageError(f"cannot decode compressed image (format '{fmt}', {buffer.size} bytes)")
    return np.ascontiguousarray(decoded[:, :, ::-1])


def rgb_to_bgr(image: RgbImage) -> RgbImage:
    return np.ascontiguousarray(image[:, :, ::-1])
