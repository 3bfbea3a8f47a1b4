"""Camera payloads to RGB: every supported encoding, padded rows, and rejected frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from negas_ros.image_convert import ImageError, compressed_to_rgb, declared_size, raw_to_rgb

RGB = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 7


@pytest.mark.parametrize(('encoding', 'pixels'), [
    ('rgb8', RGB),
    ('bgr8', RGB[:, :, ::-1]),
    ('rgba8', np.concatenate([RGB, np.full((2, 3, 1), 9, np.uint8)], axis=2)),
    ('bgra8', np.concatenate([RGB[:, :, ::-1], np.full((2, 3, 1), 9, np.uint8)], axis=2)),
])
def test_colour_encodings_give_rgb(encoding: str, pixels: np.ndarray) -> None:
    data = np.ascontiguousarray(pixels).tobytes()
    out = raw_to_rgb(encoding, 2, 3, 3 * pixels.shape[2], data)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out, RGB)


def test_mono8_is_replicated_to_three_channels() -> None:
    mono = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    out = raw_to_rgb('mono8', 2, 3, 3, mono.tobytes())
    np.testing.assert_array_equal(out, np.repeat(mono[:, :, None], 3, axis=2))


def test_padded_rows_are_cropped() -> None:
    padded = np.zeros((2, 16), np.uint8)
    padded[:, :9] = RGB.reshape(2, 9)
    out = raw_to_rgb('rgb8', 2, 3, 16, padded.tobytes())
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize(('args', 'fragment'), [
    (('32FC1', 2, 3, 12, bytes(24)), "unsupported encoding '32FC1'"),
    (('rgb8', 0, 3, 9, b''), 'zero-size image'),
    (('rgb8', 2, 3, 9, bytes(17)), 'data length 17 does not match step * height = 18'),
    (('rgb8', 2, 3, 8, bytes(16)), 'step 8 is smaller than width * channels = 9'),
])
def test_bad_frames_raise_image_error(args: tuple, fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ImageError) as info:
        raw_to_rgb(*args)
    assert fragment in str(info.value)


def test_jpeg_and_png_decode_to_rgb() -> None:
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[:, :, 2] = 255  # red in BGR
    ok, png = cv2.imencode('.png', bgr)
    assert ok
    out = compressed_to_rgb('png', png.tobytes())
    assert out.shape == (8, 8, 3)
    assert (out[:, :, 0] == 255).all() and (out[:, :, 2] == 0).all()
    ok, jpeg = cv2.imencode('.jpg', bgr)
    out = compressed_to_rgb('jpeg', jpeg.tobytes())
    assert out[:, :, 0].mean() > 240 and out[:, :, 2].mean() < 15


@pytest.mark.parametrize('data', [b'', b'\xff\xd8\xff\xe0 not a jpeg'])
def test_corrupt_compressed_images_raise(data: bytes) -> None:
    with pytest.raises(ImageError):
        compressed_to_rgb('jpeg', data)


@pytest.mark.parametrize(('encoding', 'channels'), [
    ('bgr8', 3), ('rgb8', 3), ('bgra8', 4), ('rgba8', 4), ('mono8', 1)])
def test_padded_rows_of_every_encoding(encoding: str, channels: int) -> None:
    """Rows padded past width * channels (step > row bytes) convert like unpadded ones."""
    pixels = np.random.default_rng(1).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    step = 7 * channels + 5
    rows = np.zeros((5, step), np.uint8)
    rows[:, : 7 * channels] = pixels.reshape(5, -1)
    expected = {'bgr8': pixels[:, :, ::-1], 'rgb8': pixels, 'bgra8': pixels[:, :, 2::-1],
                'rgba8': pixels[:, :, :3], 'mono8': np.repeat(pixels, 3, axis=2)}[encoding]
    out = raw_to_rgb(encoding, 5, 7, step, rows.tobytes())
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, expected)


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    body = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    crc = struct.pack('>I', zlib.crc32(b'IHDR' + body) & 0xFFFFFFFF)
    return b'\x89PNG\r\n\x1a\n' + struct.pack('>I', len(body)) + b'IHDR' + body + crc


def test_declared_size_of_png_and_jpeg_without_decoding() -> None:
    frame = np.zeros((37, 53, 3), np.uint8)
    for ext in ('.png', '.jpg'):
        ok, encoded = cv2.imencode(ext, frame)
        assert ok
        assert declared_size(encoded.tobytes()) == (53, 37), ext
    assert declared_size(_png_header(60_000, 40_000)) == (60_000, 40_000)
    assert declared_size(b'not an image') is None
    assert declared_size(b'\xff\xd8\xff') is None  # cut short: the decoder decides


@pytest.mark.parametrize('size', [(60_000, 60_000), (9000, 8000)])
def test_images_declaring_too_many_pixels_are_refused_before_decoding(
        size: tuple[int, int]) -> None:
    """A few bytes can declare gigapixels; OpenCV would allocate them (or raise its own
    error, which must not escape as anything but ImageError)."""
    with pytest.raises(ImageError, match=r'declares \d+x\d+ pixels, more than the 67'):
        compressed_to_rgb('png', _png_header(*size) + b'\x00' * 64)


def test_opencv_errors_become_image_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object) -> None:
        raise cv2.error('OpenCV(5.0.0) loadsave.cpp:79: error: (-215:Assertion failed) pixels')

    monkeypatch.setattr(cv2, 'imdecode', fail)
    with pytest.raises(ImageError, match=r'cannot decode compressed image .*Assertion failed'):
        compressed_to_rgb('png', _png_header(10, 10))
