"""Everything that defines a training run (pure: no torch, so that the command line can show
the defaults without importing it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from negas_ros.backends.yolo_world.config import YoloWorldConfig, config_from_scale

__all__ = ['SCHEDULES', 'TrainConfig']

SCHEDULES = ('steps', 'time')


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (written into the model card).

    Network: YOLO-World v2 at (depth, width) scale, texts ``embed_dim`` wide.
    Text: the frozen sentence encoder ``text_model`` and a learned linear projection to
    ``embed_dim`` (:mod:`negas_ros.train.text`).
    Data: ``steps * batch`` pretrain scenes from world ``world_seed`` at ``imgsz`` (square).
    Attention supervision: ``loss_attention`` times the text-conditioned attention loss
    (:func:`negas_ros.train.losses.attention_loss`; 0 disables it).
    Text sets: ``grounding_fraction`` of the batches grounding-style; ``phrase_variety`` the
    chance a category is named by another of its phrases; ``group_prob`` the chance of a group
    phrase; up to ``max_background`` background words per set, drawn from the farther half of
    ``background_candidates`` WordNet object nouns (0: none; see
    :mod:`negas_ros.train.text`). Optimiser: AdamW (lr, weight_decay on conv/linear weights),
    ``warmup`` linear steps then cosine to ``lr * final_lr_fraction``; gradient norm clipped to
    ``clip``. EMA decay ``ema_decay * (1 - exp(-updates / ema_tau))``. Validation every
    ``val_every`` steps on ``val_images`` pretrain_val scenes (0 disables it).
    ``time_limit_s``: a guard, training stops early (and says so) past it.
    ``stop_after``: stop after this many steps of a ``steps`` schedule (0: run them all). The
    learning rate still follows the schedule over ``steps``, so this repeats the schedule of a
    run that the time guard cut at that step on a slower day, whatever the machine's speed.
    ``schedule``: what the cosine decay runs over. ``'steps'`` (the recipe): step / steps, so a
    run is reproducible. ``'time'`` (for a lent GPU with a fixed time budget, whose speed is
    not known ahead): elapsed / ``time_limit_s``, so the learning rate anneals by the time
    limit however fast the machine is and training stops there (``steps`` is then only an
    upper bound); the steps done depend on the machine's speed, so such a run is not
    bit-reproducible, and its card says how many it did.
    ``init_from``: a model directory written by a release (``weights.safetensors`` and
    ``text_projection.npz``) whose weights start the run instead of the random initialisation
    (continued training; '' = from scratch). ``scene_offset``: the first pretrain scene of the
    stream, so that a continued run sees scenes the first one did not.
    ``device``: torch device of the trainer (``'cpu'``, ``'cuda'``, ``'cuda:N'``); the
    scenes are rendered on the CPU by the ``workers`` either way.
    ``threads``: torch threads of the trainer; with ``workers`` = 1 render process that is the
    2 cores the recipe was sized for. Measured on the idle 2-core machine: 1.76 s per step
    with 2 threads, 2.0 s with 1 (on 2026-12-02 the same machine took 1.3 s with 2, so a step
    budget sized on one day is not a time budget on another: ``schedule='time'`` is); on a
    machine shared with other jobs use 1 (two OpenMP
    threads then spend most of their time waiting at barriers, 4-6x slower per step).
    """

    seed: int = 0
    world_seed: int = 0
    imgsz: int = 256
    depth: float = 0.33
    width: float = 0.25
    embed_dim: int = 64
    text_model: str = 'all-MiniLM-L6-v2'
    phrase_variety: float = 0.5
    group_prob: float = 0.1
    max_background: int = 16
    background_candidates: int = 4000
    batch: int = 16
    steps: int = 1700
    lr: float = 2e-3
    final_lr_fraction: float = 0.05
    warmup: int = 100
    weight_decay: float = 5e-4
    clip: float = 10.0
    ema_decay: float = 0.998
    ema_tau: float = 200.0
    grounding_fraction: float = 0.5
    topk: int = 10
    alpha: float = 0.5
    beta: float = 6.0
    min_candidates: int = 3
    loss_box: float = 7.5
    loss_cls: float = 0.5
    loss_dfl: float = 1.5
    loss_attention: float = 1.0
    objects_per_image: float = 5.0
    hsv: tuple[float, float, float] = (0.015, 0.5, 0.3)
    workers: int = 1
    threads: int = 2
    val_every: int = 250
    val_images: int = 100
    log_every: int = 25
    time_limit_s: float = 57 * 60.0
    schedule: str = 'steps'
    device: str = 'cpu'
    init_from: str = ''
    scene_offset: int = 0
    stop_after: int = 0

    def __post_init__(self) -> None:
        if self.imgsz % 32 or self.imgsz < 64:
            raise ValueError(f'imgsz must be a multiple of 32 and >= 64, got {self.imgsz}')
        if self.batch < 1 or self.steps < 1:
            raise ValueError('batch and steps must be >= 1')
        for name in ('grounding_fraction', 'phrase_variety', 'group_prob'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must be in [0, 1]')
        if self.loss_attention < 0:
            raise ValueError('loss_attention must be >= 0')
        if self.max_background < 0 or self.background_candidates < 0:
            raise ValueError('max_background and background_candidates must be >= 0')
        if self.objects_per_image <= 0:
            raise ValueError('objects_per_image must be > 0')
        if self.scene_offset < 0:
            raise ValueError(f'scene_offset must be >= 0, got {self.scene_offset}')
        if not 0 <= self.stop_after <= self.steps:
            raise ValueError(f'stop_after must be in [0, steps={self.steps}], got '
                             f'{self.stop_after}')
        if self.stop_after and self.schedule != 'steps':
            raise ValueError("stop_after needs schedule 'steps' (a time schedule is not "
                             'reproducible step by step)')
        if self.schedule not in SCHEDULES:
            raise ValueError(f'schedule must be one of {", ".join(SCHEDULES)}, got '
                             f'{self.schedule!r}')
        if self.schedule == 'time' and not 0 < self.time_limit_s < float('inf'):
            raise ValueError("schedule 'time' needs a finite time_limit_s > 0")

    def network_config(self) -> YoloWorldConfig:
        return config_from_scale(self.depth, self.width, 1024, embed_dim=self.embed_dim,
                                 num_classes=0, name='negas_mini')

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config of :meth:`to_dict` (a saved run's); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(values) - known)
        if extra:
            raise ValueError(f'unknown training config keys: {", ".join(extra)}')
        kwargs = dict(values)
        if 'hsv' in kwargs:
            kwargs['hsv'] = tuple(kwargs['hsv'])
        return cls(**kwargs)
