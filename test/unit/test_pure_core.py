"""The pure core imports without ROS, message packages or ML frameworks (house style, item 1).

A fresh interpreter gets an import hook that refuses rclpy, rosidl, message and service
packages, torch, transformers, OpenCV and scikit-learn, then imports every pure module.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import textwrap

REPO_ROOT = Path(__file__).resolve().parents[2]

PURE_MODULES = [
    'negas_ros',
    'negas_ros.detection',
    'negas_ros.backends.base',
    'negas_ros.labels',
    'negas_ros.scores',
    'negas_ros.metrics',
    'negas_ros.scoring',
    'negas_ros.config',
    'negas_ros.image_convert',
    'negas_ros.pipeline',
    'negas_ros.drawing',
    'negas_ros.synthetic',
    'negas_ros.backends',
    'negas_ros.backends.grounding_dino',
    'negas_ros.backends.yolo_world',
    'negas_ros.package_paths',
    'negas_ros.backends.model_dir',
    'negas_ros.machine',
    'negas_ros.world',
    'negas_ros.evaluation',
    'negas_ros.bag.bdd100k',
]

_SCRIPT = textwrap.dedent(
    """
    import importlib
    import sys

    BLOCKED = {
        'rclpy', 'torch', 'torchvision', 'transformers', 'cv2', 'sklearn', 'scipy',
        'launch', 'launch_ros', 'message_filters', 'cv_bridge', 'tf2_ros',
    }
    BLOCKED_PREFIXES = ('rcl', 'rosidl', 'rmw', 'vision_msgs', 'sensor_msgs')
    BLOCKED_SUFFIXES = ('_msgs', '_srvs', '_interfaces')


    def blocked(name):
        top = name.partition('.')[0]
        return (
            top in BLOCKED
            or top.startswith(BLOCKED_PREFIXES)
            or top.endswith(BLOCKED_SUFFIXES)
        )


    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if blocked(name):
                raise ImportError(f'pure core must not import {name}')
            return None


    sys.meta_path.insert(0, Blocker())
    sys.path.insert(0, sys.argv[1])

    try:
        import rclpy  # noqa: F401
    except ImportError as error:
        assert 'pure core must not import' in str(error), error
    else:
        raise AssertionError('the import blocker is not active')

    for module in sys.argv[2:]:
        importlib.import_module(module)

    package = sys.modules['negas_ros']
    assert package.__file__.startswith(sys.argv[1]), package.__file__
    leaked = sorted(name for name in sys.modules if blocked(name))
    assert not leaked, leaked
    print('pure core ok:', len(sys.argv) - 2, 'modules')
    """
)


def test_pure_core_imports_without_ros_or_ml_frameworks() -> None:
    result = subprocess.run(
        [sys.executable, '-c', _SCRIPT, str(REPO_ROOT), *PURE_MODULES],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'pure core ok: {len(PURE_MODULES)} modules' in result.stdout
