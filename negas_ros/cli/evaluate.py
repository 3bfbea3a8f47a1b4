"""`negas-ros evaluate`: offline mAP and OOD metrics of the node's pipeline on bags or folders."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import logging
from pathlib import Path
import re
import sys
import time
from typing import Any

__all__ = ['register']

_log = logging.getLogger('negas_ros.evaluate')
_SET_NAME = re.compile(r'^[A-Za-z0-9_.-]+$')


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        'evaluate', help='offline mAP and OOD metrics on bags or image folders',
        description='Run the detector pipeline the node runs over an ID set (with ground '
                    'truth) and OOD sets, frame by frame without a ROS graph, and write '
                    'OUT/metrics.json (COCO mAP, and per OOD set FPR95, AUROC, AUPR with the '
                    'VOS protocol), PNG plots and result bags (OUT/bags/<set>).')
    parser.add_argument('--params', type=Path, required=True, metavar='YAML',
                        help='the node parameters file (e.g. config/detector.yaml)')
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='override one parameter (YAML value), like ros2 run -p; '
                             'repeatable')
    ident = parser.add_mutually_exclusive_group(required=True)
    ident.add_argument('--id-bag', type=Path, metavar='BAG',
                       help='ID bag with frames and ground truth')
    ident.add_argument('--id-images', type=Path, metavar='DIR',
                       help='ID image folder (needs --id-labels)')
    parser.add_argument('--id-labels', type=Path, metavar='JSON',
                        help='det_20 labels of --id-images')
    parser.add_argument('--ood-bag', action='append', default=[], metavar='[NAME=]BAG',
                        help='OOD bag; repeatable; NAME defaults to the folder name')
    parser.add_argument('--ood-images', action='append', default=[], metavar='[NAME=]DIR',
                        help='OOD image folder; repeatable')
    parser.add_argument('--out', type=Path, required=True, metavar='DIR',
                        help='output folder (metrics.json, plots, bags/)')
    parser.add_argument('--image-topic', metavar='TOPIC',
                        help="camera topic in the bags (default: the bag's only image topic)")
    parser.add_argument('--gt-topic', metavar='TOPIC',
                        help='ground-truth topic of the ID bag (default: /ground_truth)')
    parser.add_argument('--tau', type=float, metavar='CONF',
                        help='use this confidence threshold instead of the F1-optimal one')
    parser.add_argument('--annotate', action='store_true',
                        help='add annotated frames (/debug_image/compressed) to result bags')
    parser.add_argument('--no-result-bags', action='store_true', help='write no result bags')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                        help='storage of result bags (default: mcap)')
    parser.add_argument('--limit', type=int, metavar='N', help='first N frames of each set')
    parser.add_argument('--rate', type=float, default=10.0, metavar='HZ',
                        help='frame rate for image folders without label timestamps')
    parser.add_argument('--start-time', type=float, metavar='SEC',
                        help='first stamp for image folders, seconds since the epoch '
                             '(default: now)')
    parser.add_argument('--frame-id', default='camera', help='frame_id for image folders')
    parser.add_argument('--track', action='store_true',
                        help='score the track-level verdict too (video sets: frames in time '
                             'order, tracks forgotten at a gap of more than 1 s between stamps; '
                             "uses the params' tracker and track_* settings); without it every "
                             "frame is judged alone, whatever the params' tracking says")
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    parser.set_defaults(func=run)


def _named(text: str) -> tuple[str | None, Path]:
    name, sep, rest = text.partition('=')
    if sep and _SET_NAME.match(name) and not Path(text).exists():
        return name, Path(rest)
    return None, Path(text)


def _unique(name: str, taken: set[str]) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate = f'{name}_{k}'
        k += 1
    taken.add(candidate)
    return candidate


def _parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    import yaml

    values: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition(':=')
        if not sep or not name.strip():
            raise ValueError(f"-p expects NAME:=VALUE, got '{item}'")
        try:
            values[name.strip()] = yaml.safe_load(raw) if raw.strip() else ''
        except yaml.YAMLError as exc:
            raise ValueError(f'-p {item}: value is not valid YAML ({exc})') from None
    return values


def run(args: argparse.Namespace) -> int:
    from negas_ros.bag.bdd100k import ImageFolderSequence
    from negas_ros.bag.offline import EvaluationOptions, FrameSource, run_evaluation
    from negas_ros.bag.reader import BagFrameSource
    from negas_ros.config import config_from_values, load_params_file

    if args.id_images is not None and args.id_labels is None:
        raise ValueError('--id-images needs --id-labels (the ID set needs ground truth)')
    if args.id_labels is not None and args.id_images is None:
        raise ValueError('--id-labels goes with --id-images')
    if not args.ood_bag and not args.ood_images:
        _log.warning('no --ood-bag or --ood-images: only mAP and tau are computed')
    from negas_ros.package_paths import share_dir as package_share_dir

    share_dir = package_share_dir()
    values = load_params_file(args.params, share_dir=share_dir, validate=False)
    values.update(_parse_overrides(args.param))
    config = config_from_values(values, share_dir=share_dir)
    start_ns = round((time.time() if args.start_time is None else args.start_time) * 1e9)
    taken: set[str] = set()

    def bag_source(path: Path, name: str | None, role: str) -> FrameSource:
        gt_topic = args.gt_topic if role == 'id' else ''
        bag = BagFrameSource(path, args.image_topic, gt_topic, limit=args.limit)
        if role == 'id' and not bag.has_ground_truth and args.tau is None:
            raise ValueError(f'{path}: the ID bag has no ground-truth topic '
                             f"({args.gt_topic or '/ground_truth'}); give --gt-topic, or "
                             '--tau to skip mAP')
        return FrameSource(
            _unique(name or path.name, taken), role, f'{path} {bag.image_topic}', bag, len(bag),
            lambda: {'frames_without_ground_truth': bag.frames_without_ground_truth,
                     'unmatched_ground_truth': bag.unmatched_ground_truth} if role == 'id'
            else {})

    def folder_source(path: Path, labels: Path | None, name: str | None,
                      role: str) -> FrameSource:
        sequence = ImageFolderSequence(path, labels, rate_hz=args.rate, start_ns=start_ns,
                                       frame_id=args.frame_id, limit=args.limit)
        info = sequence.check()
        for note in info.notes:
            _log.info('%s', note)
        for warning in info.warnings[:10]:
            _log.warning('%s', warning)
        return FrameSource(_unique(name or path.name, taken), role, str(path), sequence,
                           info.frames)

    if args.id_bag is not None:
        id_source = bag_source(args.id_bag, None, 'id')
    else:
        id_source = folder_source(args.id_images, args.id_labels, None, 'id')
    ood_sources = [bag_source(path, name, 'ood') for name, path in map(_named, args.ood_bag)]
    ood_sources += [folder_source(path, None, name, 'ood')
                    for name, path in map(_named, args.ood_images)]

    from negas_ros.backends.base import create_backend
    from negas_ros.pipeline import DetectorPipeline

    _log.info('loading %s (%s) on %s', config.model, config.backend, config.device)
    pipeline = DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))
    options = EvaluationOptions(result_bags=not args.no_result_bags, annotate=args.annotate,
                                storage=args.storage, progress=not args.no_progress,
                                tau=args.tau, track=args.track)
    metrics = run_evaluation(pipeline, id_source, ood_sources, args.out, options)
    _print_summary(metrics, args.out)
    return 0


def _fmt(value: object) -> str:
    return f'{value:.4f}' if isinstance(value, float) else 'n/a'


def _print_summary(metrics: dict[str, Any], out: Path) -> None:
    lines = [f"mAP {_fmt(metrics['map'])}  mAP50 {_fmt(metrics['map50'])}  "
             f"tau {_fmt(metrics['tau'])} ({metrics['tau_source']})"]
    for name, entry in metrics['ood'].items():
        lines.append(f"  {name}: FPR95 {_fmt(entry['fpr95'])}  AUROC {_fmt(entry['auroc'])}  "
                     f"AUPR {_fmt(entry['aupr'])}  ({entry['num_id_samples']} ID / "
                     f"{entry['num_ood_samples']} OOD samples)"
                     + (f"  [{entry['reason']}]" if entry.get('reason') else ''))
    tracking = metrics.get('tracking')
    if tracking:
        lines.append('  (OOD metrics above: track verdict; per frame: ' + ', '.join(
            f"{name} FPR95 {_fmt(entry.get('fpr95'))}"
            for name, entry in tracking['ood_per_frame'].items()) + ')')
        for verdict in ('per_frame', 'track'):
            block = tracking[verdict]
            lines.append(f"  {verdict}: flicker {_fmt(block['flicker_per_100_frames'])} per 100 "
                         f"frames, frames to first flag {_fmt(block['frames_to_flag_median'])}, "
                         f"ID tracks flagged {_fmt(block['id_tracks_wrongly_flagged'])}")
    lines.append(f'wrote {out / "metrics.json"}')
    print('\n'.join(lines), file=sys.stderr)
