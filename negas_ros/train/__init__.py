"""Pretraining the mini NegAS detector on the procedural world (torch; a training tool).

YOLO-World-style region-text pretraining of our YOLO-World v2 network
(:mod:`negas_ros.backends.yolo_world`) at reduced width and depth, with an offline text encoder
learned over the world's vocabulary, on the ``pretrain`` split of :mod:`negas_ros.world`. The
result is a model directory the ``yolo_world`` backend loads as is (model card, safetensors
weights, offline vocabulary ``.npz``); the package ships one in ``negas_ros/models/negas_mini``.

Written from the papers (YOLO-World, Cheng et al. CVPR 2024; TOOD, Feng et al. ICCV 2021;
CIoU, Zheng et al. AAAI 2020; DFL, Li et al. NeurIPS 2020); no GPL/AGPL code.

Modules
    assigner    task-aligned assigner (TAL)
    losses      BCE on soft targets, CIoU, DFL
    text        the learned vocabulary table and per-batch text-set sampling
    data        world scenes as augmented, letterboxed samples (rendered on the fly)
    evaluate    COCO mAP of a network in memory or of the backend
    trainer     the training loop (AdamW, warm-up + cosine, EMA)
    negatives   NegAS negative labels from the learned text embeddings
    export      writing the model directory, the label file and the model card

Importing this package imports torch.
"""

from negas_ros.train.assigner import Assignment, TaskAlignedAssigner
from negas_ros.train.losses import LossWeights, bbox_ciou, detection_loss, dfl_loss
from negas_ros.train.trainer import TrainConfig, TrainResult, build_network, train

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
