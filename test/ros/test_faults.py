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
import numpy as np
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


def _bright_frames_overflow(model: Path, into: Path) -> Path:
    """A copy of ``model`` whose first convolution overflows float32 on bright pixels: black
    frames run as before, a white (or letterbox-padded) frame gives inf, then NaN, logits. The
    fault of a model that breaks on some inputs only, as fp16 overflow does."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(model, into)
    path = into / 'yolo_world_tiny.safetensors'
    weights = load_file(str(path))
    weights['model.0.conv.weight'][0] = 3e37  # 27 taps x 3e37 x a bright pixel > float32 max
    save_file(weights, str(path), metadata={'format': 'pt'})
    return into


def test_nan_on_some_frames_is_counted_and_diagnostics_recover(
        rclpy_context: None, tiny_yolo_world_dir: Path, labels_file: Path,
        tmp_path: Path) -> None:
    model = _bright_frames_overflow(tiny_yolo_world_dir, tmp_path / 'bright_overflow')
    client = Client('/fault_nan', 'fault_nan_client')
    statuses: list[tuple[float, DiagnosticStatus]] = []
    client.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda msg: statuses.extend(
            (time.monotonic(), s) for s in msg.status
            if any(kv.key == 'topic' and kv.value == '/fault_nan/image' for kv in s.values)),
        10)

    def counter(key: str) -> int:
        return int(next(kv.value for kv in statuses[-1][1].values if kv.key == key))

    black = np.zeros((320, 320, 3), np.uint8)
    white = np.full((320, 320, 3), 255, np.uint8)
    with running_detector('/fault_nan', {**_params(model, labels_file), 'tracking': 'false'},
                          client) as (node, _):
        _, before = client.send_and_wait(black)
        assert before.detections, 'the model still runs on frames it can handle'
        headers = [client.send(white) for _ in range(3)]
        assert wait_for(lambda: statuses and counter('non_finite_outputs') >= 1, 30.0), \
            node.log()
        broke = time.monotonic()
        assert statuses[-1][1].level == DiagnosticStatus.ERROR
        assert 'NaN/inf' in statuses[-1][1].message
        assert all(client.result_for(h, timeout=1.0) is None for h in headers), \
            'a NaN frame is an error, never an empty detection array'
        # Frames it can handle again: answered at once; the level returns to OK once the last
        # NaN frame is RECENT_PROBLEM_S old, with the count kept.
        _, after = client.send_and_wait(black)
        assert len(after.detections) == len(before.detections)
        deadline = broke + RECENT_PROBLEM_S + 6.0
        while time.monotonic() < deadline and statuses[-1][1].level != DiagnosticStatus.OK:
            client.send_and_wait(black)
            time.sleep(0.5)
        assert statuses[-1][1].level == DiagnosticStatus.OK, [s.message for _, s in statuses[-3:]]
        assert counter('non_finite_outputs') >= 1 and counter('errors') >= 1
        assert node.log().count('NaN/inf logits or boxes') <= 2, 'the log is throttled'
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
