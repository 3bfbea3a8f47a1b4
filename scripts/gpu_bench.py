#!/usr/bin/env python3
"""Prepared GPU latency benchmark (issue 12): YOLO-World v2 s/l and Grounding DINO tiny.

Runs on a bare CUDA machine that has torch and transformers and nothing else (no ROS, no
network, no downloads): every model is the full-size architecture with random weights, built by
the model builders of :mod:`negas_ros.cli.bench` (imported, not copied), so the latencies are
the true cost while the detections mean nothing. Run from the source tree::

    bash scripts/gpu_bench.sh --out gpu.json            # PYTHONPATH=<repo> python3 scripts/...
    bash scripts/gpu_bench.sh --cpu-smoke --out s.json  # every code path, tiny, CPU, < 1 min

Plan (every configuration appears exactly once in ``runs``: measured, or with ``skipped``):

  yolo_world  s, l   640   fp32, fp16, fp16+compile (torch.compile; optional, run last)
  grounding_dino tiny 800  fp32, fp16
  each with 0 / 80 / 1000 negative labels, NegA off / on, batch 1 / 6

Batch 6 is ``backend.infer_batch`` on six different images of one size (YOLO-World: one
forward; Grounding DINO: every forward group carries the six images' passes). Each
configuration: a few warm-up calls, then ``--iters`` timed calls of ``infer`` /
``infer_batch`` (wall clock around the call; the backends' StageTimer
synchronises CUDA and the results are copied to the host, so the call's time is the latency).
Reported: median_ms and p90_ms per call, fps = batch * 1000 / median_ms, model_ms (median of
the backend's own 'model' stage), mean detections. As in ``negas-ros bench``, the box threshold
is set per model to pass ``--candidates`` boxes (default 100) on the plain detector, so NMS and
the negative read-out see a realistic workload. ID labels: the 10 BDD100K classes.

Time budget: the script tracks its elapsed time and, before building a model or starting a
configuration, skips it (``skipped: 'time budget: ...'``) when the estimate (time of the slowest
configuration so far for that model; a default for a model not yet built) would pass
``--budget-s`` (default 420 s, so the whole run fits in 8 minutes). torch.compile rows are
skipped for a model once one configuration's first (compiling) call takes longer than
``--compile-limit-s``. Any error in one configuration is recorded as its skip reason and the run
goes on. The JSON file is rewritten after every configuration, so a killed run leaves the rows
it finished (``complete``: false).

``--cpu-smoke``: the same plan on CPU with tiny models (YOLO-World 'tiny' at 64 px standing in
for s and l, the tiny random Grounding DINO of :mod:`negas_ros.backends.tiny`), 0 / 10 / 100
negatives, one torch thread, 1 warm-up + 2 timed calls; fp16 rows execute in fp32
(``executed_dtype``) since fp16 is CUDA-only, and torch.compile uses the 'eager' backend (tracing
without code generation) with a 1 s compile limit, so both the compiled path and its skip path
run. Its figures mean nothing; it checks the script.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
import datetime
import gc
import json
import os
from pathlib import Path
import platform
import sys
import tempfile
import time
from typing import Any

import numpy as np

from negas_ros.cli.bench import (
    ID_LABELS,
    _grounding_dino,
    _yolo_world,
    negative_labels,
)

NEGATIVES = (0, 80, 1000)
SMOKE_NEGATIVES = (0, 10, 100)  # Grounding DINO's passes grow with the label count: keep CI fast
NEGA = (False, True)
BATCHES = (1, 6)
YOLO_VARIANTS = ('s', 'l')
YOLO_DTYPES = ('fp32', 'fp16')
COMPILE_DTYPE = 'fp16+compile'
GDINO_DTYPES = ('fp32', 'fp16')
# First guesses of a model's build time before anything was measured (seconds, GPU machine).
_BUILD_GUESS_S = {'yolo_world': 15.0, 'grounding_dino': 60.0}
_CONFIG_GUESS_S = 5.0


@dataclass(frozen=True)
class Group:
    """One model build: backend, variant, image size and dtype."""

    backend: str
    variant: str
    imgsz: int
    dtype: str

    @property
    def half(self) -> bool:
        return self.dtype.startswith('fp16')

    @property
    def compiled(self) -> bool:
        return self.dtype.endswith('+compile')


@dataclass(frozen=True)
class Config:
    negatives: int
    nega: bool
    batch: int


def plan(smoke: bool) -> list[tuple[Group, list[Config]]]:
    """Every (model, configuration) of the benchmark, in run order (compile last)."""
    # The smoke run keeps the same rows (variants s and l) but builds tiny models for them.
    yolo_size, gdino_size = (64, 64) if smoke else (640, 800)
    counts = SMOKE_NEGATIVES if smoke else NEGATIVES
    configs = [Config(n, nega, b) for n in counts for nega in NEGA for b in BATCHES]
    groups: list[Group] = []
    for variant in YOLO_VARIANTS:
        for dtype in YOLO_DTYPES:
            groups.append(Group('yolo_world', variant, yolo_size, dtype))
    groups += [Group('grounding_dino', 'tiny', gdino_size, d) for d in GDINO_DTYPES]
    groups += [Group('yolo_world', v, yolo_size, COMPILE_DTYPE) for v in YOLO_VARIANTS]
    return [(g, list(configs)) for g in groups]


def _row(group: Group, config: Config, smoke: bool) -> dict[str, Any]:
    return {
        'backend': group.backend, 'variant': group.variant, 'imgsz': group.imgsz,
        'dtype': group.dtype,
        'executed_dtype': 'fp32' if smoke else group.dtype.split('+')[0],
        'model': _model_name(group, smoke),
        'negatives': config.negatives, 'nega': 'on' if config.nega else 'off',
        'batch': config.batch, 'median_ms': None, 'p90_ms': None, 'fps': None,
        'model_ms': None, 'detections': None, 'box_threshold': None, 'iters': 0,
        'compile_first_call_s': None, 'skipped': None,
    }


def _model_name(group: Group, smoke: bool) -> str:
    if group.backend == 'yolo_world':
        return 'yolo_world tiny (smoke)' if smoke else f'yolo_world v2-{group.variant}'
    return 'grounding_dino tiny test model (smoke)' if smoke else 'grounding-dino-tiny arch'


def environment(device: str, smoke: bool) -> dict[str, Any]:
    import torch
    import transformers

    info: dict[str, Any] = {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'device': device, 'torch': torch.__version__, 'transformers': transformers.__version__,
        'cuda': torch.version.cuda, 'cudnn': None, 'gpu': None, 'gpu_count': 0,
        'python': platform.python_version(), 'platform': platform.platform(),
        'cpu_threads': torch.get_num_threads(),
    }
    if device.startswith('cuda') and torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
        info['gpu_count'] = torch.cuda.device_count()
        cudnn: Any = torch.backends.cudnn
        info['cudnn'] = cudnn.version()
        info['tf32_matmul'] = torch.backends.cuda.matmul.allow_tf32
        info['tf32_cudnn'] = torch.backends.cudnn.allow_tf32
    return info


@contextmanager
def open_model(group: Group, device: str, smoke: bool) -> Iterator[Any]:
    """The backend of one group, built with random weights (no download)."""
    half = group.half and not smoke
    if group.backend == 'yolo_world':
        most = max(NEGATIVES + SMOKE_NEGATIVES)
        labels = list(dict.fromkeys(ID_LABELS + negative_labels(most)))
        variant = 'tiny' if smoke else group.variant
        yield _yolo_world(variant, group.imgsz, device, half, labels)
    elif smoke:
        from negas_ros.backends.grounding_dino import GroundingDinoBackend
        from negas_ros.backends.tiny import write_tiny_grounding_dino

        with tempfile.TemporaryDirectory(prefix='negas_gpu_bench_') as tmp:
            directory = write_tiny_grounding_dino(Path(tmp), seed=0)
            yield GroundingDinoBackend(str(directory), device=device, half=False)
    else:
        with _grounding_dino(group.imgsz, device, half) as backend:
            yield backend


def compile_network(backend: Any, smoke: bool) -> None:
    """torch.compile the YOLO-World network in place (the backend keeps calling it)."""
    import torch
    import torch._dynamo

    # Each negative count / NegA / batch is a new input shape: allow the recompiles rather than
    # silently falling back to eager after the default cache limit.
    for name in ('cache_size_limit', 'recompile_limit'):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 64)
    backend.net.compile(backend='eager' if smoke else 'inductor')


def box_threshold(backend: Any, image: np.ndarray, candidates: int) -> float:
    """The threshold passing ``candidates`` boxes on the plain detector (as negas-ros bench)."""
    backend.set_labels(ID_LABELS, [], False)
    probe = backend.infer(image, 0.0)
    best = np.sort(1.0 / (1.0 + np.exp(-probe.id_logits.max(1).astype(np.float64))))[::-1]
    return float(best[min(candidates, len(best)) - 1]) if len(best) else 0.0


def measure(backend: Any, group: Group, config: Config, images: Sequence[np.ndarray],
            threshold: float, args: argparse.Namespace, row: dict[str, Any]) -> None:
    """Time one configuration into row (median_ms, p90_ms, fps, model_ms, detections)."""
    backend.set_labels(ID_LABELS, negative_labels(config.negatives), config.nega)
    batch = list(images[: config.batch])

    def call() -> int:
        if config.batch == 1:
            return len(backend.infer(batch[0], threshold))
        return sum(len(r) for r in backend.infer_batch(batch, threshold))

    times: list[float] = []
    model: list[float] = []
    found: list[int] = []
    for index in range(args.warmup + args.iters):
        start = time.perf_counter()
        count = call()
        elapsed = time.perf_counter() - start
        if index == 0 and group.compiled:
            row['compile_first_call_s'] = round(elapsed, 2)
        if index < args.warmup:
            continue
        times.append(elapsed * 1e3)
        model.append(float(backend.last_timings.get('model', 0.0)) * 1e3)
        found.append(count)
    median = float(np.median(times))
    row.update({
        'median_ms': round(median, 3), 'p90_ms': round(float(np.percentile(times, 90)), 3),
        'fps': round(config.batch * 1e3 / median, 2) if median > 0 else None,
        'model_ms': round(float(np.median(model)), 3),
        'detections': round(float(np.mean(found)) / config.batch, 1),
        'box_threshold': round(threshold, 6), 'iters': args.iters, 'warmup': args.warmup,
    })


class Bench:
    """Runs the plan under the time budget, writing the JSON after every configuration."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.start = time.perf_counter()
        self.plan = plan(args.cpu_smoke)
        self.rows: list[dict[str, Any]] = []
        self.report: dict[str, Any] = {
            'smoke': bool(args.cpu_smoke), 'complete': False,
            'environment': environment(args.device, args.cpu_smoke),
            'settings': {'budget_s': args.budget_s, 'warmup': args.warmup, 'iters': args.iters,
                         'candidates': args.candidates, 'id_labels': len(ID_LABELS),
                         'compile_limit_s': args.compile_limit_s,
                         'negatives': list(SMOKE_NEGATIVES if args.cpu_smoke else NEGATIVES),
                         'batches': list(BATCHES), 'threads': args.threads},
            'planned': sum(len(c) for _, c in self.plan), 'runs': self.rows,
        }
        self.build_s: dict[str, float] = {}

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def over_budget(self, estimate: float) -> str | None:
        elapsed = self.elapsed()
        if elapsed + estimate > self.args.budget_s:
            return (f'time budget: elapsed {elapsed:.0f} s + estimated {estimate:.0f} s > '
                    f'budget {self.args.budget_s:.0f} s')
        return None

    def write(self) -> None:
        self.report['elapsed_s'] = round(self.elapsed(), 2)
        out: Path = self.args.out
        tmp = out.with_name(out.name + '.tmp')
        tmp.write_text(json.dumps(self.report, indent=1) + '\n')
        os.replace(tmp, out)

    def skip_all(self, group: Group, configs: Sequence[Config], reason: str) -> None:
        for config in configs:
            self.rows.append({**_row(group, config, self.args.cpu_smoke), 'skipped': reason})
        self.write()

    def run(self) -> int:
        for group, configs in self.plan:
            self.run_group(group, configs)
        self.report['complete'] = True
        self.write()
        measured = sum(r['skipped'] is None for r in self.rows)
        print(f'gpu_bench: {measured} of {len(self.rows)} configurations measured in '
              f'{self.elapsed():.1f} s -> {self.args.out}', flush=True)
        return 0

    def run_group(self, group: Group, configs: Sequence[Config]) -> None:
        args = self.args
        smoke = args.cpu_smoke
        guess = 0.0 if smoke else _BUILD_GUESS_S[group.backend]
        reason = self.over_budget(self.build_s.get(group.backend, guess)
                                  + (0.0 if smoke else _CONFIG_GUESS_S))
        if reason:
            self.skip_all(group, configs, reason)
            return
        print(f'gpu_bench: {group.backend} {group.variant} {group.dtype} '
              f'(t={self.elapsed():.0f} s)', flush=True)
        built = time.perf_counter()
        try:
            with open_model(group, args.device, smoke) as backend:
                self.build_s[group.backend] = time.perf_counter() - built
                self.run_configs(backend, group, configs)
                del backend
        except Exception as exc:  # an unattended run records it and goes on
            done = {(r['negatives'], r['nega'], r['batch']) for r in self.rows
                    if (r['backend'], r['variant'], r['dtype']) ==
                    (group.backend, group.variant, group.dtype)}
            left = [c for c in configs
                    if (c.negatives, 'on' if c.nega else 'off', c.batch) not in done]
            self.skip_all(group, left, f'error building or running the model: {_error(exc)}')
        finally:
            _free_memory()

    def run_configs(self, backend: Any, group: Group, configs: Sequence[Config]) -> None:
        args = self.args
        smoke = args.cpu_smoke
        rng = np.random.default_rng(1)
        images = [rng.integers(0, 256, (group.imgsz, group.imgsz, 3), dtype=np.uint8)
                  for _ in range(max(BATCHES))]
        threshold = box_threshold(backend, images[0], args.candidates)
        compile_skip: str | None = None
        if group.compiled:
            try:
                compile_network(backend, smoke)
            except Exception as exc:
                compile_skip = f'torch.compile failed: {_error(exc)}'
        slowest = 0.0 if smoke else _CONFIG_GUESS_S
        for config in configs:
            row = _row(group, config, smoke)
            self.rows.append(row)
            if compile_skip:
                row['skipped'] = compile_skip
            elif config.batch > 1 and not hasattr(backend, 'infer_batch'):
                row['skipped'] = (f'not supported yet: {type(backend).__name__} has no '
                                  'infer_batch (batch of one only)')
            elif reason := self.over_budget(slowest):
                row['skipped'] = reason
            else:
                began = time.perf_counter()
                try:
                    measure(backend, group, config, images, threshold, args, row)
                except Exception as exc:
                    row['skipped'] = f'error: {_error(exc)}'
                took = time.perf_counter() - began
                slowest = max(slowest, took)
                first = row['compile_first_call_s']
                if group.compiled and first is not None and first > args.compile_limit_s:
                    compile_skip = (f'torch.compile too slow (a first call took '
                                    f'{first:.0f} s > {args.compile_limit_s:.0f} s)')
            self.write()


