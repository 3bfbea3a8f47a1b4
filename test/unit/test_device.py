"""The shared device checks (negas_ros.backends.device)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from negas_ros.backends.device import check_device, check_device_name, resolve_device


@pytest.mark.parametrize('device', ['cpu', 'cuda', 'cuda:0', 'cuda:12'])
def test_good_device_names(device: str) -> None:
    check_device_name(device)
    check_device(device, half=device != 'cpu')


@pytest.mark.parametrize('device', ['gpu', 'cuda:', 'cuda:x', 'CPU', '', 'cuda:0:1', 'cpu:0', 3])
def test_bad_device_names(device: str) -> None:
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
        check_device_name(device)
    with pytest.raises(ValueError, match='device'):
        resolve_device(device, half=False)


def test_half_on_cpu_rejected() -> None:
    with pytest.raises(ValueError, match=r'half=True \(fp16\) needs a CUDA device'):
        check_device('cpu', half=True)
    with pytest.raises(ValueError, match='CUDA'):
        resolve_device('cpu', half=True)


def test_resolve_cpu() -> None:
    import torch

    assert resolve_device('cpu', half=False) == torch.device('cpu')


def test_cuda_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match='CUDA is not available'):
        resolve_device('cuda:0', half=True)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    with pytest.raises(ValueError, match=r"device 'cuda:1': only 1 CUDA device\(s\)"):
        resolve_device('cuda:1', half=False)
    assert resolve_device('cuda', half=True) == torch.device('cuda')
    assert resolve_device('cuda:0', half=False) == torch.device('cuda:0')


def test_import_and_name_check_do_not_import_torch() -> None:
    code = (
        'import sys\n'
        'from negas_ros.backends.device import check_device\n'
        "check_device('cuda:1', True)\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, '-c', code], check=True, timeout=60)
