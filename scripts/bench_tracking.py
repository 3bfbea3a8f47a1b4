#!/usr/bin/env python3
"""What tracking adds per frame: our ByteTrack vs the trackers package's, side by side.

Not a test: prints numbers measured in one run. A synthetic stream of ``--detections`` boxes
moving at constant velocity with pixel noise (objects leave and new ones enter) goes through
the node's whole tracking stage, ``StreamTracker.apply`` on a FrameResult (tracker, track
evidence, per-detection verdicts), with each tracker in turn, frame by frame alternating, so
both see the same machine conditions. Also times the tracker's ``update`` alone. The issue's
budget: at most 2 ms per frame at 50 detections.

Usage (inside `source scripts/env.sh`):
  python scripts/bench_tracking.py [--detections 50] [--frames 600] [--json out.json]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
from pathlib import Path
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from negas_ros.config import config_from_values  # noqa: E402
from negas_ros.detection import Detection  # noqa: E402
from negas_ros.machine import cpu_name  # noqa: E402
from negas_ros.pipeline import FrameResult, StreamTracker  # noqa: E402
from negas_ros.tracking import make_tracker  # noqa: E402

TRACKERS = ('bytetrack', 'trackers_bytetrack')


def _stream(count: int, frames: int, seed: int) -> list[list[Detection]]:
    """Per frame, ``count`` detections of moving objects (5% replaced by new ones a frame)."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 1200, (count, 2))
    vel = rng.normal(0, 3, (count, 2))
    size = rng.uniform(20, 80, (count, 2))
    probs = np.zeros(3, np.float32)
    out = []
    for _ in range(frames):
        pos += vel
        new = rng.random(count) < 0.05
        pos[new] = rng.uniform(0, 1200, (int(new.sum()), 2))
        boxes = np.concatenate([pos, pos + size], axis=1) + rng.normal(0, 1, (count, 4))
        conf = rng.uniform(0.25, 0.95, count)
        score = rng.uniform(0.0, 1.0, count)
        out.append([Detection((float(b[0]), float(b[1]), float(b[2]), float(b[3])), 'car',
                              float(c), probs, probs, 'van', 0.1, float(s), 0.0, bool(s < 0.5))
                    for b, c, s in zip(boxes, conf, score, strict=True)])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--detections', type=int, default=50)
    parser.add_argument('--frames', type=int, default=600)
    parser.add_argument('--warmup', type=int, default=60, help='frames not timed')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', type=Path)
    args = parser.parse_args()

    stream = _stream(args.detections, args.frames, args.seed)
    base = config_from_values({'id_labels': ['car', 'person', 'bus']})
    configs = {name: replace(base, tracking=replace(base.tracking, tracker=name))
               for name in TRACKERS}
    stages = {name: StreamTracker() for name in TRACKERS}
    trackers = {name: make_tracker(name) for name in TRACKERS}
    stage_ms: dict[str, list[float]] = {name: [] for name in TRACKERS}
    update_ms: dict[str, list[float]] = {name: [] for name in TRACKERS}
    for t, detections in enumerate(stream):
        boxes = np.array([d.box_xyxy for d in detections])
        conf = np.array([d.id_confidence for d in detections])
        order = TRACKERS if t % 2 == 0 else TRACKERS[::-1]
        for name in order:
            result = FrameResult(detections, configs[name])
            start = time.perf_counter()
            stages[name].apply(result)
            middle = time.perf_counter()
            trackers[name].update(boxes, conf)
            end = time.perf_counter()
            if t >= args.warmup:
                stage_ms[name].append(1000.0 * (middle - start))
                update_ms[name].append(1000.0 * (end - middle))

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {'median': statistics.median(values), 'p90': ordered[int(0.9 * len(values))],
                'mean': statistics.fmean(values)}

    report: dict[str, Any] = {
        'detections': args.detections, 'frames_timed': args.frames - args.warmup,
        'machine': f'{cpu_name()}, {platform.system()} {platform.release()}',
        'stage_ms': {name: summary(stage_ms[name]) for name in TRACKERS},
        'update_ms': {name: summary(update_ms[name]) for name in TRACKERS},
    }
    ours, theirs = report['stage_ms']['bytetrack'], report['stage_ms']['trackers_bytetrack']
    report['ratio_library_over_ours'] = theirs['median'] / ours['median']
    print(f"{args.detections} detections, {report['frames_timed']} frames timed "
          f"({report['machine']})")
    for name in TRACKERS:
        stage, update = report['stage_ms'][name], report['update_ms'][name]
        print(f"  {name:20s} tracking stage median {stage['median']:.3f} ms "
              f"(p90 {stage['p90']:.3f}); tracker update alone {update['median']:.3f} ms")
    print(f"  library / ours (stage, median): {report['ratio_library_over_ours']:.2f}x; "
          f"budget 2 ms: ours {'met' if ours['median'] <= 2.0 else 'missed'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
