"""The benchmark's figures (matplotlib, Agg backend: files only, no display).

- ``results_roc.png``: ROC (ID positive) of every main row, one panel per OOD set;
- ``results_hist.png``: ID vs OOD score histograms of the baseline and NegAS, per OOD set;
- ``results_attention.png``: an example image per attention split with its OOD pixels outlined,
  and the attention of the finest text-guided block for each compared setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from negas_ros.benchmark.collect import AttentionExample
from negas_ros.benchmark.protocol import RowResult
from negas_ros.evaluation import roc_curve

__all__ = ['write_figures']


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata: reruns with equal numbers give equal files (no timestamp in the PNG).
    fig.savefig(path, dpi=100, metadata={'Software': None})
    plt.close(fig)
    return path


def _fmt(value: float | None) -> str:
    return '–' if value is None else f'{100 * value:.1f}'


def write_figures(out_dir: Path, rows: Mapping[str, RowResult], main_keys: Sequence[str],
                  ood_sets: Sequence[str], examples: Sequence[AttentionExample],
                  titles: Mapping[str, str], prefix: str = 'results') -> list[Path]:
    """Write the figures into ``out_dir`` (created) and return their paths.

    rows: evaluated rows by key; main_keys: the rows drawn in the ROC plot (the histograms
    draw 'max_sigmoid' and 'negas'); ood_sets: OOD set names to draw; examples: attention
    examples; titles: setting key -> legend text for the attention panels.
    """
    plt = _pyplot()
    out_dir = Path(out_dir)
    written: list[Path] = []
    sets = [name for name in ood_sets
            if any(rows[k].ood_scores.get(name, np.zeros(0)).size for k in main_keys)]
    if sets:
        fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 4.2), squeeze=False)
        for ax, name in zip(axes[0], sets, strict=True):
            for key in main_keys:
                row = rows[key]
                oods = row.ood_scores.get(name, np.zeros(0))
                if row.id_scores.size == 0 or oods.size == 0:
                    continue
                fpr, tpr = roc_curve(row.id_scores, oods)
                metrics = row.metrics[name]
                style = {'linewidth': 2.2} if key in ('max_sigmoid', 'negas') else {
                    'linewidth': 1.0, 'alpha': 0.8}
                ax.plot(fpr, tpr, label=f"{key} (FPR95 {_fmt(metrics['fpr95'])}, "
                                        f"AUROC {_fmt(metrics['auroc'])})", **style)
            ax.axhline(0.95, color='grey', linestyle=':', linewidth=1)
            ax.plot([0, 1], [0, 1], color='grey', linestyle='--', linewidth=0.8)
            ax.set(xlabel='FPR (OOD detections kept)', ylabel='TPR (ID detections kept)',
                   title=f'ROC, ID vs {name} OOD', xlim=(0, 1), ylim=(0, 1.01))
            ax.legend(loc='lower right', fontsize=6.5)
        written.append(_save(fig, out_dir / f'{prefix}_roc.png', plt))

        pair = [k for k in ('max_sigmoid', 'negas') if k in rows]
        fig, axes = plt.subplots(len(pair), len(sets), figsize=(4.2 * len(sets), 3.0 * len(pair)),
                                 squeeze=False)
        for i, key in enumerate(pair):
            row = rows[key]
            for j, name in enumerate(sets):
                ax = axes[i][j]
                oods = row.ood_scores.get(name, np.zeros(0))
                both = np.concatenate([row.id_scores, oods])
                if both.size == 0:
                    ax.set_axis_off()
                    continue
                bins = np.histogram_bin_edges(both, bins=40)
                if row.id_scores.size:
                    ax.hist(row.id_scores, bins=bins, alpha=0.6, density=True,
                            label=f'ID ({row.id_scores.size})')
                if oods.size:  # an empty density histogram divides by zero
                    ax.hist(oods, bins=bins, alpha=0.6, density=True,
                            label=f'{name} OOD ({oods.size})')
                ax.set(xlabel=f'{row.spec.method} score (larger = more ID)', ylabel='density',
                       title=f'{key}: ID vs {name}')
                ax.legend(fontsize=7)
        written.append(_save(fig, out_dir / f'{prefix}_hist.png', plt))

    if examples:
        keys = list(titles)
        fig, axes = plt.subplots(len(examples), 1 + len(keys),
                                 figsize=(3.0 * (1 + len(keys)), 3.1 * len(examples)),
                                 squeeze=False)
        for i, example in enumerate(examples):
            ax = axes[i][0]
            ax.imshow(example.image)
            if example.ood_mask.any():
                ax.contour(example.ood_mask.astype(float), levels=[0.5], colors='red',
                           linewidths=0.8)
            ax.set_title(f'{example.split} #{example.index} (OOD outlined)', fontsize=8)
            ax.set_axis_off()
            shown = {key: example.maps[key] for key in keys if example.maps.get(key)}
            # Layer 15 has the finest grid (stride 8); one colour range per row, so that the
            # settings compare on the same scale.
            layers = set.intersection(*(set(m) for m in shown.values())) if shown else set()
            layer = 15 if 15 in layers else min(layers, default=15)
            values = [m[layer] for m in shown.values() if layer in m]
            low = min((float(v.min()) for v in values), default=0.0)
            high = max((float(v.max()) for v in values), default=1.0)
            for j, key in enumerate(keys):
                ax = axes[i][1 + j]
                maps = shown.get(key)
                if not maps or layer not in maps:
                    ax.set_axis_off()
                    continue
                image = ax.imshow(maps[layer], vmin=low, vmax=max(high, low + 1e-6),
                                  cmap='magma', interpolation='nearest')
                fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
                if example.ood_mask.any():
                    ax.contour(example.ood_mask.astype(float), levels=[0.5], colors='cyan',
                               linewidths=0.8)
                ax.set_title(f'{titles[key]}\nlayer {layer}', fontsize=8)
                ax.set_axis_off()
        written.append(_save(fig, out_dir / f'{prefix}_attention.png', plt))
    return written
