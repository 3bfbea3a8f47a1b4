"""scripts/gpu_bench.py --cpu-smoke: the prepared GPU benchmark runs every code path on CPU.

The figures of the smoke run mean nothing; what is checked is the JSON it writes: every planned
configuration exactly once, measured (median, p90, fps) or skipped with a reason.
"""

from __future__ import annotations

from collections import Counter
import itertools
import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'gpu_bench.py'
KEYS = {'backend', 'variant', 'dtype', 'negatives', 'nega', 'batch', 'median_ms', 'p90_ms',
        'fps', 'skipped'}


@pytest.fixture(scope='module')
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp('gpu_bench') / 'smoke.json'
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        p for p in (str(ROOT), os.environ.get('PYTHONPATH', '')) if p)}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), '--cpu-smoke', '--out', str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_smoke_flag_and_environment(report: dict[str, Any]) -> None:
    assert report['smoke'] is True
    assert report['complete'] is True
    env = report['environment']
    for key in ('date', 'torch', 'transformers', 'cuda', 'gpu', 'device'):
        assert key in env
    assert env['device'] == 'cpu'


def test_every_planned_configuration_exactly_once(report: dict[str, Any]) -> None:
    negatives = report['settings']['negatives']
    assert len(negatives) == 3 and negatives[0] == 0
    groups = ([('yolo_world', v, d) for v in ('s', 'l') for d in ('fp32', 'fp16', 'fp16+compile')]
              + [('grounding_dino', 'tiny', d) for d in ('fp32', 'fp16')])
    planned = {(*g, n, nega, b) for g, n, nega, b in
               itertools.product(groups, negatives, ('off', 'on'), (1, 6))}
    seen = Counter((r['backend'], r['variant'], r['dtype'], r['negatives'], r['nega'], r['batch'])
                   for r in report['runs'])
    assert set(seen) == planned
    assert all(count == 1 for count in seen.values())
    assert report['planned'] == len(planned) == len(report['runs'])


def test_rows_are_measured_or_skipped_with_a_reason(report: dict[str, Any]) -> None:
    for row in report['runs']:
        assert set(row) >= KEYS, row
        if row['skipped'] is None:
            assert row['median_ms'] > 0 and row['p90_ms'] >= row['median_ms'], row
            assert row['fps'] > 0, row
        else:
            assert isinstance(row['skipped'], str) and row['skipped'].strip(), row
            assert row['median_ms'] is None and row['fps'] is None, row


def test_code_paths_ran(report: dict[str, Any]) -> None:
    runs = report['runs']
    measured = [r for r in runs if r['skipped'] is None]
    # Plain and batched runs of both backends, and a compiled configuration.
    for backend in ('yolo_world', 'grounding_dino'):
        assert any(r['backend'] == backend and r['batch'] == 6 and r['nega'] == 'on'
                   and r['negatives'] > 0 for r in measured), backend
        assert any(r['backend'] == backend and r['batch'] == 1 and r['negatives'] > 0
                   for r in measured), backend
    assert any(r['dtype'] == 'fp16+compile' for r in measured)


def test_time_budget_skips_and_records(tmp_path: Path) -> None:
    out = tmp_path / 'budget.json'
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        p for p in (str(ROOT), os.environ.get('PYTHONPATH', '')) if p)}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), '--cpu-smoke', '--budget-s', '0', '--out', str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    data = json.loads(out.read_text())
    assert len(data['runs']) == data['planned'] == 96
    assert all(r['skipped'].startswith('time budget') for r in data['runs'])
