"""Start-up: bad configuration stops the node with a useful message; lifecycle transitions."""

from __future__ import annotations

from pathlib import Path
import subprocess
import time

from harness import unmanaged_detector, wait_for
from lifecycle_msgs.msg import State, Transition
import pytest

pytestmark = [pytest.mark.ros]


def _run(args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(['detector_node', '--ros-args', *args], capture_output=True,
                          text=True, timeout=timeout)


def test_bad_params_file_stops_start_up_naming_file_and_key(tmp_path: Path) -> None:
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    id_labels: [car]\n    box_treshold: 0.2\n')
    result = _run(['--params-file', str(params)])
    assert result.returncode == 2
    assert str(params) in result.stderr
    assert "unknown parameter 'box_treshold'" in result.stderr


def test_out_of_range_parameter_in_params_file_is_explained(tmp_path: Path) -> None:
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    id_labels: [car]\n    box_threshold: 3.0\n')
    result = _run(['--params-file', str(params)])
    assert result.returncode == 2
    assert str(params) in result.stderr and "'box_threshold' is 3.0" in result.stderr


@pytest.mark.model
def test_bad_labels_file_stops_start_up_naming_file_and_key(tmp_path: Path,
                                                            tiny_gdino_dir: Path) -> None:
    labels = tmp_path / 'labels.yaml'
    labels.write_text('id_labels: [car, bus]\nnegative_labels: [van, buses]\n')
    result = _run(['-p', f'labels_file:={labels}', '-p', f'model:={tiny_gdino_dir}'])
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert str(labels) in output and 'negative_labels' in output


def test_missing_model_stops_start_up(tmp_path: Path) -> None:
    result = _run(['-p', 'id_labels:=[car]', '-p', f'model:={tmp_path / "no_such_model"}'])
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert 'cannot load model' in output and 'no_such_model' in output


@pytest.mark.model
def test_lifecycle_without_autostart(rclpy_context: None, tiny_gdino_dir: Path,
                                     labels_file: Path) -> None:
    params = {'model': str(tiny_gdino_dir), 'labels_file': str(labels_file),
              'box_threshold': '0.0', 'autostart': 'false'}
    with unmanaged_detector('/lifecycle', params) as (node, client):
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert client.transition(Transition.TRANSITION_CONFIGURE), node.log()
        assert client.state() == State.PRIMARY_STATE_INACTIVE
        assert wait_for(lambda: client.count_subscribers('/lifecycle/image') > 0, 10.0)
        assert not client.frames_answered(2), 'an inactive node must not publish'
        assert client.transition(Transition.TRANSITION_ACTIVATE)
        assert client.frames_answered(5), node.log()
        assert client.transition(Transition.TRANSITION_DEACTIVATE)
        assert client.transition(Transition.TRANSITION_CLEANUP)
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert client.count_subscribers('/lifecycle/image') == 0 or wait_for(
            lambda: client.count_subscribers('/lifecycle/image') == 0, 5.0)


@pytest.mark.model
def test_partial_params_files_are_validated_merged(tmp_path: Path, tiny_gdino_dir: Path,
                                                   labels_file: Path) -> None:
    """A second file holding only `device` is fine; the merge with -p must be valid."""
    main = tmp_path / 'main.yaml'
    main.write_text(f'/**:\n  ros__parameters:\n    labels_file: {labels_file}\n')
    extra = tmp_path / 'extra.yaml'
    extra.write_text('/**:\n  ros__parameters:\n    device: cpu\n')
    files = ['--params-file', str(main), '--params-file', str(extra)]
    bad = _run([*files, '-p', 'ood_threshold:=7.0'])
    assert bad.returncode == 2
    assert "'ood_threshold' is 7.0" in bad.stderr and str(main) in bad.stderr
    good = subprocess.Popen(
        ['detector_node', '--ros-args', *files, '-p', f'model:={tiny_gdino_dir}',
         '-r', '__ns:=/partial'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert good.stdout is not None
        output = ''
        deadline = time.monotonic() + 60
        while 'loaded grounding_dino' not in output and good.poll() is None \
                and time.monotonic() < deadline:
            output += good.stdout.readline()
        assert 'loaded grounding_dino' in output, output
    finally:
        good.terminate()
        good.wait(timeout=15)
