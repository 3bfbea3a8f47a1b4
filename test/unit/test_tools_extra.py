"""pyproject.toml declares every third-party package that the `negas-ros` tools import.

The dependencies plus the `models` and `tools` extras must cover each module imported anywhere
in negas_ros outside negas_ros/ros (the node), except the ROS packages (`play` needs ROS) and
TensorRT (an optional import of `negas-ros export --tensorrt`) and the optional
`trackers` package.
"""

from __future__ import annotations

import ast
from pathlib import Path
import re
import sys

REPO = Path(__file__).resolve().parents[2]
# import name -> distribution name where the two differ
_DIST = {'cv2': 'opencv-python-headless', 'yaml': 'pyyaml'}
# trackers/supervision: the optional 'trackers_bytetrack' tracker, installed with --no-deps
# (their opencv-python requirement clashes with opencv-python-headless; docs/tracking.md).
_NOT_PIP = {'rclpy', 'rosgraph_msgs', 'ament_index_python', 'tensorrt', 'negas_ros',
            'trackers', 'supervision'}


def _declared() -> set[str]:
    text = (REPO / 'pyproject.toml').read_text()
    names = set()
    for key in ('dependencies', 'models', 'tools'):
        match = re.search(rf'^{key} = (\[.*?\])$', text, re.M | re.S)
        assert match, f'pyproject.toml: no {key} list'
        for spec in ast.literal_eval(match.group(1)):
            names.add(re.split(r'[<>=!~\[;\s]', spec, maxsplit=1)[0].lower())
    return names


def _imported() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((REPO / 'negas_ros').rglob('*.py')):
        if 'ros' in path.relative_to(REPO / 'negas_ros').parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split('.')[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split('.')[0]]
            else:
                continue
            for top in tops:
                found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_tools_extra_covers_every_third_party_import() -> None:
    declared = _declared()
    assert 'negas-ros' in declared, 'the tools extra includes negas-ros[models]'
    missing = {
        f'{_DIST.get(name, name)} ({where})'
        for name, where in _imported().items()
        if name not in sys.stdlib_module_names and name not in _NOT_PIP
        and _DIST.get(name, name).lower().replace('_', '-') not in declared
    }
    assert not missing, f'imported but not in pyproject.toml: {sorted(missing)}'
