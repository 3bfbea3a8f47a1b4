"""Pretraining the mini NegAS detector on the procedural world (a training tool).

YOLO-World-style region-text pretraining of our YOLO-World v2 network
(:mod:`negas_ros.backends.yolo_world`) at reduced width and depth, with an offline text encoder
learned over the world's vocabulary, on the ``pretrain`` split of :mod:`negas_ros.world`. The
result is a model directory the ``yolo_world`` backend loads as is (model card, safetensors
weights, offline vocabulary ``.npz``); the package ships one in ``negas_ros/models/negas_mini``,
made by ``negas-ros train-world``.

Written from the papers (YOLO-World, Cheng et al. CVPR 2024; TOOD, Feng et al. ICCV 2021;
CIoU, Zheng et al. AAAI 2020; DFL, Li et al. NeurIPS 2020); no GPL/AGPL code.

Modules
    config      :class:`TrainConfig`, the recipe (pure)
    assigner    task-aligned assigner (TAL)
    losses      BCE on soft targets, CIoU, DFL
    text        the learned vocabulary table and per-batch text-set sampling
    data        world scenes as augmented, letterboxed samples (rendered on the fly)
    evaluate    COCO mAP of a network in memory or of the backend
    trainer     the training loop (AdamW, warm-up + cosine, EMA)
    negatives   NegAS negative labels from the learned text embeddings (numpy)
    export      writing the model directory, the label file and the model card
    release     from a finished run to the shipped files and their measured metrics

Importing this package imports only the pure config; the torch parts load on first use of
their names (``from negas_ros.train import train`` imports torch).
"""

from __future__ import annotations

import importlib
from typing import Any

from negas_ros.train.config import TrainConfig

__all__ = [
    'Assignment',
    'LossWeights',
    'TaskAlignedAssigner',
    'TrainConfig',
    'TrainResult',
    'bbox_ciou',
    'build_network',
    'detection_loss',
    'dfl_loss',
    'train',
]

_LAZY = {
    'Assignment': 'assigner', 'TaskAlignedAssigner': 'assigner',
    'LossWeights': 'losses', 'bbox_ciou': 'losses', 'detection_loss': 'losses',
    'dfl_loss': 'losses',
    'TrainResult': 'trainer', 'build_network': 'trainer', 'train': 'trainer',
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'{__name__}.{module}'), name)
