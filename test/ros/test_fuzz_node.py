"""A storm of malformed frames and parameter updates over real DDS (bounded: about 2 minutes).

Thousands of malformed sensor_msgs/Image and CompressedImage messages, mixed with valid frames
of varying sizes, while another thread sends invalid (and some valid) parameter updates. The
node must stay alive, account for every frame it received in /diagnostics (processed, dropped,
bad, errors: no frame lost without a count, and no unexpected error), reject every invalid
update with a reason, keep the last valid configuration, answer valid frames afterwards, and
grow less than 60 MB.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import struct
import threading
import time
from typing import Any
import zlib

from diagnostic_msgs.msg import DiagnosticArray
from harness import Client, NodeProcess, running_detector, wait_for
import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from negas_ros.ros.conversions import bgr_to_image_msg
from negas_ros.synthetic import street_frame

pytestmark = [pytest.mark.ros, pytest.mark.model]

BAD_RAW = 2400
BAD_COMPRESSED = 1200
VALID_EVERY = 60  # one valid frame (awaited) per this many bad ones
GROWTH_LIMIT_MB = 60.0
# Reliable, deep queues on both sides: every message sent is received, so the node's counters
# can be checked against what was sent.
QOS = QoSProfile(depth=5000, reliability=ReliabilityPolicy.RELIABLE)


def _params(model_dir: Path, labels_file: Path, namespace: str, topic: str,
            transport: str) -> dict[str, str]:
    prefix = f'qos_overrides.{namespace}/{topic}.subscription'
    return {'backend': 'yolo_world', 'model': str(model_dir), 'labels_file': str(labels_file),
            'box_threshold': '0.0', 'max_detections': '5', 'input_transport': transport,
            f'{prefix}.reliability': 'reliable', f'{prefix}.depth': '5000'}


class FuzzClient(Client):
    """The e2e client with reliable deep publishers and a /diagnostics reader."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace, namespace[1:] + '_client')
        self.destroy_publisher(self.image_pub)  # the base client's are best effort
        self.destroy_publisher(self.compressed_pub)
        self.image_pub = self.create_publisher(Image, f'{namespace}/image', QOS)
        self.compressed_pub = self.create_publisher(
            CompressedImage, f'{namespace}/image/compressed', QOS)
        self.counters: dict[str, int] = {}
        self.sent = 0  # frames published on either input topic
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)

    def publish_raw(self, msg: Image) -> None:
        self.sent += 1
        self.image_pub.publish(msg)

    def publish_compressed(self, msg: CompressedImage) -> None:
        self.sent += 1
        self.compressed_pub.publish(msg)

    def send(self, image: Any, header: Header | None = None) -> Header:
        if isinstance(image, Image):  # an already built message
            self.publish_raw(image)
            return image.header
        self.sent += 1
        return super().send(image, header)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == 'negas_detector: inference' and any(
                    kv.key == 'topic' and kv.value.startswith(self.ns + '/')
                    for kv in status.values):
                with self.lock:
                    self.counters = {kv.key: int(kv.value) for kv in status.values
                                     if kv.value.isdigit()}

    def counter(self, name: str) -> int:
        with self.lock:
            return self.counters.get(name, -1)


