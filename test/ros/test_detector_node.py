"""End to end through real rclpy and DDS: a detector_node process and a test node.

The test node publishes camera images from this process; the detector runs in its own process
(started like `ros2 run negas_ros detector_node`) on a tiny random-weight Grounding DINO.
"""

from __future__ import annotations

from collections.abc import Iterator
import time
from typing import Any

from harness import (
    STARTUP_S,
    Client,
    NodeProcess,
    check_ood_matches_plain,
    running_detector,
    start_node,
    wait_for,
)
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from negas_ros.ros.conversions import UNKNOWN_CLASS_ID, bgr_to_image_msg
from negas_ros.synthetic import street_frame

pytestmark = [pytest.mark.ros, pytest.mark.model]

ID_LABELS = ['car', 'person', 'bus']


@pytest.fixture(scope='module')
def detector(rclpy_context: None, tiny_gdino_dir: Any,
             labels_file: Any) -> Iterator[tuple[NodeProcess, Client]]:
    # Unrelated still frames: the per-frame contract (tracking: test_tracking_node.py).
    params = {'model': str(tiny_gdino_dir), 'labels_file': str(labels_file),
              'box_threshold': '0.0', 'ood_threshold': '0.5', 'max_detections': '20',
              'tracking': 'false'}
    with running_detector('/e2e', params, Client('/e2e', 'e2e_client')) as running:
        yield running


def _frame(index: int = 0, width: int = 320, height: int = 240) -> np.ndarray:
    return street_frame(index, width, height, seed=7)


def _check_contract(msg: Detection2DArray, width: int, height: int,
                    id_labels: list[str]) -> None:
    assert msg.detections, 'box_threshold 0 must yield detections'
    for det in msg.detections:
        box = det.bbox
        assert box.size_x > 0 and box.size_y > 0
        x1 = box.center.position.x - box.size_x / 2
        x2 = box.center.position.x + box.size_x / 2
        y1 = box.center.position.y - box.size_y / 2
        y2 = box.center.position.y + box.size_y / 2
        assert -1e-3 <= x1 < x2 <= width + 1e-3 and -1e-3 <= y1 < y2 <= height + 1e-3
        verdict = det.results[0].hypothesis
        assert verdict.class_id in [*id_labels, 'unknown']
        assert 0.0 <= verdict.score <= 1.0
        if verdict.class_id == 'unknown':
            assert len(det.results) == 2
            assert det.results[1].hypothesis.class_id in id_labels
        else:
            assert len(det.results) == 1
        assert det.id == ''


def test_images_come_back_as_detections_with_the_same_header(detector: Any) -> None:
    _, client = detector
    for index, (width, height) in enumerate([(320, 240), (333, 211)]):
        header, msg = client.send_and_wait(_frame(index, width, height))
        assert msg.header.frame_id == header.frame_id
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (header.stamp.sec, 123)
        _check_contract(msg, width, height, ID_LABELS)
        check_ood_matches_plain(client.ood[client.key(header)], msg, ID_LABELS,
                                ['van', 'mannequin', 'tram', 'scooter'])


def test_label_info_lists_id_labels_and_unknown(detector: Any) -> None:
    _, client = detector
    assert wait_for(lambda: bool(client.label_info), 15.0), 'no LabelInfo received'
    info = client.label_info[-1]
    names = {c.class_id: c.class_name for c in info.class_map}
    assert names == {0: 'car', 1: 'person', 2: 'bus', UNKNOWN_CLASS_ID: 'unknown'}


def test_malformed_image_is_skipped_and_next_good_one_processed(detector: Any) -> None:
    _, client = detector
    client.send_and_wait(_frame())  # the node is up and matched
    bad_header = client.next_header()
    bad = bgr_to_image_msg(_frame(), bad_header)
    bad.step = bad.step + 7  # data length no longer matches step * height
    client.image_pub.publish(bad)
    time.sleep(0.5)
    wrong_encoding = bgr_to_image_msg(_frame(), client.next_header())
    wrong_encoding.encoding = '32FC1'
    client.image_pub.publish(wrong_encoding)
    time.sleep(0.5)
    good_header, good = client.send_and_wait(_frame(3))
    assert good.header.stamp.sec == good_header.stamp.sec
    assert client.key(bad_header) not in client.detections
    assert client.key(wrong_encoding.header) not in client.detections


