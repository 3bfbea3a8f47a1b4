"""BDD100K images, videos and det_20 labels as a validated, streamed frame sequence (pure).

Inputs
    - a folder of images (``.jpg``/``.jpeg``/``.png``), optionally with det_20 labels: a JSON
      list of frames ``{name, timestamp?, attributes?, labels?: [{id, category, box2d: {x1, y1,
      x2, y2}}]}``; a ``{"frames": [...]}`` object (Scalabel dataset format) is accepted too;
    - a folder of videos (``.mov``/``.mp4``/``.avi``/``.mkv``, read with OpenCV), optionally
      with box_track_20-style labels: a folder of ``<video stem>.json`` files or one JSON file,
      whose frames carry ``videoName`` and ``frameIndex``.

Conventions (the contract of every bag and evaluation built on this module)
    - BDD100K ``box2d`` ends are inclusive pixel indices; :class:`BoxLabel` holds continuous
      pixel coordinates, ``(x1, y1, x2 + 1, y2 + 1)``, the convention of the detector's boxes.
      The COCO box ``[x1, y1, x2 - x1 + 1, y2 - y1 + 1]`` of BDD100K's own toolkit follows.
    - A box must lie inside the image (``0 <= x1 <= x2 <= width - 1``, same for y); what happens
      otherwise is the ``bad_box`` policy: ``'error'`` (default), ``'clip'`` or ``'skip'``.
    - Labels without ``box2d`` (lanes, drivable area in older BDD100K files) are not detection
      ground truth and are skipped.
    - Frame order: the order of the labels file when one is given (images in the folder that the
      labels do not name are left out and counted), otherwise file-name order.
    - Time stamps: label ``timestamp`` values (milliseconds) when every frame has one and they
      strictly increase; otherwise ``1 / rate_hz`` apart. det_20 gives every image the same
      ``timestamp`` (10000: the frame's offset in its source video), so det_20 image folders use
      the rate. Video frames are stamped with their time in the video; videos follow each
      other with :data:`VIDEO_GAP_S` of stamp time between them (a cut trackers see).

Memory: labels are parsed one frame at a time (:func:`iter_label_frames` streams the JSON with
ijson) and each image is read when its frame is produced; only file names are kept for the whole
sequence. Sequences are checked in a first pass (:meth:`ImageFolderSequence.check`) that reports
every problem with its file and frame before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from negas_ros.image_convert import ImageError, compressed_to_rgb

__all__ = [
    'IMAGE_SUFFIXES',
    'VIDEO_SUFFIXES',
    'BadBoxPolicy',
    'BoxLabel',
    'Frame',
    'ImageFolderSequence',
    'InputError',
    'SequenceInfo',
    'VideoFolderSequence',
    'image_size',
    'iter_label_frames',
    'parse_frame_labels',
]

IMAGE_SUFFIXES: Mapping[str, str] = {'.jpg': 'jpeg', '.jpeg': 'jpeg', '.png': 'png'}
VIDEO_SUFFIXES: tuple[str, ...] = ('.mov', '.mp4', '.avi', '.mkv')
VIDEO_GAP_S = 2.0
"""Stamp time left between two videos of a folder: a cut in time that trackers see (the
node and ``evaluate --track`` forget their tracks after a gap of more than 1 s)."""
BadBoxPolicy = Literal['error', 'clip', 'skip']
BAD_BOX_POLICIES: tuple[str, ...] = ('error', 'clip', 'skip')

_MAX_REPORTED = 20  # problems listed in one error; the rest are counted
_HEAD_BYTES = 1 << 17  # enough for the JPEG SOF marker behind a typical EXIF block
_BOX_TOLERANCE = 1e-3  # px: float noise in label files is not an error

BgrImage = npt.NDArray[np.uint8]


class InputError(ValueError):
    """A bad input file or label; the message names the file and, where there is one, the frame.

    ``problems`` lists every problem found (the message shows the first few).
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class BoxLabel:
    """One ground-truth box.

    category: the BDD100K category name (e.g. ``'car'``, ``'traffic light'``).
    box_xyxy: continuous pixel coordinates ``(x1, y1, x2, y2)``, x2 > x1, y2 > y1; for BDD100K
        labels ``x2 = box2d.x2 + 1`` (inclusive ends).
    label_id: the BDD100K label ``id`` as a string ('' when absent); becomes Detection2D.id.
    """

    category: str
    box_xyxy: tuple[float, float, float, float]
    label_id: str = ''


