#!/usr/bin/env python3
"""Memory of `bdd100k-to-bag` and `evaluate` against the number of frames: flat, not growing.

Not a test: prints numbers measured side by side in one run. Generates a BDD100K-format set
(320x240 JPEG street frames + det_20 labels, 2,000 frames by default, and 100 OOD frames), then
for each frame count (500, 1000, 2000) converts the first N frames to an mcap bag and evaluates
that bag against the OOD bag with the tiny random-weight Grounding DINO, each step in a fresh
process so that its peak resident memory (VmHWM) is its own. While a step runs it samples its
resident memory (VmRSS, /proc/self/status) after every quarter of the frames.

Usage (inside `source scripts/env.sh`):
  python scripts/bench_bag_memory.py                    # 500, 1000, 2000 frames
  python scripts/bench_bag_memory.py --frames 200 400 --work /tmp/bench_bag
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WIDTH, HEIGHT = 320, 240
OOD_FRAMES = 100


def _status_mb(key: str) -> float:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(key + ':'):
            return int(line.split()[1]) / 1024.0  # kB
    raise RuntimeError(f'{key} not in /proc/self/status')


class Sampler:
    """RSS after each quarter of ``total`` frames."""

    def __init__(self, total: int) -> None:
        self.marks = {max(1, round(total * q / 4)) for q in (1, 2, 3, 4)}
        self.samples: dict[int, float] = {}

    def __call__(self, done: int) -> None:
        if done in self.marks:
            self.samples[done] = round(_status_mb('VmRSS'), 1)


def generate(work: Path, frames: int) -> None:
    """Frames, det_20 labels (streamed to disk) and OOD frames, once per work folder."""
    import cv2
    import numpy as np

    from negas_ros.synthetic import street_frame

    marker = work / f'generated_{frames}'
    if marker.exists():
        return
    for name, count, seed in (('images', frames, 1), ('ood', OOD_FRAMES, 2)):
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            cv2.imwrite(str(folder / f'{name}{index:05d}.jpg'),
                        street_frame(index, WIDTH, HEIGHT, seed=seed))
    rng = np.random.default_rng(0)
    categories = ['car', 'pedestrian', 'truck', 'traffic sign', 'other vehicle']
    with (work / 'det_20.json').open('w') as handle:
        handle.write('[\n')
        for index in range(frames):
            labels = []
            for k in range(int(rng.integers(2, 8))):
                x, y = rng.uniform(0, WIDTH - 60), rng.uniform(0, HEIGHT - 50)
                w, h = rng.uniform(8, 59), rng.uniform(8, 49)
                labels.append({'id': f'{index}-{k}', 'category': categories[k % 5],
                               'box2d': {'x1': x, 'y1': y, 'x2': x + w, 'y2': y + h}})
            frame = {'name': f'images{index:05d}.jpg', 'timestamp': 10000,
                     'attributes': {'weather': 'clear'}, 'labels': labels}
            handle.write(json.dumps(frame) + (',\n' if index < frames - 1 else '\n'))
        handle.write(']\n')
    marker.touch()


def worker_convert(work: Path, frames: int, out: Path, labels: bool) -> dict[str, Any]:
    from negas_ros.bag.bdd100k import ImageFolderSequence
    from negas_ros.bag.convert import convert_to_bag
    from negas_ros.bag.messages import typestore

    typestore()  # imports and type registration before the baseline sample
    baseline = _status_mb('VmRSS')
    sampler = Sampler(frames)
    images = work / ('images' if labels else 'ood')
    sequence = ImageFolderSequence(images, work / 'det_20.json' if labels else None,
                                   start_ns=1_700_000_000_000_000_000, limit=frames)
    started = time.monotonic()
    report = convert_to_bag(sequence, out, overwrite=True, progress=False,
                            on_frame=sampler)
    return {'frames': report.frames, 'seconds': round(time.monotonic() - started, 1),
            'baseline_mb': round(baseline, 1), 'rss_mb': sampler.samples,
            'peak_mb': round(_status_mb('VmHWM'), 1),
            'bag_mb': round(sum(p.stat().st_size for p in out.iterdir()) / 2**20, 1)}


def worker_evaluate(work: Path, frames: int, bag: Path, ood_bag: Path,
                    out: Path) -> dict[str, Any]:
    from negas_ros.backends.base import create_backend
    from negas_ros.backends.tiny import write_tiny_grounding_dino
    from negas_ros.bag.offline import EvaluationOptions, FrameSource, run_evaluation
    from negas_ros.bag.reader import BagFrameSource
    from negas_ros.config import config_from_values
    from negas_ros.pipeline import DetectorPipeline

    model = write_tiny_grounding_dino(work / 'tiny_gdino', seed=0)
    # Three ID and three negative labels keep the CPU time down; memory per frame does not
    # depend on them.
    config = config_from_values({
        'model': str(model), 'id_labels': ['car', 'pedestrian', 'truck'],
        'negative_labels': ['mannequin', 'statue', 'mailbox'], 'box_threshold': 0.0,
        'max_detections': 10, 'ood_threshold': 0.01})
    pipeline = DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))
    id_source = BagFrameSource(bag)
    ood_source = BagFrameSource(ood_bag)
    sampler = Sampler(frames)
    streaming_peak: dict[str, float] = {}

    def on_frame(name: str, done: int) -> None:
        if name == 'id':
            sampler(done)
            if done == frames:  # end of the ID stream: peak before any metric is computed
                streaming_peak['mb'] = round(_status_mb('VmHWM'), 1)

    pipeline.process(next(iter(BagFrameSource(bag, limit=1))).rgb())  # warm-up first
    baseline = _status_mb('VmRSS')
    started = time.monotonic()
    metrics = run_evaluation(
        pipeline,
        FrameSource('id', 'id', str(bag), id_source, len(id_source)),
        [FrameSource('ood', 'ood', str(ood_bag), ood_source, len(ood_source))],
        out, EvaluationOptions(progress=False), on_frame=on_frame)
    return {'frames': metrics['sets']['id']['frames'],
            'detections': metrics['sets']['id']['detections'],
            'seconds': round(time.monotonic() - started, 1), 'baseline_mb': round(baseline, 1),
            'rss_mb': sampler.samples, 'streaming_peak_mb': streaming_peak.get('mb'),
            'peak_mb': round(_status_mb('VmHWM'), 1), 'map': metrics['map']}


def _run_worker(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, '--worker', *args], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f'worker {args} failed:\n{done.stderr}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames', type=int, nargs='+', default=[500, 1000, 2000])
    parser.add_argument('--work', type=Path, help='work folder (default: a temporary one)')
    parser.add_argument('--worker', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == 'convert':
            result = worker_convert(Path(rest[0]), int(rest[1]), Path(rest[2]), rest[3] == '1')
        else:
            result = worker_evaluate(Path(rest[0]), int(rest[1]), Path(rest[2]), Path(rest[3]),
                                     Path(rest[4]))
        print(json.dumps(result))
        return 0

    work = args.work or Path(tempfile.mkdtemp(prefix='bench_bag_'))
    work.mkdir(parents=True, exist_ok=True)
    largest = max(args.frames)
    print(f'work folder {work}; generating {largest} + {OOD_FRAMES} frames', flush=True)
    generate(work, largest)
    ood_bag = work / 'ood_bag'
    _run_worker('convert', str(work), str(OOD_FRAMES), str(ood_bag), '0')
    rows = []
    for frames in sorted(args.frames):
        bag = work / f'bag_{frames}'
        convert = _run_worker('convert', str(work), str(frames), str(bag), '1')
        evaluate = _run_worker('evaluate', str(work), str(frames), str(bag), str(ood_bag),
                               str(work / f'eval_{frames}'))
        rows.append((frames, convert, evaluate))
        print(f'{frames} frames: convert {convert}\n  evaluate {evaluate}', flush=True)

    print(f'\nMachine: {platform.machine()}, {platform.system()} {platform.release()}, '
          f'Python {platform.python_version()}; {WIDTH}x{HEIGHT} JPEG frames, tiny random '
          f'Grounding DINO (3 ID + 3 negative labels), max_detections 10, {OOD_FRAMES} OOD '
          'frames.')
    print('\n| frames | convert peak RSS MB | convert RSS at 1/4, 2/4, 3/4, 4/4 of the frames '
          '| bag MB | evaluate peak while streaming MB | evaluate RSS at 1/4 .. 4/4 '
          '| evaluate peak incl. COCO eval, plots MB | detections | evaluate s |')
    print('|---:|---:|---|---:|---:|---|---:|---:|---:|')
    for frames, convert, evaluate in rows:
        conv = ', '.join(f'{v:.0f}' for _, v in sorted(convert['rss_mb'].items(),
                                                       key=lambda kv: int(kv[0])))
        ev = ', '.join(f'{v:.0f}' for _, v in sorted(evaluate['rss_mb'].items(),
                                                     key=lambda kv: int(kv[0])))
        print(f"| {frames} | {convert['peak_mb']:.0f} | {conv} | {convert['bag_mb']:.1f} "
              f"| {evaluate['streaming_peak_mb']:.0f} | {ev} | {evaluate['peak_mb']:.0f} "
              f"| {evaluate['detections']} | {evaluate['seconds']:.0f} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
