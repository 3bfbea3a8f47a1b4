"""Assemble the benchmark's results: the JSON document, the Markdown tables, the target check.

Pure (numpy only). Units: every metric in results.json is a fraction in [0, 1] (FPR95, AUROC,
AUPR, mAP); the Markdown tables print them in percent, as papers do. ``map`` is COCO
AP@[.5:.95] of the ID split.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import math
from types import MappingProxyType
from typing import Any

from negas_ros.benchmark.attention import OVERLAP_FIELDS
from negas_ros.benchmark.plan import OOD_SPLITS, BenchmarkPlan
from negas_ros.benchmark.protocol import RowResult
from negas_ros.evaluation import to_jsonable
from negas_ros.labels import normalize_label
from negas_ros.metrics import threshold_at_tpr

__all__ = [
    'MAP_DROP_POINTS',
    'NEAR_FPR95_REDUCTION',
    'NEAR_UNSEEN_FPR95_REDUCTION',
    'OOD_NAMES',
    'REQUIRED_REDUCTION',
    'attention_block_table',
    'attention_table',
    'category_table',
    'markdown_table',
    'named_categories',
    'negative_response_table',
    'row_entry',
    'rows_document',
    'target_check',
]

NEAR_FPR95_REDUCTION = 0.40
"""Target: NegAS lowers near-OOD FPR95 by at least this fraction of the baseline's."""
NEAR_UNSEEN_FPR95_REDUCTION = 0.25
"""Target: and near-OOD FPR95 on the unseen categories by at least this fraction."""
MAP_DROP_POINTS = 0.5
"""Target: while ID mAP drops by at most this many points (percent)."""
REQUIRED_REDUCTION: Mapping[str, float] = MappingProxyType(
    {'near': NEAR_FPR95_REDUCTION, 'near_unseen': NEAR_UNSEEN_FPR95_REDUCTION})
"""OOD set -> the FPR95 reduction the target requires there (others: the near target)."""

_METRICS = ('fpr95', 'auroc', 'aupr')
_ARROWS = {'fpr95': 'FPR95↓', 'auroc': 'AUROC↑', 'aupr': 'AUPR↑'}


def row_entry(result: RowResult, plan: BenchmarkPlan) -> dict[str, Any]:
    """One row as its results.json entry (fractions; None where undefined)."""
    setting = plan.settings[result.spec.setting]
    entry: dict[str, Any] = {
        'title': result.spec.title,
        'method': result.spec.method,
        'setting': setting.key,
        'nega': setting.describe(),
        'negatives': result.num_negatives,
    }
    for name, metrics in result.metrics.items():
        entry[name] = {k: metrics.get(k) for k in (*_METRICS, 'aupr_out')}
    entry['map'] = result.map
    entry['map50'] = result.map50
    entry['tau'] = result.tau
    # The node's ood_threshold at this row's operating point (95% of ID samples kept).
    entry['ood_threshold_95tpr'] = (threshold_at_tpr(result.id_scores, 0.95)
                                    if result.id_scores.size else None)
    entry['samples'] = dict(result.samples)
    if result.negative_response:
        entry['negative_response'] = result.negative_response
    out: dict[str, Any] = to_jsonable(entry)
    return out


def rows_document(results: Mapping[str, RowResult], plan: BenchmarkPlan,
                  keys: Iterable[str]) -> dict[str, Any]:
    """{row key: row entry} for the given keys, in that order."""
    return {key: row_entry(results[key], plan) for key in keys}


def target_check(rows: Mapping[str, Mapping[str, Any]], ood_set: str = 'near',
                 required: float | None = None) -> dict[str, Any]:
    """The headline target on results.json entries: ``negas`` vs ``max_sigmoid``.

    reduction = 1 - FPR95(negas) / FPR95(max_sigmoid) on ``ood_set``; map_drop_points =
    100 (mAP(max_sigmoid) - mAP(negas)). met: reduction >= required (default
    :data:`REQUIRED_REDUCTION` of the set: 0.40 on near, 0.25 on near_unseen) and drop <=
    :data:`MAP_DROP_POINTS` (0.5 point); None when a number is missing (or the baseline FPR95
    is 0, leaving nothing to reduce).
    """
    if required is None:
        required = REQUIRED_REDUCTION.get(ood_set, NEAR_FPR95_REDUCTION)
    base, ours = rows['max_sigmoid'], rows['negas']
    fpr_base = (base.get(ood_set) or {}).get('fpr95')
    fpr_ours = (ours.get(ood_set) or {}).get('fpr95')
    map_base, map_ours = base.get('map'), ours.get('map')
    reduction = None
    if fpr_base is not None and fpr_ours is not None and fpr_base > 0:
        reduction = 1.0 - fpr_ours / fpr_base
    drop = None
    if map_base is not None and map_ours is not None:
        drop = 100.0 * (map_base - map_ours)
    met = None
    if reduction is not None and drop is not None:
        met = bool(reduction >= required and drop <= MAP_DROP_POINTS)
    return {
        'ood_set': ood_set,
        'fpr95_baseline': fpr_base, 'fpr95_negas': fpr_ours,
        'fpr95_reduction': reduction, 'required_reduction': required,
        'map_baseline': map_base, 'map_negas': map_ours,
        'map_drop_points': drop, 'max_map_drop_points': MAP_DROP_POINTS,
        'met': met,
    }


def named_categories(words: Iterable[str], categories: Iterable[str]) -> list[str]:
    """The categories that a word list literally names (equal under
    :func:`negas_ros.labels.normalize_label`: case, spacing, '-' and '_', plural), sorted."""
    keys = {normalize_label(w) for w in words}
    return sorted({c for c in categories if normalize_label(c) in keys})


