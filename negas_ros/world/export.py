"""Writing world splits to disk, and the contact sheet that shows what the world looks like.

An exported split is the folder layout ``negas-ros bdd100k-to-bag --images DIR/images
--labels DIR/labels.json`` reads::

    DIR/images/<split>_<index:06d>.jpg   RGB frames (JPEG)
    DIR/masks/<split>_<index:06d>.png    16-bit instance maps: 0 background, k = label id k
    DIR/labels.json                      det_20: a JSON list of frames, in index order
    DIR/world.json                       seed, split, size, indices, categories, splits

Exported videos (:func:`export_videos`) are laid out as BDD100K's tracking set, so both
``bdd100k-to-bag --videos DIR/videos --labels DIR/labels`` and ``bdd100k-to-bag --images
DIR/images --labels DIR/labels.json`` read them::

    DIR/videos/<video>.avi               MJPG at the video's frame rate
    DIR/labels/<video>.json              its frames (det_20 + videoName, frameIndex; label ids
                                         are track ids, the same in every frame)
    DIR/images/<video>-<n:07d>.jpg       every frame as a JPEG (n counts from 1)
    DIR/labels.json                      all frames, videos one after another; timestamps leave
                                         2 s between videos, so trackers see the cuts
    DIR/world.json                       seed, split, size, videos, frames, fps
"""

from __future__ import annotations

from collections.abc import Sequence
import json
import logging
import os
from pathlib import Path
import shutil
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from negas_ros.world.categories import CATEGORIES, CATEGORY_BY_NAME, TWINS
from negas_ros.world.scene import DEFAULT_SIZE, Scene, World
from negas_ros.world.splits import SPLITS

__all__ = ['ExportResult', 'export_split', 'export_videos', 'preview_sheet', 'write_png']

_log = logging.getLogger(__name__)

RgbImage = npt.NDArray[np.uint8]
ROLE_COLOURS = {'id': (40, 200, 70), 'near': (255, 150, 30), 'far': (70, 150, 255)}
"""Box colour by role in previews (RGB)."""

# Rows of the category part of the preview: each ID category next to its near-OOD twins.
PREVIEW_ROWS: tuple[tuple[str, ...], ...] = (
    ('car', 'golf cart', 'bus', 'tram', 'traffic light', 'lamp post'),
    ('pedestrian', 'mannequin', 'statue', 'truck', 'tractor', 'forklift'),
    ('bicycle', 'wheelchair', 'scooter', 'traffic sign', 'billboard'),
    ('dog', 'bench', 'fire hydrant', 'potted plant', 'suitcase', 'trash can'),
)


class ExportResult(dict[str, Any]):
    """What :func:`export_split` wrote: keys ``labels`` (path), ``images``, ``objects``,
    ``seconds``."""


