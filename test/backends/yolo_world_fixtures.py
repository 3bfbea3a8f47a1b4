"""Fixtures shared by the YOLO-World test modules (import them into the module namespace)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run the module's tiny models on one thread, then restore the thread count.

    Tiny models gain nothing from threads, and on a busy 2-core machine every OpenMP region
    waits for a descheduled thread: measured 100 s for these modules with 2 threads under load
    against 10 s with one.
    """
    torch = pytest.importorskip('torch')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight YOLO-World directory, written once per session."""
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    from negas_ros.backends.yolo_world.tiny import write_tiny_yolo_world

    return write_tiny_yolo_world(tmp_path_factory.getbasetemp() / 'tiny_yolo_world', seed=0)
