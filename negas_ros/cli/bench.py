"""`negas-ros bench`: per-frame latency of full-size detectors with and without NegAS.

Random weights of the real architectures give the true cost (no checkpoint is downloaded):
YOLO-World v2 (s, m, l, x) is built from our config; Grounding DINO tiny from the
``IDEA-Research/grounding-dino-tiny`` configuration written out below (Swin-T, BERT-base,
d_model 256, 6 + 6 layers, 900 queries, 256 text tokens). Each configuration (negatives x NegA)
times ``backend.infer`` on one random RGB image of imgsz x imgsz (preprocess, network, filter,
NMS, negative read-out: everything the node pays per frame except message conversion).
Configurations are interleaved round by round, so slow drifts of a shared machine hit all of
them alike; warm-up rounds are discarded. Label texts are random unit vectors (YOLO-World) or
two-word phrases of a fixed vocabulary (Grounding DINO); text encoding happens once per label
set and is not timed.

Random weights would let almost nothing (or everything) through the confidence filter, so the
box threshold is set per backend to pass ``--candidates`` anchors/queries (default 100, a busy
street scene) on the NegA-off, no-negative configuration; NMS and the negative read-out then run
on a realistic number of boxes.

Output: one JSON line per configuration: backend, variant, imgsz, negatives, nega, ms_median,
ms_min, ms_max, ms_q1, ms_q3 (quartiles), ms_model / ms_postprocess (medians of the backend's
own stage timings, always wall clock), ratio_to_plain with ratio_q1 / ratio_q3 (median and
quartiles over rounds of this configuration's time divided by that of the plain detector, 0
negatives and NegA off, in the same round), detections, repeats, id_labels, device, threads,
clock ('wall': latency; 'cpu': this process's CPU time, for shared machines). A first line
describes the machine, a last one the load average at the end.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
import json
import logging
import os
from pathlib import Path
import platform
import re
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

from negas_ros.machine import cpu_name

__all__ = ['register']

_log = logging.getLogger('negas_ros.bench')

# BDD100K's classes: a realistic ID label set for a driving robot.
ID_LABELS = ['pedestrian', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle',
             'traffic light', 'traffic sign']


def _words(text: str) -> list[str]:
    return text.split()


# Two-word negatives ('red van'): about as many BERT tokens as real negative labels.
_ADJECTIVES = _words(
    'red green yellow blue white black gray brown orange pink purple small large big little '
    'old new open closed parked moving standing sitting walking')
_NOUNS = _words(
    'van tractor forklift mannequin statue scooter stroller cart trailer ambulance taxi tram '
    'trolley wagon carriage bulldozer excavator crane helicopter drone balloon boat deer fox '
    'wolf horse cow sheep goat pig dog cat bird duck goose swan bench pole post sign board cone '
    'barrel bin box crate tire wheel door window wall fence tree bush rock log kiosk booth tent '
    'umbrella stand table chair robot doll toy puppet scarecrow shadow mirror screen banner flag '
    'poster painting picture lamp lantern hydrant bollard barrier ladder')


def negative_labels(count: int) -> list[str]:
    """count distinct, deterministic two-word labels ('red van', ...), never an ID label."""
    labels = [f'{a} {n}' for n in _NOUNS for a in _ADJECTIVES]
    if count > len(labels):
        raise ValueError(f'at most {len(labels)} negative labels, asked for {count}')
    return labels[:count]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        'bench', help='latency of full-size detectors with 0/80/1000 negatives, NegA on/off',
        description='Time the per-frame cost of full-size architectures with random weights '
                    '(true cost, nothing downloaded) for each number of negative labels and '
                    'NegA on/off; print one JSON line per configuration.')
    parser.add_argument('--backend', default='yolo_world',
                        choices=('yolo_world', 'grounding_dino', 'all'))
    parser.add_argument('--variant', default=None, metavar='V[,V...]',
                        help='yolo_world: s,m,l,x (default s,l); grounding_dino: tiny')
    parser.add_argument('--negatives', default='0,80,1000', metavar='N,N,...',
                        help='numbers of negative labels (default 0,80,1000)')
    parser.add_argument('--nega', default='both', choices=('on', 'off', 'both'))
    parser.add_argument('--imgsz', type=int, default=None,
                        help='square image side (default 640 yolo_world, 800 grounding_dino)')
    parser.add_argument('--repeats', type=int, default=10, help='timed rounds (default 10)')
    parser.add_argument('--warmup', type=int, default=2, help='discarded rounds (default 2)')
    parser.add_argument('--candidates', type=int, default=100,
                        help='anchors/queries passing the confidence filter (default 100)')
    parser.add_argument('--id-labels', type=int, default=len(ID_LABELS),
                        help=f'number of ID labels (default {len(ID_LABELS)}, BDD100K)')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:N'")
    parser.add_argument('--half', action='store_true', help='fp16 (CUDA only)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--clock', default='wall', choices=('wall', 'cpu'),
                        help="'wall': latency (default); 'cpu': this process's CPU time, "
                             'robust to other processes on a shared machine; use it with '
                             '--threads 1 (with more threads it sums their CPU time)')
    parser.add_argument('--out', type=Path, default=None,
                        help='also append the JSON lines to this file')
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class _Config:
    negatives: int
    nega: bool


def _stats(values: Sequence[float]) -> dict[str, float]:
    ms = sorted(v * 1e3 for v in values)
    q1, _, q3 = statistics.quantiles(ms, n=4) if len(ms) > 1 else (ms[0], ms[0], ms[0])
    return {'ms_median': round(statistics.median(ms), 2), 'ms_min': round(ms[0], 2),
            'ms_max': round(ms[-1], 2), 'ms_q1': round(q1, 2), 'ms_q3': round(q3, 2)}


def machine_info() -> dict[str, Any]:
    import torch

    cpu = cpu_name()
    return {'cpu': cpu, 'threads': torch.get_num_threads(), 'torch': torch.__version__,
            'python': platform.python_version()}


def _yolo_world(variant: str, imgsz: int, device: str, half: bool,
                labels: Sequence[str]) -> Any:
    import torch

    from negas_ros.backends.yolo_world import TextEmbedder, TextEmbeddingTable, config_for_variant
    from negas_ros.backends.yolo_world.backend import YoloWorldBackend
    from negas_ros.backends.yolo_world.network import YoloWorldNet

    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        net = YoloWorldNet(config_for_variant(variant))
        # PyTorch's default init shrinks activations layer by layer until every anchor scores
        # the same; He-normal convolutions and a zero contrastive bias give varied scores and
        # boxes, so the confidence filter, NMS and read-out see a realistic workload.
        for name, module in net.named_modules():
            if isinstance(module, torch.nn.Conv2d) and not name.endswith('dfl.conv'):
                module.weight.normal_(0.0, (2.0 / module.weight[0].numel()) ** 0.5)
        for name, param in net.named_parameters():
            if re.fullmatch(r'model\.22\.cv4\.\d+\.(bias|logit_scale)', name):
                param.fill_(0.0)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(labels), net.config.embed_dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embedder = TextEmbedder(TextEmbeddingTable(tuple(labels), vectors, 'random'), None)
    return YoloWorldBackend.from_network(net, embedder, device, half, imgsz=imgsz)


def grounding_dino_tiny_config() -> Any:
    """The architecture of IDEA-Research/grounding-dino-tiny, written out (no download)."""
    from transformers import BertConfig, GroundingDinoConfig, SwinConfig

    swin: Any = SwinConfig  # out_features is accepted through BackboneConfigMixin
    backbone = swin(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                          window_size=7, image_size=224,
                          out_features=['stage2', 'stage3', 'stage4'])
    text = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                      num_attention_heads=12, intermediate_size=3072,
                      max_position_embeddings=512)
    return GroundingDinoConfig(
        backbone_config=backbone, text_config=text, d_model=256, encoder_layers=6,
        decoder_layers=6, encoder_attention_heads=8, decoder_attention_heads=8,
        encoder_ffn_dim=2048, decoder_ffn_dim=2048, num_queries=900, num_feature_levels=4,
        encoder_n_points=4, decoder_n_points=4, max_text_len=256, two_stage=True,
        query_dim=4, decoder_bbox_embed_share=True, two_stage_bbox_embed_share=False,
        embedding_init_target=True, positional_embedding_temperature=20)


@contextmanager
def _grounding_dino(imgsz: int, device: str, half: bool) -> Iterator[Any]:
    import torch
    from transformers import GroundingDinoForObjectDetection

    from negas_ros.backends.grounding_dino import GroundingDinoBackend
    from negas_ros.backends.tiny import write_tiny_grounding_dino

    with tempfile.TemporaryDirectory(prefix='negas_bench_gdino_') as tmp:
        # The tiny writer gives a tokenizer whose delimiter ids are BERT's; the weights and
        # the image size are then replaced by the full-size random model.
        directory = write_tiny_grounding_dino(Path(tmp), seed=0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model: Any = GroundingDinoForObjectDetection(grounding_dino_tiny_config())
        model.save_pretrained(str(directory))
        del model
        pre = directory / 'preprocessor_config.json'
        config = json.loads(pre.read_text())
        config['size'] = {'shortest_edge': imgsz, 'longest_edge': max(1333, imgsz)}
        pre.write_text(json.dumps(config))
        yield GroundingDinoBackend(str(directory), device=device, half=half)


def _measure(backend: Any, name: str, variant: str, imgsz: int, configs: Sequence[_Config],
             id_labels: Sequence[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    image = np.random.default_rng(1).integers(0, 256, (imgsz, imgsz, 3), dtype=np.uint8)
    negatives = negative_labels(max(c.negatives for c in configs))
    # Box threshold passing --candidates boxes on the plain detector (see module docstring).
    backend.set_labels(id_labels, [], False)
    probe = backend.infer(image, 0.0)
    best = np.sort(1.0 / (1.0 + np.exp(-probe.id_logits.max(1).astype(np.float64))))[::-1]
    threshold = float(best[min(args.candidates, len(best)) - 1]) if len(best) else 0.0
    clock = time.process_time if args.clock == 'cpu' else time.perf_counter
    totals: dict[_Config, list[float]] = {c: [] for c in configs}
    stages: dict[_Config, list[tuple[float, float]]] = {c: [] for c in configs}
    found: dict[_Config, list[int]] = {c: [] for c in configs}
    for round_index in range(args.warmup + args.repeats):
        for config in configs:
            backend.set_labels(id_labels, negatives[: config.negatives], config.nega)
            start = clock()
            raw = backend.infer(image, threshold)
            elapsed = clock() - start
            if round_index < args.warmup:
                continue
            timings = getattr(backend, 'last_timings', {})
            totals[config].append(elapsed)
            stages[config].append((timings.get('model', 0.0), timings.get('postprocess', 0.0)))
            found[config].append(len(raw))
        _log.info('%s %s: round %d of %d done', name, variant, round_index + 1,
                  args.warmup + args.repeats)
    # Paired per-round ratios to the plain detector: configurations of one round run within a
    # second of each other, so a burst of load from other processes slows them alike and
    # cancels out of the ratio, which the raw medians cannot promise on a shared machine.
    base = _Config(0, False) if _Config(0, False) in totals else configs[0]
    rows = []
    for config in configs:
        ratios = sorted(t / b for t, b in zip(totals[config], totals[base], strict=True))
        r_q1, _, r_q3 = (statistics.quantiles(ratios, n=4) if len(ratios) > 1
                         else (ratios[0],) * 3)
        rows.append({
            'backend': name, 'variant': variant, 'imgsz': imgsz,
            'negatives': config.negatives, 'nega': 'on' if config.nega else 'off',
            **_stats(totals[config]),
            'ms_model': round(statistics.median(s[0] for s in stages[config]) * 1e3, 2),
            'ms_postprocess': round(statistics.median(s[1] for s in stages[config]) * 1e3, 2),
            'ratio_to_plain': round(statistics.median(ratios), 4),
            'ratio_q1': round(r_q1, 4), 'ratio_q3': round(r_q3, 4),
            'plain': f'negatives={base.negatives} nega={"on" if base.nega else "off"}',
            'detections': round(statistics.mean(found[config]), 1),
            'box_threshold': round(threshold, 6),
            'repeats': args.repeats, 'warmup': args.warmup, 'id_labels': len(id_labels),
            'device': args.device + (' fp16' if args.half else ''), 'clock': args.clock,
        })
    return rows


def run(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        counts = sorted({int(n) for n in args.negatives.split(',') if n.strip()})
    except ValueError:
        raise ValueError(f'--negatives must be comma-separated integers, got {args.negatives!r}'
                         ) from None
    if not counts or min(counts) < 0:
        raise ValueError('--negatives needs at least one count >= 0')
    if args.repeats < 1 or args.warmup < 0 or args.candidates < 1:
        raise ValueError('--repeats and --candidates must be >= 1, --warmup >= 0')
    if not 1 <= args.id_labels <= len(ID_LABELS):
        raise ValueError(f'--id-labels must be in [1, {len(ID_LABELS)}]')
    modes = {'on': [True], 'off': [False], 'both': [False, True]}[args.nega]
    configs = [_Config(n, mode) for n in counts for mode in modes]
    id_labels = ID_LABELS[: args.id_labels]
    backends = ['yolo_world', 'grounding_dino'] if args.backend == 'all' else [args.backend]
    info = machine_info()
    print(json.dumps({'machine': info, 'date': time.strftime('%Y-%m-%d %H:%M %Z'),
                      'load_avg': _load()}), flush=True)
    out = args.out.open('a') if args.out else None
    try:
        for name in backends:
            if name == 'yolo_world':
                variants = (args.variant or 's,l').split(',')
                imgsz = args.imgsz or 640
                labels = list(dict.fromkeys(id_labels + negative_labels(max(counts))))
                for variant in variants:
                    backend = _yolo_world(variant.strip(), imgsz, args.device, args.half,
                                          labels)
                    rows = _measure(backend, name, variant.strip(), imgsz, configs, id_labels,
                                    args)
                    _emit(rows, info, out)
                    del backend
            else:
                variants = (args.variant or 'tiny').split(',')
                if variants != ['tiny']:
                    raise ValueError('grounding_dino benchmarks the tiny architecture only')
                imgsz = args.imgsz or 800
                with _grounding_dino(imgsz, args.device, args.half) as backend:
                    rows = _measure(backend, name, 'tiny', imgsz, configs, id_labels, args)
                _emit(rows, info, out)
    finally:
        if out is not None:
            out.close()
    # Other processes share the CPU: their load is part of the spread, so record it.
    print(json.dumps({'done': time.strftime('%Y-%m-%d %H:%M %Z'), 'load_avg': _load()}),
          flush=True)
    return 0


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _emit(rows: Sequence[dict[str, Any]], info: dict[str, Any], out: Any) -> None:
    for row in rows:
        line = json.dumps({**row, 'threads': info['threads']})
        print(line, flush=True)
        if out is not None:
            out.write(line + '\n')
            out.flush()
    sys.stdout.flush()