def test_runtime_parameter_update_changes_the_output(detector: Any) -> None:
    _, client = detector
    frame = _frame(5)
    results = client.set_parameters(ood_threshold=0.0)
    assert results[0].successful, results[0].reason
    _, msg = client.send_and_wait(frame)
    assert all(d.results[0].hypothesis.class_id != 'unknown' for d in msg.detections)
    results = client.set_parameters(ood_threshold=1.0)
    assert results[0].successful, results[0].reason
    _, msg = client.send_and_wait(frame)
    assert msg.detections
    assert all(d.results[0].hypothesis.class_id == 'unknown' for d in msg.detections)
    client.set_parameters(ood_threshold=0.5)


def test_label_lists_change_at_run_time_atomically(detector: Any, labels_file: Any) -> None:
    _, client = detector
    result = client.set_parameters_atomically(
        labels_file='', id_labels=['truck', 'bicycle'], negative_labels=['cart'])
    assert result.successful, result.reason
    try:
        _, msg = client.send_and_wait(_frame(2))
        _check_contract(msg, 320, 240, ['truck', 'bicycle'])
        assert wait_for(lambda: {c.class_name for c in client.label_info[-1].class_map}
                        == {'truck', 'bicycle', 'unknown'}, 10.0)
    finally:
        restored = client.set_parameters_atomically(
            labels_file=str(labels_file), id_labels=[''], negative_labels=[''])
        assert restored.successful, restored.reason


@pytest.mark.parametrize(('name', 'value', 'reason_part'), [
    ('score_method', 'bogus', 'score_method'),
    ('ood_threshold', 7.0, 'ood_threshold'),
    ('unknown_label', 'car', 'unknown_label'),
])
def test_invalid_update_is_rejected_and_old_config_keeps_working(
        detector: Any, name: str, value: Any, reason_part: str) -> None:
    _, client = detector
    result = client.set_parameters(**{name: value})[0]
    assert not result.successful
    assert reason_part in result.reason
    header, msg = client.send_and_wait(_frame(4))
    ood = client.ood[client.key(header)]
    assert ood.score_method == 'negs' and ood.threshold == pytest.approx(0.5)
    _check_contract(msg, 320, 240, ID_LABELS)


def test_invalid_label_update_names_the_key(detector: Any) -> None:
    _, client = detector
    result = client.set_parameters_atomically(
        labels_file='', id_labels=['car', 'bus'], negative_labels=['cars'])
    assert not result.successful
    assert 'negative_labels' in result.reason
    _, msg = client.send_and_wait(_frame(1))
    _check_contract(msg, 320, 240, ID_LABELS)


def test_camera_sized_best_effort_frames_arrive_between_processes(detector: Any) -> None:
    _, client = detector
    _, msg = client.send_and_wait(_frame(0, 1280, 720))
    _check_contract(msg, 1280, 720, ID_LABELS)


def test_no_backlog_when_frames_come_faster_than_inference(detector: Any) -> None:
    _, client = detector
    client.send_and_wait(_frame())
    headers = [client.send(_frame(i, 640, 480)) for i in range(25)]
    last = client.result_for(headers[-1])
    assert last is not None, 'the newest frame must always be processed'
    time.sleep(1.0)
    answered = [h for h in headers if client.key(h) in client.detections]
    # Inference (~tens of ms) is slower than publishing 25 frames back to back: stale frames
    # are dropped instead of queued, and the newest one is never dropped.
    assert len(answered) < len(headers)


def test_compressed_transport_and_corrupt_jpeg(rclpy_context: None, tiny_gdino_dir: Any,
                                               labels_file: Any) -> None:
    import cv2

    params = {'model': str(tiny_gdino_dir), 'labels_file': str(labels_file),
              'box_threshold': '0.0', 'input_transport': 'compressed', 'tracking': 'false'}
    with running_detector('/e2e_jpeg', params, Client('/e2e_jpeg', 'e2e_jpeg_client'),
                          input_topic='image/compressed') as (node, client):
        ok, jpeg = cv2.imencode('.jpg', _frame(1, 320, 240))
        assert ok

        def send_jpeg(data: bytes) -> Header:
            header = client.next_header()
            client.compressed_pub.publish(CompressedImage(header=header, format='jpeg',
                                                          data=data))
            return header

        first = None
        for _ in range(3):  # until discovery has settled and a frame came back
            first = client.result_for(send_jpeg(jpeg.tobytes()), timeout=10.0)
            if first is not None:
                break
        assert first is not None, f'no detections for the JPEG frame:\n{node.log()}'
        _check_contract(first, 320, 240, ID_LABELS)
        bad_header = send_jpeg(b'\xff\xd8garbage')
        time.sleep(0.5)
        good = client.result_for(send_jpeg(jpeg.tobytes()))
        assert good is not None, 'the frame after a corrupt JPEG must be processed'
        assert client.key(bad_header) not in client.detections
        assert wait_for(lambda: 'cannot decode compressed image' in node.log(), 10.0), node.log()


