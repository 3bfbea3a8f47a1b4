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
    'negas_ros.message_contract',
    'negas_ros.tracking',
    'negas_ros.track_evidence',
    'negas_ros.track_metrics',
    'negas_ros.track_benchmark',
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


CORE_MODULES = ['pipeline', 'scoring', 'config', 'labels', 'scores', 'metrics', 'detection']


def test_the_core_never_builds_a_backend() -> None:
    """The edges build backends; the core neither imports create_backend nor any backend."""
    import ast

    for name in CORE_MODULES:
        tree = ast.parse((REPO_ROOT / 'negas_ros' / f'{name}.py').read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ''
                names = {alias.name for alias in node.names}
                assert 'create_backend' not in names, f'negas_ros/{name}.py imports it'
                assert not module.startswith(('negas_ros.backends.grounding_dino',
                                              'negas_ros.backends.yolo_world')), \
                    f'negas_ros/{name}.py imports {module}'
    script = ('import sys, importlib\n'
              f'for m in {CORE_MODULES!r}: importlib.import_module("negas_ros." + m)\n'
              'backends = [m for m in sys.modules if m.startswith(("negas_ros.backends.grounding'
              '_dino", "negas_ros.backends.yolo_world"))]\n'
              'assert not backends, backends\n')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_one_table_lists_the_backends() -> None:
    from negas_ros.backends.base import BACKEND_MODULES, available_backends
    from negas_ros.config import PARAMETERS
    from negas_ros.models import EMBEDDED_MODELS

    backend_param = next(spec for spec in PARAMETERS if spec.name == 'backend')
    assert tuple(backend_param.choices or ()) == tuple(BACKEND_MODULES)
    assert available_backends() == sorted(BACKEND_MODULES)
    assert set(EMBEDDED_MODELS.values()) <= set(BACKEND_MODULES)
