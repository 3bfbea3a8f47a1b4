"""Bag messages (rosbags) and node messages (rclpy) carry the same content.

negas_ros.bag.messages rebuilds the node's output contract without rclpy; this checks it
against negas_ros.ros.conversions: the rosbags CDR bytes, deserialised by rclpy, equal the
node's message field for field. (Bytes are not compared: rclpy leaves CDR alignment padding
uninitialised, rosbags writes zeros.)
"""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from negas_ros.bag import messages
from negas_ros.bag.bdd100k import BoxLabel
from negas_ros.detection import Detection
from negas_ros.ros.conversions import to_detection_arrays, to_label_info

pytestmark = pytest.mark.ros


def _detection(box: tuple[float, float, float, float], label: str, ood: bool) -> Detection:
    return Detection(box, label, 0.875, np.array([0.875, 0.1], np.float32),
                     np.array([0.6], np.float32), 'mannequin' if ood else None, 0.6,
                     0.35 if ood else 0.8, 0.65 if ood else 0.2, ood)


def _rclpy_header() -> Header:
    header = Header(frame_id='camera')
    header.stamp.sec, header.stamp.nanosec = 1_700_000_000, 123_456_789
    return header


def _bag_bytes(msg: object, msgtype: str) -> bytes:
    return bytes(messages.typestore().serialize_cdr(msg, msgtype))


def _same(bag_msg: object, msgtype: str, node_msg: object) -> bool:
    return bool(deserialize_message(_bag_bytes(bag_msg, msgtype), type(node_msg)) == node_msg)


def test_detection_arrays_match_the_node_serialisation() -> None:
    detections = [_detection((10.5, 20.0, 110.25, 80.0), 'car', False),
                  _detection((200.0, 100.0, 220.0, 160.0), 'pedestrian', True)]
    plain, rich = to_detection_arrays(detections, _rclpy_header(), 'unknown', 'negs', 0.5, True)
    header = messages.header(1_700_000_000_123_456_789, 'camera')
    bag_plain, bag_rich = messages.detection_arrays(header, detections, 'unknown', 'negs', 0.5,
                                                    True)
    assert _same(bag_plain, messages.DETECTION_ARRAY, plain)
    assert _same(bag_rich, messages.OOD_DETECTION_ARRAY, rich)
    # rosbags reads what rclpy writes, too (rosbags re-serialises it to the same bytes).
    store = messages.typestore()
    read = store.deserialize_cdr(bytes(serialize_message(rich)), messages.OOD_DETECTION_ARRAY)
    assert _bag_bytes(read, messages.OOD_DETECTION_ARRAY) == _bag_bytes(
        bag_rich, messages.OOD_DETECTION_ARRAY)


def test_label_info_and_images_match() -> None:
    # float32 threshold: a value exact in float32, as rclpy keeps the Python float unrounded.
    info = to_label_info(['car', 'bus'], 'unknown', 0.25, _rclpy_header())
    bag_info = messages.label_info(messages.header(1_700_000_000_123_456_789, 'camera'),
                                   ['car', 'bus'], 'unknown', 0.25)
    assert _same(bag_info, messages.LABEL_INFO, info)
    payload = b'\xff\xd8not really a jpeg\xff\xd9'
    image = CompressedImage(header=_rclpy_header(), format='jpeg', data=payload)
    bag_image = messages.compressed_image(messages.header(1_700_000_000_123_456_789, 'camera'),
                                          'jpeg', payload)
    assert _same(bag_image, messages.COMPRESSED_IMAGE, image)


def test_ground_truth_reads_back_in_rclpy() -> None:
    labels = (BoxLabel('car', (10.0, 20.0, 110.0, 80.0), '42'),
              BoxLabel('traffic light', (0.0, 0.0, 5.0, 12.0), ''))
    bag_msg = messages.ground_truth_array(messages.header(5_000_000_001, 'cam'), labels)
    msg = deserialize_message(_bag_bytes(bag_msg, messages.DETECTION_ARRAY), Detection2DArray)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (5, 1)
    assert [d.results[0].hypothesis.class_id for d in msg.detections] == ['car',
                                                                         'traffic light']
    assert [d.id for d in msg.detections] == ['42', '']
    assert msg.detections[0].bbox.size_x == 100.0
    assert msg.detections[0].results[0].pose.pose.orientation.w == 1.0
    assert messages.ground_truth_from_msg(bag_msg) == labels
