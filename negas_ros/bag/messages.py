"""ROS messages for bags, built and parsed with rosbags (pure: no rclpy, no generated messages).

Bags are written with rosbags, which serialises its own typed message classes. Its Kilted
typestore has ``std_msgs``, ``sensor_msgs`` and ``geometry_msgs``; ``vision_msgs`` and our
``negas_ros`` messages are registered from their ``.msg`` files (:func:`find_msg_dir`), so the
type hashes written to a bag are those of the packages a ROS install builds from the same
files, and ``ros2 bag play`` accepts the bag.

Detections follow the output contract of the node (:mod:`negas_ros.ros.conversions`):
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
from typing import Any

import numpy as np
import numpy.typing as npt

from negas_ros.bag.bdd100k import BoxLabel
from negas_ros.detection import Detection
from negas_ros.image_convert import ImageError, compressed_to_rgb, raw_to_rgb

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
DETECTION_ARRAY = 'vision_msgs/msg/Detection2DArray'
OOD_DETECTION_ARRAY = 'negas_ros/msg/OodDetectionArray'
LABEL_INFO = 'vision_msgs/msg/LabelInfo'
UNKNOWN_CLASS_ID = 65535  # vision_msgs' "unlabeled", as in negas_ros.ros.conversions

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
    installed package: the distro's vision_msgs on a ROS install, ours otherwise), then in the
    source tree next to this package. Raises MessageDefinitionError naming the places looked in.
    """
    names = _MSG_FILES[package]
    candidates = [Path(prefix) / 'share' / package / 'msg'
                  for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
                  if prefix]
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


def _hypothesis(class_id: str, score: float) -> Any:
    return _type('vision_msgs/msg/ObjectHypothesisWithPose')(
        hypothesis=_type('vision_msgs/msg/ObjectHypothesis')(class_id=class_id,
                                                             score=float(score)),
        pose=_default_pose())


def _bbox(box_xyxy: Sequence[float]) -> Any:
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    centre = _type('vision_msgs/msg/Pose2D')(
        position=_type('vision_msgs/msg/Point2D')(x=(x1 + x2) / 2.0, y=(y1 + y2) / 2.0),
        theta=0.0)
    return _type('vision_msgs/msg/BoundingBox2D')(center=centre, size_x=x2 - x1, size_y=y2 - y1)


def ground_truth_array(msg_header: Any, labels: Sequence[BoxLabel]) -> Any:
    """vision_msgs/Detection2DArray of ground truth: per box one hypothesis (category, 1.0),
    bbox from the continuous ``box_xyxy`` and ``id`` = the label id."""
    detection = _type('vision_msgs/msg/Detection2D')
    return _type(DETECTION_ARRAY)(header=msg_header, detections=[
        detection(header=msg_header, results=[_hypothesis(label.category, 1.0)],
                  bbox=_bbox(label.box_xyxy), id=label.label_id)
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
    threshold: float, nega: bool,
) -> tuple[Any, Any]:
    """(Detection2DArray, OodDetectionArray) for one frame: the node's output contract."""
    detection2d = _type('vision_msgs/msg/Detection2D')
    ood_detection = _type('negas_ros/msg/OodDetection')
    plain = []
    rich = []
    for det in detections:
        if det.is_ood:
            results = [_hypothesis(unknown_label, det.ood_confidence),
                       _hypothesis(det.id_label, det.id_confidence)]
        else:
            results = [_hypothesis(det.id_label, det.id_confidence)]
        d2d = detection2d(header=msg_header, results=results, bbox=_bbox(det.box_xyxy), id='')
        plain.append(d2d)
        rich.append(ood_detection(
            detection=d2d, is_ood=bool(det.is_ood), id_score=float(det.id_score),
            ood_confidence=float(det.ood_confidence), id_label=det.id_label,
            id_confidence=float(det.id_confidence), negative_label=det.neg_label or '',
            negative_confidence=float(det.neg_confidence)))
    return (_type(DETECTION_ARRAY)(header=msg_header, detections=plain),
            _type(OOD_DETECTION_ARRAY)(header=msg_header, detections=rich,
                                       score_method=score_method, threshold=float(threshold),
                                       nega=bool(nega)))


def label_info(msg_header: Any, id_labels: Sequence[str], unknown_label: str,
               box_threshold: float) -> Any:
    """vision_msgs/LabelInfo as the node publishes it: index per ID label, 65535 for unknown."""
    vision_class = _type('vision_msgs/msg/VisionClass')
    class_map = [vision_class(class_id=i, class_name=name) for i, name in enumerate(id_labels)]
    class_map.append(vision_class(class_id=UNKNOWN_CLASS_ID, class_name=unknown_label))
    return _type(LABEL_INFO)(header=msg_header, class_map=class_map,
                             threshold=float(box_threshold))
