"""Tracking in the node, through real rclpy and DDS (tiny random-weight YOLO-World).

A camera watching a static scene sends the same frame at 30 Hz: every detection keeps its track
id (Detection2D.id, a decimal string), its track grows by one frame per processed frame, and a
track is flagged unknown only once it has been seen track_min_frames times. A cut in time
starts new tracks; tracking can be switched off at run time; bad track parameters are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import Client, NodeProcess, running_detector
import pytest
from std_msgs.msg import Header

from negas_ros.synthetic import street_frame

pytestmark = [pytest.mark.ros, pytest.mark.model]

PERIOD_NS = 33_333_333


class VideoClient(Client):
    """Stamps frames 1/30 s apart, like a camera; ``jump`` leaves a gap."""

    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(namespace, name)
        self.stamp_ns = 1_000_000_000_000

    def next_header(self, frame_id: str = 'test_camera') -> Header:
        self.stamp_ns += PERIOD_NS
        header = Header(frame_id=frame_id)
        header.stamp.sec, header.stamp.nanosec = divmod(self.stamp_ns, 1_000_000_000)
        return header

    def jump(self, seconds: float) -> None:
        self.stamp_ns += round(seconds * 1e9)


@pytest.fixture(scope='module')
def detector(rclpy_context: None, tiny_yolo_world_dir: Path,
             labels_file: Path) -> Iterator[tuple[NodeProcess, VideoClient]]:
    params = {'backend': 'yolo_world', 'model': str(tiny_yolo_world_dir),
              'labels_file': str(labels_file), 'box_threshold': '0.0', 'ood_threshold': '0.5',
              'max_detections': '5', 'track_min_frames': '3', 'track_evidence': 'ema'}
    with running_detector('/trk', params, VideoClient('/trk', 'trk_client')) as running:
        yield running


def _frames(client: VideoClient, count: int) -> list[tuple[Any, Any]]:
    """Send the static scene ``count`` times; (Detection2DArray, OodDetectionArray) of each."""
    frame = street_frame(3, 320, 240, seed=7)
    out = []
    for _ in range(count):
        header, plain = client.send_and_wait(frame)
        with client.lock:
            out.append((plain, client.ood[client.key(header)]))
    return out


def test_a_static_scene_keeps_its_track_ids(detector: Any) -> None:
    _, client = detector
    frames = _frames(client, 6)
    first_ids = [d.id for d in frames[0][0].detections]
    assert first_ids and all(i.isdigit() for i in first_ids)
    assert len(set(first_ids)) == len(first_ids)
    previous = None
    for plain, rich in frames:
        assert [d.id for d in plain.detections] == first_ids  # same boxes, same order
        assert rich.track_evidence == 'ema'
        frames_seen = [d.track_frames for d in rich.detections]
        assert len(set(frames_seen)) == 1, 'all tracks were born together'
        if previous is not None:
            assert frames_seen[0] > previous  # one more per processed frame
        previous = frames_seen[0]
        for det in rich.detections:
            assert det.track_id == det.detection.id
            # The scene does not change: the frame's score is the track's (EMA of equals).
            assert det.id_score == pytest.approx(det.frame_id_score, abs=1e-6)
            assert det.frame_is_ood == (det.frame_id_score < rich.threshold)


def test_a_track_is_flagged_only_after_min_frames(detector: Any) -> None:
    _, client = detector
    client.jump(5.0)  # a cut: new tracks
    try:
        assert client.set_parameters(ood_threshold=1.0)[0].successful  # everything scores < 1
        frames = _frames(client, 5)
        for plain, rich in frames:
            for det, out in zip(rich.detections, plain.detections, strict=True):
                assert det.frame_is_ood
                assert det.is_ood == (det.track_frames >= 3)
                verdict = out.results[0].hypothesis.class_id
                assert (verdict == 'unknown') == det.is_ood
        assert frames[0][1].detections[0].track_frames == 1, 'the cut started new tracks'
        assert any(d.is_ood for d in frames[-1][1].detections)
    finally:
        assert client.set_parameters(ood_threshold=0.5)[0].successful


def test_a_cut_in_time_starts_new_tracks(detector: Any) -> None:
    _, client = detector
    before = _frames(client, 2)[-1]
    client.jump(3.0)
    after = _frames(client, 1)[0]
    old = {int(d.id) for d in before[0].detections}
    new = {int(d.id) for d in after[0].detections}
    assert min(new) > max(old)
    assert all(d.track_frames == 1 for d in after[1].detections)


def test_tracking_switches_off_and_bad_track_parameters_are_refused(detector: Any) -> None:
    _, client = detector
    results = client.set_parameters(track_decay=1.5)
    assert not results[0].successful and 'track_decay' in results[0].reason
    results = client.set_parameters(tracker='sort')
    assert not results[0].successful and "'tracker'" in results[0].reason
    still = _frames(client, 2)[-1][0]
    assert all(d.id.isdigit() for d in still.detections)  # the old settings keep tracking
    try:
        assert client.set_parameters(tracking=False)[0].successful
        plain, rich = _frames(client, 1)[0]
        assert all(d.id == '' for d in plain.detections)
        assert rich.track_evidence == ''
        assert all(d.track_id == '' and d.track_frames == 0 for d in rich.detections)
        assert all(d.is_ood == (d.id_score < rich.threshold) for d in rich.detections)
    finally:
        assert client.set_parameters(tracking=True)[0].successful