def export_split(split: str, count: int, out_dir: str | os.PathLike[str], *,
                 seed: int = 0, size: tuple[int, int] = DEFAULT_SIZE, start: int = 0,
                 jpeg_quality: int = 95, overwrite: bool = False,
                 world: World | None = None) -> ExportResult:
    """Render images ``start .. start + count - 1`` of ``split`` into ``out_dir``.

    Layout in the module docstring. ``out_dir`` must not exist or be empty unless
    ``overwrite`` (then its images/, masks/ and JSON files are replaced). ``labels.json`` is
    written last, through a temporary file, so a folder with it is complete. ``world`` reuses
    an existing :class:`World` (its seed then replaces ``seed``).
    """
    import cv2

    if split not in SPLITS:
        raise ValueError(f'unknown split {split!r}; known: {", ".join(SPLITS)}')
    if count < 1 or start < 0:
        raise ValueError(f'need count >= 1 and start >= 0, got {count} and {start}')
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f'jpeg_quality must be 1..100, got {jpeg_quality}')
    out = _prepare_out(Path(out_dir), ('images', 'masks'), overwrite)
    world = world if world is not None else World(seed)
    began = time.perf_counter()
    frames = []
    objects = 0
    for index in range(start, start + count):
        scene = world.render(split, index, size)
        stem = Path(scene.name).stem
        bgr = np.ascontiguousarray(scene.image[:, :, ::-1])
        if not cv2.imwrite(str(out / 'images' / scene.name), bgr,
                           [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f'cannot write {out / "images" / scene.name}')
        if not cv2.imwrite(str(out / 'masks' / f'{stem}.png'),
                           scene.instance_map.astype(np.uint16)):
            raise OSError(f'cannot write {out / "masks" / stem}.png')
        frames.append(scene.frame_label)
        objects += len(scene.objects)
        done = index - start + 1
        if done % 500 == 0:
            _log.info('%s: %d/%d images', split, done, count)
    meta = {
        'generator': 'negas_ros.world', 'seed': world.seed, 'split': split,
        'size': {'width': size[0], 'height': size[1]}, 'start': start, 'count': count,
        'split_categories': list(SPLITS[split].categories),
        'categories': [{'name': c.name, 'role': c.role, 'seen': c.seen, 'twin': c.twin}
                       for c in CATEGORIES],
        'masks': 'uint16 PNG; 0 = background, k = the label with id "k"',
    }
    (out / 'world.json').write_text(json.dumps(meta, indent=1) + '\n', encoding='utf-8')
    partial = out / 'labels.json.part'
    partial.write_text(json.dumps(frames), encoding='utf-8')
    partial.replace(out / 'labels.json')
    seconds = time.perf_counter() - began
    return ExportResult(labels=out / 'labels.json', images=count, objects=objects,
                        seconds=seconds)


def export_videos(split: str, count: int, out_dir: str | os.PathLike[str], *, frames: int = 60,
                  seed: int = 0, size: tuple[int, int] = DEFAULT_SIZE, fps: float = 30.0,
                  start: int = 0, jpeg_quality: int = 95, overwrite: bool = False,
                  world: World | None = None) -> ExportResult:
    """Render videos ``start .. start + count - 1`` of ``split`` (:meth:`World.render_video`)
    into ``out_dir`` (layout in the module docstring); ``labels.json`` is written last.
    Returns keys ``labels``, ``videos``, ``images``, ``objects`` (labels over all frames),
    ``tracks`` (distinct objects), ``seconds``."""
    import cv2

    if split not in SPLITS:
        raise ValueError(f'unknown split {split!r}; known: {", ".join(SPLITS)}')
    if count < 1 or start < 0 or frames < 1:
        raise ValueError(f'need count >= 1, frames >= 1 and start >= 0, got {count}, {frames} '
                         f'and {start}')
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f'jpeg_quality must be 1..100, got {jpeg_quality}')
    out = _prepare_out(Path(out_dir), ('images', 'videos', 'labels'), overwrite)
    world = world if world is not None else World(seed)
    began = time.perf_counter()
    every_frame: list[dict[str, Any]] = []
    objects = tracks = 0
    period_ms = round(1000.0 * frames / fps) + 2000  # each video's span plus the 2 s cut
    for k, index in enumerate(range(start, start + count)):
        scenes = world.render_video(split, index, frames=frames, size=size, fps=fps)
        video = str(scenes[0].frame_label['videoName'])
        writer = cv2.VideoWriter(str(out / 'videos' / f'{video}.avi'),
                                 cv2.VideoWriter.fourcc(*'MJPG'), fps, size)
        if not writer.isOpened():
            raise OSError(f'cannot write {out / "videos" / video}.avi (OpenCV MJPG writer)')
        labels = []
        try:
            for scene in scenes:
                bgr = np.ascontiguousarray(scene.image[:, :, ::-1])
                writer.write(bgr)
                if not cv2.imwrite(str(out / 'images' / scene.name), bgr,
                                   [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
                    raise OSError(f'cannot write {out / "images" / scene.name}')
                labels.append(scene.frame_label)
                objects += len(scene.objects)
        finally:
            writer.release()
        tracks += len({o.track_id for scene in scenes for o in scene.objects})
        (out / 'labels' / f'{video}.json').write_text(json.dumps(labels), encoding='utf-8')
        every_frame += [{**label, 'timestamp': int(label['timestamp']) + k * period_ms}
                        for label in labels]
    meta = {
        'generator': 'negas_ros.world', 'seed': world.seed, 'split': split, 'kind': 'videos',
        'size': {'width': size[0], 'height': size[1]}, 'start': start, 'count': count,
        'frames': frames, 'fps': fps, 'split_categories': list(SPLITS[split].categories),
    }
    (out / 'world.json').write_text(json.dumps(meta, indent=1) + '\n', encoding='utf-8')
    partial = out / 'labels.json.part'
    partial.write_text(json.dumps(every_frame), encoding='utf-8')
    partial.replace(out / 'labels.json')
    return ExportResult(labels=out / 'labels.json', videos=count, images=count * frames,
                        objects=objects, tracks=tracks, seconds=time.perf_counter() - began)


def _prepare_out(out: Path, folders: Sequence[str], overwrite: bool) -> Path:
    """``out`` with empty ``folders``: refused when it holds anything unless ``overwrite``
    (then the folders and the JSON files an export writes are replaced)."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(f'{out} exists and is not empty; pass overwrite to replace it')
        for sub in folders:
            shutil.rmtree(out / sub, ignore_errors=True)
        for name in ('labels.json', 'world.json'):
            (out / name).unlink(missing_ok=True)
    for sub in folders:
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out


def write_png(path: str | os.PathLike[str], image: RgbImage, palette: bool = False) -> None:
    """Write an RGB image as PNG; ``palette`` quantises it to 256 colours first (k-means,
    no dithering), which makes a noisy rendered contact sheet 3-4x smaller."""
    import cv2

    if not palette:
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        if not cv2.imwrite(os.fspath(path), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f'cannot write {path}')
        return
    colours, indices = _quantise(image)
    Path(path).write_bytes(_indexed_png(colours, indices))


def _quantise(image: RgbImage) -> tuple[RgbImage, npt.NDArray[np.uint8]]:
    """(256 x 3 palette, H x W palette indices) by k-means on a fixed pixel sample."""
    import cv2

    pixels = image.reshape(-1, 3)
    rng = np.random.default_rng(0)
    sample = pixels[rng.choice(len(pixels), min(len(pixels), 30000), replace=False)]
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    labels = np.zeros((len(sample), 1), np.int32)
    _, _, centres = cv2.kmeans(sample.astype(np.float32), 256, labels, criteria, 1,
                               cv2.KMEANS_PP_CENTERS)
    palette = np.clip(np.round(centres), 0, 255).astype(np.uint8)
    # Nearest palette entry for each 5-bit-per-channel colour bin, then a table lookup.
    levels = np.arange(32, dtype=np.float32) * 8 + 4
    bins = np.stack(np.meshgrid(levels, levels, levels, indexing='ij'), -1).reshape(-1, 3)
    distance = ((bins[:, None, :] - palette[None].astype(np.float32)) ** 2).sum(-1)
    table = distance.argmin(1).astype(np.uint8)
    q = (image >> 3).astype(np.int32)
    return palette, table[(q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]]


def _indexed_png(palette: RgbImage, indices: npt.NDArray[np.uint8]) -> bytes:
    """A colour-type-3 (palette) PNG; OpenCV cannot write those."""
    import struct
    import zlib

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack('>I', len(data)) + tag + data + struct.pack('>I', crc)

    height, width = indices.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), indices], axis=1)  # filter 0
    header = struct.pack('>IIBBBBB', width, height, 8, 3, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header)
            + chunk(b'PLTE', palette.tobytes()) + chunk(b'IDAT', zlib.compress(rows.tobytes(), 9))
            + chunk(b'IEND', b''))


def preview_sheet(world: World, *, cell: int = 160, render_scale: int = 2,
                  scenes_per_split: int = 2, splits: Sequence[str] | None = None,
                  columns: int = 6, scene_columns: int = 4) -> RgbImage:
    """A contact sheet, ``columns * cell`` pixels wide: one instance per category (ID
    categories next to their near-OOD twins; unseen categories marked ``*``), then
    ``scenes_per_split`` scenes of every split in ``splits`` (default: all), ``scene_columns``
    tiles a row, each captioned with its split. Boxes are green for ID, orange for near-OOD,
    blue for far-OOD, with the category name (and for a near-OOD category in the first part,
    ``~twin``).

    Everything is rendered at ``render_scale`` x the shown size and shrunk (area average), which
    keeps small objects legible.
    """
    splits = list(SPLITS) if splits is None else list(splits)
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f'unknown split {split!r}; known: {", ".join(SPLITS)}')
    width = columns * cell
    parts: list[RgbImage] = [_title_bar(width, 'negas_ros.world categories: ID | near-OOD twins'
                                               ' (~ID twin) | far-OOD; * = unseen in pretraining')]
    for row in PREVIEW_ROWS:
        strip = np.full((cell, width, 3), 32, np.uint8)
        for k, name in enumerate(row[:columns]):
            scene = world.render_category(name, 0, (cell * render_scale, cell * render_scale))
            strip[:, k * cell:(k + 1) * cell] = _annotated(scene, cell, cell, tags=True)
        parts.append(strip)
    parts.append(_title_bar(width, 'scenes by split (green ID, orange near-OOD, blue far-OOD)'))
    tile = width // scene_columns
    tiles = [_captioned(_annotated(world.render(split, k, (tile * render_scale,) * 2), tile, tile),
                        f'{split} #{k}')
             for split in splits for k in range(scenes_per_split)]
    for first in range(0, len(tiles), scene_columns):
        strip = np.full((tile, width, 3), 32, np.uint8)
        for k, image in enumerate(tiles[first:first + scene_columns]):
            strip[:, k * tile:(k + 1) * tile] = image
        parts.append(strip)
    return np.concatenate(parts, axis=0)


def _captioned(image: RgbImage, text: str) -> RgbImage:
    import cv2

    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.38, 1)
    cv2.rectangle(image, (0, 0), (tw + 6, th + 6), (255, 255, 255), -1)
    cv2.putText(image, text, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1,
                cv2.LINE_AA)
    return image


def _title_bar(width: int, text: str) -> RgbImage:
    import cv2

    bar = np.full((18, width, 3), 20, np.uint8)
    cv2.putText(bar, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1,
                cv2.LINE_AA)
    return bar


def _annotated(scene: Scene, width: int, height: int, tags: bool = False) -> RgbImage:
    """The scene shrunk to width x height with boxes and names drawn."""
    import cv2

    image = cv2.resize(scene.image, (width, height), interpolation=cv2.INTER_AREA)
    sx = width / scene.image.shape[1]
    sy = height / scene.image.shape[0]
    for obj in scene.objects:
        info = CATEGORY_BY_NAME[obj.category]
        colour = ROLE_COLOURS[info.role]
        x1, y1, x2, y2 = obj.box
        p1 = (int(x1 * sx), int(y1 * sy))
        p2 = (int((x2 + 1) * sx) - 1, int((y2 + 1) * sy) - 1)
        cv2.rectangle(image, p1, p2, colour, 1)
        text = obj.category + ('' if info.seen else '*')
        if tags and obj.category in TWINS:
            text += f' ~{TWINS[obj.category]}'
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.33, 1)
        tx = min(max(p1[0], 0), max(width - tw - 2, 0))
        ty = p1[1] - 2 if p1[1] - th - 3 >= 0 else min(p2[1] + th + 3, height - 2)
        cv2.rectangle(image, (tx, ty - th - 2), (tx + tw + 2, ty + 2), (20, 20, 20), -1)
        cv2.putText(image, text, (tx + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.33, colour, 1,
                    cv2.LINE_AA)
    return np.asarray(image, np.uint8)
