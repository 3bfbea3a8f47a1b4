"""The pretraining loop of the mini YOLO-World on the world's ``pretrain`` split.

Recipe (YOLO-World's region-text pretraining, at toy scale; the numbers are in
:class:`TrainConfig`): per step a batch of freshly rendered scenes, a text set sampled from the
phrase bank (:func:`~negas_ros.train.text.sample_text_set`: category names and other phrases,
group phrases, background words), encoded by the frozen sentence encoder and the learned
projection, a forward of the full network (text-guided neck included) with that text set, the
task-aligned assigner on the detached predictions, and BCE + CIoU + DFL
(:mod:`negas_ros.train.losses`). AdamW with linear warm-up and cosine decay, gradient
clipping, and an exponential moving average (EMA) of the weights, which is what is validated
and exported (YOLOv8 does the same; on a short schedule the average is markedly better than
the last iterate).

Reproducibility: every random draw comes from ``seed`` (weights, text sets) or from
(seed, scene index) (augmentation), the scene stream is ``pretrain`` 0, 1, 2, ..., and torch
runs with a fixed thread count; the same config on the same machine gives the same weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import copy
from dataclasses import dataclass, field
import logging
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from negas_ros.backends.yolo_world.config import ATTENTION_LAYERS, STRIDES, YoloWorldConfig
from negas_ros.backends.yolo_world.network import BNContrastiveHead, YoloWorldNet
from negas_ros.train.assigner import TaskAlignedAssigner
from negas_ros.train.config import TrainConfig
from negas_ros.train.data import WorldDetectionData, collate
from negas_ros.train.evaluate import MapResult, coco_map, predict_network
from negas_ros.train.losses import LossWeights, attention_loss, detection_loss
from negas_ros.train.runs import machine_facts
from negas_ros.train.text import (
    PhraseBank,
    TextProjection,
    prepare_text_trainable,
    sample_text_set,
)

__all__ = ['ModelEma', 'TrainResult', 'anchor_grid', 'build_network', 'train', 'validate']

_LOG = logging.getLogger(__name__)


def build_network(cfg: YoloWorldConfig, imgsz: int = 256, num_texts: int = 18,
                  objects_per_image: float = 5.0) -> YoloWorldNet:
    """A freshly initialised network for training.

    The inference defaults of the contrastive head (bias -10, logit scale e^-1) make every
    score ~5e-5 and learn slowly. Training starts instead at the prior of a positive per level
    (as YOLOv8 initialises its class biases; focal-loss prior, Lin et al. 2017):
    p = objects_per_image / num_texts / cells of the level, bias = logit(p), unit scale.
    """
    net = YoloWorldNet(cfg)
    with torch.no_grad():
        for module, stride in zip(net.head.cv4, STRIDES, strict=True):
            assert isinstance(module, BNContrastiveHead)
            p = min(0.5, objects_per_image / num_texts / (imgsz / stride) ** 2)
            module.bias.fill_(math.log(p / (1 - p)))
            module.logit_scale.fill_(0.0)
    return net


def anchor_grid(imgsz: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor centres (A, 2) pixels and strides (A,) in the head's order (P3 first, rows)."""
    points, strides = [], []
    for s in STRIDES:
        h, w = imgsz[0] // s, imgsz[1] // s
        ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing='ij')
        points.append(torch.stack((xs, ys), -1).view(-1, 2) * s)
        strides.append(torch.full((h * w,), float(s)))
    return torch.cat(points), torch.cat(strides)


