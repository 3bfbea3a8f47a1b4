"""Track-level OOD evidence on hand-made score sequences (negas_ros.track_evidence)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from negas_ros.track_evidence import EvidenceConfig, TrackEvidence

THRESHOLD = 0.5


def _run(config: EvidenceConfig, scores: list[float], track_id: int = 7) -> list[float]:
    evidence = TrackEvidence(config)
    return [evidence.update([track_id], [s])[0].track_score for s in scores]


def test_mean_is_the_mean_of_the_last_window_scores() -> None:
    scores = [0.9, 0.1, 0.4, 0.8, 0.3, 0.6]
    got = _run(EvidenceConfig(rule='mean', window=3), scores)
    expected = [np.mean(scores[max(0, i - 2): i + 1]) for i in range(len(scores))]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_ema_weights_older_frames_by_decay_and_starts_at_the_first_score() -> None:
    scores = [0.2, 0.9, 0.5, 0.7]
    decay = 0.6
    got = _run(EvidenceConfig(rule='ema', decay=decay), scores)
    for t in range(len(scores)):
        weights = decay ** np.arange(t, -1, -1)  # oldest first
        assert got[t] == pytest.approx(float(np.dot(weights, scores[: t + 1]) / weights.sum()))
    assert got[0] == scores[0]
    # decay 0 is the per-frame score.
    assert _run(EvidenceConfig(rule='ema', decay=0.0), scores) == scores


def test_frame_rule_is_the_per_frame_score() -> None:
    scores = [0.3, 0.7, 0.1]
    assert _run(EvidenceConfig(rule='frame'), scores) == scores


def _flips(verdicts: list[bool]) -> int:
    return sum(a != b for a, b in itertools.pairwise(verdicts))


def test_accumulated_evidence_stops_the_flicker_of_a_borderline_unknown() -> None:
    """An unknown object whose per-frame score wanders around the threshold (mean 0.42): the
    per-frame verdict flips often, the track's settles on 'unknown'."""
    scores = list(0.42 + np.random.default_rng(3).normal(0.0, 0.1, 90))
    per_frame = [s < THRESHOLD for s in scores]
    for rule in ('mean', 'ema'):
        config = EvidenceConfig(rule=rule, window=15, decay=0.85, min_frames=3)
        evidence = TrackEvidence(config)
        track = [evidence.update([1], [s])[0].is_ood(THRESHOLD, config.min_frames)
                 for s in scores]
        assert _flips(per_frame) >= 15, _flips(per_frame)
        assert _flips(track) <= 3, (rule, _flips(track))
        assert all(track[30:]), rule  # flagged for good once the evidence has built up


def test_no_track_is_flagged_before_min_frames() -> None:
    config = EvidenceConfig(rule='frame', min_frames=4)
    evidence = TrackEvidence(config)
    verdicts = [evidence.update([3], [0.0])[0].is_ood(THRESHOLD, config.min_frames)
                for _ in range(6)]
    assert verdicts == [False, False, False, True, True, True]


def test_tracks_are_independent_and_ordered_as_given() -> None:
    evidence = TrackEvidence(EvidenceConfig(rule='mean', window=10))
    evidence.update([1, 2], [0.0, 1.0])
    out = evidence.update([2, 1, -1], [0.0, 1.0, 0.3])
    assert [(s.track_id, s.frames, s.track_score) for s in out] == [
        (2, 2, 0.5), (1, 2, 0.5), (-1, 1, 0.3)]
    # A detection without a track keeps its per-frame verdict, whatever min_frames says.
    assert out[2].is_ood(THRESHOLD, min_frames=5)
    assert not out[0].is_ood(THRESHOLD, min_frames=5)


def test_a_track_missing_too_long_is_forgotten_and_restarts() -> None:
    evidence = TrackEvidence(EvidenceConfig(rule='mean', window=10, max_missed=2))
    for _ in range(3):
        evidence.update([5], [0.1])
    evidence.update([], [])
    evidence.update([], [])
    assert len(evidence) == 1  # missed twice: still remembered
    (back,) = evidence.update([5], [0.9])
    assert (back.frames, back.track_score) == (4, pytest.approx((0.3 + 0.9) / 4))
    for _ in range(3):
        evidence.update([], [])
    assert len(evidence) == 0  # missed three times: forgotten
    (fresh,) = evidence.update([5], [0.9])
    assert (fresh.frames, fresh.track_score) == (1, 0.9)


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'rule': 'median'}, 'evidence rule'),
    ({'window': 0}, 'window'),
    ({'decay': 1.0}, 'decay'),
    ({'decay': -0.1}, 'decay'),
    ({'min_frames': 0}, 'min_frames'),
    ({'max_missed': -1}, 'max_missed'),
])
def test_bad_settings_are_rejected_with_their_name(kwargs: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EvidenceConfig(**kwargs)  # type: ignore[arg-type]


def test_bad_frames_are_rejected() -> None:
    evidence = TrackEvidence()
    with pytest.raises(ValueError, match='2 track ids for 1 scores'):
        evidence.update([1, 2], [0.5])
    with pytest.raises(ValueError, match='twice'):
        evidence.update([1, 1], [0.5, 0.6])
