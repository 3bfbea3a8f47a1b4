"""Fixtures for backend tests: a tiny random-weight Grounding DINO written once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never download: make any accidental hub access fail fast instead of hanging.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')


@pytest.fixture(scope='session')
def tiny_gdino_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Grounding DINO checkpoint directory (seed 0)."""
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    from negas_ros.backends.tiny import write_tiny_grounding_dino

    return write_tiny_grounding_dino(tmp_path_factory.mktemp('tiny_gdino'), seed=0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that builds or loads the tiny model with the registered 'model' marker."""
    for item in items:
        if 'tiny_gdino_dir' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.model)
