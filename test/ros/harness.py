"""Helpers for end-to-end tests: a detector_node process, a client node talking to it, and
waiting on conditions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
import os
from pathlib import Path
import subprocess
import threading
import time
from typing import Any, TypeVar

from lifecycle_msgs.srv import ChangeState, GetState
import numpy as np
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray, LabelInfo

from negas_ros.msg import OodDetectionArray
from negas_ros.ros.conversions import bgr_to_image_msg
from negas_ros.ros.process import stop_process_group
from negas_ros.synthetic import street_frame


class NodeProcess:
    """A detector_node started as its own process, like `ros2 run` would."""

    def __init__(self, args: list[str], namespace: str) -> None:
        self.namespace = namespace
        self.log_path = Path(os.environ.get('TMPDIR', '/tmp')) / f'negas_{namespace[1:]}.log'
        self._log = self.log_path.open('w')
        self.proc = subprocess.Popen(
            ['detector_node', '--ros-args', '-r', f'__ns:={namespace}', *args],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        stop_process_group(self.proc, timeout=15)
        self._log.close()


def start_node(namespace: str, params: dict[str, str]) -> NodeProcess:
    args: list[str] = []
    for key, value in params.items():
        args += ['-p', f'{key}:={value}']
    return NodeProcess(args, namespace)


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


STARTUP_S = 90.0
ClientT = TypeVar('ClientT')


@contextmanager
def running_detector(namespace: str, params: dict[str, str], client: ClientT,
                     input_topic: str = 'image') -> Iterator[tuple[NodeProcess, ClientT]]:
    """A detector_node process in ``namespace`` and ``client`` (an rclpy Node) spinning in a
    thread, once the node subscribes to ``<namespace>/<input_topic>``; both torn down after."""
    from rclpy.executors import SingleThreadedExecutor

    node = start_node(namespace, params)
    ros_client: Any = client
    executor = SingleThreadedExecutor()
    executor.add_node(ros_client)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        topic = f'{namespace}/{input_topic}'
        up = wait_for(lambda: ros_client.count_subscribers(topic) > 0
                      or node.proc.poll() is not None, STARTUP_S)
        assert up and node.proc.poll() is None, f'detector_node did not start:\n{node.log()}'
        yield node, client
    finally:
        executor.shutdown()
        ros_client.destroy_node()
        node.stop()


RESULT_S = 30.0


class Client(Node):
    """Publishes frames into the detector's namespace and collects what comes back."""

    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(name)
        self.ns = namespace
        self.image_pub = self.create_publisher(Image, f'{namespace}/image',
                                               qos_profile_sensor_data)
        self.compressed_pub = self.create_publisher(
            CompressedImage, f'{namespace}/image/compressed', qos_profile_sensor_data)
        self.lock = threading.Lock()
        self.detections: dict[tuple[int, int, str], Detection2DArray] = {}
        self.ood: dict[tuple[int, int, str], OodDetectionArray] = {}
        self.label_info: list[LabelInfo] = []
        self.create_subscription(Detection2DArray, f'{namespace}/detections',
                                 self._on_detections, 100)
        self.create_subscription(OodDetectionArray, f'{namespace}/ood_detections',
                                 self._on_ood, 100)
        self.create_subscription(
            LabelInfo, f'{namespace}/label_info', self._on_label_info,
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.set_params = self.create_client(SetParameters,
                                             f'{namespace}/negas_detector/set_parameters')
        self.set_params_atomically = self.create_client(
            SetParametersAtomically, f'{namespace}/negas_detector/set_parameters_atomically')
        self._stamp = 1000

    @staticmethod
    def key(header: Header) -> tuple[int, int, str]:
        return header.stamp.sec, header.stamp.nanosec, header.frame_id

    def _on_detections(self, msg: Detection2DArray) -> None:
        with self.lock:
            self.detections[self.key(msg.header)] = msg

    def _on_ood(self, msg: OodDetectionArray) -> None:
        with self.lock:
            self.ood[self.key(msg.header)] = msg

    def _on_label_info(self, msg: LabelInfo) -> None:
        with self.lock:
            self.label_info.append(msg)

    def next_header(self, frame_id: str = 'test_camera') -> Header:
        self._stamp += 1
        header = Header(frame_id=frame_id)
        header.stamp.sec = self._stamp
        header.stamp.nanosec = 123
        return header

    def send(self, image: np.ndarray, header: Header | None = None) -> Header:
        header = header or self.next_header()
        self.image_pub.publish(bgr_to_image_msg(image, header))
        return header

    def result_for(self, header: Header, timeout: float = RESULT_S) -> Detection2DArray | None:
        key = self.key(header)
        wait_for(lambda: key in self.detections and key in self.ood, timeout)
        with self.lock:
            return self.detections.get(key)

    def send_and_wait(self, image: np.ndarray, attempts: int = 3) -> tuple[Header,
                                                                           Detection2DArray]:
        # Best effort may lose a frame while discovery settles; resend with a new stamp.
        for _ in range(attempts):
            header = self.send(image)
            result = self.result_for(header, timeout=RESULT_S / attempts)
            if result is not None:
                return header, result
        raise AssertionError('no Detection2DArray came back for the frame')

    def set_parameters(self, **values: Any) -> list[Any]:
        request = SetParameters.Request(parameters=[_param_msg(k, v) for k, v in values.items()])
        return self._call(self.set_params, request).results

    def set_parameters_atomically(self, **values: Any) -> Any:
        request = SetParametersAtomically.Request(
            parameters=[_param_msg(k, v) for k, v in values.items()])
        return self._call(self.set_params_atomically, request).result

    def _call(self, client: Any, request: Any) -> Any:
        assert client.wait_for_service(timeout_sec=10.0), 'parameter service not available'
        future = client.call_async(request)
        assert wait_for(future.done, 30.0), 'parameter service did not answer'
        return future.result()


def _param_msg(name: str, value: Any) -> ParameterMsg:
    pv = ParameterValue()
    if isinstance(value, bool):
        pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, value
    elif isinstance(value, float):
        pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, value
    elif isinstance(value, int):
        pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, value
    elif isinstance(value, str):
        pv.type, pv.string_value = ParameterType.PARAMETER_STRING, value
    else:
        pv.type, pv.string_array_value = ParameterType.PARAMETER_STRING_ARRAY, list(value)
    return ParameterMsg(name=name, value=pv)


def check_ood_matches_plain(ood: Any, plain_msg: Any, id_labels: list[str],
                            neg_labels: list[str], threshold: float = 0.5) -> None:
    """The rich OodDetectionArray and the plain Detection2DArray of one frame agree: same boxes
    in the same order, is_ood == (score < threshold), and the plain verdict is 'unknown'
    exactly for the OOD detections (NegS, the node's default score)."""
    assert ood.score_method == 'negs' and abs(ood.threshold - threshold) < 1e-9
    assert len(ood.detections) == len(plain_msg.detections)
    for rich, plain in zip(ood.detections, plain_msg.detections, strict=True):
        assert rich.detection.bbox == plain.bbox
        assert rich.is_ood == (rich.id_score < threshold)
        assert rich.id_label in id_labels and rich.negative_label in neg_labels
        expected = 'unknown' if rich.is_ood else rich.id_label
        assert plain.results[0].hypothesis.class_id == expected


class LifecycleClient(Node):
    """Drives a detector_node's lifecycle services and counts the frames it answers."""

    def __init__(self, ns: str) -> None:
        super().__init__('lifecycle_test_client')
        self.get_state = self.create_client(GetState, f'{ns}/negas_detector/get_state')
        self.change_state = self.create_client(ChangeState,
                                               f'{ns}/negas_detector/change_state')
        self.image_pub = self.create_publisher(Image, f'{ns}/image', qos_profile_sensor_data)
        self.received: list[Detection2DArray] = []
        self.create_subscription(Detection2DArray, f'{ns}/detections',
                                 self.received.append, 10)

    def call(self, client: Any, request: Any) -> Any:
        assert client.wait_for_service(timeout_sec=30.0)
        future = client.call_async(request)
        assert wait_for(future.done, 60.0)
        return future.result()

    def state(self) -> int:
        return int(self.call(self.get_state, GetState.Request()).current_state.id)

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return bool(self.call(self.change_state, request).success)

    def frames_answered(self, count: int = 3) -> bool:
        before = len(self.received)
        for i in range(count):
            header = Header(frame_id='cam')
            header.stamp.sec = 100 + i
            self.image_pub.publish(bgr_to_image_msg(street_frame(i, 160, 120), header))
            if wait_for(lambda: len(self.received) > before, 3.0):
                return True
        return False


@contextmanager
def unmanaged_detector(namespace: str, params: dict[str, str]) -> Iterator[tuple[NodeProcess,
                                                                                  LifecycleClient]]:
    """A detector_node process (e.g. ``autostart: false``) and a spinning LifecycleClient for
    it; no wait for its topics, since an unconfigured node has none. Both torn down after."""
    from rclpy.executors import SingleThreadedExecutor

    node = start_node(namespace, params)
    client = LifecycleClient(namespace)
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        yield node, client
    finally:
        executor.shutdown()
        client.destroy_node()
        node.stop()
