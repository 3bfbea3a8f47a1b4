"""How sure the headline is: a paired image bootstrap of FPR95 (pure numpy).

The OOD samples of a split come in clumps (one image holds several detections), so images, not
detections, are resampled: per draw, every ID image and every OOD image gets a count from
sampling the split's images with replacement, each sample weighs its image's count, and FPR95
is computed on the weighted samples for both rows. The same draw serves both rows (they score
the same images), so the interval of their difference is that of a paired comparison. tau* is
held at its value (the threshold's own variation is left out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from negas_ros.benchmark.protocol import RowResult
from negas_ros.benchmark.select import rank_candidates

__all__ = ['criterion_draws', 'paired_fpr95_bootstrap', 'selection_margins',
           'weighted_fpr_at_tpr']

FloatArray = npt.NDArray[np.float64]


def weighted_fpr_at_tpr(id_scores: npt.ArrayLike, id_weights: npt.ArrayLike,
                        ood_scores: npt.ArrayLike, ood_weights: npt.ArrayLike,
                        tpr: float = 0.95) -> float:
    """:func:`negas_ros.metrics.fpr_at_tpr` with integer sample weights (a weight of n counts
    the sample n times); NaN when either side weighs nothing."""
    ids = np.asarray(id_scores, dtype=np.float64)
    wid = np.asarray(id_weights, dtype=np.float64)
    oods = np.asarray(ood_scores, dtype=np.float64)
    wood = np.asarray(ood_weights, dtype=np.float64)
    total_id, total_ood = float(wid.sum()), float(wood.sum())
    if total_id <= 0 or total_ood <= 0:
        return math.nan
    order = np.argsort(-ids, kind='stable')
    cumulative = np.cumsum(wid[order])
    keep = max(1.0, math.ceil(tpr * total_id - 1e-9))
    tau = ids[order][int(np.searchsorted(cumulative, keep))]
    return float(wood[oods >= tau].sum() / total_ood)


def _interval(values: FloatArray) -> list[float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    return [float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))]


def paired_fpr95_bootstrap(base: RowResult, new: RowResult, ood_set: str, id_images: int,
                           ood_images: int, reps: int = 2000, seed: int = 0,
                           required_reduction: float = 0.25) -> dict[str, object]:
    """95% percentile intervals of FPR95 of ``base`` and ``new`` on ``ood_set`` and of the
    relative reduction 1 - FPR95(new) / FPR95(base), over ``reps`` image resamples.

    id_images / ood_images: how many images the ID split and the OOD split had (samples
    carry their image index in ``RowResult.id_images`` / ``ood_images``).
    ``share_met`` is the share of draws whose reduction reaches ``required_reduction``.
    """
    if reps < 1 or id_images < 1 or ood_images < 1:
        raise ValueError('reps, id_images and ood_images must be >= 1')
    if ood_set not in base.ood_images or ood_set not in new.ood_images:
        raise ValueError(f'no samples of OOD set {ood_set!r}')
    rng = np.random.default_rng(seed)
    fprs = np.full((reps, 2), np.nan)
    for r in range(reps):
        id_counts = np.bincount(rng.integers(0, id_images, id_images), minlength=id_images)
        ood_counts = np.bincount(rng.integers(0, ood_images, ood_images), minlength=ood_images)
        for j, row in enumerate((base, new)):
            fprs[r, j] = weighted_fpr_at_tpr(
                row.id_scores, id_counts[row.id_images], row.ood_scores[ood_set],
                ood_counts[row.ood_images[ood_set]])
    with np.errstate(divide='ignore', invalid='ignore'):
        reduction = np.where(fprs[:, 0] > 0, 1.0 - fprs[:, 1] / fprs[:, 0], np.nan)
    finite = reduction[np.isfinite(reduction)]
    return {
        'reps': reps, 'seed': seed, 'resampled': 'images (paired), tau* fixed',
        'fpr95_baseline_ci95': _interval(fprs[:, 0]),
        'fpr95_negas_ci95': _interval(fprs[:, 1]),
        'fpr95_reduction_ci95': _interval(reduction),
        'share_met': float((finite >= required_reduction).mean()) if finite.size else None,
    }


def criterion_draws(rows: Sequence[RowResult], ood_sets: Sequence[str], id_images: int,
                    ood_images: Mapping[str, int], reps: int = 1000, seed: int = 0
                    ) -> FloatArray:
    """(reps, len(rows)): per image resample, each row's mean FPR95 over ``ood_sets``.

    The same draw serves every row (they score the same images), as in
    :func:`paired_fpr95_bootstrap`; tau* is held at each row's value. ood_images: how many
    images each OOD set's split had.
    """
    if reps < 1 or id_images < 1 or any(ood_images[s] < 1 for s in ood_sets):
        raise ValueError('reps and the image counts must be >= 1')
    for row in rows:
        missing = [s for s in ood_sets if s not in row.ood_images]
        if missing:
            raise ValueError(f'row {row.spec.key!r} has no samples of {missing}')
    rng = np.random.default_rng(seed)
    draws = np.full((reps, len(rows)), np.nan)
    for r in range(reps):
        id_counts = np.bincount(rng.integers(0, id_images, id_images), minlength=id_images)
        ood_counts = {s: np.bincount(rng.integers(0, ood_images[s], ood_images[s]),
                                     minlength=ood_images[s]) for s in ood_sets}
        for j, row in enumerate(rows):
            draws[r, j] = float(np.mean([
                weighted_fpr_at_tpr(row.id_scores, id_counts[row.id_images],
                                    row.ood_scores[s], ood_counts[s][row.ood_images[s]])
                for s in ood_sets]))
    return draws


def selection_margins(selection: Mapping[str, Any], results: Mapping[str, RowResult],
                      id_images: int, ood_images: Mapping[str, int], reps: int = 1000,
                      seed: int = 0, references: Mapping[str, str] | None = None
                      ) -> dict[str, dict[str, Any]]:
    """How far each validation choice stands above its rivals, beyond image noise.

    For every family of :func:`negas_ros.benchmark.select.select_choices` with a winner and
    a runner-up (the next admissible candidate by the same ranking), and for the candidate
    named in ``references`` (family -> candidate, e.g. NegA 'off' for 'nega_rule') when it is
    not the winner and has a criterion: the lead = rival's criterion - winner's (points of mean
    FPR95; > 0 means the winner is better), its 95% percentile interval over image resamples,
    and the share of draws in which the winner is strictly better. A lead whose interval holds
    0 is a choice the validation data cannot tell from its rival.
    """
    references = references or {}
    sets = list(selection.get('criterion_sets') or ())
    out: dict[str, dict[str, Any]] = {}
    for family, entry in (selection.get('families') or {}).items():
        winner = entry.get('winner')
        candidates = entry.get('candidates') or {}
        if winner is None:
            continue
        ranked = [name for name in rank_candidates(candidates) if name != winner]
        rivals: dict[str, str] = {}
        if ranked:
            rivals['runner_up'] = ranked[0]
        reference = references.get(family)
        if (reference is not None and reference != winner
                and (candidates.get(reference) or {}).get('value') is not None):
            rivals['reference'] = reference
        if not rivals:
            continue
        names = [winner, *rivals.values()]
        rows = [results[candidates[name]['row']] for name in names]
        draws = criterion_draws(rows, sets, id_images, ood_images, reps, seed)
        report: dict[str, Any] = {'winner': winner, 'reps': reps, 'seed': seed,
                                  'resampled': 'images (paired), tau* fixed'}
        for j, (role, name) in enumerate(rivals.items(), start=1):
            lead = draws[:, j] - draws[:, 0]
            finite = lead[np.isfinite(lead)]
            report[role] = {
                'name': name,
                'lead_points': 100.0 * (candidates[name]['value'] - candidates[winner]['value']),
                'lead_points_ci95': (None if not finite.size
                                     else [100.0 * v for v in _interval(finite) or []]),
                'share_winner_better': float((finite > 0).mean()) if finite.size else None,
            }
        out[family] = report
    return out
