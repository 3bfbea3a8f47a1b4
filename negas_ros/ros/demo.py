"""`make demo`: the detector node on an offline model, fed a generated camera stream over ROS.

Starts ``detector_node`` as its own process with ``config/demo.yaml``, publishes generated
street frames like a camera (best effort ``bgr8`` on ``/camera/image_raw``), prints a summary
per frame (detections, unknowns, latency), writes annotated frames from ``debug_image`` to a
folder with a contact sheet, and ends by itself.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from negas_ros.image_convert import raw_to_rgb
from negas_ros.msg import OodDetectionArray
from negas_ros.ros.conversions import bgr_to_image_msg
from negas_ros.synthetic import street_frame

RANDOM_WEIGHTS_BANNER = (
    'NOTE: the demo model has RANDOM WEIGHTS (no pretrained checkpoint can be downloaded '
    'here). Boxes, labels and unknown flags exercise the full pipeline but mean nothing. '
    'Use a real checkpoint (README: "Real checkpoints on a GPU") for real detections.')


def _ensure_model(cache: Path) -> Path:
    from negas_ros.backends.tiny import write_tiny_grounding_dino

    return write_tiny_grounding_dino(cache / 'tiny_grounding_dino', seed=0)


class _DemoCamera(Node):
    def __init__(self, out_dir: Path) -> None:
        super().__init__('negas_demo_camera')
        self.out_dir = out_dir
        self.image_pub = self.create_publisher(Image, '/camera/image_raw', qos_profile_sensor_data)
        self.create_subscription(OodDetectionArray, '/ood_detections', self._on_result,
                                 QoSProfile(depth=50))
        self.create_subscription(Image, '/debug_image', self._on_debug, QoSProfile(depth=50))
        self.sent: dict[int, float] = {}
        self.results: dict[int, tuple[int, int, float, str]] = {}
        self.debug_frames: dict[int, np.ndarray] = {}
        self.lock = threading.Lock()

    @staticmethod
    def _key(header: Header) -> int:
        return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)

    def publish_frame(self, index: int, width: int, height: int) -> int:
        header = Header(frame_id='camera', stamp=self.get_clock().now().to_msg())
        key = self._key(header)
        with self.lock:
            self.sent[key] = time.perf_counter()
        self.image_pub.publish(bgr_to_image_msg(street_frame(index, width, height), header))
        return key

    def _on_result(self, msg: OodDetectionArray) -> None:
        key = self._key(msg.header)
        with self.lock:
            sent = self.sent.get(key)
            if sent is None:
                return
            unknown = [d for d in msg.detections if d.is_ood]
            labels = ', '.join(
                (f'UNKNOWN(~{d.id_label}, ood {d.ood_confidence:.2f})' if d.is_ood
                 else f'{d.id_label} {d.id_confidence:.2f}') for d in msg.detections[:4])
            self.results[key] = (len(msg.detections), len(unknown),
                                 (time.perf_counter() - sent) * 1e3, labels)

    def _on_debug(self, msg: Image) -> None:
        rgb = raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
        with self.lock:
            self.debug_frames[self._key(msg.header)] = rgb[:, :, ::-1].copy()


def _contact_sheet(frames: list[np.ndarray], path: Path, columns: int = 4) -> None:
    import cv2

    if not frames:
        return
    h, w = frames[0].shape[:2]
    thumbs = [cv2.resize(f, (w // 2, h // 2)) for f in frames]
    while len(thumbs) % columns:
        thumbs.append(np.zeros_like(thumbs[0]))
    rows = [np.hstack(thumbs[i:i + columns]) for i in range(0, len(thumbs), columns)]
    cv2.imwrite(str(path), np.vstack(rows))


def run(params: Path, out_dir: Path, frames: int, rate_hz: float, width: int,
        height: int, startup_timeout_s: float) -> int:
    import cv2

    root = Path(os.environ.get('NEGAS_ROS_ROOT', Path.cwd()))
    model_dir = _ensure_model(root / '.cache' / 'models')
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob('frame_*.png'):
        old.unlink()
    print(RANDOM_WEIGHTS_BANNER, flush=True)
    cmd = ['detector_node', '--ros-args', '--params-file', str(params),
           '-p', f'model:={model_dir}', '-r', 'image:=/camera/image_raw']
    print('starting:', ' '.join(cmd), flush=True)
    node_proc = subprocess.Popen(cmd, start_new_session=True)
    rclpy.init()
    camera = _DemoCamera(out_dir)
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(camera)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        deadline = time.monotonic() + startup_timeout_s
        while camera.count_subscribers('/camera/image_raw') == 0 or \
                camera.count_publishers('/ood_detections') == 0:
            if node_proc.poll() is not None:
                print(f'detector_node exited early with code {node_proc.returncode}',
                      file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print('detector_node did not come up in time', file=sys.stderr)
                return 1
            time.sleep(0.2)
        time.sleep(1.0)  # let discovery of the debug image subscription settle
        keys = []
        for index in range(frames):
            keys.append(camera.publish_frame(index, width, height))
            time.sleep(1.0 / rate_hz)
        time.sleep(3.0)
        print(f'\n{"frame":>5} {"dets":>5} {"unknown":>7} {"latency ms":>10}  top detections')
        processed = 0
        with camera.lock:
            for index, key in enumerate(keys):
                result = camera.results.get(key)
                if result is None:
                    print(f'{index:>5} {"-":>5} {"-":>7} {"-":>10}  dropped (node busy: only '
                          'the newest frame is processed)')
                    continue
                processed += 1
                n, n_unknown, latency, labels = result
                print(f'{index:>5} {n:>5} {n_unknown:>7} {latency:>10.1f}  {labels}')
            annotated = [(k, camera.debug_frames[k]) for k in keys if k in camera.debug_frames]
        for i, (_, frame) in enumerate(annotated):
            cv2.imwrite(str(out_dir / f'frame_{i:04d}.png'), frame)
        _contact_sheet([f for _, f in annotated[:12]], out_dir / 'contact_sheet.png')
        print(f'\n{processed}/{frames} frames processed; {len(annotated)} annotated frames and '
              f'contact_sheet.png written to {out_dir}')
        print(RANDOM_WEIGHTS_BANNER)
        return 0 if processed > 0 else 1
    finally:
        executor.shutdown()
        camera.destroy_node()
        rclpy.shutdown()
        if node_proc.poll() is None:
            os.killpg(node_proc.pid, signal.SIGINT)
            try:
                node_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(node_proc.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--params', type=Path, default=Path('config/demo.yaml'))
    parser.add_argument('--out', type=Path, default=Path('demo_output'))
    parser.add_argument('--frames', type=int, default=20)
    parser.add_argument('--rate', type=float, default=4.0, help='camera rate in Hz')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--startup-timeout', type=float, default=120.0)
    args = parser.parse_args(argv)
    return run(args.params.resolve(), args.out.resolve(), args.frames, args.rate, args.width,
               args.height, args.startup_timeout)


if __name__ == '__main__':
    sys.exit(main())
