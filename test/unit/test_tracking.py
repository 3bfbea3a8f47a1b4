"""The trackers (ours and the trackers package's) and VideoTracker's track verdicts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest

from negas_ros.detection import Detection, box_iou
from negas_ros.track_evidence import EvidenceConfig
from negas_ros.tracking import (
    ByteTracker,
    LibraryByteTracker,
    TrackerConfig,
    TrackingConfig,
    VideoTracker,
    make_tracker,
)
from negas_ros.world import World


def _boxes(centres: np.ndarray, size: float = 30.0) -> np.ndarray:
    half = size / 2.0
    return np.concatenate([centres - half, centres + half], axis=1)


def test_box_iou_matches_a_hand_computation() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0]])
    assert np.allclose(box_iou(a, b), [[50.0 / 150.0, 0.0, 1.0]])
    assert box_iou(a, np.zeros((0, 4))).shape == (1, 0)


def test_static_scene_keeps_every_id_for_a_hundred_frames() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[50.0, 50.0], [150.0, 60.0], [100.0, 200.0], [300.0, 120.0]])
    tracker = ByteTracker()
    first = None
    for _ in range(100):
        noisy = _boxes(centres) + rng.normal(0.0, 1.0, (4, 4))
        order = rng.permutation(4)  # detections arrive in any order
        ids = np.empty(4, np.int64)
        ids[order] = tracker.update(noisy[order], rng.uniform(0.6, 0.9, 4))
        if first is None:
            first = ids.copy()
        assert np.array_equal(ids, first)
    assert first is not None and len(set(first.tolist())) == 4
    assert len(tracker) == 4


def test_moving_objects_keep_their_ids_through_prediction() -> None:
    # 10 px per frame on a 30 px box: IoU 0.5 with the last position, ~1 with the prediction.
    tracker = ByteTracker()
    start = np.array([[20.0, 50.0], [400.0, 50.0]])
    velocity = np.array([[10.0, 0.0], [-10.0, 0.0]])
    seen = []
    for t in range(30):
        seen.append(tracker.update(_boxes(start + t * velocity), np.array([0.9, 0.9])))
    assert all(np.array_equal(ids, seen[0]) for ids in seen)


def test_an_object_hidden_for_a_while_comes_back_with_its_id() -> None:
    config = TrackerConfig(max_lost=10)
    tracker = ByteTracker(config)
    box = _boxes(np.array([[100.0, 100.0]]))
    first = tracker.update(box, np.array([0.9]))
    tracker.update(box, np.array([0.9]))  # seen twice: a confirmed track
    for _ in range(10):
        assert tracker.update(np.zeros((0, 4)), np.zeros(0)).size == 0
    assert tracker.update(box, np.array([0.9]))[0] == first[0]
    for _ in range(11):  # lost longer than max_lost: forgotten
        tracker.update(np.zeros((0, 4)), np.zeros(0))
    assert len(tracker) == 0
    assert tracker.update(box, np.array([0.9]))[0] != first[0]


def test_low_confidence_detections_continue_a_track_but_start_none() -> None:
    config = TrackerConfig(high_threshold=0.5, new_track_threshold=0.5)
    tracker = ByteTracker(config)
    box = _boxes(np.array([[100.0, 100.0]]))
    first = tracker.update(box, np.array([0.9]))[0]
    assert tracker.update(box, np.array([0.2]))[0] == first  # second association
    far = _boxes(np.array([[400.0, 400.0]]))
    assert tracker.update(far, np.array([0.2]))[0] == -1  # too unsure to start a track


def test_a_one_frame_glimpse_is_dropped_only_under_bytetracks_rule() -> None:
    """A track born after the first frame and missed in its next one: ByteTrack drops it (it
    confirms only the first frame's tracks at once); ours keeps it like any lost track."""
    other = _boxes(np.array([[300.0, 300.0]]))
    both = _boxes(np.array([[300.0, 300.0], [100.0, 100.0]]))
    bytetrack = ByteTracker(TrackerConfig(drop_unconfirmed=True))
    bytetrack.update(other, np.array([0.9]))
    bytetrack.update(both, np.array([0.9, 0.9]))
    assert len(bytetrack) == 2
    bytetrack.update(other, np.array([0.9]))
    assert len(bytetrack) == 1
    ours = ByteTracker()
    ours.update(other, np.array([0.9]))
    first = ours.update(both, np.array([0.9, 0.9]))[1]
    assert len(ours.update(other, np.array([0.9]))) == 1  # only the seen box is published
    assert len(ours) == 2
    assert ours.update(both, np.array([0.9, 0.9]))[1] == first


def test_an_unsure_box_picks_up_a_lost_track_unless_bytetracks_rule() -> None:
    """An object missed for two frames and then reported below high_threshold keeps its id
    (ours); ByteTrack offers unsure boxes only the tracks seen in the previous frame."""
    box = _boxes(np.array([[100.0, 100.0]]))
    empty = np.zeros((0, 4))
    results = {}
    for name, config in {
        'ours': TrackerConfig(),
        'bytetrack': TrackerConfig(low_boxes_find_lost=False, drop_unconfirmed=True),
    }.items():
        tracker = ByteTracker(config)
        first = tracker.update(box, np.array([0.9]))[0]
        tracker.update(box, np.array([0.9]))
        tracker.update(empty, np.zeros(0))
        tracker.update(empty, np.zeros(0))
        results[name] = (first, tracker.update(box, np.array([0.3]))[0])
    assert results['ours'][1] == results['ours'][0]
    assert results['bytetrack'][1] not in (-1, results['bytetrack'][0])  # a new track


def test_reset_forgets_tracks_and_never_reuses_an_id() -> None:
    tracker = ByteTracker()
    box = _boxes(np.array([[100.0, 100.0]]))
    first = tracker.update(box, np.array([0.9]))[0]
    tracker.reset()
    assert len(tracker) == 0
    assert tracker.update(box, np.array([0.9]))[0] > first


def test_tracker_rejects_mismatched_inputs_and_bad_settings() -> None:
    with pytest.raises(ValueError, match='2 boxes but 1 confidences'):
        ByteTracker().update(np.zeros((2, 4)), np.zeros(1))
    with pytest.raises(ValueError, match='match_iou'):
        TrackerConfig(match_iou=1.5)
    with pytest.raises(ValueError, match='max_lost'):
        TrackerConfig(max_lost=-1)
    with pytest.raises(ValueError, match="tracker 'sort'"):
        make_tracker('sort')
    with pytest.raises(ValueError, match="tracker 'sort'"):
        TrackingConfig(tracker='sort')


def _identity_errors(tracker_name: str, video: list) -> tuple[int, int, int]:
    """(ground-truth objects split over several ids, ids covering several objects, boxes left
    without an id) for one world video tracked from its ground-truth boxes."""
    tracker = make_tracker(tracker_name)
    ids_of_object: dict[int, set[int]] = defaultdict(set)
    objects_of_id: dict[int, set[int]] = defaultdict(set)
    untracked = 0
    for scene in video:
        boxes = np.array([[o.box[0], o.box[1], o.box[2] + 1.0, o.box[3] + 1.0]
                          for o in scene.objects], np.float64).reshape(-1, 4)
        for obj, track in zip(scene.objects, tracker.update(boxes, np.full(len(boxes), 0.9)),
                              strict=True):
            if track < 0:
                untracked += 1
                continue
            ids_of_object[obj.track_id].add(int(track))
            objects_of_id[int(track)].add(obj.track_id)
    return (sum(len(v) - 1 for v in ids_of_object.values()),
            sum(len(v) - 1 for v in objects_of_id.values()), untracked)


def test_our_tracker_follows_world_objects_as_well_as_the_trackers_package() -> None:
    """Reference check: on world videos (moving camera and objects, occlusions), tracked from
    the ground-truth boxes, our ByteTrack makes no more identity errors than Roboflow's."""
    world = World(0)
    ours_total = library_total = 0
    for split, index in (('mixed_test', 0), ('mixed_test', 1), ('ood_near', 1), ('id_test', 0)):
        video = world.render_video(split, index, frames=45)
        split_ids, merged, untracked = _identity_errors('bytetrack', video)
        assert untracked == 0, 'every confident box gets a track from its first frame'
        assert split_ids + merged <= 1, f'{split} {index}: {split_ids} splits, {merged} merges'
        ours_total += split_ids + merged
        library = _identity_errors('trackers_bytetrack', video)
        library_total += library[0] + library[1]
    assert ours_total <= library_total + 1


def test_library_tracker_keeps_input_order() -> None:
    tracker = LibraryByteTracker()
    centres = np.array([[50.0, 50.0], [200.0, 50.0], [350.0, 50.0]])
    tracker.update(_boxes(centres), np.full(3, 0.9))
    ids = tracker.update(_boxes(centres), np.full(3, 0.9))
    reversed_ids = tracker.update(_boxes(centres[::-1]), np.full(3, 0.9))
    assert np.array_equal(reversed_ids, ids[::-1])
    assert len(set(ids.tolist())) == 3 and (ids >= 0).all()


def _detection(score: float, box: tuple[float, float, float, float] = (10, 10, 40, 40),
               threshold: float = 0.5) -> Detection:
    return Detection(box_xyxy=box, id_label='car', id_confidence=0.8,
                     id_probs=np.zeros(1, np.float32), neg_probs=np.zeros(0, np.float32),
                     neg_label=None, neg_confidence=0.0, id_score=score,
                     ood_confidence=0.0, is_ood=score < threshold)


def test_video_tracker_gives_each_detection_its_tracks_verdict() -> None:
    config = TrackingConfig(evidence=EvidenceConfig(rule='mean', window=10, min_frames=3))
    video = VideoTracker(config)
    # One object scoring around the threshold: per frame it flickers, its track does not.
    scores = [0.6, 0.3, 0.6, 0.3, 0.3, 0.3, 0.3, 0.3]
    out = [video.track([_detection(s)], 'negs', 0.5)[0] for s in scores]
    assert [d.frame_is_ood for d in out] == [s < 0.5 for s in scores]
    assert [d.frame_id_score for d in out] == scores
    means = [float(np.mean(scores[:k + 1])) for k in range(len(scores))]
    assert [d.id_score for d in out] == pytest.approx(means)
    # Means 0.6, 0.45, 0.5, 0.45, ...: the second frame's mean is below 0.5 but the track is
    # flagged only from the third frame on, and only while its mean is below 0.5.
    assert [d.is_ood for d in out] == [False, False, False, True, True, True, True, True]
    assert len({d.track_id for d in out}) == 1 and out[0].track_id >= 0
    assert [d.track_frames for d in out] == list(range(1, 9))


def test_video_tracker_forgets_tracks_when_scores_stop_being_comparable() -> None:
    video = VideoTracker(TrackingConfig(evidence=EvidenceConfig(rule='mean', min_frames=1)))
    video.track([_detection(0.9)], 'negs', 0.5, score_key=('labels A',))
    same = video.track([_detection(0.1)], 'negs', 0.5, score_key=('labels A',))[0]
    assert same.track_frames == 2 and same.id_score == pytest.approx(0.5)
    changed = video.track([_detection(0.1)], 'negs', 0.5, score_key=('labels B',))[0]
    assert changed.track_frames == 1 and changed.id_score == pytest.approx(0.1)
    assert changed.track_id != same.track_id


def test_video_tracker_handles_empty_frames_and_frame_rule() -> None:
    video = VideoTracker(TrackingConfig(evidence=EvidenceConfig(rule='frame', min_frames=1)))
    assert video.track([], 'negs', 0.5) == []
    out = video.track([_detection(0.2), _detection(0.9, box=(100, 100, 140, 140))], 'negs', 0.5)
    assert [d.is_ood for d in out] == [True, False]
    assert [d.id_score for d in out] == [0.2, 0.9]
    assert out[0].track_id != out[1].track_id


def test_tracking_adds_fields_without_changing_the_detection_otherwise() -> None:
    det = _detection(0.7)
    out = VideoTracker(TrackingConfig()).track([det], 'negs', 0.5)[0]
    assert replace(out, id_score=det.id_score, ood_confidence=det.ood_confidence,
                   is_ood=det.is_ood, track_id=-1, track_frames=0, frame_id_score=None,
                   frame_is_ood=None) == det


@pytest.mark.parametrize('name', ['bytetrack', 'trackers_bytetrack'])
def test_ids_keep_growing_across_resets(name: str) -> None:
    tracker = make_tracker(name, first_id=100)
    box = _boxes(np.array([[100.0, 100.0]]))
    first = max(tracker.update(box, np.array([0.9]))[0], tracker.update(box, np.array([0.9]))[0])
    assert first >= 100 and tracker.next_id > first
    tracker.reset()
    tracker.update(box, np.array([0.9]))
    again = tracker.update(box, np.array([0.9]))[0]
    assert again > first


def test_stream_ids_are_never_reused_across_settings_and_resets() -> None:
    from negas_ros.config import config_from_values
    from negas_ros.pipeline import FrameResult, StreamTracker

    base = config_from_values({'id_labels': ['car']})
    other = replace(base, tracking=replace(base.tracking, evidence=EvidenceConfig(rule='ema')))
    off = replace(base, tracking=replace(base.tracking, enabled=False))
    stream = StreamTracker()
    seen: list[int] = []
    for config in (base, base, other, other, off, base, base):
        result = stream.apply(FrameResult([_detection(0.7)], config), None)
        if config.tracking.enabled:
            assert result.tracked
            seen.append(result.detections[0].track_id)
        else:
            assert not result.tracked and result.detections[0].track_id == -1
    stream.request_reset()
    seen.append(stream.apply(FrameResult([_detection(0.7)], base)).detections[0].track_id)
    # One track per settings run, each with a new id; the same id within a run.
    assert seen[0] == seen[1] and seen[2] == seen[3] and seen[4] == seen[5]
    assert seen[0] < seen[2] < seen[4] < seen[6]


def test_identity_report_counts_switches_fragments_and_impure_boxes() -> None:
    """Two objects over six frames; object 1 is missed in frames 2-3 and comes back reported
    unsure (0.3): ByteTrack's rules give it a new track (one switch, two tracks for one object),
    ours pick its lost track up again (no switch)."""
    from negas_ros.config import config_from_values
    from negas_ros.pipeline import FrameResult
    from negas_ros.track_benchmark import ASSOCIATIONS, VideoResults, identity_report

    config = config_from_values({'id_labels': ['car']})
    a, b = (10.0, 10.0, 40.0, 40.0), (200.0, 200.0, 240.0, 240.0)
    seen_b = [True, True, False, False, True, True]
    frames, objects = [], []
    for t in range(6):
        dets = [replace(_detection(0.7, a), id_confidence=0.9)]
        truth = [(7, a)]
        if seen_b[t]:
            dets.append(replace(_detection(0.7, b), id_confidence=0.9 if t < 2 else 0.3))
        truth.append((8, b))
        frames.append(FrameResult(dets, config))
        objects.append(truth)
    results = VideoResults({'id': [frames]}, [], objects={'id': [objects]})
    report = {
        name: identity_report(results, replace(config.tracking, association=rules))
        for name, rules in ASSOCIATIONS.items()
    }
    assert report['ours']['matched_boxes'] == 10.0
    assert report['ours']['id_switches_per_100'] == 0.0
    assert report['ours']['tracks_per_object'] == 1.0
    assert report['bytetrack_rules']['id_switches_per_100'] == pytest.approx(10.0)
    assert report['bytetrack_rules']['tracks_per_object'] == 1.5
    assert report['ours']['impure_share'] == report['bytetrack_rules']['impure_share'] == 0.0