def _error(exc: BaseException) -> str:
    text = f'{type(exc).__name__}: {exc}'.replace('\n', ' ')
    return text if len(text) <= 300 else text[:297] + '...'


def _free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Prepared GPU latency benchmark of YOLO-World v2 s/l and Grounding DINO '
                    'tiny (random weights, nothing downloaded); writes one JSON file.')
    parser.add_argument('--out', type=Path, default=Path('gpu_bench.json'))
    parser.add_argument('--device', default='cuda:0')
    parser.add_argument('--budget-s', type=float, default=420.0,
                        help='skip configurations that would end past this (default 420)')
    parser.add_argument('--warmup', type=int, default=None, help='default 3 (smoke 1)')
    parser.add_argument('--iters', type=int, default=None, help='timed calls, default 20 '
                                                                '(smoke 2)')
    parser.add_argument('--candidates', type=int, default=100,
                        help='boxes passing the threshold on the plain detector (default 100)')
    parser.add_argument('--compile-limit-s', type=float, default=None,
                        help='skip the rest of a torch.compile model once a first (compiling) '
                             'call takes longer (default 60; smoke 1)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch CPU threads (default: torch's; smoke 1)")
    parser.add_argument('--cpu-smoke', action='store_true',
                        help='tiny models on CPU, 2 timed calls: checks the script (< 1 min)')
    args = parser.parse_args(argv)
    if args.cpu_smoke:
        args.device = 'cpu'
    args.warmup = args.warmup if args.warmup is not None else (1 if args.cpu_smoke else 3)
    args.iters = args.iters if args.iters is not None else (2 if args.cpu_smoke else 20)
    if args.compile_limit_s is None:
        args.compile_limit_s = 1.0 if args.cpu_smoke else 60.0
    if args.threads is None and args.cpu_smoke:
        args.threads = 1  # a shared CI machine: more threads than free cores stall on each other
    if args.iters < 1 or args.warmup < 0 or args.candidates < 1:
        parser.error('--iters and --candidates must be >= 1, --warmup >= 0')
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.cpu_smoke:
        import torch

        if not torch.cuda.is_available():
            print('gpu_bench: CUDA is not available (use --cpu-smoke to check the script)',
                  file=sys.stderr)
            return 2
    return Bench(args).run()


if __name__ == '__main__':
    sys.exit(main())
