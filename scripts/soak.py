#!/usr/bin/env python3
"""Soak run: the node on the embedded model for a long time, memory and latency sampled.

Not a test (it runs for half an hour): starts ``detector_node`` as ``make demo`` configures it
(``config/demo.yaml``: negas_mini on the CPU, the world labels, NegA on), publishes 640x480
``bgr8`` street frames at ``--rate`` Hz (30 by default: faster than the model on a small CPU, so
frames are dropped as designed) and every ``--sample-s`` seconds records the node's resident
memory (VmRSS of its process), its ``/diagnostics`` counters and latency, and the round-trip
latency of the newest answered frame (publish to Detection2DArray back). Writes a CSV, a PNG
plot and a JSON summary: the memory slope after ``--warmup-min`` minutes (least squares, MB per
10 minutes) and the drop rate.

Usage (inside `source scripts/env.sh`):
  python scripts/soak.py --minutes 30 --out docs/soak
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
NAMESPACE = '/soak'


class _Listener:
    """Collects the node's answers (stamp -> arrival time) and its latest diagnostics."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered: dict[int, float] = {}
        self.counters: dict[str, float] = {}

    def on_detections(self, msg: Any) -> None:
        with self.lock:
            self.answered[msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec] = (
                time.monotonic())

    def on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if values.get('topic', '').startswith(NAMESPACE + '/'):
                with self.lock:
                    self.counters = {k: float(v) for k, v in values.items()
                                     if k != 'topic' and _is_number(v)}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError('no VmRSS')


