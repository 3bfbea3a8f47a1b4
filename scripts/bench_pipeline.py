#!/usr/bin/env python3
"""Per-stage latency of the node pipeline and the node's overhead over the bare model.

Not a test: prints numbers measured side by side in one run. Stages, per frame:
  convert     sensor_msgs/Image (bgr8) -> RGB array          (node only)
  preprocess  backend resize/normalise                        (inside the model call)
  model       network forward                                 (inside the model call)
  postprocess backend decoding, pass aggregation              (inside the model call)
  score       NegS / OOD scores and verdicts                  (node only)
  track       tracking and track verdicts (tracking: true, the default) (node only)
  publish     Detection2DArray built and published through rclpy (the node's output when
              nobody subscribes to ood_detections)
  publish_both  Detection2DArray + OodDetectionArray (someone reads ood_detections too)
The bare model is ``backend.infer`` alone; the node path is everything the node does per frame
(minus DDS transport), in the two cases. Overhead ratio = node path / bare model (medians).

Usage (inside `source scripts/env.sh`):
  python scripts/bench_pipeline.py                      # tiny random model, CPU
  python scripts/bench_pipeline.py --model IDEA-Research/grounding-dino-tiny --device cuda:0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import platform
import statistics
import tempfile
import time

import numpy as np


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', default='', help='checkpoint; default: tiny random model')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--negatives', type=int, default=8)
    parser.add_argument('--json', action='store_true', help='print one JSON line at the end')
    args = parser.parse_args()

    import rclpy
    from std_msgs.msg import Header
    from vision_msgs.msg import Detection2DArray

    from negas_ros.backends.base import create_backend
    from negas_ros.config import config_from_values
    from negas_ros.image_convert import raw_to_rgb
    from negas_ros.msg import OodDetectionArray
    from negas_ros.pipeline import DetectorPipeline, FrameResult, StreamTracker
    from negas_ros.ros.conversions import (
        bgr_to_image_msg,
        to_detection_array,
        to_detection_arrays,
    )
    from negas_ros.scoring import score_detections
    from negas_ros.synthetic import street_frame

    model = args.model
    if not model:
        from negas_ros.backends.tiny import write_tiny_grounding_dino

        model = str(write_tiny_grounding_dino(Path(tempfile.gettempdir()) / 'negas_bench_tiny'))
    negatives = ['van', 'tram', 'cart', 'mannequin', 'statue', 'scooter', 'wheelchair',
                 'stroller', 'mailbox', 'bench'][:args.negatives]
    config = config_from_values({
        'model': model, 'device': args.device, 'id_labels': ['car', 'person', 'bus', 'truck'],
        'negative_labels': negatives or [''], 'box_threshold': 0.05})
    pipeline = DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))
    backend = pipeline.backend
    tracks = StreamTracker()

    rclpy.init()
    node = rclpy.create_node('negas_bench')
    pub_plain = node.create_publisher(Detection2DArray, 'bench/detections', 10)
    pub_rich = node.create_publisher(OodDetectionArray, 'bench/ood_detections', 10)

    frames = [street_frame(i, args.width, args.height) for i in range(4)]
    msgs = [bgr_to_image_msg(f, Header(frame_id='camera')) for f in frames]
    stages: dict[str, list[float]] = {k: [] for k in (
        'convert', 'preprocess', 'model', 'postprocess', 'score', 'track', 'publish',
        'publish_both',
        'node_total', 'node_total_both', 'bare_model')}
    counts: list[int] = []
    for i in range(args.warmup + args.frames):
        msg = msgs[i % len(msgs)]
        # Node path, stage by stage (what DetectorNode._process does).
        t0 = time.perf_counter()
        rgb = raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
        t1 = time.perf_counter()
        raw = backend.infer(rgb, config.box_threshold)
        t2 = time.perf_counter()
        scored = score_detections(raw, config.labels, config.score_method,
                                  config.ood_threshold, config.score_params)
        ts = time.perf_counter()
        dets = tracks.apply(FrameResult(scored, config), i / 30.0).detections
        t3 = time.perf_counter()
        pub_plain.publish(to_detection_array(dets, msg.header, 'unknown'))
        t4 = time.perf_counter()
        plain, rich = to_detection_arrays(dets, msg.header, 'unknown', 'negs', 0.5, True)
        pub_plain.publish(plain)
        pub_rich.publish(rich)
        t5 = time.perf_counter()
        timings = dict(backend.last_timings)  # type: ignore[attr-defined]
        # Bare model on the same frame, measured right after, interleaved to share conditions.
        b0 = time.perf_counter()
        backend.infer(rgb, config.box_threshold)
        b1 = time.perf_counter()
        if i < args.warmup:
            continue
        counts.append(len(dets))
        stages['convert'].append(t1 - t0)
        stages['preprocess'].append(timings.get('preprocess', 0.0))
        stages['model'].append(timings.get('model', 0.0))
        stages['postprocess'].append(timings.get('postprocess', 0.0))
        stages['score'].append(ts - t2)
        stages['track'].append(t3 - ts)
        stages['publish'].append(t4 - t3)
        stages['publish_both'].append(t5 - t4)
        stages['node_total'].append(t4 - t0)
        stages['node_total_both'].append(t3 - t0 + t5 - t4)
        stages['bare_model'].append(b1 - b0)
    node.destroy_node()
    rclpy.shutdown()

    medians = {k: _median_ms(v) for k, v in stages.items()}
    ratio = medians['node_total'] / medians['bare_model']
    ratio_both = medians['node_total_both'] / medians['bare_model']
    print(f'machine: {platform.processor() or platform.machine()}, {platform.system()} '
          f'{platform.release()}, python {platform.python_version()}; model: {model}; '
          f'device {args.device}; image {args.width}x{args.height}; '
          f'{len(config.labels.id_labels)} ID + {len(negatives)} negative labels; '
          f'{args.frames} frames after {args.warmup} warm-up')
    print(f'{"stage":<12} {"median ms":>10} {"p90 ms":>8}')
    for key, values in stages.items():
        p90 = float(np.percentile(values, 90)) * 1e3
        print(f'{key:<12} {medians[key]:>10.2f} {p90:>8.2f}')
    print(f'node overhead over the bare model: {ratio:.3f}x '
          f'(+{medians["node_total"] - medians["bare_model"]:.2f} ms per frame); with '
          f'ood_detections read too: {ratio_both:.3f}x '
          f'(+{medians["node_total_both"] - medians["bare_model"]:.2f} ms)')
    print(f'detections per frame: {np.mean(counts):.1f}')
    if args.json:
        print(json.dumps({'model': model, 'device': args.device, 'ratio': ratio,
                          'ratio_both': ratio_both, 'detections': float(np.mean(counts)),
                          **{f'{k}_ms': v for k, v in medians.items()}}))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
