"""Stopping a detector_node process started in its own session (demo, scripts, tests)."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

__all__ = ['stop_process_group']


def stop_process_group(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGINT the process group of ``proc`` (what Ctrl-C does; the node shuts down cleanly),
    then SIGKILL it if it has not exited within ``timeout`` seconds. ``proc`` must have been
    started with ``start_new_session=True``; a process that already exited is left alone."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
