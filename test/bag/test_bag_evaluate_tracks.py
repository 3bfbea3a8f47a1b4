"""`negas-ros evaluate --track` on world videos turned into bags as users turn BDD100K videos.

World videos -> `world export-video` -> `bdd100k-to-bag --videos` -> `evaluate --track`, with
the embedded negas_mini. Checked: the per-frame OOD metrics of a tracked run equal those of a
run without --track (tracking changes no frame score); the tracks restart at each video; the
result bag carries track ids and both scores; the track block follows its definitions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from negas_ros.cli import main

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]
PARAMS = """/**:
  ros__parameters:
    backend: yolo_world
    model: negas_mini
    labels_file: package://negas_ros/config/labels/world.yaml
    box_threshold: {box_threshold}
    score_method: {score_method}
    ood_threshold: {ood_threshold}
    max_detections: 20
    track_evidence: mean
    track_window: 30
    track_min_frames: 2
"""


def _params() -> str:
    """The demo's calibrated thresholds and form (they follow the shipped model), with a
    tracking rule of this test's own."""
    demo = yaml.safe_load((ROOT / 'config' / 'demo.yaml').read_text(encoding='utf-8'))
    values = demo['/**']['ros__parameters']
    return PARAMS.format(**{k: values[k] for k in ('box_threshold', 'score_method',
                                                   'ood_threshold')})


@pytest.fixture(scope='module')
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp('track_eval')
    for split, name in (('id_test', 'id'), ('ood_near', 'near')):
        assert main(['world', 'export-video', '--split', split, '--count', '2', '--frames', '10',
                     '--out', str(root / f'{name}_videos')]) == 0
        assert main(['bdd100k-to-bag', '--videos', str(root / f'{name}_videos' / 'videos'),
                     '--labels', str(root / f'{name}_videos' / 'labels'),
                     '--out', str(root / f'{name}_bag'), '--no-progress']) == 0
    params = root / 'params.yaml'
    params.write_text(_params())
    out = {}
    for key, extra in (('frame', []), ('track', ['--track'])):
        assert main(['evaluate', '--params', str(params), '--id-bag', str(root / 'id_bag'),
                     '--ood-bag', f"near={root / 'near_bag'}", '--out', str(root / key),
                     '--no-progress', *extra]) == 0
        out[key] = json.loads((root / key / 'metrics.json').read_text())
    out['root'] = root
    return out


def test_tracking_changes_no_frame_score(runs: dict[str, Any]) -> None:
    frame, track = runs['frame'], runs['track']
    assert 'tracking' not in frame
    per_frame = track['tracking']['ood_per_frame']['near']
    for key in ('fpr95', 'auroc', 'aupr_in', 'aupr_out'):
        assert per_frame[key] == pytest.approx(frame['ood']['near'][key])
    assert track['map'] == pytest.approx(frame['map'])  # no box or label changes
    # The track verdict's scores differ (averaged over frames).
    assert track['ood']['near']['auroc'] != pytest.approx(frame['ood']['near']['auroc'])


def test_tracks_restart_at_each_video(runs: dict[str, Any]) -> None:
    sets = runs['track']['sets']
    assert sets['id_bag']['video_segments'] == 2
    assert sets['near']['video_segments'] == 2
    block = runs['track']['tracking']
    assert block['evidence'] == {'rule': 'mean', 'window': 30, 'decay': 0.8, 'min_frames': 2}
    for verdict in ('per_frame', 'track'):
        assert block[verdict]['tracks']['id'] >= 2 and block[verdict]['tracks']['ood'] >= 1
    assert block['track']['flicker_per_100_frames'] <= block['per_frame'][
        'flicker_per_100_frames']


def test_result_bags_carry_track_ids_and_both_scores(runs: dict[str, Any]) -> None:
    from rosbags.highlevel import AnyReader

    bag = Path(runs['track']['sets']['id_bag']['result_bag'])
    ids_by_frame = []
    with AnyReader([bag]) as reader:
        conns = [c for c in reader.connections if c.topic == '/ood_detections']
        for conn, _, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            assert msg.track_evidence == 'mean'
            ids = []
            for det in msg.detections:
                assert det.track_id == det.detection.id and det.track_id != ''
                assert det.track_frames >= 1
                assert det.frame_is_ood == (det.frame_id_score < msg.threshold)
                ids.append(int(det.track_id))
            ids_by_frame.append(ids)
    assert len(ids_by_frame) == 20
    first, second = ids_by_frame[:10], ids_by_frame[10:]
    # The second video's tracks are new ones: ids never reused.
    assert min(i for f in second for i in f) > max(i for f in first for i in f)
    # Within a video, tracks persist: fewer distinct ids than detections.
    assert len({i for f in first for i in f}) < sum(len(f) for f in first)
