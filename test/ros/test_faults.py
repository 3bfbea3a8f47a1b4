"""Faults while the node runs, over real DDS: files that break, a model that appears late,
problems that pass, and shutdown in the middle of inference."""

from __future__ import annotations

from pathlib import Path
import shutil
import signal
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from harness import Client, running_detector, unmanaged_detector, wait_for
from lifecycle_msgs.msg import State, Transition
import pytest

from negas_ros.ros.conversions import bgr_to_image_msg
from negas_ros.ros.detector_node import RECENT_PROBLEM_S
from negas_ros.synthetic import street_frame

pytestmark = [pytest.mark.ros, pytest.mark.model]


def _params(model: Path, labels: Path) -> dict[str, str]:
    return {'backend': 'yolo_world', 'model': str(model), 'labels_file': str(labels),
            'box_threshold': '0.0', 'max_detections': '5'}


def test_labels_file_deleted_or_corrupted_after_start(rclpy_context: None, tmp_path: Path,
                                                      tiny_yolo_world_dir: Path) -> None:
    labels = tmp_path / 'labels.yaml'
    labels.write_text('id_labels: [car, person]\nnegative_labels: [van]\n')
    with running_detector('/fault_labels', _params(tiny_yolo_world_dir, labels),
                          Client('/fault_labels', 'fault_labels_client')) as (node, client):
        client.send_and_wait(street_frame(0, 320, 240))
        labels.write_text('id_labels: [car, person\nnegative_labels: {van}\n')  # corrupt
        result = client.set_parameters(labels_file=str(labels))[0]
        assert not result.successful and str(labels) in result.reason, result.reason
        labels.unlink()
        result = client.set_parameters(labels_file=str(labels))[0]
        assert not result.successful and str(labels) in result.reason, result.reason
        # The running label set keeps working.
        _, msg = client.send_and_wait(street_frame(1, 320, 240))
        assert {d.results[0].hypothesis.class_id for d in msg.detections} <= {
            'car', 'person', 'unknown'}
        assert node.proc.poll() is None


def test_missing_model_fails_configure_and_configures_once_it_is_there(
        rclpy_context: None, tmp_path: Path, tiny_yolo_world_dir: Path,
        labels_file: Path) -> None:
    model = tmp_path / 'model_arrives_later'
    params = {**_params(model, labels_file), 'autostart': 'false'}
    with unmanaged_detector('/fault_model', params) as (node, client):
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert not client.transition(Transition.TRANSITION_CONFIGURE)
        assert wait_for(lambda: 'cannot load model' in node.log()
                        and str(model) in node.log(), 10.0), node.log()
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        # The model arrives with corrupt weights: still refused, still unconfigured.
        shutil.copytree(tiny_yolo_world_dir, model)
        weights = next(model.glob('*.safetensors'))
        weights.write_bytes(b'not a checkpoint' * 64)
        assert not client.transition(Transition.TRANSITION_CONFIGURE)
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        # The weights are put right: the same node configures and runs.
        shutil.copyfile(tiny_yolo_world_dir / weights.name, weights)
        assert client.transition(Transition.TRANSITION_CONFIGURE), node.log()
        assert client.transition(Transition.TRANSITION_ACTIVATE)
        assert wait_for(lambda: client.count_subscribers('/fault_model/image') > 0, 10.0)
        assert client.frames_answered(5), node.log()
        assert node.proc.poll() is None


def test_diagnostics_warn_on_bad_frames_then_recover(rclpy_context: None,
                                                     tiny_yolo_world_dir: Path,
                                                     labels_file: Path) -> None:
    client = Client('/fault_diag', 'fault_diag_client')
    levels: list[tuple[float, int]] = []
    client.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda msg: levels.extend(
            (time.monotonic(), s.level) for s in msg.status
            if any(kv.key == 'topic' and kv.value == '/fault_diag/image' for kv in s.values)),
        10)
    with running_detector('/fault_diag', _params(tiny_yolo_world_dir, labels_file),
                          client) as (node, _):
        client.send_and_wait(street_frame(0, 320, 240))
        assert wait_for(lambda: levels and levels[-1][1] == DiagnosticStatus.OK, 5.0)
        bad = bgr_to_image_msg(street_frame(1, 320, 240), client.next_header())
        bad.encoding = 'yuv422'
        client.image_pub.publish(bad)
        sent = time.monotonic()
        assert wait_for(lambda: levels[-1][1] == DiagnosticStatus.WARN, 5.0), levels[-5:]
        # Good frames again: the level returns to OK once the problem is RECENT_PROBLEM_S old.
        deadline = sent + RECENT_PROBLEM_S + 5.0
        while time.monotonic() < deadline and levels[-1][1] != DiagnosticStatus.OK:
            client.send_and_wait(street_frame(2, 320, 240))
            time.sleep(0.5)
        assert levels[-1][1] == DiagnosticStatus.OK, levels[-5:]
        assert levels[-1][0] - sent >= RECENT_PROBLEM_S - 1.5
        assert node.proc.poll() is None


def test_shutdown_during_inference_is_clean_and_quick(rclpy_context: None,
                                                      tiny_yolo_world_dir: Path,
                                                      labels_file: Path) -> None:
    with running_detector('/fault_stop', _params(tiny_yolo_world_dir, labels_file),
                          Client('/fault_stop', 'fault_stop_client')) as (node, client):
        client.send_and_wait(street_frame(0, 320, 240))
        stop = threading.Event()

        def feed() -> None:
            index = 0
            while not stop.is_set():
                index += 1
                client.send(street_frame(index % 4, 640, 480))
                time.sleep(0.01)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            time.sleep(2.0)  # frames in flight: the worker is inside the model
            started = time.monotonic()
            node.proc.send_signal(signal.SIGINT)
            node.proc.wait(timeout=15)
            took = time.monotonic() - started
        finally:
            stop.set()
            feeder.join(timeout=5)
        log = node.log()
        assert took < 5.0, f'shutdown took {took:.1f} s'
        assert node.proc.returncode == 0, log[-2000:]
        assert 'Traceback' not in log, log[-3000:]
