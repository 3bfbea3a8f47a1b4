"""ruff and mypy, as pyproject.toml configures them, are part of the suite: style and types
regressions fail `make test` like any other bug."""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
import sys

REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    ruff = shutil.which('ruff') or str(Path(sys.executable).with_name('ruff'))
    result = _run([ruff, 'check', 'negas_ros', 'test', 'scripts', 'launch'])
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run([sys.executable, '-m', 'mypy'])
    assert result.returncode == 0, result.stdout + result.stderr