def _pct(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '–'
    return f'{100.0 * float(value):.{digits}f}'


def markdown_table(entries: Mapping[str, Mapping[str, Any]], ood_sets: Sequence[str],
                   first_column: str = 'Method', with_map: bool = True,
                   with_samples: bool = False) -> str:
    """A Markdown table: one line per entry, FPR95 / AUROC / AUPR (percent) per OOD set,
    then ID mAP and mAP@.5 (percent) and, with_samples, the kept ID / OOD sample counts."""
    header = [first_column, 'NegA', 'neg.']
    for name in ood_sets:
        header.extend(f'{name} {_ARROWS[m]}' for m in _METRICS)
    if with_map:
        header.extend(['mAP↑', 'mAP50↑'])
    if with_samples:
        header.append('samples (ID / ' + ' / '.join(ood_sets) + ')')
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join(['---'] + [':---:'] * 2 + ['---:'] * (len(header) - 3)) + '|']
    for entry in entries.values():
        cells = [str(entry['title']), str(entry['nega']), str(entry['negatives'])]
        for name in ood_sets:
            metrics = entry.get(name) or {}
            cells.extend(_pct(metrics.get(m)) for m in _METRICS)
        if with_map:
            cells.extend([_pct(entry.get('map')), _pct(entry.get('map50'))])
        if with_samples:
            samples = entry.get('samples', {})
            cells.append(' / '.join(str(samples.get(k, '–')) for k in ('id', *ood_sets)))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def negative_response_table(entries: Mapping[str, Mapping[str, Any]],
                            sets: Sequence[str]) -> str:
    """Markdown table of how the negatives answer on the kept samples, per set: mean of the
    best negative sigmoid, and the share of samples whose best negative beats their best ID
    label (percent)."""
    header = ['Row', 'NegA', *(f'{name}: mean max q / q wins' for name in sets)]
    lines = ['| ' + ' | '.join(header) + ' |', '|---|:---:|' + '---:|' * len(sets)]
    for entry in entries.values():
        response = entry.get('negative_response') or {}
        cells = [str(entry['title']), str(entry['nega'])]
        for name in sets:
            values = response.get(name)
            cells.append('–' if values is None else
                         f"{values['mean_max_negative']:.3f} / "
                         f"{100 * values['negative_wins']:.1f}%")
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def category_table(entries: Mapping[str, Mapping[str, Any]], sets: Sequence[str]) -> str:
    """Markdown table of the kept OOD samples per object category (the first entry's counts)
    and, per entry (column title -> results.json row), their mean best negative sigmoid."""
    titles = list(entries)
    header = ['OOD set', 'object under the sample', 'samples',
              *(f'mean max q, {t}' for t in titles)]
    lines = ['| ' + ' | '.join(header) + ' |', '|---|---|' + '---:|' * (1 + len(titles))]
    first = entries[titles[0]]
    for name in sets:
        groups = ((first.get('negative_response') or {}).get(name) or {}).get('by_category', {})
        for category, values in groups.items():
            cells = [name, category, str(values['samples'])]
            for title in titles:
                other = (((entries[title].get('negative_response') or {}).get(name) or {})
                         .get('by_category', {}).get(category))
                cells.append('–' if other is None else f"{other['mean_max_negative']:.3f}")
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def attention_table(overlap: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]],
                    titles: Mapping[str, str]) -> str:
    """Markdown table of the block-averaged overlap: one line per (split, setting)."""
    names = {'mass_in_ood': 'mass in OOD', 'area_ood': 'OOD area', 'lift': 'lift',
             'mean_in_ood': 'mean a, OOD', 'mean_in_id': 'mean a, ID',
             'mean_background': 'mean a, background', 'contrast': 'OOD / background',
             'added_in_ood': 'added by NegA, in OOD'}
    header = ['split', 'attention', *(names[f] for f in OVERLAP_FIELDS), 'images']
    lines = ['| ' + ' | '.join(header) + ' |',
             '|---|---|' + '---:|' * (len(header) - 2)]
    for split, per_setting in overlap.items():
        for key, blocks in per_setting.items():
            mean = blocks['mean']
            cells = [split, titles.get(key, key)]
            for name in OVERLAP_FIELDS:
                value = mean.get(name)
                if value is None or not math.isfinite(float(value)):
                    cells.append('–')
                elif name in ('lift', 'contrast'):
                    cells.append(f'{float(value):.3f}')
                else:
                    cells.append(f'{float(value):.4f}')
            cells.append(str(mean.get('images', 0)))
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def attention_block_table(overlap: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]],
                          titles: Mapping[str, str], quantity: str = 'mass_in_ood') -> str:
    """Markdown table of one overlap quantity per text-guided block."""
    blocks = sorted({b for per in overlap.values() for v in per.values() for b in v
                     if b != 'mean'}, key=int)
    header = ['split', 'attention', *(f'layer {b}' for b in blocks), 'mean']
    lines = ['| ' + ' | '.join(header) + ' |', '|---|---|' + '---:|' * (len(blocks) + 1)]
    for split, per_setting in overlap.items():
        for key, per_block in per_setting.items():
            cells = [split, titles.get(key, key)]
            for b in [*blocks, 'mean']:
                value = per_block.get(b, {}).get(quantity)
                if value is None or not math.isfinite(float(value)):
                    cells.append('–')
                else:
                    cells.append(f'{float(value):.4f}')
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


OOD_NAMES: tuple[str, ...] = tuple(OOD_SPLITS)
