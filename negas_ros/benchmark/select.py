"""The choices a validation run makes: negative list, NegA rule, score form (pure).

:func:`select_choices` reads a results.json document (``negas-ros ood-benchmark``) and picks,
in each family of ablation rows, the candidate with the lowest *criterion* = the mean of FPR95
on ``near`` and ``near_unseen`` (ties: the higher mean AUROC on those two sets, then the
earlier row), among the *admissible* candidates: those whose ID mAP is at most
:data:`MAX_MAP_DROP_POINTS` points below the ``max_sigmoid`` row's. Families:

- ``negative_list``: the negative-set ablation's NegA-off rows (``<set>/nega_off``), except
  the controls ``random`` and ``none``; the candidate is the set's key;
- ``nega_rule``: the fusion ablation's NegS rows (``<rule>/negs``, ``off/negs`` included); the
  candidate is the rule's name ('off', 'max', 'weighted_0.25', 'gate_0.5', 'branch', ...);
- ``score_form``: the score-forms ablation's NegA-on rows (``<method>/nega_on``); the
  candidate is the score method;
- ``list_and_form``: the 'set_forms' ablation (``--set-score-forms``): every negative set but
  the controls under every score form, NegA off; the candidate is ``<set>/<method>``.

The choices are meant to be made on the validation splits (``--splits val``); results.json of
a test run holds them too, for comparison, but results.md shows them for validation runs only.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any

__all__ = ['CRITERION_SETS', 'FAMILIES', 'MAX_MAP_DROP_POINTS', 'SELECTION_RULE',
           'rank_candidates', 'select_choices']

CRITERION_SETS: tuple[str, ...] = ('near', 'near_unseen')
"""OOD sets whose FPR95 (and, for ties, AUROC) the criterion averages."""
MAX_MAP_DROP_POINTS = 0.5
"""A candidate is admissible when its ID mAP is at most this many points (percent) below the
max_sigmoid row's."""
FAMILIES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    # (family, title, ablation, row-key suffix, candidates left out)
    ('negative_list', 'Negative list (NegS, NegA off)', 'negatives', '/nega_off',
     ('random', 'none')),
    ('nega_rule', 'NegA rule (NegS, shipped negatives)', 'fusion', '/negs', ()),
    ('score_form', 'Score form (shipped negatives, NegA on)', 'score_forms', '/nega_on', ()),
    ('list_and_form', 'Negative list and score form together (NegA off)', 'set_forms', '',
     ('random', 'none')),
)
SELECTION_RULE = (
    'In each family the winner is the candidate with the lowest mean of FPR95 on near and '
    'near_unseen (ties: the higher mean AUROC on those two sets), among the candidates whose '
    f"ID mAP is at most {MAX_MAP_DROP_POINTS:g} points below the max-sigmoid row's.")


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _mean(entry: Mapping[str, Any], metric: str) -> float | None:
    values = [_number((entry.get(name) or {}).get(metric)) for name in CRITERION_SETS]
    if any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None) / len(values)


def _candidate(row_key: str, entry: Mapping[str, Any], base_map: float | None
               ) -> dict[str, Any]:
    row_map = _number(entry.get('map'))
    drop = None if base_map is None or row_map is None else 100.0 * (base_map - row_map)
    return {
        'row': row_key,
        'value': _mean(entry, 'fpr95'),
        'auroc': _mean(entry, 'auroc'),
        'map': row_map,
        'map_drop_points': drop,
        # A hair of slack: mAP values travel through JSON and a subtraction.
        'admissible': drop is not None and drop <= MAX_MAP_DROP_POINTS + 1e-9,
    }


def rank_candidates(candidates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The admissible candidates with a criterion, best first: lowest criterion, then the
    higher mean AUROC, then the earlier candidate (the winner is the first)."""
    ranked = sorted(
        ((c['value'], -(c['auroc'] if c['auroc'] is not None else -math.inf), i, name)
         for i, (name, c) in enumerate(candidates.items())
         if c['admissible'] and c['value'] is not None))
    return [name for *_, name in ranked]


def select_choices(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The choices of a results.json document (see the module docstring).

    Returns {'rule': :data:`SELECTION_RULE`, 'criterion_sets': [...], 'max_map_drop_points':
    0.5, 'baseline_map': mAP of max_sigmoid, 'families': {family: {'title', 'winner' (a
    candidate name, or None when no candidate is admissible with a defined criterion),
    'value' (the winner's criterion), 'candidates': {name: {'row', 'value' (the criterion,
    None when undefined), 'auroc' (mean AUROC), 'map', 'map_drop_points', 'admissible'}}}}}.
    Families whose ablation the document lacks are left out. Pure: the document is not
    modified.
    """
    base_map = _number((doc.get('max_sigmoid') or {}).get('map'))
    ablations = doc.get('ablations') or {}
    families: dict[str, Any] = {}
    for family, title, ablation, suffix, left_out in FAMILIES:
        rows = ablations.get(ablation)
        if rows is None:
            continue
        candidates: dict[str, dict[str, Any]] = {}
        for row_key, entry in rows.items():
            if not row_key.endswith(suffix):
                continue
            name = row_key[:-len(suffix)] if suffix else row_key
            if name.split('/')[0] in left_out:
                continue
            candidates[name] = _candidate(row_key, entry, base_map)
        ranked = rank_candidates(candidates)
        winner = ranked[0] if ranked else None
        families[family] = {
            'title': title,
            'winner': winner,
            'value': None if winner is None else candidates[winner]['value'],
            'candidates': candidates,
        }
    return {
        'rule': SELECTION_RULE,
        'criterion_sets': list(CRITERION_SETS),
        'max_map_drop_points': MAX_MAP_DROP_POINTS,
        'baseline_map': base_map,
        'families': families,
    }
