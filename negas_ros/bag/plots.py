"""PNG plots of an offline evaluation (matplotlib with the Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from negas_ros.evaluation import CocoResult, OodResult, precision_recall_curve, roc_curve

__all__ = ['write_plots']


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use('Agg')  # files only; never pick an interactive backend
    import matplotlib.pyplot as plt

    return plt


def write_plots(out_dir: Path, coco: CocoResult, ood: Mapping[str, OodResult],
                ood_threshold: float, score_method: str) -> list[Path]:
    """Write the plots that have data and return their paths.

    - ``roc.png``: ROC of ID (positive) vs each OOD set over the kept samples' OOD scores;
    - ``score_histogram.png``: ID vs OOD score histograms per OOD set, with the node's
      ``ood_threshold`` marked;
    - ``precision_recall.png``: precision-recall of OOD detection (ID positive) per OOD set;
    - ``precision_recall_id.png``: COCO precision-recall per ID class at IoU 0.5.
    """
    plt = _pyplot()
    out_dir = Path(out_dir)
    written: list[Path] = []
    usable = {name: r for name, r in ood.items() if r.id_scores.size and r.ood_scores.size}

    if usable:
        fig, ax = plt.subplots(figsize=(6, 5))
        for name, result in usable.items():
            fpr, tpr = roc_curve(result.id_scores, result.ood_scores)
            ax.plot(fpr, tpr, label=f"{name} (AUROC {result.metrics['auroc']:.3f}, "
                                    f"FPR95 {result.metrics['fpr95']:.3f})")
        ax.axhline(0.95, color='grey', linestyle=':', linewidth=1)
        ax.plot([0, 1], [0, 1], color='grey', linestyle='--', linewidth=1)
        ax.set(xlabel='false positive rate (OOD kept)', ylabel='true positive rate (ID kept)',
               title=f'ROC, ID positive, score {score_method}', xlim=(0, 1), ylim=(0, 1.01))
        ax.legend(loc='lower right', fontsize=8)
        written.append(_save(fig, out_dir / 'roc.png', plt))

        fig, axes = plt.subplots(len(usable), 1, figsize=(7, 2.8 * len(usable)), squeeze=False)
        for ax, (name, result) in zip(axes[:, 0], usable.items(), strict=True):
            both = np.concatenate([result.id_scores, result.ood_scores])
            bins = np.histogram_bin_edges(both, bins=40)
            ax.hist(result.id_scores, bins=bins, alpha=0.6, density=True,
                    label=f'ID ({result.id_scores.size})')
            ax.hist(result.ood_scores, bins=bins, alpha=0.6, density=True,
                    label=f'{name} ({result.ood_scores.size})')
            if bins[0] <= ood_threshold <= bins[-1]:  # outside, it would squash the bars
                ax.axvline(ood_threshold, color='black', linestyle='--', linewidth=1,
                           label=f'ood_threshold {ood_threshold:g}')
            ax.set(xlabel=f'OOD score {score_method} (larger = more ID)', ylabel='density')
            ax.legend(fontsize=8)
        written.append(_save(fig, out_dir / 'score_histogram.png', plt))

        fig, ax = plt.subplots(figsize=(6, 5))
        for name, result in usable.items():
            precision, recall = precision_recall_curve(result.id_scores, result.ood_scores)
            ax.plot(recall, precision, drawstyle='steps-post',
                    label=f"{name} (AUPR-In {result.metrics['aupr_in']:.3f})")
        ax.set(xlabel='recall (ID)', ylabel='precision (ID)',
               title='Precision-recall of OOD detection, ID positive', xlim=(0, 1),
               ylim=(0, 1.01))
        ax.legend(loc='lower left', fontsize=8)
        written.append(_save(fig, out_dir / 'precision_recall.png', plt))

    if coco.precision.size:
        fig, ax = plt.subplots(figsize=(6, 5))
        plotted = 0
        for k, (name, ap50) in enumerate(coco.per_class_ap50.items()):
            curve = coco.precision[0, :, k, 0, -1]
            if ap50 is None or (curve < 0).all():
                continue
            ax.plot(coco.rec_thrs, np.clip(curve, 0, None), label=f'{name} (AP50 {ap50:.3f})')
            plotted += 1
        ax.set(xlabel='recall', ylabel='precision', xlim=(0, 1), ylim=(0, 1.01),
               title='ID detection precision-recall at IoU 0.5 (COCO)')
        if plotted:
            ax.legend(loc='upper right', fontsize=7)
        written.append(_save(fig, out_dir / 'precision_recall_id.png', plt))
    return written


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
