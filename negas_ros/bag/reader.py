"""Camera frames and their ground truth streamed out of a rosbag2 (pure: rosbags, no rclpy).

The bag is read in time order, one message at a time (rosbags' readers go chunk by chunk), so
memory does not grow with the bag. Types come from the definitions stored in the bag, so bags
recorded elsewhere (with the distro's vision_msgs) read the same way.

Pairing: an image and a ground-truth Detection2DArray belong together when their headers have
the same stamp and frame_id (the converter writes both at the same bag time). An image whose
ground truth has not arrived within ``pair_window_s`` of bag time is produced without it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from negas_ros.bag.bdd100k import BoxLabel, Frame, InputError
from negas_ros.bag.messages import (
    COMPRESSED_IMAGE,
    DETECTION_ARRAY,
    IMAGE_TYPES,
    ground_truth_from_msg,
    image_msg_to_rgb,
    stamp_ns,
)

__all__ = ['DEFAULT_GROUND_TRUTH_TOPIC', 'BagFrameSource', 'open_bag', 'topic_types']

DEFAULT_GROUND_TRUTH_TOPIC = '/ground_truth'


def open_bag(path: Path) -> Any:
    """An opened rosbags ``AnyReader`` on a rosbag2 folder (or a single .mcap / .db3 file).

    Raises InputError naming the path when it is missing or not a readable rosbag2.
    """
    from rosbags.highlevel import AnyReader, AnyReaderError
    from rosbags.rosbag2 import ReaderError
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    if not path.exists():
        raise InputError(f'{path}: no such bag')
    try:
        reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_KILTED))
        reader.open()
    except (AnyReaderError, ReaderError, FileNotFoundError, ValueError, KeyError) as exc:
        raise InputError(f'{path}: not a readable rosbag2 ({exc})') from None
    return reader


def topic_types(reader: Any) -> dict[str, str]:
    """Topic name -> message type of an opened reader."""
    return {conn.topic: conn.msgtype for conn in reader.connections}


class BagFrameSource:
    """The frames of one camera topic of a bag, with ground truth when the bag has it.

    path: the bag. image_topic: a CompressedImage or Image topic; None picks the bag's only
        image topic (InputError when there are none or several).
    gt_topic: a Detection2DArray topic with ground truth; None uses ``/ground_truth`` when the
        bag has it, '' means none.
    limit: produce at most this many frames.

    Iterating yields :class:`Frame` objects in bag-time order: ``encoded`` is set for
    CompressedImage, ``bgr`` for Image; ``labels`` is None for frames without ground truth.
    ``len()`` is the number of image messages (before ``limit``). Counters after iteration:
    ``frames_without_ground_truth``, ``unmatched_ground_truth``, ``bad_images``.
    """

    def __init__(self, path: Path, image_topic: str | None = None, gt_topic: str | None = None,
                 limit: int | None = None, pair_window_s: float = 2.0) -> None:
        self.path = Path(path)
        self.limit = limit
        self.pair_window_ns = int(pair_window_s * 1e9)
        reader = open_bag(self.path)
        try:
            types = topic_types(reader)
            self.image_topic = self._pick_image_topic(types, image_topic)
            self.image_type = types[self.image_topic]
            self.gt_topic = self._pick_gt_topic(types, gt_topic)
            self._count = int(sum(c.msgcount for c in reader.connections
                                  if c.topic == self.image_topic))
        finally:
            reader.close()
        self.frames_without_ground_truth = 0
        self.unmatched_ground_truth = 0

    def _pick_image_topic(self, types: dict[str, str], wanted: str | None) -> str:
        images = sorted(t for t, m in types.items() if m in IMAGE_TYPES)
        listing = ', '.join(f'{t} ({m})' for t, m in sorted(types.items())) or 'none'
        if wanted is not None:
            if types.get(wanted) not in IMAGE_TYPES:
                raise InputError(f'{self.path}: no image topic {wanted}; topics: {listing}')
            return wanted
        if len(images) != 1:
            what = 'no image topic' if not images else 'several image topics'
            raise InputError(f'{self.path}: {what}; choose one with --image-topic '
                             f'(topics: {listing})')
        return images[0]

    def _pick_gt_topic(self, types: dict[str, str], wanted: str | None) -> str | None:
        if wanted == '':
            return None
        if wanted is None:
            return DEFAULT_GROUND_TRUTH_TOPIC if types.get(
                DEFAULT_GROUND_TRUTH_TOPIC) == DETECTION_ARRAY else None
        if types.get(wanted) != DETECTION_ARRAY:
            raise InputError(f'{self.path}: no {DETECTION_ARRAY} topic {wanted}')
        return wanted

    @property
    def has_ground_truth(self) -> bool:
        return self.gt_topic is not None

    def __len__(self) -> int:
        return self._count if self.limit is None else min(self._count, self.limit)

    def _frame(self, index: int, log_ns: int, msg: Any,
               labels: tuple[BoxLabel, ...] | None) -> Frame:
        stamp = stamp_ns(msg.header)
        if self.image_type == COMPRESSED_IMAGE:
            data = msg.data.tobytes()
            fmt = str(msg.format)
            return Frame(index=index, name='', stamp_ns=stamp, log_ns=log_ns,
                         frame_id=str(msg.header.frame_id), width=0, height=0, encoded=data,
                         image_format=fmt, labels=labels)
        rgb = image_msg_to_rgb(msg)
        return Frame(index=index, name='', stamp_ns=stamp, log_ns=log_ns,
                     frame_id=str(msg.header.frame_id), width=rgb.shape[1], height=rgb.shape[0],
                     bgr=rgb[:, :, ::-1], labels=labels)

    def __iter__(self) -> Iterator[Frame]:
        reader = open_bag(self.path)
        try:
            topics = {self.image_topic} | ({self.gt_topic} if self.gt_topic else set())
            connections = [c for c in reader.connections if c.topic in topics]
            # Images waiting for their ground truth, and ground truth waiting for its image,
            # both keyed by (stamp, frame_id); the window keeps them few.
            images: OrderedDict[tuple[int, str], tuple[int, Any]] = OrderedDict()
            truths: OrderedDict[tuple[int, str], tuple[int, tuple[BoxLabel, ...]]] = (
                OrderedDict())
            produced = 0

            def emit(log_ns: int, msg: Any, labels: tuple[BoxLabel, ...] | None) -> Frame:
                nonlocal produced
                if labels is None and self.gt_topic is not None:
                    self.frames_without_ground_truth += 1
                frame = self._frame(produced, log_ns, msg, labels)
                produced += 1
                return frame

            for conn, log_ns, raw in reader.messages(connections=connections):
                if self.limit is not None and produced >= self.limit:
                    return
                msg = reader.deserialize(raw, conn.msgtype)
                key = (stamp_ns(msg.header), str(msg.header.frame_id))
                if conn.topic == self.image_topic:
                    if self.gt_topic is None:
                        yield emit(log_ns, msg, None)
                        continue
                    truth = truths.pop(key, None)
                    if truth is not None:
                        yield emit(log_ns, msg, truth[1])
                    else:
                        images[key] = (log_ns, msg)
                else:
                    try:
                        labels = ground_truth_from_msg(msg)
                    except ValueError as exc:
                        raise InputError(f'{self.path}: {self.gt_topic} at {key[0]} ns: '
                                         f'{exc}') from None
                    waiting = images.pop(key, None)
                    if waiting is not None:
                        yield emit(waiting[0], waiting[1], labels)
                    else:
                        truths[key] = (log_ns, labels)
                # Flush what is too old to be paired any more.
                horizon = log_ns - self.pair_window_ns
                while images and next(iter(images.values()))[0] < horizon:
                    _, (old_ns, old_msg) = images.popitem(last=False)
                    if self.limit is not None and produced >= self.limit:
                        return
                    yield emit(old_ns, old_msg, None)
                while truths and next(iter(truths.values()))[0] < horizon:
                    truths.popitem(last=False)
                    self.unmatched_ground_truth += 1
            for old_ns, old_msg in images.values():
                if self.limit is not None and produced >= self.limit:
                    return
                yield emit(old_ns, old_msg, None)
            self.unmatched_ground_truth += len(truths)
        finally:
            reader.close()
