"""Per-frame vs track verdict metrics on hand-made logs, and the benchmark's selection rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from negas_ros.track_benchmark import select_candidate
from negas_ros.track_metrics import (
    TrackLog,
    score_variance_within_tracks,
    tpr_threshold,
    verdict_report,
)


def _log(rows: list[tuple[str, str, int, int, int, float, float]]) -> TrackLog:
    log = TrackLog()
    for kind, sequence, frame, track, frames, frame_score, track_score in rows:
        log.kind.append(kind)
        log.sequence.append(sequence)
        log.frame.append(frame)
        log.track.append(track)
        log.track_frames.append(frames)
        log.frame_score.append(frame_score)
        log.track_score.append(track_score)
    return log


def _track(kind: str, sequence: str, track: int, frame_scores: list[float],
           track_scores: list[float]) -> list[tuple[str, str, int, int, int, float, float]]:
    return [(kind, sequence, t, track, t + 1, f, s)
            for t, (f, s) in enumerate(zip(frame_scores, track_scores, strict=True))]


def test_flicker_and_frames_to_flag_count_verdict_changes_per_track() -> None:
    rows = (
        # An OOD track: per frame it flickers around 0.5 (4 changes in 6 frames); its track
        # score stays below from the start.
        _track('near', 'near/0', 1, [0.4, 0.6, 0.4, 0.6, 0.4, 0.4], [0.4] * 6)
        # An ID track: per frame one dip (2 changes), track score above throughout.
        + _track('id', 'id/0', 1, [0.9, 0.3, 0.9, 0.9], [0.9, 0.6, 0.7, 0.75])
        # The same track number in another video is another track.
        + _track('id', 'id/1', 1, [0.8, 0.8], [0.8, 0.8])
    )
    log = _log(rows)
    frame = verdict_report(log, 'per_frame', ['near'], threshold=0.5)
    track = verdict_report(log, 'track', ['near'], threshold=0.5, min_frames=3)
    assert frame['flicker_per_100_frames'] == pytest.approx(100.0 * 6 / 12)
    # Track verdicts: the OOD track is flagged from its third frame (min_frames) on.
    assert track['flicker_per_100_frames'] == pytest.approx(100.0 * 1 / 12)
    assert frame['frames_to_flag_median'] == 1.0
    assert track['frames_to_flag_median'] == 3.0
    assert frame['id_tracks_wrongly_flagged'] == pytest.approx(0.5)
    assert track['id_tracks_wrongly_flagged'] == 0.0
    assert frame['ood_tracks_flagged'] == track['ood_tracks_flagged'] == 1.0
    assert track['tracks'] == {'id': 2, 'ood': 1}


def test_auroc_uses_the_verdicts_scores_and_agrees_with_sklearn() -> None:
    rng = np.random.default_rng(0)
    id_frame, ood_frame = rng.normal(1.0, 1.0, 200), rng.normal(0.0, 1.0, 150)
    id_track, ood_track = id_frame * 0.5 + 0.5, ood_frame * 0.5
    rows = [('id', 'id/0', i, i, 1, float(f), float(s))
            for i, (f, s) in enumerate(zip(id_frame, id_track, strict=True))]
    rows += [('far', 'far/0', i, i, 1, float(f), float(s))
             for i, (f, s) in enumerate(zip(ood_frame, ood_track, strict=True))]
    log = _log(rows)
    labels = np.r_[np.ones(200), np.zeros(150)]
    for verdict, scores in (('per_frame', np.r_[id_frame, ood_frame]),
                            ('track', np.r_[id_track, ood_track])):
        report = verdict_report(log, verdict, ['far', 'near'], threshold=0.0)
        assert report['far']['auroc'] == pytest.approx(roc_auc_score(labels, scores))
        assert report['near']['fpr95'] is None  # no samples of that set
    assert tpr_threshold(log, 'per_frame') == pytest.approx(np.quantile(id_frame, 0.05))
    assert tpr_threshold(log, 'track') == pytest.approx(np.quantile(id_track, 0.05))


def test_detections_without_a_track_keep_their_own_verdict() -> None:
    log = _log([('near', 'near/0', 0, -1, 1, 0.1, 0.1), ('id', 'id/0', 0, 3, 1, 0.9, 0.9)])
    report = verdict_report(log, 'track', ['near'], threshold=0.5, min_frames=3)
    assert report['tracks'] == {'id': 1, 'ood': 0}  # the untracked one is in no track
    with pytest.raises(ValueError, match="verdict 'both'"):
        verdict_report(log, 'both', ['near'], threshold=0.5)


def test_score_variance_within_tracks_separates_noise_from_objects() -> None:
    # Two tracks with different means and frame noise: within = noise, between = means.
    rows = _track('id', 'id/0', 1, [1.0, 3.0], [0, 0]) + _track('id', 'id/0', 2, [5.0, 7.0],
                                                                 [0, 0])
    share = score_variance_within_tracks(_log(rows))
    # Total SS around 4: 9+1+1+9 = 20; within: 1+1+1+1 = 4.
    assert share == pytest.approx(4.0 / 20.0)


def test_selection_prefers_stable_candidates_among_the_best_fast_ones() -> None:
    def report(fpr: float, flicker: float, frames: float | None) -> dict:
        return {'track': {'near': {'fpr95': fpr}, 'flicker_per_100_frames': flicker,
                          'frames_to_flag_median': frames}}

    reports = {'slow': report(0.1, 0.5, 9.0), 'a': report(0.400, 2.0, 3.0),
               'b': report(0.405, 1.0, 4.0), 'c': report(0.5, 0.1, 3.0)}
    # 'slow' is not eligible; 'b' is within a point of the best and flickers less; 'c' is not.
    assert select_candidate(reports) == 'b'
    assert select_candidate(reports, fpr_tolerance=0.0) == 'a'
    assert select_candidate({'slow': report(0.1, 0.5, 9.0), 'never': report(0.05, 0.0, None)}
                            ) == 'never'  # none is fast enough: all compete
