"""`negas-ros export`: ONNX (and optionally TensorRT) model of a yolo_world parameter set."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from negas_ros.package_paths import share_dir

__all__ = ['register']

_log = logging.getLogger('negas_ros.export')


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        'export', help='write an ONNX model with the label set baked in (yolo_world)',
        description='Export the yolo_world network of a node parameters file to ONNX with its '
                    'ID and negative label embeddings and NegA setting baked in: static shapes, '
                    'one letterboxed RGB image in [0, 1] in, raw boxes and logits out (NMS and '
                    'the OOD score stay in negas_ros post-processing). --check compares '
                    'onnxruntime with PyTorch on random images and exits 1 on a mismatch.')
    parser.add_argument('--params', type=Path, required=True, metavar='YAML',
                        help='node parameters file with backend: yolo_world')
    parser.add_argument('--out', type=Path, required=True, metavar='FILE.onnx',
                        help='the ONNX file to write')
    parser.add_argument('--check', action='store_true',
                        help='run the onnxruntime vs PyTorch parity check (tolerance 1e-4)')
    parser.add_argument('--check-trials', type=int, default=3, metavar='N',
                        help='random images for --check (default 3)')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (default 17)')
    parser.add_argument('--engine', type=Path, metavar='FILE.engine',
                        help='also build a TensorRT engine (needs tensorrt and a CUDA GPU; '
                             'untested in CI)')
    parser.add_argument('--fp16', action='store_true', help='fp16 TensorRT engine')
    parser.set_defaults(func=run)


def load_yolo_world(params: Path) -> tuple[Any, Any]:
    """(backend on cpu/fp32 with the file's labels set, config) for a yolo_world params file."""
    from negas_ros.backends.yolo_world import YoloWorldBackend, load_model_card
    from negas_ros.config import config_from_values, load_params_file

    share = share_dir()
    config = config_from_values(load_params_file(params, share_dir=share), share_dir=share)
    if config.backend != 'yolo_world':
        raise ValueError(f"{params}: backend is '{config.backend}'; export needs 'yolo_world'")
    backend = YoloWorldBackend.from_card(load_model_card(config.model), device='cpu')
    backend.set_labels(config.labels.id_prompts(), config.labels.negative_prompts(), config.nega)
    return backend, config


def run(args: argparse.Namespace) -> int:
    from negas_ros.backends.yolo_world.export import (
        check_onnx_parity,
        export_onnx,
        write_engine_metadata,
    )

    if args.out.suffix != '.onnx':
        raise ValueError(f'--out must end in .onnx, got {args.out}')
    backend, config = load_yolo_world(args.params)
    path = export_onnx(backend, args.out, opset=args.opset)
    h, w = backend.card.imgsz
    print(f'wrote {path}: {backend.source}, input 1x3x{h}x{w}, '
          f'{len(config.labels.id_labels)} ID and {len(config.labels.negative_labels)} negative '
          f"labels, NegA {'on (' + backend.card.nega_fusion + ')' if config.nega else 'off'}")
    if args.check:
        report = check_onnx_parity(backend, path, trials=args.check_trials,
                                   box_threshold=config.box_threshold)
        print(report.message)
        if not report.ok:
            return 1
    if args.engine is not None:
        from negas_ros.backends.yolo_world.tensorrt import build_engine

        engine = build_engine(path, args.engine, fp16=args.fp16)
        sidecar = write_engine_metadata(engine, path)
        print(f'wrote {engine} and {sidecar}')
    return 0
