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
    'to_detection_array',
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


# Built once per detection, many per frame: made without their constructors (below).
_PER_DETECTION = (contract.POINT_2D, contract.POSE_2D, contract.BOUNDING_BOX_2D,
                  contract.HYPOTHESIS, contract.HYPOTHESIS_WITH_POSE, contract.DETECTION_2D,
                  contract.OOD_DETECTION, contract.DETECTION_ARRAY,
                  contract.OOD_DETECTION_ARRAY)


class _MessageFactory:
    """``new(type_name, **fields)`` for rclpy messages that are built only to be published.

    A generated message's constructor builds a default for every field, nested messages
    included (a Detection2D builds a bounding box, a pose and a header that the contract then
    replaces; each hypothesis a 36-float covariance it never uses), and its setters check
    every value: about two thirds of the node's per-frame publishing cost. For the per-detection
    types the factory instead fills the field slots directly (``_<field>``, the layout of
    rosidl_generator_py since Humble), taking defaults from one template instance. So fields
    the contract leaves at their default (a hypothesis's pose) share one default object per
    type: the node never mutates a message it publishes; copy before mutating one. The
    contract builds every value with the right type (floats as float, lists of messages), as
    the setters would demand. A type whose slots do not follow that layout uses its
    constructor.
    """

    def __init__(self, classes: dict[str, Any], fast: Sequence[str]) -> None:
        self._classes = classes
        self._templates: dict[str, tuple[Any, dict[str, Any]]] = {}
        for name in fast:
            cls = classes[name]
            slots = tuple(getattr(cls, '__slots__', ()))
            if all(f'_{field}' in slots for field in cls.get_fields_and_field_types()):
                template = cls()
                self._templates[name] = (cls, {slot: getattr(template, slot) for slot in slots})
        # (type, given field names) -> (class, slots left at their default, slots of the fields)
        self._plans: dict[tuple[str, tuple[str, ...]], Any] = {}

    @property
    def fast_types(self) -> frozenset[str]:
        """The types built without their constructor."""
        return frozenset(self._templates)

    def _plan(self, type_name: str, names: tuple[str, ...]) -> Any:
        found = self._templates.get(type_name)
        if found is None:
            return None
        cls, defaults = found
        given = tuple('_' + name for name in names)
        unknown = [name for name, slot in zip(names, given, strict=True) if slot not in defaults]
        if unknown:
            raise AttributeError(f'{type_name} has no field {", ".join(unknown)}')
        rest = tuple((slot, value) for slot, value in defaults.items() if slot not in given)
        return cls, rest, given

    def __call__(self, type_name: str, **fields: Any) -> Any:
        key = (type_name, tuple(fields))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(type_name, key[1])
            if plan is None:
                return self._classes[type_name](**fields)
        cls, rest, given = plan
        msg = cls.__new__(cls)
        put = object.__setattr__
        for slot, value in rest:
            put(msg, slot, value)
        for slot, value in zip(given, fields.values(), strict=True):
            put(msg, slot, value)
        return msg


_new = _MessageFactory(_CLASSES, _PER_DETECTION)


def to_detection2d(det: Detection, header: Header, unknown_label: str) -> Detection2D:
    result: Detection2D = contract.detection2d(_new, header, det, unknown_label)
    return result


def to_detection_arrays(
    detections: Sequence[Detection], header: Header, unknown_label: str,
    score_method: str, threshold: float, nega: bool, track_evidence: str = '',
) -> tuple[Detection2DArray, OodDetectionArray]:
    """Both output messages for one frame, with the image header copied unchanged
    (track_evidence: the evidence rule when the verdicts are tracks', else '')."""
    plain, rich = contract.detection_arrays(_new, header, detections, unknown_label,
                                            score_method, threshold, nega, track_evidence)
    return plain, rich


def to_detection_array(
    detections: Sequence[Detection], header: Header, unknown_label: str
) -> Detection2DArray:
    """The Detection2DArray alone, header copied unchanged (to_detection_arrays' first)."""
    plain: Detection2DArray = contract.detection_array(_new, header, detections, unknown_label)
    return plain


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
