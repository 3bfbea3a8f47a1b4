"""Helpers for end-to-end tests: a detector_node process and waiting on conditions."""

from __future__ import annotations

from collections.abc import Callable
import os
from pathlib import Path
import signal
import subprocess
import time


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