def _rss_mb(node: NodeProcess) -> float:
    for line in Path(f'/proc/{node.proc.pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024.0
    raise AssertionError('no VmRSS')


def _valid_raw(rng: np.random.Generator, index: int, header: Header) -> Image:
    """A valid frame of a random size, sometimes with padded rows, mono8 or the big-endian flag
    (meaningless for 8-bit data): all must be processed."""
    width, height = int(rng.integers(160, 400)), int(rng.integers(120, 300))
    frame = street_frame(index, width, height, seed=21)
    msg = bgr_to_image_msg(frame, header)
    kind = index % 4
    if kind == 1:  # padded rows
        pad = int(rng.integers(1, 32))
        rows = np.zeros((height, width * 3 + pad), np.uint8)
        rows[:, : width * 3] = frame.reshape(height, -1)
        msg.step, msg.data = width * 3 + pad, rows.tobytes()
    elif kind == 2:
        msg.encoding, msg.step, msg.data = 'mono8', width, frame[:, :, 1].tobytes()
    elif kind == 3:
        msg.is_bigendian = 1
    return msg


_ENCODINGS = ['', '32FC1', 'bgr16', 'rgb16', 'mono16', '16UC1', '8UC3', 'yuv422', 'uyvy',
              'bayer_rggb8', 'BGR8', 'jpeg', 'x' * 300, 'bgr8\x00', 'rgb8 ']


def _bad_raw(rng: np.random.Generator, index: int, header: Header) -> Image:
    width, height = int(rng.integers(1, 200)), int(rng.integers(1, 150))
    data = rng.integers(0, 256, width * height * 3, dtype=np.uint8).tobytes()
    msg = Image(header=header, height=height, width=width, encoding='bgr8',
                step=width * 3, is_bigendian=0)
    kind = index % 8
    if kind == 0:  # unsupported or malformed encoding string
        msg.encoding = _ENCODINGS[index // 8 % len(_ENCODINGS)]
    elif kind == 1:  # step shorter than a row
        msg.step = max(0, width * 3 - int(rng.integers(1, 4)))
    elif kind == 2:  # data shorter than step x height
        data = data[: int(rng.integers(0, len(data)))]
    elif kind == 3:  # data longer than step x height
        data += b'\x00' * int(rng.integers(1, 100))
    elif kind == 4:  # zero sizes
        msg.height, msg.width, msg.step, data = 0, int(rng.integers(0, 3)) * width, 0, b''
    elif kind == 5:  # huge declared sizes with a small payload
        msg.height, msg.width = 100_000, 100_000
        msg.step = 300_000
    elif kind == 6:  # big-endian flag on a short payload
        msg.is_bigendian, data = 1, data[:-3]
    else:  # a step that does not hold the row of a 4-channel encoding
        msg.encoding = 'bgra8'
    msg.data = data
    return msg


def _png(width: int, height: int, rows: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', crc)

    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(rows))
            + chunk(b'IEND', b''))


def _bad_compressed(rng: np.random.Generator, index: int, header: Header,
                    jpeg: bytes, png: bytes) -> CompressedImage:
    kind = index % 7
    fmt = ['jpeg', 'png', '', 'bgr8; jpeg compressed bgr8', 'tiff', 'x' * 200][index % 6]
    if kind == 0:
        data = rng.integers(0, 256, int(rng.integers(1, 4000)), dtype=np.uint8).tobytes()
    elif kind == 1:  # truncated JPEG
        data = jpeg[: int(rng.integers(2, len(jpeg) // 3))]
    elif kind == 2:  # truncated PNG
        data = png[: int(rng.integers(8, len(png) // 2))]
    elif kind == 3:
        data = b''
    elif kind == 4:  # a JPEG whose body was overwritten
        body = bytearray(jpeg)
        body[20:] = rng.integers(0, 256, len(body) - 20, dtype=np.uint8).tobytes()
        data = bytes(body)
    elif kind == 5:  # a PNG header declaring a huge image, little data
        data = _png(60_000, 60_000, b'\x00' * (1 + 3 * 64) * 4)
    else:  # declared big enough to fit the decoder's limit, but the data ends early
        data = _png(30_000, 30_000, b'\x00' * (1 + 3 * 64) * 4)
    return CompressedImage(header=header, format=fmt, data=data)


_INVALID_UPDATES: list[tuple[dict[str, Any], str]] = [
    ({'box_threshold': 1.5}, 'box_threshold'),
    ({'box_threshold': -0.1}, 'box_threshold'),
    ({'ood_threshold': 7.0}, 'ood_threshold'),
    ({'score_method': 'bogus'}, 'score_method'),
    ({'labels_file': '/nonexistent/labels.yaml'}, 'labels.yaml'),
    ({'max_detections': 0}, 'max_detections'),
    ({'box_threshold': 'high'}, 'box_threshold'),
    ({'nega': 'yes'}, 'nega'),
    ({'unknown_label': 'car'}, 'unknown_label'),
    ({'max_detections': 2.5}, 'max_detections'),
]
_VALID_UPDATES = [{'ood_threshold': 0.4}, {'ood_threshold': 0.6}, {'box_threshold': 0.0},
                  {'max_detections': 5}]


class _ParameterStorm(threading.Thread):
    """Sends invalid updates (and every fifth a valid one) until stopped; records failures."""

    def __init__(self, client: FuzzClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.invalid = 0
        self.last_valid: dict[str, Any] = {}

    def run(self) -> None:
        step = 0
        while not self.stop.is_set():
            if step % 5 == 4:
                update = _VALID_UPDATES[step // 5 % len(_VALID_UPDATES)]
                result = self.client.set_parameters(**update)[0]
                if not result.successful:
                    self.problems.append(f'valid update {update} rejected: {result.reason}')
                self.last_valid.update(update)
            else:
                update, part = _INVALID_UPDATES[step % len(_INVALID_UPDATES)]
                try:
                    result = self.client.set_parameters(**update)[0]
                except Exception as exc:  # a wrong-typed value may fail in the client
                    self.problems.append(f'{update}: {exc!r}')
                else:
                    self.invalid += 1
                    if result.successful or part not in result.reason:
                        self.problems.append(f'{update} -> {result.successful} '
                                             f'{result.reason!r}')
            step += 1
            time.sleep(0.02)


def _storm(client: FuzzClient, node: NodeProcess, count: int,
           make_bad: Callable[[int, Header], Any], send_bad: Callable[[Any], None],
           send_valid: Callable[[int], Header]) -> tuple[int, int, int]:
    """Send ``count`` bad messages with an awaited valid frame every VALID_EVERY; returns
    (bad sent, valid sent, valid answered)."""
    valid_sent = valid_answered = 0
    for index in range(count):
        send_bad(make_bad(index, client.next_header('fuzz_bad')))
        time.sleep(0.001)
        if index % VALID_EVERY == VALID_EVERY - 1:
            header = send_valid(index)
            valid_sent += 1
            valid_answered += client.result_for(header, timeout=10.0) is not None
            assert node.proc.poll() is None, f'detector_node died:\n{node.log()[-3000:]}'
    return count, valid_sent, valid_answered


def _check_accounting(client: FuzzClient, node: NodeProcess, bad: int) -> None:
    """Every received frame is counted once: processed, dropped, bad or error; none errored."""
    sent = client.sent

    def settled() -> bool:
        c = client.counters
        return c.get('received') == sent and c.get('received') == (
            c.get('processed', 0) + c.get('dropped', 0) + c.get('bad_images', 0)
            + c.get('errors', 0))

    assert wait_for(settled, 15.0), (client.counters, sent, node.log()[-3000:])
    counters = dict(client.counters)
    assert counters['errors'] == 0, (counters, node.log()[-3000:])
    # Bad frames are dropped only when a newer frame replaced them before decoding.
    assert counters['bad_images'] >= 0.9 * bad - counters['dropped'], counters
    assert counters['bad_images'] >= 0.5 * bad, counters


def test_raw_image_and_parameter_storm(rclpy_context: None, tiny_yolo_world_dir: Path,
                                       labels_file: Path) -> None:
    namespace = '/fuzz_raw'
    client = FuzzClient(namespace)
    params = _params(tiny_yolo_world_dir, labels_file, namespace, 'image', 'raw')
    with running_detector(namespace, params, client) as (node, _):
        rng = np.random.default_rng(0)
        client.send_and_wait(street_frame(0, 320, 240))  # matched and warm
        time.sleep(1.0)
        start_mb = _rss_mb(node)
        storm = _ParameterStorm(client)
        storm.start()
        try:
            bad, valid, answered = _storm(
                client, node, BAD_RAW, lambda i, h: _bad_raw(rng, i, h),
                client.publish_raw,
                lambda i: client.send(_valid_raw(rng, i, client.next_header('fuzz_ok'))))
        finally:
            storm.stop.set()
            storm.join(timeout=30)
        assert not storm.problems, storm.problems[:5]
        assert storm.invalid >= 50
        assert answered == valid, f'{answered} of {valid} valid frames answered'
        # The last valid configuration is in force and frames are still answered.
        header, msg = client.send_and_wait(street_frame(9, 256, 192))
        ood = client.ood[client.key(header)]
        assert ood.threshold == pytest.approx(storm.last_valid['ood_threshold'])
        assert 0 < len(msg.detections) <= 5
        _check_accounting(client, node, bad)
        growth = _rss_mb(node) - start_mb
        assert growth < GROWTH_LIMIT_MB, f'grew {growth:.1f} MB'


def test_compressed_image_storm(rclpy_context: None, tiny_yolo_world_dir: Path,
                                labels_file: Path) -> None:
    import cv2

    namespace = '/fuzz_jpeg'
    client = FuzzClient(namespace)
    params = _params(tiny_yolo_world_dir, labels_file, namespace, 'image/compressed',
                     'compressed')
    with running_detector(namespace, params, client, input_topic='image/compressed') as (
            node, _):
        rng = np.random.default_rng(1)
        jpeg = cv2.imencode('.jpg', street_frame(1, 320, 240))[1].tobytes()
        png = cv2.imencode('.png', street_frame(2, 200, 150))[1].tobytes()

        def send_valid(index: int) -> Header:
            header = client.next_header('fuzz_ok')
            frame = street_frame(index, int(rng.integers(160, 400)), int(rng.integers(120, 300)))
            ext, fmt = ('.jpg', 'jpeg') if index % 2 else ('.png', 'png')
            client.publish_compressed(CompressedImage(
                header=header, format=fmt, data=cv2.imencode(ext, frame)[1].tobytes()))
            return header

        header = None
        for attempt in range(3):  # matched and warm
            header = send_valid(attempt)
            if client.result_for(header, timeout=10.0) is not None:
                break
        assert header is not None and client.key(header) in client.detections, node.log()
        time.sleep(1.0)
        start_mb = _rss_mb(node)
        bad, valid, answered = _storm(
            client, node, BAD_COMPRESSED,
            lambda i, h: _bad_compressed(rng, i, h, jpeg, png), client.publish_compressed,
            send_valid)
        assert answered == valid, f'{answered} of {valid} valid frames answered'
        _check_accounting(client, node, bad)
        assert _rss_mb(node) - start_mb < GROWTH_LIMIT_MB