def _slope_mb_per_10min(minutes: list[float], rss: list[float], warmup: float) -> float:
    t = np.array([m for m in minutes if m >= warmup])
    y = np.array([r for m, r in zip(minutes, rss, strict=True) if m >= warmup])
    if len(t) < 3:
        return float('nan')
    return float(np.polyfit(t, y, 1)[0] * 10.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--minutes', type=float, default=30.0)
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second sent')
    parser.add_argument('--sample-s', type=float, default=10.0)
    parser.add_argument('--warmup-min', type=float, default=3.0,
                        help='minutes left out of the memory slope')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--out', type=Path, default=Path('soak'))
    args = parser.parse_args()

    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header
    from vision_msgs.msg import Detection2DArray

    from negas_ros.ros.conversions import bgr_to_image_msg
    from negas_ros.ros.process import stop_process_group
    from negas_ros.synthetic import street_frame

    os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(100, 200)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    args.out.mkdir(parents=True, exist_ok=True)
    labels = REPO / 'config' / 'labels' / 'world.yaml'
    command = ['detector_node', '--ros-args', '-r', f'__ns:={NAMESPACE}',
               '--params-file', str(REPO / 'config' / 'demo.yaml'),
               '-p', f'labels_file:={labels}']
    frames = [street_frame(i, args.width, args.height, seed=17) for i in range(8)]
    messages = [bgr_to_image_msg(f, Header(frame_id='soak_camera')) for f in frames]

    rclpy.init()
    listener = _Listener()
    client = rclpy.create_node('soak_client')
    publisher = client.create_publisher(Image, f'{NAMESPACE}/image', qos_profile_sensor_data)
    client.create_subscription(Detection2DArray, f'{NAMESPACE}/detections',
                               listener.on_detections, 50)
    client.create_subscription(DiagnosticArray, '/diagnostics', listener.on_diagnostics, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    threading.Thread(target=executor.spin, daemon=True).start()

    rows: list[dict[str, float]] = []
    sent: dict[int, float] = {}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 180
            while client.count_subscribers(f'{NAMESPACE}/image') == 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError('detector_node did not start:\n'
                                       + log.read().decode(errors='replace')[-3000:])
                time.sleep(0.2)
            start = time.monotonic()
            next_frame = next_sample = start
            index = 0
            while time.monotonic() - start < args.minutes * 60:
                now = time.monotonic()
                if now >= next_frame:
                    index += 1
                    msg = messages[index % len(messages)]
                    stamp = index
                    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp, 0
                    publisher.publish(msg)
                    sent[stamp * 1_000_000_000] = time.monotonic()
                    next_frame += 1.0 / args.rate
                if now >= next_sample:
                    with listener.lock:
                        counters = dict(listener.counters)
                        answered = dict(listener.answered)
                    recent = sorted(answered)[-20:]
                    latency = [answered[k] - sent[k] for k in recent if k in sent]
                    rows.append({
                        'minutes': (now - start) / 60.0,
                        'rss_mb': _rss_mb(proc.pid),
                        'sent': float(index),
                        'answered': float(len(answered)),
                        'received': counters.get('received', float('nan')),
                        'processed': counters.get('processed', float('nan')),
                        'dropped': counters.get('dropped', float('nan')),
                        'bad_images': counters.get('bad_images', float('nan')),
                        'errors': counters.get('errors', float('nan')),
                        'node_latency_ms': counters.get('latency_ms', float('nan')),
                        'round_trip_ms': float(np.median(latency) * 1e3) if latency else
                        float('nan'),
                    })
                    print(', '.join(f'{k} {v:.1f}' for k, v in rows[-1].items()), flush=True)
                    next_sample += args.sample_s
                time.sleep(max(0.0, min(next_frame, next_sample) - time.monotonic()))
            alive = proc.poll() is None
        finally:
            executor.shutdown()
            client.destroy_node()
            rclpy.shutdown()
            stop_process_group(proc, timeout=15)

    with (args.out / 'soak.csv').open('w', newline='') as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    minutes = [r['minutes'] for r in rows]
    rss = [r['rss_mb'] for r in rows]
    last = rows[-1]
    summary = {
        'date': time.strftime('%Y-%m-%d'),
        'machine': f'{platform.machine()}, {os.cpu_count()} cores, {platform.system()} '
                   f'{platform.release()}, python {platform.python_version()}',
        'minutes': args.minutes, 'rate_hz': args.rate, 'image': f'{args.width}x{args.height}',
        'node_alive_at_end': alive,
        'rss_start_mb': rss[0], 'rss_end_mb': rss[-1], 'rss_max_mb': max(rss),
        'slope_mb_per_10min_after_warmup': _slope_mb_per_10min(minutes, rss, args.warmup_min),
        'warmup_min': args.warmup_min,
        'frames_sent': last['sent'], 'frames_received': last['received'],
        'frames_processed': last['processed'], 'frames_dropped': last['dropped'],
        'drop_rate': last['dropped'] / last['received'] if last['received'] else float('nan'),
        'errors': last['errors'], 'bad_images': last['bad_images'],
        'node_latency_ms_median': float(np.nanmedian([r['node_latency_ms'] for r in rows])),
        'round_trip_ms_median': float(np.nanmedian([r['round_trip_ms'] for r in rows])),
    }
    (args.out / 'soak.json').write_text(json.dumps(summary, indent=2) + '\n')
    _plot(rows, args.out / 'soak.png', args.warmup_min)
    print(json.dumps(summary, indent=2))
    return 0 if alive else 1


def _plot(rows: list[dict[str, float]], path: Path, warmup: float) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    minutes = [r['minutes'] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(minutes, [r['rss_mb'] for r in rows], label='node resident memory (MB)')
    top.axvline(warmup, color='grey', linestyle=':', label='end of warm-up')
    top.set_ylabel('MB')
    top.legend()
    bottom.plot(minutes, [r['node_latency_ms'] for r in rows], label='node latency (EMA, ms)')
    bottom.plot(minutes, [r['round_trip_ms'] for r in rows], label='round trip (median, ms)')
    bottom.set_ylabel('ms')
    bottom.set_xlabel('minutes')
    bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == '__main__':
    raise SystemExit(main())
