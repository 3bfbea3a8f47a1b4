"""`negas-ros bench` on the tiny YOLO-World (the full-size runs are documented, not tested)."""

from __future__ import annotations

import json

import pytest
import yolo_world_fixtures

from negas_ros.cli import main
from negas_ros.cli.bench import ID_LABELS, negative_labels

pytestmark = pytest.mark.model
one_torch_thread = yolo_world_fixtures.one_torch_thread  # tiny models: one torch thread


def test_negative_labels_are_distinct_and_never_id_labels() -> None:
    labels = negative_labels(1000)
    assert len(set(labels)) == 1000
    assert not set(labels) & set(ID_LABELS)
    with pytest.raises(ValueError):
        negative_labels(10**6)


def test_bench_prints_one_json_line_per_configuration(
        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip('torch')
    assert main(['bench', '--backend', 'yolo_world', '--variant', 'tiny', '--negatives', '0,5',
                 '--nega', 'both', '--imgsz', '64', '--repeats', '2', '--warmup', '0',
                 '--candidates', '10']) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert 'machine' in lines[0]
    rows = [line for line in lines[1:] if 'backend' in line]
    assert [(r['negatives'], r['nega']) for r in rows] == [(0, 'off'), (0, 'on'), (5, 'off'),
                                                           (5, 'on')]
    for row in rows:
        assert row['backend'] == 'yolo_world' and row['variant'] == 'tiny'
        assert 0 < row['ms_min'] <= row['ms_median'] <= row['ms_max']
        assert row['repeats'] == 2 and row['imgsz'] == 64


def test_bench_rejects_bad_options() -> None:
    assert main(['bench', '--negatives', 'a,b']) == 2
    assert main(['bench', '--backend', 'grounding_dino', '--variant', 's']) == 2
