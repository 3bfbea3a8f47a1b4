"""Track-level OOD evidence: per-frame NegS scores accumulated over each track (pure core).

A tracker (issue 13: the library is not chosen yet) gives every detection a track id; this
module turns the per-frame scores of a track into one track score, and the verdict of a
detection becomes its track's: an object that scores around ``ood_threshold`` no longer
flickers between "truck" and "unknown" from frame to frame. The rules are ours (NegAS is
per-frame and publishes none), selectable so that they can be measured against each other:

- ``frame``: the track score is the frame's score (the per-frame verdict, for comparison).
- ``mean``: the mean of the track's last ``window`` scores.
- ``ema``: an exponentially weighted mean, each older frame weighted ``decay`` times less,
  normalised by the weights seen so far (so a new track starts at its first score instead of
  at 0: ``sum_k decay^k x_{t-k} / sum_k decay^k``).

Scores keep the per-frame scale (larger = more in-distribution), so one ``ood_threshold``
serves both. A track is flagged only once it has been observed in ``min_frames`` frames (a new
track cannot be called unknown on one glimpse); before that, its detections keep the ID verdict.
A track not updated for ``max_missed`` consecutive updates is forgotten, so a reused id starts
afresh. Detections without a track (id < 0) get the per-frame score and verdict.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ['EVIDENCE_RULES', 'EvidenceConfig', 'TrackEvidence', 'TrackScore']

EVIDENCE_RULES = ('frame', 'mean', 'ema')


@dataclass(frozen=True)
class EvidenceConfig:
    """How track scores are made; see the module docstring. Validated on construction."""

    rule: str = 'mean'
    window: int = 30
    decay: float = 0.8
    min_frames: int = 5
    max_missed: int = 30

    def __post_init__(self) -> None:
        if self.rule not in EVIDENCE_RULES:
            raise ValueError(f"evidence rule {self.rule!r}: choose one of "
                             f"{', '.join(EVIDENCE_RULES)}")
        if self.window < 1:
            raise ValueError(f'evidence window must be >= 1 frame, got {self.window}')
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f'evidence decay must lie in [0, 1), got {self.decay}')
        if self.min_frames < 1:
            raise ValueError(f'min_frames must be >= 1, got {self.min_frames}')
        if self.max_missed < 0:
            raise ValueError(f'max_missed must be >= 0, got {self.max_missed}')


@dataclass(frozen=True)
class TrackScore:
    """One detection's scores: its frame's and its track's, and how long the track has been
    seen (frames counts this one; 1 for a detection without a track)."""

    track_id: int
    frames: int
    frame_score: float
    track_score: float

    def is_ood(self, threshold: float, min_frames: int) -> bool:
        """The track's verdict: unknown once seen ``min_frames`` times and scored below
        ``threshold``; a detection without a track (id < 0) keeps its per-frame verdict."""
        if self.track_id < 0:
            return self.frame_score < threshold
        return self.frames >= min_frames and self.track_score < threshold


@dataclass
class _Track:
    frames: int = 0
    missed: int = 0
    recent: deque[float] = field(default_factory=deque)  # last `window` scores (mean)
    weighted_sum: float = 0.0  # ema numerator
    weight: float = 0.0  # ema denominator


class TrackEvidence:
    """Accumulates per-frame scores per track id, for one camera (not thread-safe: one
    inference thread updates it)."""

    def __init__(self, config: EvidenceConfig | None = None) -> None:
        self.config = config or EvidenceConfig()
        self._tracks: dict[int, _Track] = {}

    def __len__(self) -> int:
        """Tracks currently remembered."""
        return len(self._tracks)

    def update(self, track_ids: Sequence[int], scores: Sequence[float]) -> list[TrackScore]:
        """One frame: the track id and per-frame score of each detection, in any order.

        Returns one TrackScore per detection, in the given order. Raises ValueError when the
        lengths differ or a track id appears twice in one frame (a tracker assigns each track
        at most one detection per frame).
        """
        if len(track_ids) != len(scores):
            raise ValueError(f'{len(track_ids)} track ids for {len(scores)} scores')
        seen = [t for t in track_ids if t >= 0]
        if len(set(seen)) != len(seen):
            raise ValueError('a track id appears twice in one frame')
        config = self.config
        out = []
        for track_id, raw in zip(track_ids, scores, strict=True):
            score = float(raw)
            if track_id < 0:
                out.append(TrackScore(track_id, 1, score, score))
                continue
            track = self._tracks.setdefault(track_id, _Track())
            track.frames += 1
            track.missed = 0
            if config.rule == 'mean':
                track.recent.append(score)
                if len(track.recent) > config.window:
                    track.recent.popleft()
                track_score = sum(track.recent) / len(track.recent)
            elif config.rule == 'ema':
                track.weighted_sum = config.decay * track.weighted_sum + score
                track.weight = config.decay * track.weight + 1.0
                track_score = track.weighted_sum / track.weight
            else:
                track_score = score
            out.append(TrackScore(track_id, track.frames, score, track_score))
        present = set(seen)
        for track_id in [t for t in self._tracks if t not in present]:
            track = self._tracks[track_id]
            track.missed += 1
            if track.missed > config.max_missed:
                del self._tracks[track_id]
        return out

    def reset(self) -> None:
        """Forget every track (a new sequence, or the labels changed)."""
        self._tracks.clear()