@dataclass(frozen=True)
class Frame:
    """One camera frame of a sequence, ready to be written to a bag or run through a detector.

    index: 0-based position in the sequence.
    name: the frame's file name (``<video stem>-<n:07d>.jpg`` for video frames, as BDD100K names
        them; '' for frames read from a bag).
    stamp_ns: header stamp, ns since the epoch.
    log_ns: bag (receive) time in ns; equals stamp_ns for files.
    frame_id: header frame id.
    width, height: image size in pixels (0 when unknown before decoding).
    encoded: compressed bytes (JPEG or PNG) exactly as read, or None.
    image_format: ``'jpeg'`` or ``'png'`` for ``encoded``; '' otherwise.
    bgr: decoded (H, W, 3) uint8 BGR pixels when the frame is not ``encoded``.
    labels: ground truth; None when the frame has no label entry (not the same as no objects).
    """

    index: int
    name: str
    stamp_ns: int
    log_ns: int
    frame_id: str
    width: int
    height: int
    encoded: bytes | None = None
    image_format: str = ''
    bgr: BgrImage | None = field(default=None, repr=False)
    labels: tuple[BoxLabel, ...] | None = None

    def rgb(self) -> npt.NDArray[np.uint8]:
        """The frame as (H, W, 3) uint8 RGB, decoded the way the node decodes it."""
        if self.encoded is not None:
            return compressed_to_rgb(self.image_format, self.encoded)
        if self.bgr is None:
            raise ImageError(f'frame {self.index} has no pixels')
        return np.ascontiguousarray(self.bgr[:, :, ::-1])

    def to_bgr(self) -> BgrImage:
        """The frame as (H, W, 3) uint8 BGR (decodes ``encoded`` if needed)."""
        if self.bgr is not None:
            return self.bgr
        return np.ascontiguousarray(self.rgb()[:, :, ::-1])


@dataclass(frozen=True)
class SequenceInfo:
    """What :meth:`check` found.

    frames: frames the sequence will produce.
    labelled_frames: frames with a label entry.
    boxes: ground-truth boxes that will be written.
    label_timestamps: True when stamps come from label ``timestamp`` values.
    notes: remarks on what was chosen (images left out, why the rate is used).
    warnings: inputs that were changed to fit (boxes clipped or skipped), with file and frame.
    """

    frames: int
    labelled_frames: int
    boxes: int
    label_timestamps: bool
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


# ---- label files ---------------------------------------------------------------------------


