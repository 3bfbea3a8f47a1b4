#!/usr/bin/env python3
"""Cost of Grounding DINO's pass merge: the rule before issue 10 against today's, side by side.

Not a test: prints milliseconds measured in one run on the same synthetic pass outputs.
A frame with P passes x Q queries (default 13 x 900, what 300 negatives of ~2 tokens with 10 ID
labels need at 256 tokens a pass): ~40 objects, each pass's queries scattered around them with
jitter (as DETR queries cluster on objects), ID logits N(-4, 2) with +5 on queries near an
object, 300 negatives split over the passes (NegA on: ID labels in every pass).

  before  union of every pass's queries over the threshold, negatives matched at IoU >= 0.5
          else floor, then a greedy Python loop removing cross-pass duplicates (O(N^2));
  after   negas_ros.backends.grounding_dino.aggregation.aggregate_passes (anchor pass, one
          vectorised IoU against all other passes' queries, mean ID logits).

Columns: medians of --repeat runs, and the fastest 'after' run (noise on a shared VM only adds
time, so the minimum is the closest to the code's own cost; we report both).

Usage (inside `source scripts/env.sh`):  python scripts/bench_gdino_merge.py [--repeat 5]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import platform
import statistics
import time

import numpy as np
import numpy.typing as npt

from negas_ros.backends.grounding_dino.aggregation import PassOutput, aggregate_passes, box_iou
from negas_ros.detection import RawDetections


def legacy_aggregate(passes: Sequence[PassOutput], num_id: int, num_neg: int,
                     box_threshold: float, match_iou: float = 0.5, dedup_iou: float = 0.5,
                     floor_logit: float = -20.0) -> RawDetections:
    """The merge rule before issue 10, kept here only to measure against (our earlier code)."""
    def sigmoid(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        with np.errstate(over='ignore'):
            out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
        return out

    boxes_l, id_l, neg_l, pass_l = [], [], [], []
    for p, out in enumerate(passes):
        if out.id_logits is None:
            continue
        keep = np.flatnonzero(sigmoid(out.id_logits.max(axis=1)) >= box_threshold)
        boxes = out.boxes_xyxy[keep]
        neg = np.full((keep.size, num_neg), floor_logit, np.float32)
        for q, other in enumerate(passes):
            if not other.neg_indices:
                continue
            cols = np.asarray(other.neg_indices, np.intp)
            if q == p:
                neg[:, cols] = other.neg_logits[keep]
            elif keep.size and other.boxes_xyxy.shape[0]:
                iou = box_iou(boxes, other.boxes_xyxy)
                best = iou.argmax(axis=1)
                matched = iou[np.arange(keep.size), best] >= match_iou
                neg[np.ix_(np.flatnonzero(matched), cols)] = other.neg_logits[best[matched]]
        boxes_l.append(boxes)
        id_l.append(out.id_logits[keep])
        neg_l.append(neg)
        pass_l.append(np.full(keep.size, p, np.intp))
    if not boxes_l:
        return RawDetections.empty(num_id, num_neg)
    raw = RawDetections(np.concatenate(boxes_l), np.concatenate(id_l), np.concatenate(neg_l))
    pass_of = np.concatenate(pass_l)
    keep_mask = np.zeros(len(raw), np.bool_)
    kept: list[int] = []
    for i in np.argsort(-raw.id_logits.max(axis=1), kind='stable'):
        if kept:
            idx = np.asarray(kept, np.intp)
            others = idx[pass_of[idx] != pass_of[i]]
            if others.size and box_iou(raw.boxes_xyxy[i:i + 1],
                                       raw.boxes_xyxy[others]).max() >= dedup_iou:
                continue
        kept.append(int(i))
        keep_mask[i] = True
    return raw.select(keep_mask)


def synthetic_passes(num_passes: int, queries: int, num_id: int, num_neg: int,
                     seed: int = 0) -> list[PassOutput]:
    rng = np.random.default_rng(seed)
    width, height = 1280.0, 720.0
    centres = rng.uniform([50, 50], [width - 50, height - 50], (40, 2))
    sizes = rng.uniform(20, 200, (40, 2))
    chunks = np.array_split(np.arange(num_neg), num_passes)
    out = []
    for p in range(num_passes):
        obj = rng.integers(0, 40, queries)
        near = rng.random(queries) < 0.6
        c = np.where(near[:, None], centres[obj] + rng.normal(0, 8, (queries, 2)),
                     rng.uniform([0, 0], [width, height], (queries, 2)))
        wh = np.where(near[:, None], sizes[obj] * rng.uniform(0.8, 1.2, (queries, 2)),
                      rng.uniform(10, 300, (queries, 2)))
        boxes = np.concatenate([c - wh / 2, c + wh / 2], axis=1)
        boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
        id_logits = rng.normal(-4, 2, (queries, num_id)).astype(np.float32)
        id_logits[near, rng.integers(0, num_id, near.sum())] += 5.0
        cols = tuple(int(i) for i in chunks[p])
        neg = rng.normal(-4, 2, (queries, len(cols))).astype(np.float32)
        out.append(PassOutput(boxes, id_logits, neg, cols))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--passes', type=int, default=13)
    parser.add_argument('--queries', type=int, default=900)
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    passes = synthetic_passes(args.passes, args.queries, num_id=10, num_neg=300)
    print(f'# {platform.processor() or platform.machine()}, numpy {np.__version__}, '
          f'{args.passes} passes x {args.queries} queries, 10 ID + 300 negative labels')
    print(f'{"box_threshold":>13} {"before ms":>10} {"after ms":>9} {"after min":>9} '
          f'{"ratio":>7} {"before N":>9} {"after N":>8}')
    for threshold in (0.3, 0.1, 0.02):
        times: dict[str, list[float]] = {'before': [], 'after': []}
        counts = {}
        for _ in range(args.repeat):
            for name, fn in (('before', legacy_aggregate), ('after', aggregate_passes)):
                start = time.perf_counter()
                raw = fn(passes, 10, 300, threshold)
                times[name].append(time.perf_counter() - start)
                counts[name] = len(raw)
        before = statistics.median(times['before']) * 1e3
        after = statistics.median(times['after']) * 1e3
        fastest = min(times['after']) * 1e3  # the code's cost without the VM's noise
        print(f'{threshold:>13} {before:>10.1f} {after:>9.1f} {fastest:>9.1f} '
              f'{before / after:>6.0f}x '
              f'{counts["before"]:>9} {counts["after"]:>8}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
