"""`negas-ros ood-benchmark`: the paper-style OOD table and ablations on the procedural world."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from negas_ros.benchmark.run import BenchmarkConfig

__all__ = ['parse_negative_set', 'register']


def parse_negative_set(text: str) -> tuple[str, Path]:
    """``--negative-set KEY=YAML`` -> (key, path); argparse reports a bad value."""
    from negas_ros.benchmark.plan import check_set_key

    key, sep, path = text.partition('=')
    key, path = key.strip(), path.strip()
    if not sep or not key or not path:
        raise argparse.ArgumentTypeError(f'expected KEY=YAML (e.g. llm=labels.yaml), got {text!r}')
    try:
        check_set_key(key)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return key, Path(path)

_log = logging.getLogger('negas_ros.ood_benchmark')


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from negas_ros.benchmark.plan import SPLIT_SETS, TEST_SPLITS, parse_fusion_grid
    from negas_ros.benchmark.run import DEFAULT_COUNTS, QUICK_COUNTS

    parser = subparsers.add_parser(
        'ood-benchmark', help='OOD detection table (VOS protocol) on the procedural world',
        description='Run the detector on rendered ID (id_test) and OOD (ood_near, ood_far and '
                    'their _unseen twins) images and report FPR95 / AUROC / AUPR per OOD set '
                    'and COCO ID mAP for max-sigmoid, energy, JointEnergy, NegLabel, NegS '
                    'and NegA + NegS, with ablations (negative list: the shipped one, the '
                    'extra sets, random WordNet words, none; NegA rule grid; score forms; '
                    'attention on OOD masks). Writes OUT/results.md, OUT/results.json '
                    'and OUT/img/results_*.png and prints the table. With --splits val the '
                    'same protocol runs on the validation twins (id_val, ood_val_near, ...), '
                    'where every tuning choice is made (results.md then shows the choices); '
                    'the test splits are for reporting.')
    parser.add_argument('--model', type=Path, default=None, metavar='DIR',
                        help='model directory, card or checkpoint (default: the shipped '
                             'negas_ros/models/negas_mini)')
    parser.add_argument('--labels', type=Path, default=None, metavar='YAML',
                        help='label file: ID labels and the NegAS negatives (default: '
                             'config/labels/world.yaml)')
    parser.add_argument('--negative-set', action='append', type=parse_negative_set,
                        default=None, metavar='KEY=YAML', dest='negative_sets',
                        help='an extra negative list for the negative-set ablation (repeatable): '
                             'a label file with the same id_labels as --labels, its '
                             'negative_labels read as set KEY (rows KEY/nega_off, KEY/nega_on). '
                             'Default: every *.yaml in config/labels/ablation/ (key: the file '
                             'stem without a leading "world_")')
    parser.add_argument('--fusion-grid', type=parse_fusion_grid, default=None,
                        metavar='RULE[:W],...',
                        help="NegA rules of the fusion ablation besides 'off', e.g. "
                             "'max,gate:0.5,branch', or 'none' (default: every rule: max, "
                             'weighted and gate at 0.25/0.5/1, branch, branch_union)')
    parser.add_argument('--sets-nega-off', action='store_true',
                        help='extra negative sets get NegA-off rows only (no network run of '
                             'their own): for choosing among many candidate lists')
    parser.add_argument('--negs-method', default='negs', metavar='FORM',
                        help='NegS form of the negs and negas rows (and the negative-set and '
                             'fusion rows): negs (default), negs_ratio, negs_diff, '
                             'negs_margin, negs_softmax or neglabel; chosen on the '
                             'validation splits')
    parser.add_argument('--set-score-forms', action='store_true',
                        help='also evaluate every negative set under every score form (NegA '
                             'off, no network run): choosing the list and the form together')
    parser.add_argument('--no-default-sets', action='store_true',
                        help='leave the default extra negative sets out (only the shipped '
                             'list, random words and none, plus any --negative-set)')
    parser.add_argument('--id-images', type=int, default=None, metavar='N',
                        help=f'ID images (id_test or id_val; default {DEFAULT_COUNTS.id}; --quick '
                             f'{QUICK_COUNTS.id})')
    parser.add_argument('--ood-images', type=int, default=None, metavar='N',
                        help=f'images per OOD split (default {DEFAULT_COUNTS.ood}; --quick '
                             f'{QUICK_COUNTS.ood})')
    parser.add_argument('--attention-images', type=int, default=None, metavar='N',
                        help=f'mixed_test (or mixed_val) images for the attention ablation '
                             f'(default {DEFAULT_COUNTS.attention}; --quick '
                             f'{QUICK_COUNTS.attention})')
    parser.add_argument('--seed', type=int, default=0, metavar='S',
                        help='world seed, also seeds the random-negative draw (default 0)')
    parser.add_argument('--box-threshold', type=float, default=0.05, metavar='P',
                        help='detector candidate threshold on the max ID sigmoid (default 0.05)')
    parser.add_argument('--image-size', type=int, default=None, metavar='PX',
                        help='side of the rendered square images (default: the model input '
                             'size, as in training)')
    parser.add_argument('--threads', type=int, default=1, metavar='N',
                        help='torch CPU threads (default 1: results are reproducible for a '
                             'fixed thread count)')
    parser.add_argument('--splits', choices=tuple(SPLIT_SETS), default=TEST_SPLITS.name,
                        help='world splits: test (id_test, ood_near, ..., mixed_test: the '
                             'reported benchmark, default) or val (their validation twins '
                             'id_val, ood_val_near, ..., mixed_val: for tuning)')
    parser.add_argument('--out', type=Path, default=None, metavar='DIR',
                        help='where results.md, results.json and img/ go (default docs/ of '
                             'the source tree, docs/validation/ with --splits val; with '
                             '--quick, nothing is written unless given)')
    parser.add_argument('--quick', action='store_true',
                        help='the small subset only (under 2 minutes)')
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from negas_ros.benchmark.document import check_out_dir, console_table, write_results
    from negas_ros.benchmark.plan import DEFAULT_FUSION_GRID, SPLIT_SETS, TEST_SPLITS
    from negas_ros.benchmark.run import (
        DEFAULT_COUNTS,
        QUICK_COUNTS,
        REPO_ROOT,
        BenchmarkConfig,
        Counts,
        default_labels_path,
        default_model_dir,
        results_document,
        run_benchmark,
    )

    base = QUICK_COUNTS if args.quick else DEFAULT_COUNTS
    counts = Counts(base.id if args.id_images is None else args.id_images,
                    base.ood if args.ood_images is None else args.ood_images,
                    base.attention if args.attention_images is None else args.attention_images)
    from negas_ros.models import resolve_model

    # 'negas_mini' (an embedded model's name) works as it does in the node's 'model' parameter.
    model = Path(resolve_model(str(args.model))) if args.model is not None else (
        default_model_dir())
    labels = args.labels if args.labels is not None else default_labels_path()
    if not model.exists():
        raise ValueError(f'model {model} does not exist (the shipped model is written by the '
                         'training script; give --model DIR)')
    if not labels.is_file():
        raise ValueError(f'label file {labels} does not exist; give --labels YAML')
    negative_sets = None  # the default sets
    if args.negative_sets:
        negative_sets = tuple(args.negative_sets)
    elif args.no_default_sets:
        negative_sets = ()
    for key, path in negative_sets or ():
        if not path.is_file():
            raise ValueError(f'negative set {key!r}: label file {path} does not exist')
    splits = SPLIT_SETS[args.splits]
    out = args.out
    if out is None and not args.quick:
        # A validation run never lands on the test results (docs/results.*).
        out = REPO_ROOT / 'docs' if splits == TEST_SPLITS else (
            REPO_ROOT / 'docs' / 'validation')
    if out is not None:
        check_out_dir(out, splits)  # before the run, not after ten minutes of it
    config = BenchmarkConfig(model=model, labels=labels, counts=counts, quick=QUICK_COUNTS,
                             seed=args.seed, box_threshold=args.box_threshold,
                             image_size=None if args.image_size is None else (
                                 args.image_size, args.image_size),
                             threads=args.threads, splits=splits,
                             negative_sets=negative_sets,
                             fusion_grid=DEFAULT_FUSION_GRID if args.fusion_grid is None
                             else args.fusion_grid,
                             extra_nega_on=not args.sets_nega_off,
                             negs_method=args.negs_method,
                             set_score_forms=args.set_score_forms)
    run = run_benchmark(config)
    command = _command(run.config, out, args.quick)
    doc = results_document(run, command)
    print(console_table(doc))
    print(f"\nrun time {run.timings['total']:.0f} s ({run.outputs.forwards} network runs)")
    if out is not None:
        for path in write_results(run, doc, out):
            _log.info('wrote %s', path)
    return 0


def _same_files(a: tuple[tuple[str, Path], ...], b: tuple[tuple[str, Path], ...]) -> bool:
    return [(k, p.resolve()) for k, p in a] == [(k, p.resolve()) for k, p in b]


def _command(config: BenchmarkConfig, out: Path | None, quick: bool) -> str:
    """The command that reproduces this run, every effective option spelled out (``--splits``
    only when not the default test splits, the negative sets only when not the default ones,
    so that default runs record the command they always did)."""
    from negas_ros.benchmark.plan import DEFAULT_FUSION_GRID, TEST_SPLITS
    from negas_ros.benchmark.run import default_negative_set_files, display_path

    parts = ['negas-ros', 'ood-benchmark', '--model', display_path(config.model),
             '--labels', display_path(config.labels),
             '--id-images', str(config.counts.id), '--ood-images', str(config.counts.ood),
             '--attention-images', str(config.counts.attention), '--seed', str(config.seed),
             '--box-threshold', f'{config.box_threshold:g}', '--threads', str(config.threads)]
    if config.image_size is not None and config.image_size[0] == config.image_size[1]:
        parts += ['--image-size', str(config.image_size[0])]
    if config.splits != TEST_SPLITS:
        parts += ['--splits', config.splits.name]
    sets = config.negative_sets
    if sets is not None and not _same_files(sets, default_negative_set_files()):
        if not sets:
            parts.append('--no-default-sets')
        for key, path in sets:
            parts += ['--negative-set', f'{key}={display_path(path)}']
    if config.fusion_grid != DEFAULT_FUSION_GRID:
        parts += ['--fusion-grid', ','.join(f'{rule}:{w:g}' for rule, w in config.fusion_grid)
                  or 'none']
    if not config.extra_nega_on:
        parts.append('--sets-nega-off')
    if config.negs_method != 'negs':
        parts += ['--negs-method', config.negs_method]
    if config.set_score_forms:
        parts.append('--set-score-forms')
    if out is not None:
        parts += ['--out', display_path(out)]
    if quick:
        parts.append('--quick')
    return ' '.join(shlex.quote(p) for p in parts)
