"""StageTimer: the per-stage timings both backends report as last_timings."""

from __future__ import annotations

import time

from negas_ros.backends.base import StageTimer


def test_stages_partition_the_total_and_cuda_synchronises_before_each_mark() -> None:
    calls: list[str] = []
    timer = StageTimer(lambda: calls.append('sync'))
    time.sleep(0.01)
    timer.mark('preprocess')
    time.sleep(0.02)
    timer.mark('model')
    timings = timer.timings
    assert list(timings) == ['preprocess', 'model', 'total']
    assert timings['preprocess'] >= 0.009 and timings['model'] >= 0.019
    assert abs(timings['preprocess'] + timings['model'] - timings['total']) < 1e-9
    assert calls == ['sync', 'sync']


class _Device:
    def __init__(self, kind: str) -> None:
        self.type = kind


def test_a_cpu_device_gets_no_synchronisation() -> None:
    assert StageTimer.for_device(_Device('cpu'))._sync is None
    assert StageTimer.for_device(_Device('cuda'))._sync is not None