def iter_label_frames(path: Path, chunk_chars: int = 1 << 20) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, frame)`` for each frame of a BDD100K label file, streaming (ijson).

    The frames of a top-level JSON list, or of the ``frames`` list of a top-level object
    (Scalabel format), are parsed one at a time, so memory does not grow with the file;
    chunk_chars: bytes read at a time. Raises InputError for malformed JSON naming the file,
    the frame being read and, for files up to 256 MiB, the line and column as the json module
    counts them; or for an unreadable file.
    """
    import ijson

    try:
        handle = path.open('rb')
    except OSError as exc:
        raise InputError(f'{path}: cannot read the labels file ({exc.strerror})') from None
    with handle:
        first = b''
        while not first:
            chunk = handle.read(chunk_chars)
            if not chunk:
                break
            first = chunk.lstrip(b' \t\r\n')[:1]
        if not first:
            raise InputError(f'{path}: malformed JSON: the file is empty')
        if first not in (b'[', b'{'):
            raise _json_error(path, 0, "expected '[' (a list of frames)")
        handle.seek(0)
        frames_list = False
        count = 0
        try:
            if first == b'[':
                for frame in ijson.items(handle, 'item', buf_size=chunk_chars, use_float=True):
                    yield count, frame
                    count += 1
                return
            # Scalabel dataset object: the frames are the items of its 'frames' list.
            events = ijson.parse(handle, buf_size=chunk_chars, use_float=True)

            def watched() -> Iterator[tuple[str, str, Any]]:
                nonlocal frames_list
                for prefix, event, value in events:
                    frames_list = frames_list or (prefix, event) == ('frames', 'start_array')
                    yield prefix, event, value

            for frame in ijson.items(watched(), 'frames.item'):
                yield count, frame
                count += 1
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise _json_error(path, count, str(exc).partition('\n')[0]) from None
        if not frames_list:
            raise InputError(f"{path}: expected a JSON list of frames or an object with a "
                             "'frames' list")


# The error path re-reads a broken file with the json module for the exact position; above
# this size it reports the frame alone rather than load the whole file.
_MAX_JSON_FOR_POSITION = 256 << 20


def _json_error(path: Path, frame: int, detail: str) -> InputError:
    """The InputError for a label file that is not valid JSON (the error path only)."""
    where = f'frame {frame}'
    try:
        if path.stat().st_size <= _MAX_JSON_FOR_POSITION:
            json.loads(path.read_bytes().decode('utf-8'))
    except UnicodeDecodeError as exc:
        return InputError(f'{path}: not UTF-8 text ({exc.reason})')
    except json.JSONDecodeError as exc:
        return InputError(f'{path}: malformed JSON at line {exc.lineno} column {exc.colno}, '
                          f'{where}: {exc.msg}')
    except OSError as exc:
        return InputError(f'{path}: cannot read the labels file ({exc.strerror})')
    return InputError(f'{path}: malformed JSON in {where}: {detail}')


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_frame_labels(
    frame: Mapping[str, Any], where: str, width: int, height: int, bad_box: BadBoxPolicy,
) -> tuple[tuple[BoxLabel, ...], list[str], list[str]]:
    """Ground truth of one BDD100K label frame, checked against a width x height image.

    where: how to name the frame in messages (file, frame index and name).
    Returns ``(labels, errors, notes)``: labels that passed; errors that must stop a conversion
    (malformed labels; boxes outside the image under policy 'error'); notes for boxes that were
    clipped or skipped under the other policies.
    """
    errors: list[str] = []
    notes: list[str] = []
    raw_labels = frame.get('labels')
    if raw_labels is None:
        return (), errors, notes
    if not isinstance(raw_labels, list):
        return (), [f"{where}: 'labels' must be a list"], notes
    labels: list[BoxLabel] = []
    for k, label in enumerate(raw_labels):
        if not isinstance(label, Mapping):
            errors.append(f'{where}, label {k}: expected an object, got {type(label).__name__}')
            continue
        label_id = label.get('id', '')
        tag = f'{where}, label {k}' + (f" (id '{label_id}')" if label_id != '' else '')
        box = label.get('box2d')
        if box is None:
            continue  # lane / drivable-area polygons: not detection ground truth
        category = label.get('category')
        if not isinstance(category, str) or not category.strip():
            errors.append(f"{tag}: 'category' must be a non-empty string")
            continue
        if not isinstance(box, Mapping):
            errors.append(f"{tag}: 'box2d' must be an object with x1, y1, x2, y2")
            continue
        coords = [_number(box.get(key)) for key in ('x1', 'y1', 'x2', 'y2')]
        if any(c is None for c in coords):
            errors.append(f"{tag}: 'box2d' needs finite numbers x1, y1, x2, y2, got {dict(box)}")
            continue
        x1, y1, x2, y2 = (float(c) for c in coords if c is not None)
        if x2 < x1 or y2 < y1:
            message = f'{tag}: box2d has x2 < x1 or y2 < y1 ({x1}, {y1}, {x2}, {y2})'
            if bad_box == 'error':
                errors.append(message)
            else:
                notes.append(message + '; skipped')
            continue
        tol = _BOX_TOLERANCE
        inside = (x1 >= -tol and y1 >= -tol and x2 <= width - 1 + tol and y2 <= height - 1 + tol)
        if not inside:
            message = (f'{tag}: box2d ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the '
                       f'{width}x{height} image (inclusive ends must be within 0..{width - 1} '
                       f'and 0..{height - 1})')
            if bad_box == 'error':
                errors.append(message)
                continue
            if bad_box == 'skip':
                notes.append(message + '; skipped')
                continue
            x1, x2 = (min(max(v, 0.0), width - 1.0) for v in (x1, x2))
            y1, y2 = (min(max(v, 0.0), height - 1.0) for v in (y1, y2))
            notes.append(message + '; clipped')
        x1, y1 = max(x1, 0.0), max(y1, 0.0)
        x2, y2 = min(x2, width - 1.0), min(y2, height - 1.0)
        labels.append(BoxLabel(category.strip(), (x1, y1, x2 + 1.0, y2 + 1.0), str(label_id)))
    return tuple(labels), errors, notes


# ---- image headers -------------------------------------------------------------------------


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(data: bytes) -> tuple[str, int, int]:
    """``(format, width, height)`` of a JPEG or PNG from its first bytes, without decoding.

    Raises ImageError when the bytes are neither, or the header is truncated or broken.
    """
    if data[:8] == b'\x89PNG\r\n\x1a\n':
        if len(data) < 24 or data[12:16] != b'IHDR':
            raise ImageError('truncated PNG header')
        return 'png', int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')
    if data[:2] != b'\xff\xd8':
        raise ImageError('not a JPEG or PNG file')
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ImageError(f'broken JPEG marker at byte {i}')
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], 'big')
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                break
            height = int.from_bytes(data[i + 5:i + 7], 'big')
            width = int.from_bytes(data[i + 7:i + 9], 'big')
            return 'jpeg', width, height
        if marker in (0xDA, 0xD9):  # scan data or end of image before any frame header
            raise ImageError('JPEG without a frame header')
        i += 2 + length
    raise ImageError('truncated JPEG header (no frame header in the first bytes)')


def _read_head(path: Path) -> bytes:
    with path.open('rb') as handle:
        head = handle.read(_HEAD_BYTES)
        if head[:2] == b'\xff\xd8':
            try:
                image_size(head)
            except ImageError:
                head += handle.read()  # a large EXIF block: the frame header lies further on
    return head


# ---- sequences -----------------------------------------------------------------------------


def _raise_problems(what: str, problems: Sequence[str]) -> None:
    if not problems:
        return
    shown = '\n  '.join(problems[:_MAX_REPORTED])
    more = len(problems) - _MAX_REPORTED
    tail = f'\n  ... and {more} more' if more > 0 else ''
    raise InputError(f'{what}: {len(problems)} problem(s); nothing was written:\n  {shown}{tail}',
                     problems)


class _FolderSequence:
    """What :class:`ImageFolderSequence` and :class:`VideoFolderSequence` share: the common
    arguments and their checks, :attr:`info` after :meth:`check`, and per-frame labels.

    labels_path: the labels (file or folder), or None. start_ns: stamp of the first frame (ns
    since the epoch). frame_id: header frame id. bad_box: what to do with boxes outside the
    image ('error', 'clip', 'skip'). limit: produce at most this many frames (None: all; >= 1).
    """

    def __init__(self, labels_path: Path | None, *, start_ns: int, frame_id: str,
                 bad_box: BadBoxPolicy, limit: int | None) -> None:
        if bad_box not in BAD_BOX_POLICIES:
            raise ValueError(f'bad_box must be one of {", ".join(BAD_BOX_POLICIES)}')
        if limit is not None and limit < 1:
            raise ValueError(f'limit must be >= 1, got {limit}')
        self.labels_path = Path(labels_path) if labels_path is not None else None
        self.start_ns = int(start_ns)
        self.frame_id = frame_id
        self.bad_box: BadBoxPolicy = bad_box
        self.limit = limit
        self._info: SequenceInfo | None = None

    @property
    def info(self) -> SequenceInfo:
        if self._info is None:
            raise RuntimeError('call check() before using the sequence')
        return self._info

    def __len__(self) -> int:
        return self.info.frames

    def _frame_labels(self, raw: Mapping[str, Any], where: str, width: int,
                      height: int) -> tuple[BoxLabel, ...]:
        """A checked frame's labels; raises InputError if they no longer pass the check."""
        labels, errors, _ = parse_frame_labels(raw, where, width, height, self.bad_box)
        _raise_problems(where, errors)
        return labels


