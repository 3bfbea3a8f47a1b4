#!/usr/bin/env python3
"""Several cameras, one model: batched vs one-by-one throughput, and node memory per camera.

Not a test: prints numbers measured side by side in one run.

1. Throughput (in this process, one model): for N cameras (default 1, 2, 4, 6), each round
   gives the pipeline one frame per camera, either one by one (``DetectorPipeline.process`` N
   times: what N single-camera nodes sharing one CPU would do at best) or as one batch
   (``process_batch``: what the node does with ``cameras``). The two run alternately, round by
   round, so they share the machine's conditions. Reported: frames per second of all cameras
   together, and the mean per-camera latency from the round's start to that camera's result
   (one by one, camera k waits for the k runs before its own; batched, every camera waits for
   the batch).
2. Memory (real ``detector_node`` processes): a node with N cameras, fed frames on every camera
   until each has answered ``--memory-frames`` frames; its resident memory (VmRSS) and peak
   (VmHWM) against those of a one-camera node. N single-camera nodes would need N times the
   one-camera figure.

Usage (inside `source scripts/env.sh`):
  python scripts/bench_multi_camera.py                         # negas_mini, CPU, 640x480
  python scripts/bench_multi_camera.py --backend grounding_dino \
      --model IDEA-Research/grounding-dino-tiny --device cuda:0
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _throughput(args: argparse.Namespace) -> list[dict[str, Any]]:
    from negas_ros.backends.base import create_backend
    from negas_ros.config import config_from_values
    from negas_ros.pipeline import DetectorPipeline
    from negas_ros.synthetic import street_frame

    config = config_from_values(_values(args), share_dir=str(REPO))
    pipeline = DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))
    rows = []
    for cameras in args.cameras:
        frames = [street_frame(i, args.width, args.height, seed=3)[:, :, ::-1].copy()
                  for i in range(cameras)]
        single: list[tuple[float, float]] = []
        batched: list[tuple[float, float]] = []
        for round_index in range(args.warmup + args.rounds):
            order = ('single', 'batch') if round_index % 2 == 0 else ('batch', 'single')
            for mode in order:
                start = time.perf_counter()
                if mode == 'single':
                    done = []
                    for frame in frames:
                        pipeline.process(frame)
                        done.append(time.perf_counter() - start)
                    measured = (done[-1], float(np.mean(done)))
                else:
                    pipeline.process_batch(frames)
                    total = time.perf_counter() - start
                    measured = (total, total)
                if round_index >= args.warmup:
                    (single if mode == 'single' else batched).append(measured)
        one = statistics.median(t for t, _ in single)
        many = statistics.median(t for t, _ in batched)
        rows.append({
            'cameras': cameras,
            'one_by_one_fps': cameras / one,
            'batched_fps': cameras / many,
            'fps_ratio': one / many,
            'one_by_one_latency_ms': statistics.median(lat for _, lat in single) * 1e3,
            'batched_latency_ms': statistics.median(lat for _, lat in batched) * 1e3,
        })
        row = rows[-1]
        print(f"N={cameras}: {row['one_by_one_fps']:.2f} -> {row['batched_fps']:.2f} fps "
              f"({row['fps_ratio']:.2f}x); per-camera latency "
              f"{row['one_by_one_latency_ms']:.0f} -> {row['batched_latency_ms']:.0f} ms",
              flush=True)
    return rows


def _values(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {'backend': args.backend, 'model': args.model, 'device': args.device,
                              'box_threshold': args.box_threshold}
    if args.labels_file:
        from negas_ros.package_paths import resolve_package_uri

        # The node resolves package:// from its ament install; the source tree's file is the same.
        values['labels_file'] = resolve_package_uri(args.labels_file, str(REPO))
    else:
        values |= {'id_labels': ['car', 'person', 'bus', 'truck'],
                   'negative_labels': ['van', 'tram', 'mannequin', 'scooter']}
    return values


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith(key + ':'):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f'{key} not in /proc/{pid}/status')


class _Answers:
    """Counts the Detection2DArray messages that come back per camera (thread-safe)."""

    def __init__(self, cameras: int) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * cameras

    def add(self, index: int, _msg: Any) -> None:
        with self._lock:
            self._counts[index] += 1

    def counts(self) -> list[int]:
        with self._lock:
            return list(self._counts)


def _node_memory(args: argparse.Namespace, cameras: int, frames: list[Any]) -> dict[str, Any]:
    """Start a node with ``cameras`` cameras, feed it, read its VmRSS / VmHWM, stop it."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header
    from vision_msgs.msg import Detection2DArray

    from negas_ros.ros.conversions import bgr_to_image_msg
    from negas_ros.ros.process import stop_process_group

    names = [f'cam{i}' for i in range(cameras)] if cameras > 1 else ['']
    namespace = f'/bench_mem_{cameras}'
    command = ['detector_node', '--ros-args', '-r', f'__ns:={namespace}']
    for key, value in _values(args).items():
        text = json.dumps(value) if isinstance(value, list) else str(value)
        command += ['-p', f'{key}:={text}']
    if cameras > 1:
        command += ['-p', f'cameras:={json.dumps(names)}']
    prefix = [f'{namespace}/{n}/' if n else f'{namespace}/' for n in names]
    answers = _Answers(len(names))
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        client = rclpy.create_node(f'bench_mem_client_{cameras}')
        pubs = [client.create_publisher(Image, p + 'image', qos_profile_sensor_data)
                for p in prefix]
        for i, p in enumerate(prefix):
            client.create_subscription(Detection2DArray, p + 'detections',
                                       functools.partial(answers.add, i), 10)
        executor = SingleThreadedExecutor()
        executor.add_node(client)
        threading.Thread(target=executor.spin, daemon=True).start()
        try:
            deadline = time.monotonic() + 180
            while (client.count_subscribers(prefix[-1] + 'image') == 0
                   and time.monotonic() < deadline and proc.poll() is None):
                time.sleep(0.2)
            stamp = 0
            while min(answers.counts()) < args.memory_frames and time.monotonic() < deadline:
                for i, pub in enumerate(pubs):
                    stamp += 1
                    header = Header(frame_id=f'cam{i}')
                    header.stamp.sec = stamp
                    pub.publish(bgr_to_image_msg(frames[stamp % len(frames)], header))
                time.sleep(args.frame_period)
            if min(answers.counts()) < args.memory_frames:
                log.seek(0)
                raise RuntimeError(f'{cameras}-camera node answered {answers.counts()}:\n'
                                   + log.read().decode(errors='replace')[-3000:])
            row = {'cameras': cameras, 'rss_mb': _status_mb(proc.pid, 'VmRSS'),
                   'peak_mb': _status_mb(proc.pid, 'VmHWM')}
        finally:
            executor.shutdown()
            client.destroy_node()
            stop_process_group(proc, timeout=15)
    print(f"N={cameras}: node RSS {row['rss_mb']:.0f} MB, peak {row['peak_mb']:.0f} MB",
          flush=True)
    return row


