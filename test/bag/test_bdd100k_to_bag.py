"""`negas-ros bdd100k-to-bag`: the bag read back with rosbags' own reader, and bad inputs.

Bags are read with ``rosbags.highlevel.AnyReader``, which deserialises with the message
definitions stored in the bag and checks their type hashes: independent of our writer code.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import subprocess
from typing import Any

import cv2
import numpy as np
import pytest

from negas_ros.bag.bdd100k import Frame, ImageFolderSequence, InputError, SequenceInfo
from negas_ros.bag.convert import convert_to_bag
from negas_ros.cli import main

START = 1_700_000_000.0  # --start-time, s
START_NS = 1_700_000_000_000_000_000


def read_bag(path: Path) -> dict[str, list[tuple[int, Any]]]:
    """Topic -> [(bag time, message)] via rosbags' AnyReader (types from the bag itself)."""
    from rosbags.highlevel import AnyReader

    messages: dict[str, list[tuple[int, Any]]] = {}
    with AnyReader([path]) as reader:
        for conn, log_ns, raw in reader.messages():
            messages.setdefault(conn.topic, []).append(
                (log_ns, reader.deserialize(raw, conn.msgtype)))
        types = {c.topic: c.msgtype for c in reader.connections}
    messages['__types__'] = [(0, types)]
    return messages


def stamp(msg: Any) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def convert(*args: str) -> int:
    return main(['bdd100k-to-bag', '--no-progress', '--start-time', str(START), *args])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if '.partial' in p.name)


