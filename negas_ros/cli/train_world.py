"""`negas-ros train-world`: pretrain the mini NegAS detector on the procedural world and write
the model directory, the world's label file and the model card (negas_ros.train)."""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import logging
from pathlib import Path
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from negas_ros.train.config import TrainConfig
    from negas_ros.train.text import PhraseBank

__all__ = ['default_labels_path', 'default_model_dir', 'register']

_LOG = logging.getLogger('negas_ros.train')


def default_model_dir() -> Path:
    """negas_ros/models/negas_mini inside the package (the shipped model)."""
    import negas_ros

    return Path(negas_ros.__file__).resolve().parent / 'models' / 'negas_mini'


def default_labels_path(model_dir: Path) -> Path:
    """config/labels/ablation/world_learned_rule.yaml of the source tree when running from
    it, else next to the model (an installed package has no writable config directory)."""
    import negas_ros

    root = Path(negas_ros.__file__).resolve().parents[1]
    if (root / 'package.xml').is_file() and (root / 'config' / 'labels').is_dir():
        return root / 'config' / 'labels' / 'ablation' / 'world_learned_rule.yaml'
    return model_dir / 'world_learned_rule.yaml'


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from negas_ros.train.config import SCHEDULES, TrainConfig  # pure: no torch at --help

    d = TrainConfig()
    parser = subparsers.add_parser(
        'train-world', help='pretrain the mini YOLO-World on the procedural world',
        description="Pretrain our YOLO-World v2 at reduced size on the world's pretrain "
                    'split (fixed seed, CPU), reading labels through a frozen sentence encoder '
                    '(all-MiniLM-L6-v2) and a learned projection, with varied label phrases and '
                    'background words; then write the model directory (yolo_world.yaml, '
                    'weights.safetensors, text_projection.npz, vocabulary.npz, MODEL_CARD.md, '
                    'training.json) and the learned-embedding-rule ablation label file. The '
                    'shipped model is --steps 2400 --stop-after 2138 (the line its card gives '
                    'to reproduce it; 36 min on 2 CPU cores); the defaults are the first '
                    'recipe (1700 steps).')
    parser.add_argument('--out', type=Path, default=None, metavar='DIR',
                        help="model directory (default: the package's models/negas_mini)")
    parser.add_argument('--labels-out', type=Path, default=None, metavar='YAML',
                        help='learned-embedding-rule ablation label file (default: '
                             'config/labels/ablation/world_learned_rule.yaml in a source tree)')
    parser.add_argument('--steps', type=int, default=d.steps)
    parser.add_argument('--batch', type=int, default=d.batch)
    parser.add_argument('--imgsz', type=int, default=d.imgsz)
    parser.add_argument('--lr', type=float, default=d.lr)
    parser.add_argument('--seed', type=int, default=d.seed)
    parser.add_argument('--world-seed', type=int, default=d.world_seed)
    parser.add_argument('--threads', type=int, default=d.threads,
                        help='torch threads of the trainer (default %(default)s; the render '
                             'worker takes the second core)')
    parser.add_argument('--workers', type=int, default=d.workers,
                        help='render worker processes (default %(default)s)')
    parser.add_argument('--val-every', type=int, default=d.val_every, metavar='STEPS')
    parser.add_argument('--val-images', type=int, default=d.val_images)
    parser.add_argument('--eval-images', type=int, default=300,
                        help='images per set in the final evaluation (default %(default)s)')
    parser.add_argument('--per-label', type=int, default=2,
                        help='negatives per ID label of the learned-embedding-rule ablation '
                             'list (default %(default)s)')
    parser.add_argument('--loss-attention', type=float, default=d.loss_attention, metavar='G',
                        help='gain of the text-conditioned attention loss (default '
                             '%(default)s; 0: attention learns from the detection loss alone)')
    parser.add_argument('--background-candidates', type=int, default=d.background_candidates,
                        metavar='N', help='WordNet nouns drawn as background-word candidates '
                                          '(default %(default)s; 0: no background words)')
    parser.add_argument('--time-limit-min', type=float, default=d.time_limit_s / 60,
                        help='stop training early past this many minutes (default '
                             '%(default)s; the final evaluation takes a few more)')
    parser.add_argument('--stop-after', type=int, default=d.stop_after, metavar='STEPS',
                        help='stop after this many of the --steps (default 0: all); the '
                             'learning-rate schedule still spans --steps, so this repeats the '
                             'schedule of a run that the time guard cut at that step')
    parser.add_argument('--log-json', type=Path, default=None, metavar='FILE',
                        help='also append every log record as a JSON line to FILE')
    machine = parser.add_argument_group(
        'training on another machine (a lent GPU: docs/gpu-training.md)')
    parser.add_argument('--init-from', default=d.init_from, metavar='DIR',
                        help='start from the weights of a model directory (continued '
                             'training) instead of a random initialisation')
    parser.add_argument('--scene-offset', type=int, default=d.scene_offset, metavar='N',
                        help='first pretrain scene of the stream (default %(default)s; a '
                             'continued run takes scenes the first run did not see)')
    machine.add_argument('--device', default=d.device,
                         help="torch device of the trainer: 'cpu' (default) or 'cuda[:N]'")
    machine.add_argument('--schedule', choices=SCHEDULES, default=d.schedule,
                         help="cosine decay over the steps (default, reproducible) or over "
                              "--time-limit-min ('time': anneals by the time limit on a "
                              'machine of unknown speed; --steps is then an upper bound)')
    machine.add_argument('--bank-out', type=Path, default=None, metavar='NPZ',
                         help='only encode the training texts (sentence encoder + WordNet) '
                              'into NPZ and exit')
    machine.add_argument('--bank', type=Path, default=None, metavar='NPZ',
                         help='train from texts encoded by --bank-out (no sentence encoder '
                              'or WordNet needed)')
    machine.add_argument('--run-out', type=Path, default=None, metavar='DIR',
                         help='write the trained run (weights, history, texts) to DIR and '
                              'stop before the release (which needs pycocotools and the '
                              'sentence encoder)')
    machine.add_argument('--release-run', type=Path, default=None, metavar='DIR',
                         help='do not train: release a run written by --run-out into --out '
                              '(required then) with its evaluation and card')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negas_ros.train.config import TrainConfig

    if args.release_run is not None:
        return _release_saved_run(args)
    cfg = TrainConfig(
        seed=args.seed, world_seed=args.world_seed, imgsz=args.imgsz, batch=args.batch,
        steps=args.steps, lr=args.lr, threads=args.threads, workers=args.workers,
        val_every=args.val_every, val_images=args.val_images,
        background_candidates=args.background_candidates, loss_attention=args.loss_attention,
        time_limit_s=args.time_limit_min * 60, schedule=args.schedule, device=args.device,
        init_from=args.init_from,
        scene_offset=args.scene_offset, stop_after=args.stop_after)
    if args.bank_out is not None:
        return _write_bank(cfg, args.bank_out)
    if cfg.schedule == 'time' and args.steps == TrainConfig().steps:
        _LOG.warning('--schedule time with the default --steps %d: on a fast machine the steps '
                     'run out before the time limit, with the learning rate still high; give '
                     '--steps a large upper bound', cfg.steps)
    out = (args.out or default_model_dir()).resolve()
    labels = (args.labels_out or default_labels_path(out)).resolve()
    log_file = open(args.log_json, 'a', encoding='utf-8') if args.log_json else None  # noqa: SIM115

    def on_log(record: dict[str, Any]) -> None:
        if 'val_map50' in record:
            _LOG.info('step %d: pretrain_val mAP50 %.3f (mAP %.3f) [%.0f s]', record['step'],
                      record['val_map50'], record['val_map'], record['seconds'])
        else:
            _LOG.info('step %d: loss %.3f (box %.3f cls %.3f dfl %.3f attn %.3f) lr %.2e '
                      '[%.0f s]', record['step'], record['loss'], record['box'], record['cls'],
                      record['dfl'], record.get('attn', 0.0), record['lr'], record['seconds'])
        if log_file:
            log_file.write(json.dumps(record) + '\n')
            log_file.flush()

    import torch

    from negas_ros.train.release import release, world_source_hash
    from negas_ros.train.runs import save_run
    from negas_ros.train.trainer import train

    torch.set_num_threads(cfg.threads)  # the final evaluation too: see TrainConfig.threads
    try:
        world_hash = world_source_hash()  # before training: the world the scenes came from
        _LOG.info('training %s -> %s (world sources %s)', json.dumps(cfg.to_dict()),
                  args.run_out or out, world_hash)
        bank = _bank(cfg, args.bank)
        drawn = bank.background_rule.get('drawn')
        if isinstance(drawn, int) and drawn != cfg.background_candidates:
            # The texts come from the bank: the card must say how its background was drawn.
            cfg = replace(cfg, background_candidates=drawn)
        _LOG.info('%d training texts (%d background words) encoded by %s', len(bank.texts),
                  len(bank.background), bank.encoder)
        result = train(cfg, bank, on_log=on_log)
        result.world_hash = world_hash
        if args.run_out is not None:
            save_run(result, args.run_out)
            print(f'wrote the run to {args.run_out} ({result.steps_done} steps in '
                  f'{result.seconds / 60:.1f} min on {result.machine["device_name"]}); '
                  f'release it with: negas-ros train-world --release-run {args.run_out} '
                  '--out DIR', file=sys.stdout)
            return 0
        facts = release(result, out, labels, eval_images=args.eval_images,
                        per_label=args.per_label, world_hash=world_hash, log=_LOG.info)
    finally:
        if log_file:
            log_file.close()
    _print_facts(facts, out, labels)
    return 0


