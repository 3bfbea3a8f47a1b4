"""The package metadata and the development requirements promise the same version ranges."""

from __future__ import annotations

import ast
from pathlib import Path
import re

REPO = Path(__file__).resolve().parents[2]
_REQ = re.compile(r'^\s*([A-Za-z0-9_.\-]+)\s*([<>=!~][^#;]*)?')


def _ranges(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        match = _REQ.match(line.split('#', 1)[0])
        if match:
            name = match.group(1).lower().replace('_', '-')
            out[name] = ''.join((match.group(2) or '').split())
    return out


def test_ml_requirements_and_pyproject_extras_agree_on_version_ranges() -> None:
    # The package supports Python 3.10 (ROS Humble), which has no tomllib: read the one line.
    line = re.search(r'^models = (\[.*\])$', (REPO / 'pyproject.toml').read_text(), re.M)
    assert line, "pyproject.toml: no 'models = [...]' extra"
    extras = _ranges(ast.literal_eval(line.group(1)))
    requirements = _ranges((REPO / 'requirements' / 'ml.txt').read_text().splitlines())
    assert extras['transformers'] == requirements['transformers'] == '>=5,<6'
    for name, spec in extras.items():
        # torch is pinned in requirements only to pick the CPU wheel here (README: GPU users
        # install their CUDA build); every other range must be the same in both files.
        if spec and name != 'torch':
            assert requirements.get(name) == spec, f'{name}: pyproject {spec!r} vs ' \
                f'requirements/ml.txt {requirements.get(name)!r}'
