"""Fixtures for end-to-end tests: a real detector_node process and a real rclpy test node."""

from __future__ import annotations

import os
from pathlib import Path
import random
import shutil

import pytest

REPO = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    # Keep the tests' DDS traffic off other processes on this machine and off the network.
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(30, 99)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if shutil.which('detector_node') is None:
        raise pytest.UsageError('detector_node is not on PATH: run the tests through make test '
                                '(or source scripts/env.sh first)')


@pytest.fixture(scope='session')
def labels_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp('labels') / 'labels.yaml'
    path.write_text('id_labels: [car, person, bus]\n'
                    'negative_labels: [van, mannequin, tram, scooter]\n')
    return path
