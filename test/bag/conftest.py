"""Fixtures for the rosbag workflow tests: a small BDD100K-format set written by the tests.

Frames are generated street scenes (negas_ros.synthetic) saved as JPEG with OpenCV, 640x360;
labels follow BDD100K det_20 (name, timestamp in ms, labels with id, category, box2d with
inclusive ends). Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import random
import shutil
import sys
from typing import Any

from bag_data import ID_LABELS, hand_labels, write_frames
import pytest

REPO = Path(__file__).resolve().parents[2]
# Reuse the end-to-end harness (detector_node as a process) of test/ros.
sys.path.insert(0, str(REPO / 'test' / 'ros'))


def pytest_configure(config: pytest.Config) -> None:
    # Keep DDS traffic of the tests off other processes on this machine and off the network.
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(30, 99)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if shutil.which('negas-ros') is None or shutil.which('detector_node') is None:
        raise pytest.UsageError('negas-ros / detector_node are not on PATH: run the tests '
                                'through make test (or make setup && source scripts/env.sh)')


@pytest.fixture(scope='session')
def bdd_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """8 frames + det_20 labels with hand-made boxes (no model involved)."""
    root = tmp_path_factory.mktemp('bdd_set')
    names = write_frames(root / 'images', 8, seed=3)
    frames = hand_labels(names)
    labels = root / 'det_20.json'
    labels.write_text(json.dumps(frames, indent=1))
    return {'root': root, 'images': root / 'images', 'labels': labels, 'frames': frames}


@pytest.fixture(scope='session')
def params_file(tmp_path_factory: pytest.TempPathFactory, tiny_gdino_dir: Path) -> Path:
    """A node params file for the tiny model with three BDD100K classes as ID labels."""
    root = tmp_path_factory.mktemp('params')
    labels = root / 'labels.yaml'
    labels.write_text(f'id_labels: {json.dumps(ID_LABELS)}\n'
                      'negative_labels: [mannequin, statue, mailbox]\n')
    params = root / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n'
                      f'    model: {tiny_gdino_dir}\n    device: cpu\n'
                      f'    labels_file: {labels}\n    box_threshold: 0.0\n'
                      '    max_detections: 10\n    score_method: negs\n'
                      '    ood_threshold: 0.001\n')
    return params
