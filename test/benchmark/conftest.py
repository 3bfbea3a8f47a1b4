"""Fixtures for the benchmark tests: a world label file.

The tiny random-weight YOLO-World is the session fixture tiny_yolo_world_dir of
test/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

WORLD_LABELS = """\
id_labels: [car, pedestrian, bus, truck, bicycle, traffic light, traffic sign]
negative_labels: [golf cart, mannequin, tram, tractor, wheelchair]
"""


@pytest.fixture(scope='session')
def world_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp('labels') / 'world.yaml'
    path.write_text(WORLD_LABELS, encoding='utf-8')
    return path
