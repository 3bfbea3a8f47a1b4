"""Frame sequences (BDD100K images or videos) to a rosbag2 (pure: rosbags, no rclpy).

Topics (names are absolute in a bag, as ``ros2 bag record`` stores them):
    - camera frames, default ``/image/compressed`` (sensor_msgs/CompressedImage, the file's
      JPEG/PNG bytes unchanged; video frames JPEG-encoded) or, with ``raw``, ``/image``
      (sensor_msgs/Image, bgr8). A node in the root namespace subscribing to the relative
      ``image/compressed`` (detector_node with ``input_transport: compressed``) or ``image``
      receives them without remapping.
    - ground truth, default ``/ground_truth`` (vision_msgs/Detection2DArray, see
      :func:`negas_ros.bag.messages.ground_truth_array`), only for frames that have a label
      entry; an entry without boxes gives an empty array (no objects), no entry gives no message.
Both messages of a frame carry the same header (stamp, frame id) and the same bag time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import logging
from pathlib import Path
import re
import time
from typing import Protocol

from negas_ros.bag import messages
from negas_ros.bag.bdd100k import Frame, InputError, SequenceInfo
from negas_ros.bag.writer import BagWriter

__all__ = [
    'DEFAULT_COMPRESSED_TOPIC',
    'DEFAULT_GROUND_TRUTH_TOPIC',
    'DEFAULT_RAW_TOPIC',
    'ConversionReport',
    'FrameSequence',
    'convert_to_bag',
    'normalize_topic',
]

DEFAULT_COMPRESSED_TOPIC = '/image/compressed'
DEFAULT_RAW_TOPIC = '/image'
DEFAULT_GROUND_TRUTH_TOPIC = '/ground_truth'

_TOKEN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_log = logging.getLogger(__name__)


def normalize_topic(name: str) -> str:
    """An absolute ROS topic name: a leading '/' is added to a relative name.

    Raises ValueError for names ROS rejects (empty tokens, tokens starting with a digit,
    characters other than letters, digits and '_').
    """
    stripped = name.strip()
    absolute = stripped if stripped.startswith('/') else '/' + stripped
    tokens = absolute[1:].split('/')
    if not stripped or not all(_TOKEN.match(token) for token in tokens):
        raise ValueError(f"invalid topic name '{name}': use tokens of letters, digits and '_' "
                         "separated by '/', not starting with a digit")
    return absolute


class FrameSequence(Protocol):
    """What the converter needs: ImageFolderSequence or VideoFolderSequence."""

    labels_path: Path | None

    def check(self, progress: Callable[[int], None] | None = None) -> SequenceInfo: ...

    def __iter__(self) -> Iterator[Frame]: ...


@dataclass(frozen=True)
class ConversionReport:
    """path: the bag written. frames: image messages. ground_truth: ground-truth messages.
    boxes: boxes in them. notes: remarks and warnings from the input check. seconds: wall
    time."""

    path: Path
    frames: int
    ground_truth: int
    boxes: int
    notes: tuple[str, ...]
    seconds: float


def convert_to_bag(
    sequence: FrameSequence, out: Path, *, storage: str = 'mcap', raw: bool = False,
    image_topic: str | None = None, gt_topic: str = DEFAULT_GROUND_TRUTH_TOPIC,
    jpeg_quality: int = 95, overwrite: bool = False, progress: bool = True,
    on_frame: Callable[[int], None] | None = None,
) -> ConversionReport:
    """Check ``sequence`` (InputError lists every problem; nothing is written then), then write
    its frames (and ground truth when it has labels) to a rosbag2 at ``out``.

    The bag appears at ``out`` only when complete (:class:`BagWriter`); on any error nothing is
    left behind. image_topic: default ``/image/compressed``, or ``/image`` when ``raw``.
    jpeg_quality: for frames that must be encoded (video frames), 1..100.
    on_frame: called with the number of frames written so far (benchmarks).
    """
    from tqdm import tqdm

    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f'JPEG quality must lie in 1..100, got {jpeg_quality}')
    image_topic = normalize_topic(image_topic or (DEFAULT_RAW_TOPIC if raw
                                                  else DEFAULT_COMPRESSED_TOPIC))
    gt_topic = normalize_topic(gt_topic)
    if image_topic == gt_topic:
        raise ValueError(f'image and ground-truth topics are both {image_topic}')
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f'{out} exists already; choose another --out or pass --overwrite')
    started = time.monotonic()
    with tqdm(desc='checking', unit='frame', disable=not progress, dynamic_ncols=True) as bar:
        info = sequence.check(bar.update)
    for note in info.notes:
        _log.info('%s', note)
    for warning in info.warnings[:20]:
        _log.warning('%s', warning)
    if len(info.warnings) > 20:
        _log.warning('... and %d more like these', len(info.warnings) - 20)

    has_labels = sequence.labels_path is not None
    frames = ground_truth = boxes = 0
    custom = {'negas_ros.converter': 'negas-ros bdd100k-to-bag',
              'negas_ros.source': str(getattr(sequence, 'images_dir', None)
                                      or getattr(sequence, 'videos_dir', '')),
              'negas_ros.labels': str(sequence.labels_path or '')}
    with BagWriter(out, storage, overwrite=overwrite, custom_data=custom) as writer, \
            tqdm(total=info.frames, desc=f'writing {out.name}', unit='frame',
                 disable=not progress, dynamic_ncols=True) as bar:
        image_handle = writer.add_topic(
            image_topic, messages.RAW_IMAGE if raw else messages.COMPRESSED_IMAGE)
        gt_handle = writer.add_topic(gt_topic, messages.DETECTION_ARRAY) if has_labels else None
        for frame in sequence:
            header = messages.header(frame.stamp_ns, frame.frame_id)
            writer.write(image_handle, frame.log_ns, _image_msg(frame, header, raw, jpeg_quality))
            if gt_handle is not None and frame.labels is not None:
                writer.write(gt_handle, frame.log_ns,
                             messages.ground_truth_array(header, frame.labels))
                ground_truth += 1
                boxes += len(frame.labels)
            frames += 1
            bar.update(1)
            if on_frame is not None:
                on_frame(frames)
        if frames == 0:
            raise InputError('no frames to write')
    unmatched = getattr(sequence, 'unmatched_labels', 0)
    notes = (*info.notes, *info.warnings)
    if unmatched:
        notes = (*notes, f'{unmatched} label frame(s) matched no video frame (check --fps)')
        _log.warning('%s', notes[-1])
    return ConversionReport(out, frames, ground_truth, boxes, notes,
                            time.monotonic() - started)


def _image_msg(frame: Frame, header: object, raw: bool, jpeg_quality: int) -> object:
    if raw:
        return messages.raw_image(header, frame.to_bgr())
    if frame.encoded is not None:
        return messages.compressed_image(header, frame.image_format, frame.encoded)
    import cv2

    ok, jpeg = cv2.imencode('.jpg', frame.to_bgr(), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise InputError(f'frame {frame.index} ({frame.name}): JPEG encoding failed')
    return messages.compressed_image(header, 'jpeg', jpeg.tobytes())
