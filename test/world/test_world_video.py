"""World videos: deterministic, objects with stable identities that move, valid labels, and the
export that bdd100k-to-bag reads as BDD100K's tracking set."""

from __future__ import annotations

from collections import defaultdict
import json
from pathlib import Path

import numpy as np
import pytest

from negas_ros.bag.bdd100k import VIDEO_GAP_S, ImageFolderSequence, VideoFolderSequence
from negas_ros.world import World, export_videos
from negas_ros.world.categories import CATEGORIES
from negas_ros.world.det20 import check_frame

NAMES = [c.name for c in CATEGORIES]


@pytest.fixture(scope='module')
def world() -> World:
    return World(0)


def test_a_video_is_a_pure_function_of_its_arguments(world: World) -> None:
    first = world.render_video('mixed_test', 2, frames=8)
    again = World(0).render_video('mixed_test', 2, frames=8)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, again, strict=True))
    assert [a.frame_label for a in first] == [b.frame_label for b in again]
    other = world.render_video('mixed_test', 3, frames=8)
    assert not np.array_equal(first[0].image, other[0].image)
    # Videos draw from their own streams: a video's first frame is not the still image.
    assert not np.array_equal(first[0].image, world.render('mixed_test', 2).image)


def test_objects_keep_their_identity_and_move(world: World) -> None:
    moved = 0
    for split, index in (('mixed_test', 0), ('mixed_test', 1), ('ood_near', 0), ('id_test', 1)):
        video = world.render_video(split, index, frames=30)
        category_of: dict[int, set[str]] = defaultdict(set)
        boxes: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
        for t, scene in enumerate(video):
            check_frame(scene.frame_label, 320, 320, NAMES)
            assert scene.frame_label['frameIndex'] == t
            assert scene.frame_label['name'] == f"{scene.frame_label['videoName']}-{t + 1:07d}.jpg"
            ids = [o.track_id for o in scene.objects]
            assert all(i > 0 for i in ids) and len(set(ids)) == len(ids)
            # The det_20 label id is the track id, as in BDD100K's tracking labels.
            assert [lab['id'] for lab in scene.frame_label['labels']] == [str(i) for i in ids]
            for obj in scene.objects:
                category_of[obj.track_id].add(obj.category)
                boxes[obj.track_id].append(obj.box)
        assert all(len(c) == 1 for c in category_of.values()), 'an id is one object'
        moved += sum(len(set(b)) > 1 for b in boxes.values())
        stamps = [s.frame_label['timestamp'] for s in video]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert moved >= 4, 'objects move between frames (camera and object motion)'


def test_render_video_rejects_bad_arguments(world: World) -> None:
    with pytest.raises(ValueError, match="unknown split 'nope'"):
        world.render_video('nope', 0)
    with pytest.raises(ValueError, match='index must be a non-negative int'):
        world.render_video('id_test', -1)
    with pytest.raises(ValueError, match='frames must be a positive int'):
        world.render_video('id_test', 0, frames=0)
    with pytest.raises(ValueError, match='fps must be positive'):
        world.render_video('id_test', 0, fps=0.0)


def test_exported_videos_read_back_as_bdd100k_tracking_data(world: World,
                                                            tmp_path: Path) -> None:
    out = tmp_path / 'videos'
    result = export_videos('ood_near', 2, out, frames=6, world=world)
    assert result['videos'] == 2 and result['images'] == 12
    meta = json.loads((out / 'world.json').read_text())
    assert (meta['split'], meta['frames'], meta['fps']) == ('ood_near', 6, 30.0)

    expected = [world.render_video('ood_near', i, frames=6) for i in range(2)]
    videos = VideoFolderSequence(out / 'videos', out / 'labels')
    videos.check()
    frames = list(videos)
    assert len(frames) == 12
    truth = [scene for video in expected for scene in video]
    for frame, scene in zip(frames, truth, strict=True):
        assert frame.name == scene.name
        assert frame.labels is not None
        assert [lab.label_id for lab in frame.labels] == [str(o.track_id)
                                                         for o in scene.objects]
        # MJPG is lossy: the pixels are close, not equal.
        assert np.abs(frame.rgb().astype(int) - scene.image.astype(int)).mean() < 8.0
    gap = (frames[6].stamp_ns - frames[5].stamp_ns) * 1e-9
    assert gap == pytest.approx(VIDEO_GAP_S + 1 / 30.0, abs=1e-3)

    # The image-folder form: same frames, stamps with the same cut between videos.
    images = ImageFolderSequence(out / 'images', out / 'labels.json', rate_hz=30.0, start_ns=0)
    images.check()
    still = list(images)
    assert [f.name for f in still] == [s.name for s in truth]
    steps = np.diff([f.stamp_ns for f in still]) * 1e-9
    assert steps[:5] == pytest.approx(1 / 30.0, abs=1e-3)
    assert steps[5] > 1.0
