"""negas_ros.bag.bdd100k: the streaming label reader, image headers and label checks (pure)."""

from __future__ import annotations

import json
from pathlib import Path
import random

import cv2
import numpy as np
import pytest

from negas_ros.bag.bdd100k import (
    ImageFolderSequence,
    InputError,
    _read_head,
    image_size,
    iter_label_frames,
    parse_frame_labels,
)
from negas_ros.image_convert import ImageError


def test_streamed_labels_equal_json_load(bdd_set: dict, tmp_path: Path) -> None:
    path = bdd_set['labels']
    expected = json.loads(path.read_text())
    for chunk in (1, 7, 100, 1 << 20):  # elements split across reads at every position
        assert [frame for _, frame in iter_label_frames(path, chunk)] == expected
    scalabel = tmp_path / 'scalabel.json'
    scalabel.write_text(json.dumps({'config': {}, 'frames': expected}))
    assert [frame for _, frame in iter_label_frames(scalabel)] == expected
    empty = tmp_path / 'empty.json'
    empty.write_text(' [ ] ')
    assert list(iter_label_frames(empty)) == []


def test_malformed_json_positions_match_the_json_module(bdd_set: dict, tmp_path: Path) -> None:
    text = json.dumps(json.loads(bdd_set['labels'].read_text()), indent=1)
    broken = tmp_path / 'broken.json'
    rng = random.Random(0)
    checked = 0
    for cut in rng.sample(range(1, len(text)), 60):
        bad = text[:cut] + '#' + text[cut + 1:]
        broken.write_text(bad)
        try:
            json.loads(bad)
            continue  # '#' inside a string is still valid JSON
        except json.JSONDecodeError as exc:
            where = f'line {exc.lineno} column {exc.colno}'
        for chunk in (5, 1 << 20):
            with pytest.raises(InputError, match=where):
                list(iter_label_frames(broken, chunk))
        checked += 1
    assert checked > 20
    for bad, message in (('', 'the file is empty'), ('{"a": 1}', "'frames' list"),
                         ('[{}] x', 'line 1 column 6, frame 1: Extra data'),
                         ('[{} {}]', "line 1 column 5, frame 1: Expecting ',' delimiter"),
                         ('[{}', "line 1 column 4, frame 1: Expecting ',' delimiter"),
                         ('x', 'line 1 column 1, frame 0: Expecting value')):
        broken.write_text(bad)
        with pytest.raises(InputError, match=message):
            list(iter_label_frames(broken))


def test_image_size_from_headers(tmp_path: Path) -> None:
    image = np.zeros((37, 53, 3), np.uint8)
    ok, jpeg = cv2.imencode('.jpg', image)
    assert ok and image_size(jpeg.tobytes()) == ('jpeg', 53, 37)
    ok, png = cv2.imencode('.png', image)
    assert ok and image_size(png.tobytes()) == ('png', 53, 37)
    # A 200 KB EXIF-like APP1 block pushes the frame header past the first read.
    data = jpeg.tobytes()
    app1 = b'\xff\xe1' + (65535).to_bytes(2, 'big') + b'\0' * 65533
    padded = tmp_path / 'exif.jpg'
    padded.write_bytes(data[:2] + app1 * 3 + data[2:])
    assert image_size(_read_head(padded)) == ('jpeg', 53, 37)
    assert cv2.imread(str(padded)).shape == (37, 53, 3)
    for bad in (b'GIF89a', data[:10], b'\xff\xd8\xff\xda\x00\x02'):
        with pytest.raises(ImageError):
            image_size(bad)


def test_label_checks() -> None:
    frame = {'name': 'a.jpg', 'labels': [
        {'id': 1, 'category': 'car', 'box2d': {'x1': 0, 'y1': 0, 'x2': 99, 'y2': 49}},
        {'id': 2, 'category': 'lane', 'poly2d': [[0, 0]]},  # no box: not detection truth
        {'id': 3, 'category': 'car', 'box2d': {'x1': 'a', 'y1': 0, 'x2': 5, 'y2': 5}},
        {'id': 4, 'category': '', 'box2d': {'x1': 0, 'y1': 0, 'x2': 5, 'y2': 5}},
        {'id': 5, 'category': 'bus', 'box2d': {'x1': 9, 'y1': 0, 'x2': 5, 'y2': 5}},
        {'id': 6, 'category': 'bus', 'box2d': {'x1': -3, 'y1': 0, 'x2': 120, 'y2': 5}},
    ]}
    labels, errors, notes = parse_frame_labels(frame, 'f', 100, 50, 'error')
    assert [(b.category, b.box_xyxy, b.label_id) for b in labels] == [
        ('car', (0.0, 0.0, 100.0, 50.0), '1')]
    assert len(errors) == 4 and not notes
    assert "label 2 (id '3')" in errors[0] and 'finite numbers' in errors[0]
    assert "'category'" in errors[1] and 'x2 < x1' in errors[2] and 'outside' in errors[3]
    labels, errors, notes = parse_frame_labels(frame, 'f', 100, 50, 'clip')
    assert labels[-1].box_xyxy == (0.0, 0.0, 100.0, 6.0) and len(errors) == 2
    assert [n.rsplit('; ', 1)[1] for n in notes] == ['skipped', 'clipped']
    labels, _, notes = parse_frame_labels(frame, 'f', 100, 50, 'skip')
    assert len(labels) == 1 and [n.rsplit('; ', 1)[1] for n in notes] == ['skipped'] * 2


def test_sequence_without_labels_uses_file_order_and_rate(bdd_set: dict) -> None:
    sequence = ImageFolderSequence(bdd_set['images'], rate_hz=20.0, start_ns=5, limit=3)
    info = sequence.check()
    assert (info.frames, info.labelled_frames, info.label_timestamps) == (3, 0, False)
    frames = list(sequence)
    assert [f.name for f in frames] == ['frame0000.jpg', 'frame0001.jpg', 'frame0002.jpg']
    assert [f.stamp_ns for f in frames] == [5, 50_000_005, 100_000_005]
    assert all(f.labels is None and (f.width, f.height) == (640, 360) for f in frames)
    with pytest.raises(RuntimeError, match='check'):
        len(ImageFolderSequence(bdd_set['images']))