def test_debug_image_is_published_in_source_size_while_subscribed(detector: Any) -> None:
    _, client = detector
    received: list[Image] = []
    sub = client.create_subscription(Image, '/e2e/debug_image', received.append, 10)
    try:
        assert wait_for(lambda: client.count_publishers('/e2e/debug_image') > 0, 10.0)
        def debug_for(sec: int) -> list[Image]:
            return [m for m in received if m.header.stamp.sec == sec]

        for _ in range(5):
            header, _msg = client.send_and_wait(_frame(6, 333, 211))
            if wait_for(lambda sec=header.stamp.sec: bool(debug_for(sec)), 3.0):
                break
        debug = debug_for(header.stamp.sec)[0]
        assert (debug.width, debug.height, debug.encoding) == (333, 211, 'bgr8')
        assert debug.header.frame_id == header.frame_id
    finally:
        client.destroy_subscription(sub)


def test_incompatible_publisher_qos_is_reported(rclpy_context: None, tiny_gdino_dir: Any,
                                                labels_file: Any) -> None:
    # The node's subscription is overridden to reliable; a best-effort camera cannot match.
    node = start_node('/e2e_qos', {
        'model': str(tiny_gdino_dir), 'labels_file': str(labels_file),
        'qos_overrides./e2e_qos/image.subscription.reliability': 'reliable'})
    client = Client('/e2e_qos', 'e2e_qos_client')
    try:
        assert wait_for(lambda: 'loaded grounding_dino' in node.log(), STARTUP_S), node.log()
        assert wait_for(lambda: 'has QoS incompatible' in node.log(), 20.0), node.log()
        assert 'qos_overrides.' in node.log()
    finally:
        client.destroy_node()
        node.stop()


def test_nan_model_output_is_an_error_in_diagnostics_not_an_empty_frame(
        rclpy_context: None, tiny_gdino_dir: Any, labels_file: Any, tmp_path: Any) -> None:
    import shutil

    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from safetensors.torch import load_file, save_file

    broken = tmp_path / 'nan_gdino'
    shutil.copytree(tiny_gdino_dir, broken)
    weights = load_file(str(broken / 'model.safetensors'))
    weights['model.decoder.layer_norm.weight'].fill_(float('nan'))  # as a corrupt download
    save_file(weights, str(broken / 'model.safetensors'), metadata={'format': 'pt'})

    client = Client('/e2e_nan', 'e2e_nan_client')
    statuses: list[DiagnosticStatus] = []
    # Only this node's status: the other tests' detector (module scope) publishes too.
    client.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda msg: statuses.extend(
            s for s in msg.status if s.name.startswith('negas_detector')
            and any(kv.key == 'topic' and kv.value == '/e2e_nan/image' for kv in s.values)),
        10)

    def count(key: str) -> int:
        values = [dict((kv.key, kv.value) for kv in s.values) for s in list(statuses)]
        return max((int(v.get(key, 0)) for v in values), default=0)

    params = {'model': str(broken), 'labels_file': str(labels_file), 'box_threshold': '0.0'}
    with running_detector('/e2e_nan', params, client) as (node, _):
        headers = [client.send(_frame(i)) for i in range(3)]
        assert wait_for(lambda: count('non_finite_outputs') >= 1, 30.0), node.log()
        assert all(client.result_for(h, timeout=1.0) is None for h in headers), \
            'a NaN frame must not be published as an empty detection array'
        last = statuses[-1]
        assert last.level == DiagnosticStatus.ERROR and 'NaN' in last.message
        assert count('errors') >= count('non_finite_outputs')
        assert 'NaN/inf logits or boxes' in node.log()
