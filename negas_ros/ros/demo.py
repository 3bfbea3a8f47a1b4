"""`make demo`: the detector node on the embedded model, fed generated videos over ROS.

Starts ``detector_node`` as its own process with ``config/demo.yaml`` (the embedded mini NegAS
detector, offline, tracking on), publishes videos of the procedural street world like a camera
(best effort ``bgr8`` on ``/camera/image_raw`` at ``--rate`` Hz, a moving camera; each video
holds ID objects and objects outside the ID labels; a pause between videos, so the node starts
new tracks), prints a line per answered frame (detections with their track ids, unknowns, how
many unknowns sit on objects that really are outside the ID labels, latency) and a summary by
track, writes annotated frames from ``debug_image`` and a contact sheet, and ends by itself.
The node drops frames it cannot keep up with, as designed: the newest frame wins.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from negas_ros.detection import box_iou
from negas_ros.image_convert import raw_to_rgb
from negas_ros.msg import OodDetectionArray
from negas_ros.ros.conversions import bgr_to_image_msg
from negas_ros.ros.process import stop_process_group
from negas_ros.world import ID_LABELS, Scene, World

MODEL_BANNER = (
    'NOTE: the embedded model (negas_mini) was trained from scratch on the procedural street '
    'world only (negas_ros/models/negas_mini/MODEL_CARD.md). It shows NegAS flagging objects '
    'outside the ID labels in that world; it is not a detector for real camera images. Use a '
    'real checkpoint for those (README: "Real checkpoints on a GPU").')
DEMO_SPLIT = 'mixed_test'  # every video has at least one ID and one OOD object
VIDEO_PAUSE_S = 1.5  # between videos: more than the node's 1 s cut, so tracks restart


class _DemoCamera(Node):
    def __init__(self, out_dir: Path) -> None:
        super().__init__('negas_demo_camera')
        self.out_dir = out_dir
        self.image_pub = self.create_publisher(Image, '/camera/image_raw', qos_profile_sensor_data)
        self.create_subscription(OodDetectionArray, '/ood_detections', self._on_result,
                                 QoSProfile(depth=50))
        self.create_subscription(Image, '/debug_image', self._on_debug, QoSProfile(depth=50))
        self.sent: dict[int, float] = {}
        self.truth: dict[int, list[tuple[str, bool, tuple[float, float, float, float]]]] = {}
        self.results: dict[int, tuple[int, int, int, float, str]] = {}
        # (video, track id) -> whether the track was ever flagged, whether it sits on an OOD
        # object (its detections' best ground-truth match)
        self.tracks: dict[tuple[int, str], list[bool]] = {}
        self.video_of: dict[int, int] = {}
        self.debug_frames: dict[int, np.ndarray] = {}
        self.lock = threading.Lock()

    @staticmethod
    def _key(header: Header) -> int:
        return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)

    def publish_frame(self, scene: Scene, video: int) -> int:
        header = Header(frame_id='camera', stamp=self.get_clock().now().to_msg())
        key = self._key(header)
        with self.lock:
            self.sent[key] = time.perf_counter()
            self.video_of[key] = video
            self.truth[key] = [
                (label['category'], label['category'] not in ID_LABELS,
                 (label['box2d']['x1'], label['box2d']['y1'],
                  label['box2d']['x2'] + 1.0, label['box2d']['y2'] + 1.0))
                for label in scene.frame_label['labels']]
        self.image_pub.publish(bgr_to_image_msg(scene.image[:, :, ::-1], header))
        return key

    def _on_result(self, msg: OodDetectionArray) -> None:
        key = self._key(msg.header)
        with self.lock:
            sent = self.sent.get(key)
            if sent is None:
                return
            unknown = [d for d in msg.detections if d.is_ood]
            ood_boxes = [box for _, is_ood, box in self.truth.get(key, []) if is_ood]

            def on_ood_object(d: Any) -> bool:
                return bool(ood_boxes) and bool(
                    (box_iou([_box_xyxy(d.detection)], ood_boxes) >= 0.5).any())

            on_ood = sum(1 for d in unknown if on_ood_object(d))
            for d in msg.detections:
                if d.track_id:
                    seen = self.tracks.setdefault((self.video_of[key], d.track_id),
                                                  [False, False])
                    seen[0] |= d.is_ood
                    seen[1] |= on_ood_object(d)
            labels = ', '.join(
                (f'#{d.track_id} UNKNOWN(~{d.id_label}, ood {d.ood_confidence:.2f})' if d.is_ood
                 else f'#{d.track_id} {d.id_label} {d.id_confidence:.2f}')
                for d in msg.detections[:4])
            self.results[key] = (len(msg.detections), len(unknown), on_ood,
                                 (time.perf_counter() - sent) * 1e3, labels)

    def _on_debug(self, msg: Image) -> None:
        rgb = raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
        with self.lock:
            self.debug_frames[self._key(msg.header)] = rgb[:, :, ::-1].copy()


def _box_xyxy(det: Any) -> tuple[float, float, float, float]:
    cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
    return (cx - det.bbox.size_x / 2, cy - det.bbox.size_y / 2,
            cx + det.bbox.size_x / 2, cy + det.bbox.size_y / 2)


def _contact_sheet(frames: list[np.ndarray], path: Path, columns: int = 4) -> None:
    import cv2

    if not frames:
        return
    h, w = frames[0].shape[:2]
    scale = 0.5 if w > 480 else 1.0  # small frames stay readable at full size
    thumbs = [cv2.resize(f, (int(w * scale), int(h * scale))) for f in frames]
    while len(thumbs) % columns:
        thumbs.append(np.zeros_like(thumbs[0]))
    rows = [np.hstack(thumbs[i:i + columns]) for i in range(0, len(thumbs), columns)]
    cv2.imwrite(str(path), np.vstack(rows))


def run(params: Path, out_dir: Path, videos: int, frames: int, rate_hz: float, width: int,
        height: int, startup_timeout_s: float, seed: int = 0) -> int:
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob('frame_*.png'):
        old.unlink()
    print(MODEL_BANNER, flush=True)
    world = World(seed=seed)
    cmd = ['detector_node', '--ros-args', '--params-file', str(params),
           '-r', 'image:=/camera/image_raw']
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
        for video in range(videos):
            for scene in world.render_video(DEMO_SPLIT, video, frames=frames,
                                            size=(width, height), fps=rate_hz):
                started = time.perf_counter()
                keys.append(camera.publish_frame(scene, video))
                time.sleep(max(0.0, 1.0 / rate_hz - (time.perf_counter() - started)))
            time.sleep(VIDEO_PAUSE_S)  # a cut: the node forgets its tracks
        time.sleep(3.0)
        print(f'\n{"frame":>5} {"dets":>5} {"unknown":>7} {"on OOD":>6} {"latency ms":>10}  '
              'top detections   [on OOD: unknowns whose box matches a true non-ID object]')
        processed = 0
        total_unknown = total_on_ood = 0
        with camera.lock:
            for index, key in enumerate(keys):
                result = camera.results.get(key)
                if result is None:
                    continue  # dropped: the node was busy and processed a newer frame
                processed += 1
                n, n_unknown, on_ood, latency, labels = result
                total_unknown += n_unknown
                total_on_ood += on_ood
                truth = ', '.join(f'{c}{"*" if o else ""}' for c, o, _ in camera.truth[key])
                print(f'{index:>5} {n:>5} {n_unknown:>7} {on_ood:>6} {latency:>10.1f}  {labels}')
                print(f'{"":>38}scene: {truth}   (* = not an ID label)')
            annotated = [(k, camera.debug_frames[k]) for k in keys if k in camera.debug_frames]
        for i, (_, frame) in enumerate(annotated):
            cv2.imwrite(str(out_dir / f'frame_{i:04d}.png'), frame)
        _contact_sheet([f for _, f in annotated[:12]], out_dir / 'contact_sheet.png')
        with camera.lock:
            flagged = [on_ood for ever_flagged, on_ood in camera.tracks.values() if ever_flagged]
            tracks = len(camera.tracks)
        print(f'\n{processed}/{len(keys)} frames processed (the others dropped as designed: the '
              f'node keeps only the newest frame); {total_unknown} detections flagged unknown, '
              f'{total_on_ood} of them on objects outside the ID labels; '
              f'{tracks} tracks, {len(flagged)} of them flagged unknown, '
              f'{sum(flagged)} of those on objects outside the ID labels; '
              f'{len(annotated)} annotated frames and contact_sheet.png written to {out_dir}')
        print(MODEL_BANNER)
        return 0 if processed > 0 else 1
    finally:
        executor.shutdown()
        camera.destroy_node()
        rclpy.shutdown()
        stop_process_group(node_proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--params', type=Path, default=Path('config/demo.yaml'))
    parser.add_argument('--out', type=Path, default=Path('demo_output'))
    parser.add_argument('--videos', type=int, default=3, help='world videos to play')
    parser.add_argument('--frames', type=int, default=45, help='frames per video')
    parser.add_argument('--rate', type=float, default=15.0, help='camera rate in Hz')
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--height', type=int, default=320)
    parser.add_argument('--seed', type=int, default=0, help='world seed of the scenes')
    parser.add_argument('--startup-timeout', type=float, default=120.0)
    args = parser.parse_args(argv)
    return run(args.params.resolve(), args.out.resolve(), args.videos, args.frames, args.rate,
               args.width, args.height, args.startup_timeout, args.seed)


if __name__ == '__main__':
    sys.exit(main())
