"""`negas-ros play`: a converted bag played into a running detector_node, and player options.

The detector runs as its own process (like `ros2 run`) on the tiny random-weight model with
``input_transport: compressed`` in a namespace; the bag's ``/image/compressed`` is remapped
into that namespace, as a user would do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import subprocess
import threading
import time
from typing import Any

from harness import NodeProcess, start_node, wait_for
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage
from vision_msgs.msg import Detection2DArray

from negas_ros.bag.bdd100k import ImageFolderSequence
from negas_ros.bag.convert import convert_to_bag
from negas_ros.bag.player import PlayOptions, play_bag

pytestmark = [pytest.mark.ros, pytest.mark.model]

START_NS = 1_700_000_000_000_000_000
NAMESPACE = '/bagplay'


class Listener(Node):
    """Collects what arrives on a few topics, keyed by header stamp."""

    def __init__(self) -> None:
        super().__init__('bag_play_listener')
        self.lock = threading.Lock()
        self.detections: dict[int, Detection2DArray] = {}
        self.images: list[tuple[float, int]] = []  # (arrival time, stamp)
        self.clock: list[int] = []
        self.create_subscription(Detection2DArray, f'{NAMESPACE}/detections',
                                 self._on_detections, 100)
        self.create_subscription(CompressedImage, '/played/image', self._on_image, 100)
        self.create_subscription(Clock, '/clock', self._on_clock, 1000)

    @staticmethod
    def stamp(msg: Any) -> int:
        return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec

    def _on_detections(self, msg: Detection2DArray) -> None:
        with self.lock:
            self.detections[self.stamp(msg)] = msg

    def _on_image(self, msg: CompressedImage) -> None:
        with self.lock:
            self.images.append((time.monotonic(), self.stamp(msg)))

    def _on_clock(self, msg: Clock) -> None:
        with self.lock:
            self.clock.append(msg.clock.sec * 1_000_000_000 + msg.clock.nanosec)


@pytest.fixture(scope='module')
def bag(bdd_set: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('play') / 'drive'
    convert_to_bag(ImageFolderSequence(bdd_set['images'], bdd_set['labels'], start_ns=START_NS),
                   out, progress=False)
    return out


@pytest.fixture(scope='module')
def listener(rclpy_context: None) -> Iterator[Listener]:
    node = Listener()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    yield node
    executor.shutdown()
    node.destroy_node()


@pytest.fixture(scope='module')
def detector(listener: Listener, tiny_gdino_dir: Path, params_file: Path,
             bdd_set: dict[str, Any]) -> Iterator[NodeProcess]:
    labels = params_file.parent / 'labels.yaml'
    node = start_node(NAMESPACE, {'model': str(tiny_gdino_dir), 'labels_file': str(labels),
                                  'input_transport': 'compressed', 'box_threshold': '0.0',
                                  'max_detections': '5'})
    try:
        up = wait_for(lambda: listener.count_publishers(f'{NAMESPACE}/detections') > 0
                      or node.proc.poll() is not None, 90.0)
        assert up and node.proc.poll() is None, f'detector_node did not start:\n{node.log()}'
        # The first inference is slow (lazy initialisation); a frame arriving meanwhile would be
        # replaced by the next one. Warm the node up with one frame of its own.
        warm_up = listener.create_publisher(CompressedImage, f'{NAMESPACE}/image/compressed',
                                            qos_profile_sensor_data)
        frame = CompressedImage(format='jpeg', data=(bdd_set['images'] / 'frame0000.jpg')
                                .read_bytes())
        frame.header.stamp.sec = 7

        def warmed() -> bool:
            warm_up.publish(frame)
            return wait_for(lambda: 7_000_000_000 in listener.detections, 2.0)

        assert wait_for(warmed, 60.0, interval=0.0), f'no warm-up detections:\n{node.log()}'
        listener.destroy_publisher(warm_up)
        yield node
    finally:
        node.stop()


def test_play_into_the_detector_yields_detections_for_every_frame(
        bag: Path, bdd_set: dict[str, Any], listener: Listener, detector: NodeProcess) -> None:
    # The frames are 0.1 s apart; --rate 0.25 leaves the node 0.4 s per frame, so it does not
    # drop one even on a busy machine (it keeps only the newest frame when it falls behind).
    done = subprocess.run(
        ['negas-ros', 'play', str(bag), '--rate', '0.25', '--remap',
         f'/image/compressed:={NAMESPACE}/image/compressed', '--wait-for-subscribers', '30',
         '--no-progress'],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert 'published 16 messages' in done.stderr  # 8 frames + 8 ground-truth arrays
    expected = {START_NS + (f['timestamp'] - 10000) * 1_000_000 for f in bdd_set['frames']}
    assert wait_for(lambda: set(listener.detections) >= expected, 20.0), (
        f'detections for {len(set(listener.detections) & expected)} of 8 frames, missing '
        f'{sorted((s - START_NS) // 10**6 for s in expected - set(listener.detections))} ms\n'
        f'{done.stderr}\n{detector.log()}')
    for stamp in expected:
        msg = listener.detections[stamp]
        assert msg.header.frame_id == 'camera' and msg.detections


def test_player_timing_clock_loop_remap_and_topic_filter(bag: Path, listener: Listener) -> None:
    options = PlayOptions(rate=2.0, clock_hz=100.0, loop=True, max_loops=2,
                          topics=['/image/compressed'],
                          remap={'/image/compressed': '/played/image'},
                          wait_for_subscribers_s=10.0)
    with listener.lock:
        listener.images.clear()
        listener.clock.clear()
    published = play_bag(bag, options, progress=False)
    assert published == 16  # two passes of the 8 frames; ground truth filtered out
    assert wait_for(lambda: len(listener.images) >= 16, 10.0), len(listener.images)
    with listener.lock:
        arrivals = list(listener.images)
        clock = list(listener.clock)
    first_pass = arrivals[:8]
    # 0.7 s of bag time at rate 2: about 0.35 s between the first and the eighth frame.
    span = first_pass[-1][0] - first_pass[0][0]
    assert 0.25 < span < 0.9, span
    stamps = [stamp for _, stamp in arrivals]
    assert stamps[:8] == stamps[8:16] == sorted(stamps[:8])  # header stamps not rewritten
    # /clock: bag time, growing within a pass, back to the start for the second pass.
    # (Depth-1 clock publisher: a busy reader may miss single ticks, never get them reordered.)
    assert clock and START_NS <= min(clock) <= START_NS + 100_000_000
    assert max(stamps) - 100_000_000 <= max(clock) <= max(stamps)
    restart = [k for k in range(1, len(clock)) if clock[k] < clock[k - 1]]
    assert len(restart) == 1
    assert clock[:restart[0]] == sorted(clock[:restart[0]])
    assert clock[restart[0]:] == sorted(clock[restart[0]:])


def test_player_rejects_unknown_topics(bag: Path, rclpy_context: None) -> None:
    with pytest.raises(ValueError, match='no topic'):
        play_bag(bag, PlayOptions(topics=['/nope']), progress=False)
    with pytest.raises(ValueError, match='rate'):
        PlayOptions(rate=0.0)
