"""What machine a measurement ran on, for benchmark records (pure)."""

from __future__ import annotations

from pathlib import Path
import platform

__all__ = ['cpu_name']


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what :mod:`platform` knows."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
