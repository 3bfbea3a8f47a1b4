"""det_20 frames: schema, JSON round trip, and the repository's BDD100K label parser."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from negas_ros.world import CATEGORIES, SPLITS, World
from negas_ros.world.det20 import check_frame

NAMES = [c.name for c in CATEGORIES]


def _frames(world: World) -> list[dict[str, Any]]:
    return [world.render(split, index).frame_label for split in SPLITS for index in range(3)]


def test_frames_pass_the_schema_and_survive_a_json_round_trip(world: World) -> None:
    frames = _frames(world)
    assert any(f['labels'] for f in frames)
    for frame in frames:
        check_frame(frame, 320, 320, NAMES)
        assert frame['timestamp'] == 10000
        assert set(frame) == {'name', 'attributes', 'timestamp', 'labels'}
        for label in frame['labels']:
            assert set(label) == {'id', 'category', 'attributes', 'box2d'}
    text = json.dumps(frames)
    assert json.loads(text) == frames


@pytest.mark.parametrize('breakage', [
    lambda f: f['labels'][0]['box2d'].update(x2=320.0),
    lambda f: f['labels'][0]['box2d'].update(x1=-1.0),
    lambda f: f['labels'][0]['box2d'].update(y1=f['labels'][0]['box2d']['y2'] + 1),
    lambda f: f['labels'][0].update(category='spaceship'),
    lambda f: f['labels'][0].update(id=7),
    lambda f: f['labels'].append(copy.deepcopy(f['labels'][0])),
    lambda f: f['labels'][0]['attributes'].update(occluded='no'),
    lambda f: f['labels'][0]['attributes'].pop('truncated'),
    lambda f: f.pop('attributes'),
])
def test_schema_check_catches_broken_frames(world: World, breakage: Any) -> None:
    frame = copy.deepcopy(world.render('id_test', 0).frame_label)
    check_frame(frame, 320, 320, NAMES)
    breakage(frame)
    with pytest.raises(ValueError):
        check_frame(frame, 320, 320, NAMES)


def test_repository_bdd100k_parser_reads_world_frames(world: World) -> None:
    bdd100k = pytest.importorskip('negas_ros.bag.bdd100k')
    scene = world.render('mixed_test', 1)
    frame = json.loads(json.dumps(scene.frame_label))
    labels, errors, notes = bdd100k.parse_frame_labels(frame, 'frame', 320, 320, 'error')
    assert not errors and not notes
    assert [label.category for label in labels] == [o.category for o in scene.objects]
    for label, obj in zip(labels, scene.objects, strict=True):
        x1, y1, x2, y2 = obj.box
        assert label.box_xyxy == (x1, y1, x2 + 1.0, y2 + 1.0)  # continuous pixel box
        assert label.label_id == str(obj.id)
