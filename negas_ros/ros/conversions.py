"""Core detections to ROS messages: the public output contract of the node.

The contract (bbox, verdict and hypothesis order, scores, class ids) is built by
:mod:`negas_ros.message_contract`, shared with the bag tools; this module makes its messages
with the rclpy message classes.
"""

from __future__ import annotations

import array
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D,
    Detection2D,
    Detection2DArray,
    LabelInfo,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    Point2D,
    Pose2D,
    VisionClass,
)

from negas_ros import message_contract as contract
from negas_ros.detection import Detection
from negas_ros.message_contract import UNKNOWN_CLASS_ID
from negas_ros.msg import OodDetection, OodDetectionArray

__all__ = [
    'UNKNOWN_CLASS_ID',
    'bgr_to_image_msg',
    'to_detection2d',
    'to_detection_arrays',
    'to_label_info',
]

_CLASSES: dict[str, Any] = {
    contract.POINT_2D: Point2D,
    contract.POSE_2D: Pose2D,
    contract.BOUNDING_BOX_2D: BoundingBox2D,
    contract.HYPOTHESIS: ObjectHypothesis,
    contract.HYPOTHESIS_WITH_POSE: ObjectHypothesisWithPose,
    contract.DETECTION_2D: Detection2D,
    contract.DETECTION_ARRAY: Detection2DArray,
    contract.VISION_CLASS: VisionClass,
    contract.LABEL_INFO: LabelInfo,
    contract.OOD_DETECTION: OodDetection,
    contract.OOD_DETECTION_ARRAY: OodDetectionArray,
}


def _new(type_name: str, **fields: Any) -> Any:
    return _CLASSES[type_name](**fields)


def to_detection2d(det: Detection, header: Header, unknown_label: str) -> Detection2D:
    result: Detection2D = contract.detection2d(_new, header, det, unknown_label)
    return result


def to_detection_arrays(
    detections: Sequence[Detection], header: Header, unknown_label: str,
    score_method: str, threshold: float, nega: bool,
) -> tuple[Detection2DArray, OodDetectionArray]:
    """Both output messages for one frame, with the image header copied unchanged."""
    plain, rich = contract.detection_arrays(_new, header, detections, unknown_label,
                                            score_method, threshold, nega)
    return plain, rich


def to_label_info(
    id_labels: Sequence[str], unknown_label: str, box_threshold: float, header: Header
) -> LabelInfo:
    """ID labels get their index as class_id; the unknown label gets 65535 ("unlabeled")."""
    result: LabelInfo = contract.label_info(_new, header, id_labels, unknown_label,
                                            box_threshold)
    return result


def bgr_to_image_msg(image_bgr: npt.NDArray[np.uint8], header: Header) -> Image:
    msg = Image(header=header, height=int(image_bgr.shape[0]), width=int(image_bgr.shape[1]),
                encoding='bgr8', is_bigendian=0, step=int(image_bgr.shape[1]) * 3)
    # array.array from bytes skips the per-element checks of the generated setter.
    msg.data = array.array('B', np.ascontiguousarray(image_bgr).tobytes())
    return msg
