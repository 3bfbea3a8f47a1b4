"""Core detections to the generated vision_msgs / negas_ros messages (the public contract)."""

from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from negas_ros.detection import Detection
from negas_ros.image_convert import raw_to_rgb
from negas_ros.ros.conversions import (
    UNKNOWN_CLASS_ID,
    bgr_to_image_msg,
    to_detection_array,
    to_detection_arrays,
    to_label_info,
)


def _det(is_ood: bool) -> Detection:
    return Detection(
        box_xyxy=(10.0, 20.0, 50.0, 100.0), id_label='car', id_confidence=0.8,
        id_probs=np.array([0.8, 0.1], np.float32), neg_probs=np.array([0.9], np.float32),
        neg_label='van', neg_confidence=0.9, id_score=0.08, ood_confidence=0.92, is_ood=is_ood)


def test_id_detection_has_one_result_with_the_detector_confidence() -> None:
    header = Header(frame_id='cam')
    header.stamp.sec = 5
    plain, rich = to_detection_arrays([_det(False)], header, 'unknown', 'negs', 0.05, True)
    assert plain.header == header and rich.header == header
    det = plain.detections[0]
    assert det.header == header
    assert (det.bbox.center.position.x, det.bbox.center.position.y) == (30.0, 60.0)
    assert (det.bbox.size_x, det.bbox.size_y) == (40.0, 80.0)
    assert [r.hypothesis.class_id for r in det.results] == ['car']
    assert abs(det.results[0].hypothesis.score - 0.8) < 1e-6
    assert det.id == ''
    assert rich.score_method == 'negs' and rich.threshold == 0.05 and rich.nega
    assert not rich.detections[0].is_ood
    assert rich.detections[0].negative_label == 'van'


def test_unknown_detection_carries_ood_confidence_then_best_id_label() -> None:
    plain, rich = to_detection_arrays([_det(True)], Header(), 'unknown', 'negs', 0.5, False)
    results = plain.detections[0].results
    assert [r.hypothesis.class_id for r in results] == ['unknown', 'car']
    assert abs(results[0].hypothesis.score - 0.92) < 1e-9
    assert abs(results[1].hypothesis.score - 0.8) < 1e-6
    ood = rich.detections[0]
    assert ood.is_ood and abs(ood.id_score - 0.08) < 1e-9 and abs(ood.ood_confidence - 0.92) < 1e-9
    assert ood.detection.results[0].hypothesis.class_id == 'unknown'


def test_label_info_maps_indices_and_reserves_65535_for_unknown() -> None:
    info = to_label_info(['car', 'bus'], 'unknown', 0.3, Header())
    assert [(c.class_id, c.class_name) for c in info.class_map] == [
        (0, 'car'), (1, 'bus'), (UNKNOWN_CLASS_ID, 'unknown')]
    assert abs(info.threshold - 0.3) < 1e-6


def test_debug_image_message_round_trips() -> None:
    bgr = np.random.default_rng(0).integers(0, 255, (7, 5, 3), dtype=np.uint8)
    msg = bgr_to_image_msg(bgr, Header(frame_id='cam'))
    assert (msg.height, msg.width, msg.step, msg.encoding) == (7, 5, 15, 'bgr8')
    back = raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
    np.testing.assert_array_equal(back, bgr[:, :, ::-1])


def test_fast_messages_equal_constructor_built_ones() -> None:
    """The publishing factory skips the generated constructors: what it builds must equal, and
    serialise like, the same contract built with the constructors and their checked setters."""
    import pytest
    from rclpy.serialization import deserialize_message, serialize_message

    from negas_ros import message_contract as contract
    from negas_ros.msg import OodDetectionArray
    from negas_ros.ros import conversions

    def constructed(type_name: str, **fields: object) -> object:
        return conversions._CLASSES[type_name](**fields)

    # Every per-detection type takes the fast path here (a distro whose generated layout
    # differs would fall back to the constructors).
    assert conversions._new.fast_types == frozenset(conversions._PER_DETECTION)
    header = Header(frame_id='front')
    header.stamp.sec, header.stamp.nanosec = 12, 34
    detections = [_det(i % 3 == 0) for i in range(7)]
    fast = to_detection_arrays(detections, header, 'unknown', 'negs_diff', -0.2, True)
    slow = contract.detection_arrays(constructed, header, detections, 'unknown', 'negs_diff',
                                     -0.2, True)
    assert fast[0] == slow[0] and fast[1] == slow[1]
    assert to_detection_array(detections, header, 'unknown') == slow[0]
    assert deserialize_message(serialize_message(fast[1]), OodDetectionArray) == slow[1]
    # A field the type does not have fails loudly, as with the constructor.
    with pytest.raises(AttributeError):
        conversions._new(contract.POINT_2D, x=1.0, z=2.0)
