"""A fixture shared by the YOLO-World test modules (import it into the module namespace).

The tiny YOLO-World itself is the session fixture tiny_yolo_world_dir of test/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

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