def _bank(cfg: TrainConfig, path: Path | None) -> PhraseBank:
    """The training texts: encoded now (sentence encoder + WordNet), or read from --bank."""
    from negas_ros.train.text import PhraseBank, world_phrase_bank

    if path is None:
        return world_phrase_bank(cfg.text_model, cfg.background_candidates, cfg.seed)
    bank = PhraseBank.load(path)
    if cfg.text_model not in bank.encoder:
        raise SystemExit(f'{path}: texts encoded by {bank.encoder!r}, but the run reads labels '
                         f'through {cfg.text_model!r}; write the bank again with --bank-out')
    return bank


def _write_bank(cfg: TrainConfig, path: Path) -> int:
    bank = _bank(cfg, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    bank.save(path)
    print(f'wrote {len(bank.texts)} training texts ({len(bank.background)} background words, '
          f'{bank.encoder}) to {path}', file=sys.stdout)
    return 0


def _release_saved_run(args: argparse.Namespace) -> int:
    if args.out is None:
        raise SystemExit('--release-run needs --out DIR: a released run never replaces the '
                         'shipped model by default')
    import torch

    from negas_ros.train.release import release
    from negas_ros.train.runs import load_run

    try:
        result = load_run(args.release_run)
    except ValueError as err:
        raise SystemExit(str(err)) from err
    torch.set_num_threads(result.config.threads)
    out = args.out.resolve()
    labels = (args.labels_out or out / 'world_learned_rule.yaml').resolve()
    facts = release(result, out, labels, eval_images=args.eval_images,
                    per_label=args.per_label, world_hash=result.world_hash or None,
                    log=_LOG.info)
    _print_facts(facts, out, labels)
    return 0


def _print_facts(facts: dict[str, Any], out: Path, labels: Path) -> None:
    total = facts['train_minutes'] + facts['eval_minutes']
    print(f'wrote {out} and {labels} in {total:.1f} min; learned-rule negatives: '
          f'{", ".join(facts["learned_rule_negatives"]["negatives"])}', file=sys.stdout)
    for row in facts['metrics']:
        print(f'  {row["set"]} ({row["labels"]}): mAP50 {row["map50"]:.3f}, mAP {row["map"]:.3f}')