class ImageFolderSequence(_FolderSequence):
    """A folder of BDD100K images (+ optional det_20 labels) as a frame sequence.

    Call :meth:`check` once (it validates everything and raises InputError listing every
    problem with file and frame); then iterate to get :class:`Frame` objects, each image read
    from disk when its frame is produced. The compressed bytes are passed through unchanged.

    images_dir: the image folder. labels_path: det_20 JSON, or None.
    rate_hz: frame rate used when label timestamps cannot be (> 0).
    start_ns: stamp of the first frame (ns since the epoch).
    bad_box: what to do with boxes outside the image ('error', 'clip', 'skip').
    limit: produce at most this many frames (None: all).
    """

    def __init__(
        self, images_dir: Path, labels_path: Path | None = None, *, rate_hz: float = 10.0,
        start_ns: int = 0, frame_id: str = 'camera', bad_box: BadBoxPolicy = 'error',
        limit: int | None = None,
    ) -> None:
        if not rate_hz > 0:
            raise ValueError(f'rate must be > 0 Hz, got {rate_hz}')
        super().__init__(labels_path, start_ns=start_ns, frame_id=frame_id, bad_box=bad_box,
                         limit=limit)
        self.images_dir = Path(images_dir)
        self.rate_hz = rate_hz
        self._names: list[str] = []  # file-name order when there are no labels
        self._first_timestamp_ms = 0.0

    def check(self, progress: Callable[[int], None] | None = None) -> SequenceInfo:
        """Validate every frame (files, JSON, boxes) without keeping images; see the class doc.

        progress: called with 1 per checked frame (e.g. a tqdm ``update``).
        """
        if not self.images_dir.is_dir():
            raise InputError(f'{self.images_dir}: no such image folder')
        folder = sorted(entry.name for entry in os.scandir(self.images_dir)
                        if entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES)
        problems: list[str] = []
        notes: list[str] = []
        warnings: list[str] = []
        frames = labelled = boxes = 0
        timestamps_ok = self.labels_path is not None
        last_ts: float | None = None
        if self.labels_path is None:
            if not folder:
                raise InputError(f'{self.images_dir}: no .jpg, .jpeg or .png images')
            self._names = folder[:self.limit] if self.limit else folder
            for index, name in enumerate(self._names):
                try:
                    _, width, height = image_size(_read_head(self.images_dir / name))
                except (OSError, ImageError) as exc:
                    problems.append(f'{self.images_dir / name} (frame {index}): {exc}')
                frames += 1
                if progress:
                    progress(1)
        else:
            in_folder = set(folder)
            seen: set[str] = set()
            for index, raw in iter_label_frames(self.labels_path):
                if self.limit is not None and frames >= self.limit:
                    break
                where = f'{self.labels_path}: frame {index}'
                if not isinstance(raw, Mapping) or not isinstance(raw.get('name'), str):
                    problems.append(f"{where}: expected an object with a string 'name'")
                    frames += 1
                    continue
                name = raw['name']
                where = f"{where} '{name}'"
                if name in seen:
                    problems.append(f'{where}: the name appears twice in the labels')
                seen.add(name)
                frames += 1
                labelled += 1
                timestamp = _number(raw.get('timestamp'))
                if timestamp is None or (last_ts is not None and timestamp <= last_ts):
                    timestamps_ok = False
                if index == 0 and timestamp is not None:
                    self._first_timestamp_ms = timestamp
                last_ts = timestamp
                path = self.images_dir / name
                if name not in in_folder and not path.is_file():
                    problems.append(f'{where}: image file {path} is missing')
                    continue
                try:
                    _, width, height = image_size(_read_head(path))
                except (OSError, ImageError) as exc:
                    problems.append(f'{where}: image file {path}: {exc}')
                    continue
                found, errors, box_notes = parse_frame_labels(raw, where, width, height,
                                                              self.bad_box)
                problems += errors
                warnings += box_notes
                boxes += len(found)
                if progress:
                    progress(1)
            if frames == 0:
                raise InputError(f'{self.labels_path}: the labels name no frames')
            unlabelled = len(in_folder - seen)
            if unlabelled and self.limit is None:
                notes.append(f'{unlabelled} image(s) in {self.images_dir} have no label entry '
                             'and are left out')
            if not timestamps_ok:
                notes.append(f'label timestamps missing or not increasing (det_20 gives every '
                             f'image the same one): frames are {1 / self.rate_hz:g} s apart '
                             '(the rate)')
        _raise_problems(str(self.labels_path or self.images_dir), problems)
        self._info = SequenceInfo(frames, labelled, boxes, timestamps_ok, tuple(notes),
                                  tuple(warnings))
        return self._info

    def _stamp(self, index: int, timestamp_ms: float | None) -> int:
        if self.info.label_timestamps and timestamp_ms is not None:
            return self.start_ns + round((timestamp_ms - self._first_timestamp_ms) * 1e6)
        return self.start_ns + round(index * 1e9 / self.rate_hz)

    def _frame(self, index: int, name: str, raw: Mapping[str, Any] | None, where: str) -> Frame:
        path = self.images_dir / name
        try:
            data = path.read_bytes()
            fmt, width, height = image_size(data)
        except (OSError, ImageError) as exc:
            raise InputError(f'{where}: image file {path}: {exc}; the input changed after '
                             'it was checked') from None
        labels = self._frame_labels(raw, where, width, height) if raw is not None else None
        stamp = self._stamp(index, _number(raw.get('timestamp')) if raw is not None else None)
        return Frame(index=index, name=name, stamp_ns=stamp, log_ns=stamp,
                     frame_id=self.frame_id, width=width, height=height, encoded=data,
                     image_format=fmt, labels=labels)

    def __iter__(self) -> Iterator[Frame]:
        info = self.info
        if self.labels_path is None:
            for index, name in enumerate(self._names):
                yield self._frame(index, name, None, f'{self.images_dir / name} (frame {index})')
            return
        for index, raw in iter_label_frames(self.labels_path):
            if index >= info.frames:
                return
            where = f"{self.labels_path}: frame {index} '{raw.get('name')}'"
            yield self._frame(index, str(raw['name']), raw, where)