class _BoxLogitTap:
    """Captures the raw DFL logits of the head's box branches during a forward (the network's
    output only holds the decoded boxes; DFL needs the bins)."""

    def __init__(self, net: YoloWorldNet) -> None:
        self.outputs: list[torch.Tensor] = []
        self._handles = [branch.register_forward_hook(self._hook) for branch in net.head.cv2]

    def _hook(self, _module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        self.outputs.append(output.flatten(2))

    def take(self, reg_max: int) -> torch.Tensor:
        """(B, A, 4, reg_max) logits of the last forward."""
        raw = torch.cat(self.outputs, 2)  # (B, 4 * R, A)
        self.outputs = []
        b, _, a = raw.shape
        return raw.view(b, 4, reg_max, a).permute(0, 3, 1, 2)

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


class ModelEma:
    """Exponential moving average of every floating-point tensor of the state (BatchNorm
    statistics included); ``decay(n) = d (1 - exp(-n / tau))`` ramps up from 0 so that the
    early average is not dominated by the random initialisation."""

    def __init__(self, modules: nn.ModuleDict, decay: float, tau: float) -> None:
        self.module = copy.deepcopy(modules).eval().requires_grad_(False)
        self.decay = decay
        self.tau = tau
        self.updates = 0

    @torch.no_grad()
    def update(self, modules: nn.ModuleDict) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        current = modules.state_dict()
        for key, value in self.module.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(d).add_(current[key].detach(), alpha=1 - d)
            else:
                value.copy_(current[key])


@dataclass
class TrainResult:
    """The EMA network and text projection, the phrase bank, the history and the wall time."""

    net: YoloWorldNet
    projection: TextProjection
    bank: PhraseBank
    config: TrainConfig
    history: list[dict[str, Any]] = field(default_factory=list)
    validations: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    steps_done: int = 0
    stopped_early: bool = False
    machine: dict[str, Any] = field(default_factory=dict)
    """Where it trained (:func:`negas_ros.train.runs.machine_facts`)."""
    world_hash: str = ''
    """The world sources the scenes came from (:func:`negas_ros.train.release.world_source_hash`),
    when the caller recorded it."""


def _param_groups(modules: nn.ModuleDict, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in modules.named_parameters():
        if not p.requires_grad:
            continue
        # Conv/linear weights decay; BatchNorm, biases, head scalars and the text projection do
        # not (its output is normalised, so decay would only change its effective step size).
        if p.ndim >= 2 and not name.startswith('projection'):
            decay.append(p)
        else:
            no_decay.append(p)
    return [{'params': decay, 'weight_decay': weight_decay},
            {'params': no_decay, 'weight_decay': 0.0}]


def _lr_at(step: int, cfg: TrainConfig, elapsed_s: float = 0.0,
           warmup_end_s: float = 0.0) -> float:
    """Linear warm-up over ``cfg.warmup`` steps, then cosine decay over the rest of the steps
    (schedule 'steps') or of the time limit after the warm-up ended at ``warmup_end_s``
    (schedule 'time')."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == 'time':
        span = max(1e-9, cfg.time_limit_s - warmup_end_s)
        progress = min(1.0, max(0.0, (elapsed_s - warmup_end_s) / span))
    else:
        progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    floor = cfg.final_lr_fraction
    return cfg.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def category_texts(projection: TextProjection, bank: PhraseBank) -> torch.Tensor:
    """(V, E) detector texts of the category names, class order."""
    raw = torch.from_numpy(bank.raw[bank.name_indices()]).to(projection.weight.device)
    with torch.no_grad():
        out: torch.Tensor = projection(raw)
    return out


def validate(net: YoloWorldNet, projection: TextProjection, bank: PhraseBank,
             cfg: TrainConfig, images: int, split: str = 'pretrain_val') -> MapResult:
    """mAP of a network in memory on ``images`` scenes of ``split`` with every category name
    as texts (network-input pixels; the card's numbers come from the backend instead)."""
    data = WorldDetectionData(cfg.world_seed, split, bank.categories, (cfg.imgsz, cfg.imgsz),
                              images)
    loader = torch.utils.data.DataLoader(data, batch_size=16, collate_fn=collate)
    results = predict_network(net, category_texts(projection, bank), loader)
    return coco_map(results, bank.categories)


def train(
    cfg: TrainConfig,
    bank: PhraseBank,
    on_log: Callable[[dict[str, Any]], None] | None = None,
    batches: Iterator[dict[str, torch.Tensor]] | None = None,
) -> TrainResult:
    """Pretrain a mini YOLO-World from scratch; returns the EMA weights.

    bank: the encoded training texts (:func:`~negas_ros.train.text.build_phrase_bank`); its
    categories are the class index order of the data. on_log: called with each log record
    (step records and validation records). batches: collated batches to use instead of the
    world stream (tests); it must yield at least ``cfg.steps`` batches.
    """
    vocabulary_words = bank.categories
    start = time.monotonic()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = torch.device(cfg.device)
    net = build_network(cfg.network_config(), cfg.imgsz, len(vocabulary_words),
                        cfg.objects_per_image).train()
    projection = TextProjection(bank.raw.shape[1], cfg.embed_dim)
    if cfg.init_from:
        _load_initial_weights(net, projection, cfg.init_from)
    # Built on the CPU, then moved: the initial weights do not depend on the device.
    modules = nn.ModuleDict({'net': net, 'projection': projection}).to(device)
    raw_texts = torch.from_numpy(bank.raw).to(device)
    ema = ModelEma(modules, cfg.ema_decay, cfg.ema_tau)
    optimizer = torch.optim.AdamW(_param_groups(modules, cfg.weight_decay), lr=cfg.lr,
                                  betas=(0.9, 0.999))
    assigner = TaskAlignedAssigner(cfg.topk, cfg.alpha, cfg.beta, cfg.min_candidates)
    weights = LossWeights(cfg.loss_box, cfg.loss_cls, cfg.loss_dfl)
    points, strides = (t.to(device) for t in anchor_grid((cfg.imgsz, cfg.imgsz)))
    tap = _BoxLogitTap(net)
    reg_max = net.config.reg_max
    attention_blocks = [net._attn(layer) for layer in ATTENTION_LAYERS]
    for block in attention_blocks:
        block.keep_attention = cfg.loss_attention > 0

    if batches is None:
        data = WorldDetectionData(cfg.world_seed, 'pretrain', vocabulary_words,
                                  (cfg.imgsz, cfg.imgsz), cfg.steps * cfg.batch, augment=True,
                                  hsv=cfg.hsv, seed=cfg.seed, offset=cfg.scene_offset)
        loader = torch.utils.data.DataLoader(
            data, batch_size=cfg.batch, shuffle=False, collate_fn=collate,
            num_workers=cfg.workers, persistent_workers=cfg.workers > 0,
            worker_init_fn=_worker_init if cfg.workers > 0 else None, prefetch_factor=4
            if cfg.workers > 0 else None, pin_memory=device.type == 'cuda')
        batches = iter(loader)

    result = TrainResult(net, projection, bank, cfg, machine=machine_facts(cfg.device))
    running: dict[str, float] = {}
    warmup_end_s = 0.0
    try:
        for step in range(cfg.steps):
            if cfg.stop_after and step >= cfg.stop_after:
                _LOG.info('stopping after %d of %d steps (stop_after)', step, cfg.steps)
                break
            elapsed = time.monotonic() - start
            if elapsed > cfg.time_limit_s:
                if cfg.schedule == 'time':
                    _LOG.info('time limit %.0f s reached after %d steps (schedule by time)',
                              cfg.time_limit_s, step)
                else:
                    _LOG.warning('time limit %.0f s reached after %d of %d steps; stopping',
                                 cfg.time_limit_s, step, cfg.steps)
                    result.stopped_early = True
                break
            if step == cfg.warmup:
                warmup_end_s = elapsed
            batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
            lr = _lr_at(step, cfg, elapsed, warmup_end_s)
            for group in optimizer.param_groups:
                group['lr'] = lr
            mask = batch['mask']
            present = batch['classes'][mask].unique().tolist()
            text_set = sample_text_set(present, bank, rng, cfg.grounding_fraction,
                                       cfg.phrase_variety, cfg.group_prob, cfg.max_background)
            # category -> position of its positive text in this batch's set (-1: none, so such
            # objects are background for every text).
            labels = torch.from_numpy(text_set.position).to(device)[batch['classes']]
            gt_mask = mask & (labels >= 0)
            text_ids = text_set.text_ids

            text = projection(raw_texts[torch.from_numpy(text_ids).to(device)])
            out = net(batch['images'], prepare_text_trainable(net, text))
            box_logits = tap.take(reg_max)
            assignment = assigner(out.id_logits.detach().sigmoid(), out.boxes.detach(), points,
                                  labels.clamp(min=0), batch['boxes'], gt_mask)
            loss, parts = detection_loss(out.id_logits, box_logits, out.boxes, points, strides,
                                         assignment, weights)
            if cfg.loss_attention > 0:
                maps = [block.last_attention for block in attention_blocks]
                attn = attention_loss([m for m in maps if m is not None], batch['boxes'],
                                      gt_mask, (cfg.imgsz, cfg.imgsz))
                loss = loss + cfg.loss_attention * attn * cfg.batch
                parts['attn'] = float(attn.detach())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            grad_norm = float(torch.nn.utils.clip_grad_norm_(modules.parameters(), cfg.clip))
            optimizer.step()
            ema.update(modules)
            result.steps_done = step + 1

            for key, value in {**parts, 'loss': float(loss.detach()) / cfg.batch,
                               'grad_norm': grad_norm}.items():
                running[key] = running.get(key, 0.0) + value
            running['n'] = running.get('n', 0.0) + 1
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                n = running.pop('n')
                record = {'step': step + 1, 'lr': lr, 'seconds': time.monotonic() - start,
                          'texts': len(text_ids), **{k: v / n for k, v in running.items()}}
                running = {}
                result.history.append(record)
                if on_log:
                    on_log(record)
            if cfg.val_every and cfg.val_images and (step + 1) % cfg.val_every == 0 \
                    and step + 1 < cfg.steps:
                result.validations.append(_validation_record(ema, bank, cfg, step + 1, start,
                                                            on_log))
        tap.close()
        if cfg.val_every and cfg.val_images:
            result.validations.append(
                _validation_record(ema, bank, cfg, result.steps_done, start, on_log))
    finally:
        tap.close()
        for block in attention_blocks:
            block.keep_attention, block.last_attention = False, None
        torch.set_num_threads(threads_before)  # a library call must not leave it changed
    final_net = ema.module['net']
    final_projection = ema.module['projection']
    assert isinstance(final_net, YoloWorldNet) and isinstance(final_projection, TextProjection)
    # Released and exported on the CPU, wherever it trained.
    result.net, result.projection = final_net.cpu(), final_projection.cpu()
    result.seconds = time.monotonic() - start
    return result


def _load_initial_weights(net: YoloWorldNet, projection: TextProjection, model_dir: str) -> None:
    """Start from a released model (``init_from``): its network weights, strictly (the
    architecture must match the config), and its text projection."""
    from pathlib import Path

    from safetensors.torch import load_file

    from negas_ros.backends.yolo_world.checkpoint import load_state_dict_strict
    from negas_ros.backends.yolo_world.text import load_text_projection
    from negas_ros.train.export import PROJECTION_FILE, WEIGHTS_FILE

    directory = Path(model_dir)
    missing = [n for n in (WEIGHTS_FILE, PROJECTION_FILE) if not (directory / n).is_file()]
    if missing:
        raise ValueError(f'init_from {model_dir}: missing {", ".join(missing)}; give a model '
                         'directory written by negas-ros train-world')
    load_state_dict_strict(net, load_file(str(directory / WEIGHTS_FILE)),
                           source=str(directory / WEIGHTS_FILE))
    weight = torch.from_numpy(load_text_projection(directory / PROJECTION_FILE))
    if weight.shape != projection.weight.shape:
        raise ValueError(f'init_from {model_dir}: text projection {tuple(weight.shape)}, the '
                         f'config needs {tuple(projection.weight.shape)}')
    with torch.no_grad():
        projection.weight.copy_(weight)


def _worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)  # rendering is numpy/OpenCV; the trainer owns the torch threads


def _validation_record(ema: ModelEma, bank: PhraseBank, cfg: TrainConfig, step: int,
                       start: float,
                       on_log: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    net = ema.module['net']
    projection = ema.module['projection']
    assert isinstance(net, YoloWorldNet) and isinstance(projection, TextProjection)
    t0 = time.monotonic()
    res = validate(net, projection, bank, cfg, cfg.val_images)
    record = {'step': step, 'val_map50': res.map50, 'val_map': res.map,
              'val_seconds': time.monotonic() - t0, 'seconds': time.monotonic() - start,
              'per_class_ap50': res.per_class_ap50}
    if on_log:
        on_log(record)
    return record
