"""Torch device names and their checks, shared by the config and every backend.

:func:`check_device_name` and :func:`check_device` are pure (no torch); :func:`resolve_device`
imports torch when called and checks that the device exists.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ['DEVICE_PATTERN', 'check_device', 'check_device_name', 'resolve_device']

DEVICE_PATTERN = re.compile(r'^(cpu|cuda(:\d+)?)$')
"""The device names we accept: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``."""


def check_device_name(device: str) -> None:
    """Raise ValueError unless device is ``'cpu'``, ``'cuda'`` or ``'cuda:N'`` (no torch)."""
    if not isinstance(device, str) or not DEVICE_PATTERN.match(device):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def check_device(device: str, half: bool) -> None:
    """:func:`check_device_name`, and ValueError for half precision on cpu (no torch)."""
    check_device_name(device)
    if half and device == 'cpu':
        raise ValueError('half=True (fp16) needs a CUDA device; use half=False on cpu')


def resolve_device(device: str, half: bool) -> torch.device:
    """The torch device for a checked name: :func:`check_device`, then CUDA presence.

    Raises ValueError for a bad name, half on cpu, a CUDA device without CUDA or a CUDA index
    past the devices present. Imports torch.
    """
    check_device(device, half)
    import torch

    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            raise ValueError(f'device {device!r} requested but CUDA is not available')
        index = int(device.split(':')[1]) if ':' in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f'device {device!r}: only {torch.cuda.device_count()} CUDA device(s)'
            )
    return torch.device(device)
