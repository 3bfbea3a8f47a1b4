"""`negas-ros track-benchmark` end to end on a few short world videos (shipped negas_mini).

Checks what the issue asks of its outputs: tracking.json with top-level per_frame and track,
each holding near and near_unseen (fpr95, auroc), flicker_per_100_frames and
frames_to_flag_median; tracking.md with the results table put between the markers of an
existing page, the hand-written rest kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from negas_ros.cli import main
from negas_ros.cli.track_benchmark import BEGIN, END
from negas_ros.track_benchmark import ASSOCIATIONS, CANDIDATES

pytestmark = pytest.mark.model


def test_track_benchmark_writes_the_json_and_fills_the_page(tmp_path: Path) -> None:
    page = tmp_path / 'tracking.md'
    page.write_text(f'# Hand-written\n\nDesign text.\n\n{BEGIN}\nold results\n{END}\n\nTail.\n')
    assert main(['track-benchmark', '--videos', '1', '--frames', '8', '--out',
                 str(tmp_path)]) == 0

    doc = json.loads((tmp_path / 'tracking.json').read_text())
    for verdict in ('per_frame', 'track'):
        block = doc[verdict]
        for ood_set in ('near', 'near_unseen'):
            assert set(block[ood_set]) >= {'fpr95', 'auroc'}
        assert 'flicker_per_100_frames' in block and 'frames_to_flag_median' in block
    assert doc['chosen'] in {c.name for c in CANDIDATES}
    assert set(doc['validation']) == {c.name for c in CANDIDATES}
    assert set(doc['thresholds']) == {'per_frame', 'track'}
    assert doc['meta']['videos_per_kind'] == 1 and doc['meta']['frames_per_video'] == 8
    assert doc['detector_ms_per_frame'] > 0 and doc['tracking_ms_per_frame'] > 0
    for split in ('val', 'test'):  # identity of our association and of ByteTrack's rules
        rows = doc['association'][split]
        assert set(rows) == set(ASSOCIATIONS)
        for row in rows.values():
            assert row['matched_boxes'] > 0 and row['tracks_per_object'] >= 1.0
            assert 0.0 <= row['impure_share'] <= 1.0 and row['id_switches_per_100'] >= 0.0

    text = page.read_text()
    assert text.startswith('# Hand-written\n\nDesign text.\n')
    assert text.rstrip().endswith('Tail.')
    assert 'old results' not in text
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert '| per frame |' in text and '| track |' in text
    assert '| val | bytetrack_rules |' in text and '| test | ours |' in text
