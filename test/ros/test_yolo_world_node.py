"""End to end through real rclpy and DDS with ``backend: yolo_world`` (tiny random weights).

Same topics, parameters and OOD contract as the Grounding DINO node; switching backends is a
parameter. Boxes must come back in source-image pixels: the node's boxes for a frame equal those
of the same pipeline run in this process on the same frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import Client, NodeProcess, check_ood_matches_plain, running_detector
import numpy as np
import pytest
from vision_msgs.msg import Detection2DArray

from negas_ros.synthetic import street_frame

pytestmark = [pytest.mark.ros, pytest.mark.model]

ID_LABELS = ['car', 'person', 'bus']
NEG_LABELS = ['van', 'mannequin', 'tram', 'scooter']


def _params(model_dir: Path, labels_file: Path) -> dict[str, str]:
    # Unrelated still frames: the per-frame contract (tracking: test_tracking_node.py).
    return {'backend': 'yolo_world', 'model': str(model_dir), 'labels_file': str(labels_file),
            'box_threshold': '0.0', 'ood_threshold': '0.5', 'max_detections': '20',
            'tracking': 'false'}


@pytest.fixture(scope='module')
def detector(rclpy_context: None, tiny_yolo_world_dir: Path,
             labels_file: Path) -> Iterator[tuple[NodeProcess, Client]]:
    with running_detector('/yw', _params(tiny_yolo_world_dir, labels_file),
                          Client('/yw', 'yw_client')) as running:
        yield running


def _frame(index: int = 0, width: int = 320, height: int = 240) -> np.ndarray:
    return street_frame(index, width, height, seed=7)


def _boxes(msg: Detection2DArray) -> np.ndarray:
    return np.array([[d.bbox.center.position.x - d.bbox.size_x / 2,
                      d.bbox.center.position.y - d.bbox.size_y / 2,
                      d.bbox.center.position.x + d.bbox.size_x / 2,
                      d.bbox.center.position.y + d.bbox.size_y / 2] for d in msg.detections])


def _check_contract(msg: Detection2DArray, width: int, height: int) -> None:
    assert 0 < len(msg.detections) <= 20, 'box_threshold 0 must yield detections'
    boxes = _boxes(msg)
    assert np.all(boxes[:, 0] >= -1e-3) and np.all(boxes[:, 2] <= width + 1e-3)
    assert np.all(boxes[:, 1] >= -1e-3) and np.all(boxes[:, 3] <= height + 1e-3)
    assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
    for det in msg.detections:
        verdict = det.results[0].hypothesis
        assert verdict.class_id in [*ID_LABELS, 'unknown']
        assert 0.0 <= verdict.score <= 1.0
        if verdict.class_id == 'unknown':
            assert det.results[1].hypothesis.class_id in ID_LABELS


def test_frames_come_back_with_the_ood_contract(detector: Any) -> None:
    node, client = detector
    assert 'loaded yolo_world' in node.log()
    for index, (width, height) in enumerate([(320, 240), (333, 211), (1280, 720)]):
        header, msg = client.send_and_wait(_frame(index, width, height))
        assert msg.header.frame_id == header.frame_id
        assert msg.header.stamp.sec == header.stamp.sec
        _check_contract(msg, width, height)
        check_ood_matches_plain(client.ood[client.key(header)], msg, ID_LABELS, NEG_LABELS)


def test_boxes_are_in_source_pixels(detector: Any, tiny_yolo_world_dir: Path,
                                    labels_file: Path) -> None:
    import cv2

    from negas_ros.backends.base import create_backend
    from negas_ros.config import config_from_values
    from negas_ros.pipeline import DetectorPipeline

    _, client = detector
    frame = _frame(4, 640, 360)  # letterboxed into 320 x 320 with 70 px bars
    _, msg = client.send_and_wait(frame)
    config = config_from_values(_params(tiny_yolo_world_dir, labels_file)
                                | {'box_threshold': 0.0, 'ood_threshold': 0.5,
                                   'max_detections': 20, 'tracking': False})
    pipeline = DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))
    local = pipeline.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    # The same weights on the same frame, in this process: the best box must agree (the tiny
    # random model has near-tied scores further down, which thread counts may reorder).
    np.testing.assert_allclose(_boxes(msg)[0], local.detections[0].box_xyxy, atol=0.05)


def test_unknowns_follow_the_ood_threshold(detector: Any) -> None:
    _, client = detector
    frame = _frame(5)
    try:
        assert client.set_parameters(ood_threshold=1.0)[0].successful
        _, msg = client.send_and_wait(frame)
        assert msg.detections
        assert all(d.results[0].hypothesis.class_id == 'unknown' for d in msg.detections)
        assert client.set_parameters(ood_threshold=0.0)[0].successful
        _, msg = client.send_and_wait(frame)
        assert all(d.results[0].hypothesis.class_id != 'unknown' for d in msg.detections)
    finally:
        client.set_parameters(ood_threshold=0.5)


def test_nega_and_labels_change_at_run_time(detector: Any, labels_file: Path) -> None:
    _, client = detector
    assert client.set_parameters(nega=False)[0].successful
    try:
        _, msg = client.send_and_wait(_frame(2))
        _check_contract(msg, 320, 240)
        result = client.set_parameters_atomically(
            labels_file='', id_labels=['truck', 'bicycle'], negative_labels=['cart'])
        assert result.successful, result.reason
        _, msg = client.send_and_wait(_frame(2))
        assert {d.results[0].hypothesis.class_id for d in msg.detections} <= {
            'truck', 'bicycle', 'unknown'}
    finally:
        client.set_parameters(nega=True)
        restored = client.set_parameters_atomically(
            labels_file=str(labels_file), id_labels=[''], negative_labels=[''])
        assert restored.successful, restored.reason
