"""Fixtures for the benchmark tests: a tiny random-weight YOLO-World and a world label file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

WORLD_LABELS = """\
id_labels: [car, pedestrian, bus, truck, bicycle, traffic light, traffic sign]
negative_labels: [golf cart, mannequin, tram, tractor, wheelchair]
"""


@pytest.fixture(scope='session')
def tiny_world_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random YOLO-World directory (text tower included), written once."""
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    from negas_ros.backends.yolo_world.tiny import write_tiny_yolo_world

    return write_tiny_yolo_world(tmp_path_factory.getbasetemp() / 'tiny_yolo_world', seed=0)


@pytest.fixture(scope='session')
def world_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp('labels') / 'world.yaml'
    path.write_text(WORLD_LABELS, encoding='utf-8')
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that build or load a model carry the registered 'model' marker."""
    for item in items:
        if 'tiny_world_model' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.model)
