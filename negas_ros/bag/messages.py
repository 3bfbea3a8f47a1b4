"""ROS messages for bags, built and parsed with rosbags (pure: no rclpy, no generated messages).

Bags are written with rosbags, which serialises its own typed message classes. Its Kilted
typestore has ``std_msgs``, ``sensor_msgs`` and ``geometry_msgs``; ``vision_msgs`` and our
``negas_ros`` messages are registered from their ``.msg`` files (:func:`find_msg_dir`), so the
type hashes written to a bag are those of the packages a ROS install builds from the same
files, and ``ros2 bag play`` accepts the bag.

Detections follow the output contract of the node, built by the same pure builder
(:mod:`negas_ros.message_contract`, also used by :mod:`negas_ros.ros.conversions`):
bbox centre and size in source-image pixels; ``results[0]`` the verdict (ID label with its
detector confidence, or the unknown label with the OOD confidence); for unknowns ``results[1]``
the best ID label with its raw confidence; ``id`` empty. Ground truth uses the same message,
one hypothesis per box (the BDD100K category, score 1.0) and ``id`` = the BDD100K label id.
``test/bag`` checks byte for byte that both modules serialise the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
import functools
import os
from pathlib import Path
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from negas_ros import message_contract as contract
from negas_ros.bag.bdd100k import BoxLabel
from negas_ros.detection import Detection
from negas_ros.image_convert import ImageError, compressed_to_rgb, raw_to_rgb
from negas_ros.message_contract import (
    DETECTION_ARRAY,
    LABEL_INFO,
    OOD_DETECTION_ARRAY,
    UNKNOWN_CLASS_ID,
)

__all__ = [
    'COMPRESSED_IMAGE',
    'DETECTION_ARRAY',
    'IMAGE_TYPES',
    'LABEL_INFO',
    'OOD_DETECTION_ARRAY',
    'RAW_IMAGE',
    'UNKNOWN_CLASS_ID',
    'MessageDefinitionError',
    'compressed_image',
    'detection_arrays',
    'find_msg_dir',
    'ground_truth_array',
    'ground_truth_from_msg',
    'header',
    'image_msg_to_rgb',
    'label_info',
    'raw_image',
    'stamp_ns',
    'typestore',
]

COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
RAW_IMAGE = 'sensor_msgs/msg/Image'
IMAGE_TYPES = (COMPRESSED_IMAGE, RAW_IMAGE)

# Message files registered on top of the Kilted typestore, per package.
_MSG_FILES = {
    'vision_msgs': ('Point2D', 'Pose2D', 'BoundingBox2D', 'ObjectHypothesis',
                    'ObjectHypothesisWithPose', 'Detection2D', 'Detection2DArray',
                    'VisionClass', 'LabelInfo'),
    'negas_ros': ('OodDetection', 'OodDetectionArray'),
}
# Where the source tree keeps them (a development checkout).
_SOURCE_DIRS = {'vision_msgs': Path('interfaces/vision_msgs/msg'), 'negas_ros': Path('msg')}


class MessageDefinitionError(ValueError):
    """The .msg files of vision_msgs or negas_ros cannot be found or parsed."""


def find_msg_dir(package: str) -> Path:
    """The folder holding ``package``'s .msg files.

    Looks in ``<prefix>/share/<package>/msg`` for each prefix on ``AMENT_PREFIX_PATH`` (an
    installed package: the distro's vision_msgs on a ROS install, ours otherwise), then under
    the Python prefix (``pip install``), then in the source tree next to this package.
    Raises MessageDefinitionError naming the places looked in.
    """
    names = _MSG_FILES[package]
    candidates = [Path(prefix) / 'share' / package / 'msg'
                  for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
                  if prefix]
    # pip install '.[tools]' puts them under <sys.prefix>/share (pyproject data-files).
    candidates.append(Path(sys.prefix) / 'share' / package / 'msg')
    candidates.append(Path(__file__).resolve().parents[2] / _SOURCE_DIRS[package])
    for directory in candidates:
        if all((directory / f'{name}.msg').is_file() for name in names):
            return directory
    raise MessageDefinitionError(
        f'cannot find the {package} message files ({", ".join(names)}.msg) in any of: '
        f'{", ".join(str(c) for c in candidates)}; source the workspace (scripts/env.sh or '
        'install/setup.bash) so that AMENT_PREFIX_PATH names it')


@functools.lru_cache(maxsize=1)
def typestore() -> Any:
    """The Kilted typestore plus vision_msgs and negas_ros messages (built once)."""
    from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    types: dict[str, Any] = {}
    for package, names in _MSG_FILES.items():
        directory = find_msg_dir(package)
        for name in names:
            path = directory / f'{name}.msg'
            try:
                types.update(get_types_from_msg(path.read_text(encoding='utf-8'),
                                                f'{package}/msg/{name}'))
            except (OSError, TypesysError) as exc:
                raise MessageDefinitionError(f'{path}: {exc}') from None
    store.register(types)
    return store


def _type(name: str) -> Any:
    return typestore().types[name]


def header(stamp: int, frame_id: str) -> Any:
    """std_msgs/Header with ``stamp`` (ns since the epoch) split into sec and nanosec."""
    sec, nanosec = divmod(int(stamp), 1_000_000_000)
    return _type('std_msgs/msg/Header')(
        stamp=_type('builtin_interfaces/msg/Time')(sec=sec, nanosec=nanosec), frame_id=frame_id)


def stamp_ns(msg_header: Any) -> int:
    """A header's stamp in ns since the epoch."""
    return int(msg_header.stamp.sec) * 1_000_000_000 + int(msg_header.stamp.nanosec)


def compressed_image(msg_header: Any, image_format: str, data: bytes) -> Any:
    """sensor_msgs/CompressedImage carrying ``data`` unchanged (format 'jpeg' or 'png')."""
    return _type(COMPRESSED_IMAGE)(header=msg_header, format=image_format,
                                   data=np.frombuffer(data, dtype=np.uint8))


def raw_image(msg_header: Any, bgr: npt.NDArray[np.uint8]) -> Any:
    """sensor_msgs/Image, encoding bgr8, from an (H, W, 3) uint8 BGR array."""
    height, width = bgr.shape[:2]
    return _type(RAW_IMAGE)(
        header=msg_header, height=int(height), width=int(width), encoding='bgr8',
        is_bigendian=0, step=int(width) * 3,
        data=np.frombuffer(np.ascontiguousarray(bgr).tobytes(), dtype=np.uint8))


def image_msg_to_rgb(msg: Any) -> npt.NDArray[np.uint8]:
    """A deserialised CompressedImage or Image to (H, W, 3) uint8 RGB, as the node converts it.

    Raises ImageError for an undecodable or unsupported image.
    """
    data = msg.data.tobytes() if isinstance(msg.data, np.ndarray) else bytes(msg.data)
    if hasattr(msg, 'format'):
        return compressed_to_rgb(str(msg.format), data)
    if hasattr(msg, 'encoding'):
        return raw_to_rgb(str(msg.encoding), int(msg.height), int(msg.width), int(msg.step),
                          data, int(msg.is_bigendian))
    raise ImageError(f'not an image message: {type(msg).__name__}')


@functools.lru_cache(maxsize=1)
def _default_pose() -> Any:
    # geometry_msgs defaults (identity orientation, zero covariance), as rclpy builds them.
    geo = 'geometry_msgs/msg/'
    pose = _type(geo + 'Pose')(
        position=_type(geo + 'Point')(x=0.0, y=0.0, z=0.0),
        orientation=_type(geo + 'Quaternion')(x=0.0, y=0.0, z=0.0, w=1.0))
    return _type(geo + 'PoseWithCovariance')(pose=pose, covariance=np.zeros(36, np.float64))


def _new(type_name: str, **fields: Any) -> Any:
    """The message factory of :mod:`negas_ros.message_contract`: rosbags classes need every
    field, so a hypothesis gets the default pose rclpy would give it."""
    if type_name == contract.HYPOTHESIS_WITH_POSE and 'pose' not in fields:
        fields['pose'] = _default_pose()
    return _type(type_name)(**fields)


def ground_truth_array(msg_header: Any, labels: Sequence[BoxLabel]) -> Any:
    """vision_msgs/Detection2DArray of ground truth: per box one hypothesis (category, 1.0),
    bbox from the continuous ``box_xyxy`` and ``id`` = the label id."""
    return _new(DETECTION_ARRAY, header=msg_header, detections=[
        _new(contract.DETECTION_2D, header=msg_header,
             results=[contract.hypothesis(_new, label.category, 1.0)],
             bbox=contract.bbox(_new, label.box_xyxy), id=label.label_id)
        for label in labels])


def ground_truth_from_msg(msg: Any) -> tuple[BoxLabel, ...]:
    """Boxes of a ground-truth Detection2DArray: category = ``results[0].class_id``.

    Raises ValueError for a detection without results.
    """
    labels = []
    for k, det in enumerate(msg.detections):
        if not det.results:
            raise ValueError(f'ground-truth detection {k} has no results (no class)')
        box = det.bbox
        cx, cy = float(box.center.position.x), float(box.center.position.y)
        half_w, half_h = float(box.size_x) / 2.0, float(box.size_y) / 2.0
        labels.append(BoxLabel(str(det.results[0].hypothesis.class_id),
                               (cx - half_w, cy - half_h, cx + half_w, cy + half_h), str(det.id)))
    return tuple(labels)


def detection_arrays(
    msg_header: Any, detections: Sequence[Detection], unknown_label: str, score_method: str,
    threshold: float, nega: bool, track_evidence: str = '',
) -> tuple[Any, Any]:
    """(Detection2DArray, OodDetectionArray) for one frame: the node's output contract."""
    return contract.detection_arrays(_new, msg_header, detections, unknown_label, score_method,
                                     threshold, nega, track_evidence)


def label_info(msg_header: Any, id_labels: Sequence[str], unknown_label: str,
               box_threshold: float) -> Any:
    """vision_msgs/LabelInfo as the node publishes it: index per ID label, 65535 for unknown."""
    return contract.label_info(_new, msg_header, id_labels, unknown_label, box_threshold)