def bdd_video_frame_name(stem: str, frame_index: int) -> str:
    """BDD100K's name for frame ``frame_index`` (0-based) of a video: ``<stem>-0000001.jpg``."""
    return f'{stem}-{frame_index + 1:07d}.jpg'


class VideoFolderSequence(_FolderSequence):
    """A folder of videos (BDD100K ``.mov``) read with OpenCV, resampled to ``fps``.

    Videos are taken in file-name order and follow each other in time. From each video the
    frames nearest to ``0, 1/fps, 2/fps, ...`` are kept (all frames when fps is None); each is
    stamped ``start_ns`` + its time in the sequence. Labels (optional): a folder of
    ``<video stem>.json`` files (BDD100K box_track_20 layout) or one JSON file; label frames
    are matched by ``videoName`` + ``frameIndex``, where frameIndex counts the kept frames (so
    BDD100K's 5 fps tracking labels need ``fps=5``). Frames are yielded decoded (``bgr``).
    """

    def __init__(
        self, videos_dir: Path, labels_path: Path | None = None, *, fps: float | None = None,
        start_ns: int = 0, frame_id: str = 'camera', bad_box: BadBoxPolicy = 'error',
        limit: int | None = None,
    ) -> None:
        if fps is not None and not fps > 0:
            raise ValueError(f'fps must be > 0, got {fps}')
        super().__init__(labels_path, start_ns=start_ns, frame_id=frame_id, bad_box=bad_box,
                         limit=limit)
        self.videos_dir = Path(videos_dir)
        self.fps = fps
        self._videos: list[tuple[Path, float, int, int, int]] = []  # path, fps, n, w, h
        self.unmatched_labels = 0

    def _kept_count(self, src_fps: float, count: int) -> int:
        if self.fps is None:
            return count
        duration = count / src_fps
        return max(1, math.ceil(duration * self.fps - 1e-9))

    def check(self, progress: Callable[[int], None] | None = None) -> SequenceInfo:
        """Open every video, check its frame rate and the labels; see :class:`ImageFolderSequence`.

        The frame count is OpenCV's estimate from the container (exact for BDD100K .mov).
        """
        import cv2

        if not self.videos_dir.is_dir():
            raise InputError(f'{self.videos_dir}: no such video folder')
        paths = sorted(p for p in self.videos_dir.iterdir()
                       if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not paths:
            raise InputError(f'{self.videos_dir}: no {", ".join(VIDEO_SUFFIXES)} videos')
        problems: list[str] = []
        warnings: list[str] = []
        frames = labelled = boxes = 0
        for path in paths:
            capture = cv2.VideoCapture(str(path))
            try:
                if not capture.isOpened():
                    problems.append(f'{path}: OpenCV cannot open the video')
                    continue
                src_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
                count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
                width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
                height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            finally:
                capture.release()
            if not (math.isfinite(src_fps) and src_fps > 0) or count <= 0:
                problems.append(f'{path}: the video reports no frame rate or frame count')
                continue
            if self.fps is not None and self.fps > src_fps + 1e-6:
                problems.append(f'{path}: --fps {self.fps:g} is above the video frame rate '
                                f'{src_fps:g}')
                continue
            self._videos.append((path, src_fps, count, width, height))
            kept = self._kept_count(src_fps, count)
            for index, raw in self._labels_for(path.stem).items():
                where = f'{self._labels_file(path.stem)}: {path.stem} frameIndex {index}'
                found, errors, box_notes = parse_frame_labels(raw, where, width, height,
                                                              self.bad_box)
                problems += errors
                warnings += box_notes
                if index < kept:
                    labelled += 1
                    boxes += len(found)
            frames += kept
            if progress:
                progress(kept)
        if self.labels_path is not None and not self.labels_path.exists():
            problems.append(f'{self.labels_path}: no such labels file or folder')
        _raise_problems(str(self.labels_path or self.videos_dir), problems)
        if self.limit is not None:
            frames = min(frames, self.limit)
        self._info = SequenceInfo(frames, labelled, boxes, False, (), tuple(warnings))
        return self._info

    def _labels_file(self, stem: str) -> Path | None:
        if self.labels_path is None:
            return None
        if self.labels_path.is_dir():
            return self.labels_path / f'{stem}.json'
        return self.labels_path

    def _labels_for(self, stem: str) -> dict[int, Mapping[str, Any]]:
        """Label frames of one video by frameIndex (one video's labels are small)."""
        path = self._labels_file(stem)
        if path is None or not path.is_file():
            return {}
        result: dict[int, Mapping[str, Any]] = {}
        for index, raw in iter_label_frames(path):
            if not isinstance(raw, Mapping):
                raise InputError(f'{path}: frame {index}: expected an object')
            video = raw.get('videoName', stem)
            frame_index = raw.get('frameIndex')
            if video != stem:
                continue
            if isinstance(frame_index, bool) or not isinstance(frame_index, int):
                raise InputError(f"{path}: frame {index}: 'frameIndex' must be an integer")
            result[frame_index] = raw
        return result

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        if self._info is None:
            raise RuntimeError('call check() before iterating')
        produced = 0
        offset_s = 0.0
        for path, src_fps, _, _, _ in self._videos:
            labels = self._labels_for(path.stem)
            matched = 0
            capture = cv2.VideoCapture(str(path))
            try:
                source_index = kept = 0
                last_t = 0.0
                while self.limit is None or produced < self.limit:
                    ok, bgr = capture.read()
                    if not ok:
                        break
                    t = source_index / src_fps
                    source_index += 1
                    if self.fps is not None and t + 0.5 / src_fps < kept / self.fps:
                        continue  # not the source frame nearest to the next output time
                    height, width = bgr.shape[:2]
                    name = bdd_video_frame_name(path.stem, kept)
                    raw = labels.get(kept)
                    frame_labels: tuple[BoxLabel, ...] | None = None
                    if raw is not None:
                        where = f'{self._labels_file(path.stem)}: {path.stem} frameIndex {kept}'
                        frame_labels = self._frame_labels(raw, where, width, height)
                        matched += 1
                    stamp = self.start_ns + round((offset_s + t) * 1e9)
                    yield Frame(index=produced, name=name, stamp_ns=stamp, log_ns=stamp,
                                frame_id=self.frame_id, width=width, height=height,
                                bgr=np.asarray(bgr, dtype=np.uint8), labels=frame_labels)
                    produced += 1
                    kept += 1
                    last_t = t
            finally:
                capture.release()
            self.unmatched_labels += len(labels) - matched
            step = 1.0 / self.fps if self.fps is not None else 1.0 / src_fps
            offset_s += last_t + step + VIDEO_GAP_S
            if self.limit is not None and produced >= self.limit:
                return