def _memory(args: argparse.Namespace) -> list[dict[str, Any]]:
    import rclpy

    from negas_ros.synthetic import street_frame

    os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(100, 200)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    frames = [street_frame(i, args.width, args.height, seed=5) for i in range(4)]
    rclpy.init()
    try:
        rows = [_node_memory(args, cameras, frames) for cameras in args.cameras]
    finally:
        rclpy.shutdown()
    base = next(r for r in rows if r['cameras'] == 1)
    for row in rows:
        row['rss_ratio'] = row['rss_mb'] / base['rss_mb']
        row['peak_ratio'] = row['peak_mb'] / base['peak_mb']
        row['separate_nodes_rss_mb'] = base['rss_mb'] * row['cameras']
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--backend', default='yolo_world')
    parser.add_argument('--model', default='negas_mini')
    parser.add_argument('--labels-file', default='package://negas_ros/config/labels/world.yaml',
                        help="labels YAML; '' for 4 ID + 4 negative inline labels")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--box-threshold', type=float, default=0.234)
    parser.add_argument('--cameras', type=int, nargs='+', default=[1, 2, 4, 6])
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--memory-frames', type=int, default=10,
                        help='frames each camera must answer before memory is read')
    parser.add_argument('--frame-period', type=float, default=0.1,
                        help='seconds between rounds of frames sent to the node')
    parser.add_argument('--skip-memory', action='store_true')
    parser.add_argument('--json', type=Path, help='also write the results here')
    args = parser.parse_args()
    if 1 not in args.cameras:
        parser.error('--cameras must include 1 (the reference)')

    import torch

    print(f'machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} '
          f'{platform.release()}, python {platform.python_version()}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads; {args.backend} {args.model} on {args.device}; '
          f'{args.width}x{args.height}; {args.rounds} rounds after {args.warmup} warm-up',
          flush=True)
    result: dict[str, Any] = {'throughput': _throughput(args)}
    if not args.skip_memory:
        result['memory'] = _memory(args)
    print()
    print('| cameras | one-by-one fps | batched fps | ratio | latency one-by-one ms | '
          'latency batched ms |')
    print('|---:|---:|---:|---:|---:|---:|')
    for row in result['throughput']:
        print(f"| {row['cameras']} | {row['one_by_one_fps']:.2f} | {row['batched_fps']:.2f} | "
              f"{row['fps_ratio']:.2f}x | {row['one_by_one_latency_ms']:.0f} | "
              f"{row['batched_latency_ms']:.0f} |")
    if 'memory' in result:
        print()
        print('| cameras | node RSS MB | vs 1 camera | peak MB | vs 1 camera | '
              'N single-camera nodes MB |')
        print('|---:|---:|---:|---:|---:|---:|')
        for row in result['memory']:
            print(f"| {row['cameras']} | {row['rss_mb']:.0f} | {row['rss_ratio']:.3f}x | "
                  f"{row['peak_mb']:.0f} | {row['peak_ratio']:.3f}x | "
                  f"{row['separate_nodes_rss_mb']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