def test_images_and_labels_round_trip(bdd_set: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / 'drive'
    assert convert('--images', str(bdd_set['images']), '--labels', str(bdd_set['labels']),
                   '--out', str(out), '--frame-id', 'front_camera') == 0
    assert (out / 'drive.mcap').is_file() and (out / 'metadata.yaml').is_file()
    bag = read_bag(out)
    types = bag['__types__'][0][1]
    assert types == {'/image/compressed': 'sensor_msgs/msg/CompressedImage',
                     '/ground_truth': 'vision_msgs/msg/Detection2DArray'}
    frames = bdd_set['frames']
    images, truths = bag['/image/compressed'], bag['/ground_truth']
    assert len(images) == len(truths) == len(frames) == 8
    for (log_ns, image), (gt_log_ns, gt), frame in zip(images, truths, frames, strict=True):
        # Stamps from the label timestamps (ms), relative to the first, from --start-time.
        expected = START_NS + (frame['timestamp'] - 10000) * 1_000_000
        assert log_ns == gt_log_ns == stamp(image) == stamp(gt) == expected
        assert image.header.frame_id == gt.header.frame_id == 'front_camera'
        # JPEG bytes passed through unchanged.
        assert image.format == 'jpeg'
        assert image.data.tobytes() == (bdd_set['images'] / frame['name']).read_bytes()
        assert len(gt.detections) == len(frame['labels'])
        for det, label in zip(gt.detections, frame['labels'], strict=True):
            box = label['box2d']
            # Inclusive BDD100K ends: the continuous box is x1 .. x2 + 1.
            assert det.bbox.size_x == pytest.approx(box['x2'] - box['x1'] + 1)
            assert det.bbox.size_y == pytest.approx(box['y2'] - box['y1'] + 1)
            assert det.bbox.center.position.x == pytest.approx((box['x1'] + box['x2'] + 1) / 2)
            assert det.bbox.center.position.y == pytest.approx((box['y1'] + box['y2'] + 1) / 2)
            assert det.results[0].hypothesis.class_id == label['category']
            assert det.results[0].hypothesis.score == 1.0
            assert det.id == label['id']


def test_type_hashes_match_the_built_message_packages(bdd_set: dict[str, Any],
                                                      tmp_path: Path) -> None:
    # ros2 bag play checks nothing else: the hashes must be those colcon generated.
    import yaml

    out = tmp_path / 'hashes'
    assert convert('--images', str(bdd_set['images']), '--labels', str(bdd_set['labels']),
                   '--out', str(out)) == 0
    meta = yaml.safe_load((out / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    from negas_ros.bag.messages import find_msg_dir

    for entry in meta['topics_with_message_count']:
        topic = entry['topic_metadata']
        package, _, name = topic['type'].partition('/msg/')
        if package == 'vision_msgs':
            generated = json.loads((find_msg_dir('vision_msgs') / f'{name}.json').read_text())
            assert topic['type_description_hash'] == generated['type_hashes'][0]['hash_string']
        assert topic['offered_qos_profiles'][0]['reliability'] == 'reliable'


def test_sqlite3_raw_images_and_rate_stamps(bdd_set: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / 'raw'
    assert convert('--images', str(bdd_set['images']), '--out', str(out), '--storage',
                   'sqlite3', '--raw', '--rate', '4', '--limit', '3') == 0
    assert (out / 'raw.db3').is_file()
    bag = read_bag(out)
    assert bag['__types__'][0][1] == {'/image': 'sensor_msgs/msg/Image'}  # no labels, no GT
    images = bag['/image']
    assert [log for log, _ in images] == [START_NS + k * 250_000_000 for k in range(3)]
    first = images[0][1]
    expected = cv2.imread(str(bdd_set['images'] / 'frame0000.jpg'))
    assert (first.encoding, first.height, first.width, first.step) == ('bgr8', 360, 640, 1920)
    np.testing.assert_array_equal(first.data.reshape(360, 640, 3), expected)


def test_constant_det20_timestamps_fall_back_to_the_rate(bdd_set: dict[str, Any],
                                                         tmp_path: Path) -> None:
    frames = [dict(f, timestamp=10000) for f in bdd_set['frames']]  # as det_20 has them
    labels = tmp_path / 'det_20_constant.json'
    labels.write_text(json.dumps(frames))
    out = tmp_path / 'constant'
    assert convert('--images', str(bdd_set['images']), '--labels', str(labels), '--out',
                   str(out), '--rate', '5') == 0
    logs = [log for log, _ in read_bag(out)['/image/compressed']]
    assert logs == [START_NS + k * 200_000_000 for k in range(8)]


def test_videos_resampled_with_track_labels(tmp_path: Path) -> None:
    from negas_ros.synthetic import street_frame

    videos = tmp_path / 'videos'
    videos.mkdir()
    writer = cv2.VideoWriter(str(videos / 'clip.avi'), cv2.VideoWriter_fourcc(*'MJPG'), 10.0,
                             (320, 240))
    assert writer.isOpened()
    for k in range(10):
        writer.write(street_frame(k, 320, 240, seed=1))
    writer.release()
    labels = tmp_path / 'track'
    labels.mkdir()
    (labels / 'clip.json').write_text(json.dumps([
        {'name': f'clip-{k + 1:07d}.jpg', 'videoName': 'clip', 'frameIndex': k,
         'labels': [{'id': '7', 'category': 'car',
                     'box2d': {'x1': 5.0, 'y1': 6.0, 'x2': 50.0 + k, 'y2': 60.0}}]}
        for k in range(5)]))
    out = tmp_path / 'clip_bag'
    assert convert('--videos', str(videos), '--labels', str(labels), '--fps', '5', '--out',
                   str(out)) == 0
    bag = read_bag(out)
    images, truths = bag['/image/compressed'], bag['/ground_truth']
    assert [log for log, _ in images] == [START_NS + k * 200_000_000 for k in range(5)]
    assert [stamp(m) for _, m in truths] == [log for log, _ in images]
    assert [m.detections[0].bbox.size_x for _, m in truths] == [46.0 + k for k in range(5)]
    decoded = cv2.imdecode(images[0][1].data, cv2.IMREAD_COLOR)
    assert decoded.shape == (240, 320, 3)


def test_bad_inputs_are_reported_with_file_and_frame(
        bdd_set: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = json.loads(bdd_set['labels'].read_text())
    frames[2]['labels'][0]['box2d']['x2'] = 700.0  # outside the 640-pixel-wide image
    frames[5]['name'] = 'missing.jpg'
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(frames))
    out = tmp_path / 'never'
    assert convert('--images', str(bdd_set['images']), '--labels', str(bad), '--out',
                   str(out)) == 2
    err = capsys.readouterr().err
    assert '2 problem(s); nothing was written' in err
    assert "frame 2 'frame0002.jpg', label 0 (id '2-1')" in err and 'outside the 640x360' in err
    assert "frame 5 'missing.jpg': image file" in err and 'is missing' in err
    assert not out.exists() and leftovers(tmp_path) == []

    # Clipping instead: the bag is written, the box ends at the image border.
    assert convert('--images', str(bdd_set['images']), '--labels', str(bad), '--out',
                   str(out), '--on-bad-box', 'clip', '--limit', '4') == 0
    gt = read_bag(out)['/ground_truth'][2][1]
    assert gt.detections[0].bbox.center.position.x + gt.detections[0].bbox.size_x / 2 == 640.0

    # An existing bag is not replaced without --overwrite.
    assert convert('--images', str(bdd_set['images']), '--out', str(out)) == 2
    assert 'exists already' in capsys.readouterr().err


def test_malformed_json_names_line_and_frame(bdd_set: dict[str, Any], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(json.loads(bdd_set['labels'].read_text()), indent=1)
    cut = text.index('"frame0003.jpg"')
    broken = tmp_path / 'broken.json'
    broken.write_text(text[:cut] + '"frame0003.jpg" "oops"' + text[cut + 15:])
    expected_line = text[:cut].count('\n') + 1
    assert convert('--images', str(bdd_set['images']), '--labels', str(broken), '--out',
                   str(tmp_path / 'x')) == 2
    err = capsys.readouterr().err
    assert f'{broken}: malformed JSON at line {expected_line}' in err and 'frame 3' in err
    assert not (tmp_path / 'x').exists()


def test_nothing_is_left_when_writing_fails_half_way(bdd_set: dict[str, Any],
                                                     tmp_path: Path) -> None:
    class Failing:
        """Checks fine, then a frame fails after two were written (e.g. a disk error)."""

        labels_path = None

        def __init__(self) -> None:
            self.inner = ImageFolderSequence(bdd_set['images'], start_ns=START_NS)

        def check(self, progress: Any = None) -> SequenceInfo:
            return self.inner.check(progress)

        def __iter__(self) -> Iterator[Frame]:
            for frame in self.inner:
                if frame.index == 2:
                    raise InputError('frame 2: simulated failure')
                yield frame

    out = tmp_path / 'half'
    with pytest.raises(InputError, match='simulated'):
        convert_to_bag(Failing(), out, progress=False)
    assert not out.exists() and leftovers(tmp_path) == []


def test_command_line_entry_point(bdd_set: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / 'cli'
    done = subprocess.run(
        ['negas-ros', 'bdd100k-to-bag', '--images', str(bdd_set['images']), '--labels',
         str(bdd_set['labels']), '--out', str(out), '--no-progress'],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert 'wrote' in done.stderr and '8 frames, 8 ground-truth messages (20 boxes)' in done.stderr
