"""The shipped weights reproduce the quick-subset numbers recorded in docs/results.json.

`negas-ros ood-benchmark` stores, next to the full table, the main rows on the first images
of each split (the ``quick`` block, written by the same run). This test reruns exactly that
subset with the shipped model and labels and requires every number (FPR95, AUROC, AUPR per
OOD set, mAP, mAP50, tau*, sample counts) to match within the recorded tolerance. It fails
when docs/results.json was produced by other weights or labels: rerun the benchmark then.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
import time
from typing import Any

import pytest

from negas_ros.benchmark.run import (
    REPO_ROOT,
    Counts,
    default_labels_path,
    default_model_dir,
    quick_differences,
    recorded_negative_sets,
    reproduce_quick,
)

RESULTS = REPO_ROOT / 'docs' / 'results.json'

pytestmark = pytest.mark.model


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_benchmark_quick_subset_reproduces() -> None:
    model, labels = default_model_dir(), default_labels_path()
    assert (model / 'yolo_world.yaml').is_file(), f'the shipped model is missing: {model}'
    assert labels.is_file(), f'the world labels are missing: {labels}'
    assert RESULTS.is_file(), 'docs/results.json is missing: run negas-ros ood-benchmark'
    doc: dict[str, Any] = json.loads(RESULTS.read_text(encoding='utf-8'))
    meta, quick = doc['meta'], doc['quick']
    weights = REPO_ROOT / meta['model']['weights']
    assert meta['model']['model'] == str(model.relative_to(REPO_ROOT)), meta['model']['model']
    assert _sha256(weights) == meta['model']['weights_sha256'], (
        'docs/results.json was written for other weights: rerun negas-ros ood-benchmark')
    assert _sha256(labels) == meta['model']['labels_sha256'], (
        'docs/results.json was written for another label file: rerun negas-ros ood-benchmark')

    # The NegA-off run reads the union of every negative list: rerun it with the same lists.
    files, random = recorded_negative_sets(meta)
    for entry in meta.get('negative_sets', []):
        if entry['key'] not in ('shipped', 'random'):
            path = REPO_ROOT / entry['file']
            assert path.is_file() and _sha256(path) == entry['sha256'], (
                f"docs/results.json was written with another {entry['file']}: rerun "
                'negas-ros ood-benchmark')

    images = quick['images']
    counts = Counts(id=images['id_test'], ood=images['ood_near'], attention=0)
    start = time.perf_counter()
    rerun = reproduce_quick(model, labels, meta['seed'], meta['box_threshold'],
                            tuple(meta['image_size']), meta['threads'], counts=counts,
                            negative_sets=files, random_words=random,
                            negs_method=meta.get('negs_method', 'negs'))
    elapsed = time.perf_counter() - start
    reference = {key: quick[key] for key in meta['rows']}
    differences = quick_differences(reference, rerun, quick['tolerance'])
    assert differences == [], (
        f'{len(differences)} numbers differ by more than {quick["tolerance"]:g} '
        f'(first: {differences[:5]}); rerun took {elapsed:.0f} s')
