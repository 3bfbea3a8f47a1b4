"""Three cameras, one detector_node, through real rclpy and DDS (yolo_world, tiny weights).

Each camera's outputs carry its own input's headers and the detections of its own frame; a
silent camera stalls no other; frames of several cameras share model runs; /diagnostics has
one status per camera.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from harness import NodeProcess, running_detector, wait_for
import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from negas_ros.msg import OodDetectionArray
from negas_ros.ros.conversions import bgr_to_image_msg
from negas_ros.synthetic import street_frame

pytestmark = [pytest.mark.ros, pytest.mark.model]

NS = '/multi'
CAMERAS = ('front', 'left', 'right')
# Different sizes per camera: a mix-up inside a batch would put boxes outside their image.
SIZES = {'front': (320, 240), 'left': (256, 320), 'right': (400, 200)}
Key = tuple[int, int, str]


class MultiClient(Node):
    """Publishes each camera's frames and collects each camera's outputs and diagnostics."""

    def __init__(self) -> None:
        super().__init__('multi_client')
        self.lock = threading.Lock()
        self.pubs = {c: self.create_publisher(Image, f'{NS}/{c}/image', qos_profile_sensor_data)
                     for c in CAMERAS}
        self.detections: dict[str, dict[Key, Detection2DArray]] = {c: {} for c in CAMERAS}
        self.ood: dict[str, dict[Key, OodDetectionArray]] = {c: {} for c in CAMERAS}
        self.diagnostics: dict[str, dict[str, str]] = {}
        for camera in CAMERAS:
            self.create_subscription(Detection2DArray, f'{NS}/{camera}/detections',
                                     lambda m, c=camera: self._store(self.detections[c], m), 100)
            self.create_subscription(OodDetectionArray, f'{NS}/{camera}/ood_detections',
                                     lambda m, c=camera: self._store(self.ood[c], m), 100)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self._stamp = 5000

    @staticmethod
    def key(header: Header) -> Key:
        return header.stamp.sec, header.stamp.nanosec, header.frame_id

    def _store(self, into: dict[Key, Any], msg: Any) -> None:
        with self.lock:
            into[self.key(msg.header)] = msg

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self.lock:
            for status in msg.status:
                if status.name.startswith('negas_detector: inference'):
                    self.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}

    def send(self, camera: str, index: int) -> Header:
        self._stamp += 1
        header = Header(frame_id=f'{camera}_optical')
        header.stamp.sec, header.stamp.nanosec = self._stamp, 7
        self.pubs[camera].publish(bgr_to_image_msg(frame(camera, index), header))
        return header

    def arrived(self, camera: str, header: Header) -> bool:
        key = self.key(header)
        with self.lock:
            return key in self.detections[camera] and key in self.ood[camera]

    def counter(self, camera: str, name: str) -> int:
        with self.lock:
            values = self.diagnostics.get(f'negas_detector: inference {camera}', {})
        return int(values.get(name, -1))


def frame(camera: str, index: int) -> np.ndarray:
    width, height = SIZES[camera]
    return street_frame(index, width, height, seed=CAMERAS.index(camera) + 11)


@pytest.fixture(scope='module')
def detector(rclpy_context: None, tiny_yolo_world_dir: Path,
             labels_file: Path) -> Iterator[tuple[NodeProcess, MultiClient]]:
    params = {'backend': 'yolo_world', 'model': str(tiny_yolo_world_dir),
              'labels_file': str(labels_file), 'box_threshold': '0.0', 'max_detections': '20',
              'cameras': '[front, left, right]'}
    with running_detector(NS, params, MultiClient(), input_topic='front/image') as running:
        node, client = running
        for camera in CAMERAS[1:]:
            assert wait_for(lambda c=camera: client.count_subscribers(f'{NS}/{c}/image') > 0,
                            30.0), node.log()
        yield running


def _send_until_back(client: MultiClient, cameras: tuple[str, ...],
                     rounds: int = 6) -> dict[str, tuple[Header, int]]:
    """Send one frame per camera, all at once, until each camera's comes back (best effort may
    lose one while discovery settles). Returns camera -> (header, frame index) answered."""
    answered: dict[str, tuple[Header, int]] = {}
    for index in range(rounds):
        sent = {c: client.send(c, index) for c in cameras if c not in answered}
        wait_for(lambda s=sent: all(client.arrived(c, h) for c, h in s.items()), 10.0)
        answered |= {c: (h, index) for c, h in sent.items() if client.arrived(c, h)}
        if len(answered) == len(cameras):
            return answered
    raise AssertionError(f'no result for {sorted(set(cameras) - set(answered))}')


def _boxes(msg: Detection2DArray) -> np.ndarray:
    return np.array([[d.bbox.center.position.x - d.bbox.size_x / 2,
                      d.bbox.center.position.y - d.bbox.size_y / 2,
                      d.bbox.center.position.x + d.bbox.size_x / 2,
                      d.bbox.center.position.y + d.bbox.size_y / 2] for d in msg.detections])


def test_each_camera_gets_its_own_headers_and_detections(
        detector: Any, tiny_yolo_world_dir: Path, labels_file: Path) -> None:
    import cv2

    from negas_ros.backends.base import create_backend
    from negas_ros.config import config_from_values
    from negas_ros.pipeline import DetectorPipeline

    _, client = detector
    answered = _send_until_back(client, CAMERAS)
    config = config_from_values({'backend': 'yolo_world', 'model': str(tiny_yolo_world_dir),
                                 'labels_file': str(labels_file), 'box_threshold': 0.0,
                                 'max_detections': 20})
    local = DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))
    for camera, (header, index) in answered.items():
        key = client.key(header)
        with client.lock:
            msg = client.detections[camera][key]
            ood = client.ood[camera][key]
            # Only this camera's frames came out on this camera's topics.
            foreign = [k for k in client.detections[camera] if not k[2].startswith(camera)]
        assert not foreign, f'{camera}/detections carried frames of {foreign}'
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == key
        assert (ood.header.stamp.sec, ood.header.frame_id) == (key[0], key[2])
        assert 0 < len(msg.detections) == len(ood.detections) <= 20
        # The detections are those of this camera's frame (the same model in this process).
        expected = local.process(cv2.cvtColor(frame(camera, index), cv2.COLOR_BGR2RGB))
        np.testing.assert_allclose(_boxes(msg)[0], expected.detections[0].box_xyxy, atol=0.05)
        width, height = SIZES[camera]
        boxes = _boxes(msg)
        assert boxes[:, 2].max() <= width + 1e-3 and boxes[:, 3].max() <= height + 1e-3


def test_frames_of_several_cameras_share_model_runs(detector: Any) -> None:
    _, client = detector
    for _ in range(10):
        _send_until_back(client, CAMERAS)
        wait_for(lambda: sum(max(client.counter(c, 'batched'), 0) for c in CAMERAS) > 0, 2.5)
        if sum(max(client.counter(c, 'batched'), 0) for c in CAMERAS) > 0:
            break
    batched = {c: client.counter(c, 'batched') for c in CAMERAS}
    assert sum(batched.values()) >= 2, f'no camera frames were batched together: {batched}'


def test_a_silent_camera_does_not_stall_the_others(detector: Any) -> None:
    _, client = detector
    _send_until_back(client, CAMERAS)
    time.sleep(2.5)  # /diagnostics comes once a second: let it catch up with the last frame
    left_received = client.counter('left', 'received')
    before = {c: client.counter(c, 'processed') for c in ('front', 'right')}
    assert left_received > 0 and min(before.values()) > 0
    # 'left' goes silent; the others keep running: every round's frames come back.
    for _ in range(5):
        _send_until_back(client, ('front', 'right'))
    assert wait_for(lambda: all(client.counter(c, 'processed') >= before[c] + 5
                                for c in before), 5.0), (before, client.diagnostics)
    assert client.counter('left', 'received') == left_received
    # One status per camera, each naming its own input topic.
    with client.lock:
        statuses = dict(client.diagnostics)
    assert set(statuses) == {f'negas_detector: inference {c}' for c in CAMERAS}
    for camera in CAMERAS:
        values = statuses[f'negas_detector: inference {camera}']
        assert values['topic'] == f'{NS}/{camera}/image'
        assert {'received', 'processed', 'dropped', 'bad_images', 'latency_ms'} <= set(values)
