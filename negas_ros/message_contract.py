"""The node's output-message contract, as one pure builder (no ROS imports).

Both the node (:mod:`negas_ros.ros.conversions`, rclpy messages) and the bag tools
(:mod:`negas_ros.bag.messages`, rosbags messages) build their Detection2DArray,
OodDetectionArray and LabelInfo here. They differ only in how one message is made: each
passes a :data:`MessageFactory`, ``new(type_name, **fields)``, that returns its own message
class for the ROS type name (e.g. ``'vision_msgs/msg/Detection2D'``) built from the fields
(a factory may fill fields that the contract leaves at their defaults, such as a pose).

Detection2DArray contract (documented in the README):

- bbox centre and size are in source-image pixels;
- results[0] is the verdict: an ID label with the detector confidence in [0, 1], or the
  unknown label with the OOD confidence in [0, 1];
- for unknowns results[1] is the best ID label with its raw detector confidence;
- Detection2D.id is the track id while tracking is on (stable while the track lives, unique
  per camera), else empty.

LabelInfo: each ID label gets its index as class_id; the unknown label gets
:data:`UNKNOWN_CLASS_ID`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from negas_ros.detection import Detection

__all__ = [
    'BOUNDING_BOX_2D',
    'DETECTION_2D',
    'DETECTION_ARRAY',
    'HYPOTHESIS',
    'HYPOTHESIS_WITH_POSE',
    'LABEL_INFO',
    'OOD_DETECTION',
    'OOD_DETECTION_ARRAY',
    'POINT_2D',
    'POSE_2D',
    'UNKNOWN_CLASS_ID',
    'VISION_CLASS',
    'MessageFactory',
    'bbox',
    'detection2d',
    'detection_array',
    'detection_arrays',
    'hypothesis',
    'label_info',
    'track_id',
]

# vision_msgs reserves 65535 in LabelInfo for "unlabeled"; unknown objects use it.
UNKNOWN_CLASS_ID = 65535

POINT_2D = 'vision_msgs/msg/Point2D'
POSE_2D = 'vision_msgs/msg/Pose2D'
BOUNDING_BOX_2D = 'vision_msgs/msg/BoundingBox2D'
HYPOTHESIS = 'vision_msgs/msg/ObjectHypothesis'
HYPOTHESIS_WITH_POSE = 'vision_msgs/msg/ObjectHypothesisWithPose'
DETECTION_2D = 'vision_msgs/msg/Detection2D'
DETECTION_ARRAY = 'vision_msgs/msg/Detection2DArray'
VISION_CLASS = 'vision_msgs/msg/VisionClass'
LABEL_INFO = 'vision_msgs/msg/LabelInfo'
OOD_DETECTION = 'negas_ros/msg/OodDetection'
OOD_DETECTION_ARRAY = 'negas_ros/msg/OodDetectionArray'

MessageFactory = Callable[..., Any]
"""``new(type_name, **fields)``: one message of the ROS type ``type_name``."""


def hypothesis(new: MessageFactory, class_id: str, score: float) -> Any:
    """ObjectHypothesisWithPose with ``class_id`` and ``score`` (the pose left to the factory)."""
    return new(HYPOTHESIS_WITH_POSE,
               hypothesis=new(HYPOTHESIS, class_id=class_id, score=float(score)))


def bbox(new: MessageFactory, box_xyxy: Sequence[float]) -> Any:
    """BoundingBox2D (centre and size) of a continuous ``(x1, y1, x2, y2)`` pixel box."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    centre = new(POSE_2D, position=new(POINT_2D, x=(x1 + x2) / 2.0, y=(y1 + y2) / 2.0),
                 theta=0.0)
    return new(BOUNDING_BOX_2D, center=centre, size_x=x2 - x1, size_y=y2 - y1)


def detection2d(new: MessageFactory, header: Any, det: Detection, unknown_label: str) -> Any:
    """Detection2D of one detection: verdict first, then for unknowns the best ID label."""
    if det.is_ood:
        results = [hypothesis(new, unknown_label, det.ood_confidence),
                   hypothesis(new, det.id_label, det.id_confidence)]
    else:
        results = [hypothesis(new, det.id_label, det.id_confidence)]
    return new(DETECTION_2D, header=header, results=results, bbox=bbox(new, det.box_xyxy),
               id=track_id(det))


def track_id(det: Detection) -> str:
    """Detection2D.id of a detection: its track id, '' without a track."""
    return str(det.track_id) if det.track_id >= 0 else ''


def detection_array(new: MessageFactory, header: Any, detections: Sequence[Detection],
                    unknown_label: str) -> Any:
    """The Detection2DArray alone (what a node whose rich output nobody reads publishes)."""
    return new(DETECTION_ARRAY, header=header,
               detections=[detection2d(new, header, det, unknown_label) for det in detections])


def detection_arrays(
    new: MessageFactory, header: Any, detections: Sequence[Detection], unknown_label: str,
    score_method: str, threshold: float, nega: bool, track_evidence: str = '',
) -> tuple[Any, Any]:
    """(Detection2DArray, OodDetectionArray) for one frame, ``header`` copied unchanged.

    track_evidence: the evidence rule when the detections carry track verdicts, else ''.
    """
    plain = []
    rich = []
    for det in detections:
        d2d = detection2d(new, header, det, unknown_label)
        plain.append(d2d)
        rich.append(new(
            OOD_DETECTION, detection=d2d, is_ood=bool(det.is_ood), id_score=float(det.id_score),
            ood_confidence=float(det.ood_confidence), id_label=det.id_label,
            id_confidence=float(det.id_confidence), negative_label=det.neg_label or '',
            negative_confidence=float(det.neg_confidence), track_id=d2d.id,
            track_frames=int(det.track_frames), frame_is_ood=bool(det.own_is_ood),
            frame_id_score=float(det.own_id_score)))
    return (new(DETECTION_ARRAY, header=header, detections=plain),
            new(OOD_DETECTION_ARRAY, header=header, detections=rich, score_method=score_method,
                threshold=float(threshold), nega=bool(nega), track_evidence=track_evidence))


def label_info(new: MessageFactory, header: Any, id_labels: Sequence[str], unknown_label: str,
               box_threshold: float) -> Any:
    """LabelInfo: index per ID label, :data:`UNKNOWN_CLASS_ID` for the unknown label."""
    class_map = [new(VISION_CLASS, class_id=i, class_name=name)
                 for i, name in enumerate(id_labels)]
    class_map.append(new(VISION_CLASS, class_id=UNKNOWN_CLASS_ID, class_name=unknown_label))
    return new(LABEL_INFO, header=header, class_map=class_map, threshold=float(box_threshold))
