"""Fixtures shared by every test folder: the tiny random-weight models and an rclpy context.

Each tiny model is written once per session (seed 0, default config); tests only read it.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path

import pytest

# Tests never download: make any accidental hub access fail fast instead of hanging.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

# Fixtures whose users build or load a tiny model, and so carry the registered 'model' marker.
MODEL_FIXTURES = ('tiny_gdino_dir', 'tiny_yolo_world_dir')


@pytest.fixture(scope='session')
def tiny_gdino_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Grounding DINO checkpoint directory (seed 0)."""
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    from negas_ros.backends.tiny import write_tiny_grounding_dino

    return write_tiny_grounding_dino(tmp_path_factory.mktemp('models') / 'tiny_gdino', seed=0)


@pytest.fixture(scope='session')
def tiny_yolo_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight YOLO-World directory, text tower included (seed 0)."""
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    from negas_ros.backends.yolo_world.tiny import write_tiny_yolo_world

    return write_tiny_yolo_world(tmp_path_factory.mktemp('models') / 'tiny_yolo_world', seed=0)


@pytest.fixture(scope='module')
def rclpy_context() -> Iterator[None]:
    """rclpy initialised for one test module, shut down after it.

    Module scope: each ROS test module starts and stops its own node processes and rclpy nodes
    within this context.
    """
    import rclpy

    rclpy.init()
    yield
    rclpy.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that builds or loads a tiny model with the registered 'model' marker."""
    for item in items:
        if any(name in getattr(item, 'fixturenames', ()) for name in MODEL_FIXTURES):
            item.add_marker(pytest.mark.model)
