"""The world imports without ROS, torch or OpenCV (OpenCV loads only when something is drawn)."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
import textwrap

REPO_ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = textwrap.dedent(
    """
    import sys

    BLOCKED = ('rclpy', 'torch', 'torchvision', 'transformers', 'cv2', 'rosidl', 'launch')


    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.partition('.')[0] in BLOCKED or name.endswith('_msgs'):
                raise ImportError(f'world must not import {name}')
            return None


    sys.meta_path.insert(0, Blocker())
    sys.path.insert(0, sys.argv[1])
    import negas_ros.world as world
    from negas_ros.world import similarity  # noqa: F401

    assert len(world.CATEGORIES) >= 16 and 'ood_near' in world.SPLITS
    leaked = sorted(m for m in sys.modules if m.partition('.')[0] in BLOCKED)
    assert not leaked, leaked
    print('world imports clean')
    """
)


def test_world_imports_without_ros_torch_or_opencv() -> None:
    result = subprocess.run([sys.executable, '-c', _SCRIPT, str(REPO_ROOT)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'world imports clean' in result.stdout
