"""Helpers for end-to-end tests: a detector_node process and waiting on conditions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
import os
from pathlib import Path
import signal
import subprocess
import threading
import time
from typing import Any, TypeVar


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
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
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
