"""The shipped configuration is the one the validation runs chose (docs/choices.md).

The model card's NegA rule, the world label file, the NegS form of the reported benchmark and
the demo's thresholds must equal what docs/validation/results.json records; a change to any of
them without rerunning the validation choice fails here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from negas_ros.backends.yolo_world import load_model_card
from negas_ros.config import default_values

ROOT = Path(__file__).resolve().parents[2]
VALIDATION = ROOT / 'docs' / 'validation' / 'results.json'
TEST_RESULTS = ROOT / 'docs' / 'results.json'
MODEL_DIR = ROOT / 'negas_ros' / 'models' / 'negas_mini'


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding='utf-8'))
    return data


def _rule_key(fusion: str, weight: float) -> str:
    return f'{fusion}_{weight:g}' if fusion in ('weighted', 'gate') else fusion


def test_card_rule_is_the_validation_winner() -> None:
    val = _load(VALIDATION)
    assert val['meta']['splits']['set'] == 'val'
    card = load_model_card(str(MODEL_DIR))
    winner = val['selection']['families']['nega_rule']['winner']
    assert _rule_key(card.nega_fusion, card.nega_weight) == winner


def test_validation_and_test_ran_the_shipped_labels_and_form() -> None:
    val, test = _load(VALIDATION), _load(TEST_RESULTS)
    labels = ROOT / val['meta']['model']['labels']
    assert labels == ROOT / 'config' / 'labels' / 'world.yaml'
    digest = hashlib.sha256(labels.read_bytes()).hexdigest()
    assert val['meta']['model']['labels_sha256'] == digest
    assert test['meta']['model']['labels_sha256'] == digest
    assert val['meta']['negs_method'] == test['meta']['negs_method']
    assert test['meta']['splits']['set'] == 'test'  # reported numbers: test splits only


def test_demo_thresholds_are_calibrated_on_validation() -> None:
    val = _load(VALIDATION)
    card = load_model_card(str(MODEL_DIR))
    row = val['ablations']['fusion'][f'{_rule_key(card.nega_fusion, card.nega_weight)}/negs']
    params = yaml.safe_load((ROOT / 'config' / 'demo.yaml').read_text(encoding='utf-8'))
    demo = params['/**']['ros__parameters']
    assert demo['score_method'] == val['meta']['negs_method']
    assert demo['nega'] is True and 'nega_fusion' not in demo  # the card's rule
    assert abs(demo['box_threshold'] - row['tau']) <= 0.001
    settings = {**default_values(), **demo}
    if settings['tracking']:
        # Track verdicts (issue 13): the same 95%-TPR operating point, for track scores on the
        # validation videos, with the evidence rule chosen there (docs/tracking.json).
        tracks = _load(ROOT / 'docs' / 'tracking.json')
        assert abs(demo['ood_threshold'] - tracks['thresholds']['track']) <= 0.001
        chosen = tracks['chosen_evidence']
        assert (chosen['rule'], chosen['window'], chosen['min_frames']) == (
            settings['track_evidence'], settings['track_window'], settings['track_min_frames'])
    else:
        assert abs(demo['ood_threshold'] - row['ood_threshold_95tpr']) <= 0.001
