"""Core detections to ROS messages: the public output contract of the node.

Detection2DArray contract (documented in the README):
- bbox centre and size are in source-image pixels;
- results[0] is the verdict: an ID label with the detector confidence in [0, 1], or the
  unknown label with the OOD confidence in [0, 1];
- for unknowns results[1] is the best ID label with its raw detector confidence;
- Detection2D.id is left empty for trackers.
"""

from __future__ import annotations

import array
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D,
    Detection2D,
    Detection2DArray,
    LabelInfo,
    ObjectHypothesisWithPose,
    VisionClass,
)

from negas_ros.detection import Detection
from negas_ros.msg import OodDetection, OodDetectionArray

__all__ = [
    'UNKNOWN_CLASS_ID',
    'bgr_to_image_msg',
    'to_detection2d',
    'to_detection_arrays',
    'to_label_info',
]

# vision_msgs reserves 65535 in LabelInfo for "unlabeled"; unknown objects use it.
UNKNOWN_CLASS_ID = 65535


def _hypothesis(class_id: str, score: float) -> ObjectHypothesisWithPose:
    result = ObjectHypothesisWithPose()
    result.hypothesis.class_id = class_id
    result.hypothesis.score = float(score)
    return result


def to_detection2d(det: Detection, header: Header, unknown_label: str) -> Detection2D:
    msg = Detection2D()
    msg.header = header
    x1, y1, x2, y2 = det.box_xyxy
    box = BoundingBox2D()
    box.center.position.x = (x1 + x2) / 2.0
    box.center.position.y = (y1 + y2) / 2.0
    box.size_x = float(x2 - x1)
    box.size_y = float(y2 - y1)
    msg.bbox = box
    if det.is_ood:
        msg.results = [_hypothesis(unknown_label, det.ood_confidence),
                       _hypothesis(det.id_label, det.id_confidence)]
    else:
        msg.results = [_hypothesis(det.id_label, det.id_confidence)]
    return msg


def to_detection_arrays(
    detections: Sequence[Detection], header: Header, unknown_label: str,
    score_method: str, threshold: float, nega: bool,
) -> tuple[Detection2DArray, OodDetectionArray]:
    """Both output messages for one frame, with the image header copied unchanged."""
    plain = Detection2DArray(header=header)
    rich = OodDetectionArray(header=header, score_method=score_method,
                             threshold=float(threshold), nega=nega)
    for det in detections:
        d2d = to_detection2d(det, header, unknown_label)
        plain.detections.append(d2d)
        rich.detections.append(OodDetection(
            detection=d2d,
            is_ood=bool(det.is_ood),
            id_score=float(det.id_score),
            ood_confidence=float(det.ood_confidence),
            id_label=det.id_label,
            id_confidence=float(det.id_confidence),
            negative_label=det.neg_label or '',
            negative_confidence=float(det.neg_confidence),
        ))
    return plain, rich


def to_label_info(
    id_labels: Sequence[str], unknown_label: str, box_threshold: float, header: Header
) -> LabelInfo:
    """ID labels get their index as class_id; the unknown label gets 65535 ("unlabeled")."""
    msg = LabelInfo(header=header, threshold=float(box_threshold))
    msg.class_map = [VisionClass(class_id=i, class_name=name) for i, name in enumerate(id_labels)]
    msg.class_map.append(VisionClass(class_id=UNKNOWN_CLASS_ID, class_name=unknown_label))
    return msg


def bgr_to_image_msg(image_bgr: npt.NDArray[np.uint8], header: Header) -> Image:
    msg = Image(header=header, height=int(image_bgr.shape[0]), width=int(image_bgr.shape[1]),
                encoding='bgr8', is_bigendian=0, step=int(image_bgr.shape[1]) * 3)
    # array.array from bytes skips the per-element checks of the generated setter.
    msg.data = array.array('B', np.ascontiguousarray(image_bgr).tobytes())
    return msg
