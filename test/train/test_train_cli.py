"""`negas-ros train-world` end to end on a 2-step run, and no torch import for --help."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import pytest

pytest.importorskip('torch')


def test_help_does_not_import_torch() -> None:
    code = ('import sys; from negas_ros.cli import build_parser; build_parser(); '
            'import negas_ros.train; assert "torch" not in sys.modules, "torch imported"')
    subprocess.run([sys.executable, '-c', code], check=True, timeout=120)


def test_two_step_run_writes_a_loadable_model_dir(tmp_path: Path) -> None:
    from negas_ros.backends.yolo_world import YoloWorldBackend, load_model_card
    from negas_ros.cli import main
    from negas_ros.labels import load_labels

    out = tmp_path / 'model'
    labels = tmp_path / 'world.yaml'
    code = main(['train-world', '--steps', '2', '--batch', '2', '--imgsz', '128',
                 '--val-every', '0', '--eval-images', '1', '--workers', '0', '--out', str(out),
                 '--labels-out', str(labels), '--log-json', str(tmp_path / 'log.jsonl'),
                 '--background-candidates', '60'])
    assert code == 0
    for name in ('yolo_world.yaml', 'weights.safetensors', 'text_projection.npz',
                 'vocabulary.npz', 'MODEL_CARD.md', 'training.json'):
        assert (out / name).is_file(), name
    facts = json.loads((out / 'training.json').read_text())
    assert facts['steps_done'] == 2 and facts['config']['imgsz'] == 128
    assert [row['set'] for row in facts['metrics']] == ['pretrain_val', 'id_val', 'id_test']
    assert facts['text']['background_rule']['candidates'] <= 60
    assert 'statue' not in json.dumps(facts['text']['phrases'])
    assert len((tmp_path / 'log.jsonl').read_text().splitlines()) >= 1
    label_set = load_labels(labels)
    backend = YoloWorldBackend.from_card(load_model_card(str(out)))
    backend.set_labels(label_set.id_labels, label_set.negative_labels, nega=True)
