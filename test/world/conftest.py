"""Fixtures for the procedural world tests: one World per session (its texture tiles are built
once)."""

from __future__ import annotations

import pytest

from negas_ros.world import World


@pytest.fixture(scope='session')
def world() -> World:
    return World(seed=0)
