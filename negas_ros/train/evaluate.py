"""COCO-style box mAP of a detector on world scenes (pycocotools), for training and the card.

Two ways in: :func:`predict_network` runs a network in memory on letterboxed samples (the quick
validation during training), :func:`evaluate_backend` runs the shipped path, a
:class:`~negas_ros.backends.yolo_world.YoloWorldBackend` on the rendered source images, with
the ID (or any) labels, exactly as a user would. Both feed :func:`coco_map`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import contextlib
from dataclasses import dataclass
import io
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch

    from negas_ros.backends.yolo_world import YoloWorldBackend
    from negas_ros.backends.yolo_world.network import YoloWorldNet

__all__ = ['ImageResult', 'MapResult', 'coco_map', 'evaluate_backend', 'predict_network']

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ImageResult:
    """Ground truth and detections of one image (same pixel frame, continuous xyxy).

    gt_boxes (n, 4), gt_classes (n,); boxes (m, 4), scores (m,) in [0, 1], classes (m,).
    """

    width: int
    height: int
    gt_boxes: FloatArray
    gt_classes: IntArray
    boxes: FloatArray
    scores: FloatArray
    classes: IntArray


@dataclass(frozen=True)
class MapResult:
    """map: AP@[.5:.95]; map50: AP@.5; per_class_ap50: class name -> AP@.5 (None without
    ground truth); images, detections, boxes: counts. NaN maps when nothing had ground truth."""

    map: float
    map50: float
    per_class_ap50: dict[str, float | None]
    images: int
    detections: int
    boxes: int


def coco_map(results: Sequence[ImageResult], class_names: Sequence[str]) -> MapResult:
    """COCOeval bbox (area all, 100 detections per image) over ``results``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    detections: list[dict[str, Any]] = []
    for image_id, r in enumerate(results):
        images.append({'id': image_id, 'width': r.width, 'height': r.height})
        for box, cls in zip(r.gt_boxes.tolist(), r.gt_classes.tolist(), strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append({'id': len(annotations) + 1, 'image_id': image_id,
                                'category_id': int(cls) + 1, 'bbox': [box[0], box[1], w, h],
                                'area': w * h, 'iscrowd': 0})
        for box, score, cls in zip(r.boxes.tolist(), r.scores.tolist(), r.classes.tolist(),
                                   strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            detections.append({'id': len(detections) + 1, 'image_id': image_id,
                               'category_id': int(cls) + 1, 'bbox': [box[0], box[1], w, h],
                               'area': w * h, 'iscrowd': 0, 'score': float(score)})
    categories = [{'id': k + 1, 'name': n} for k, n in enumerate(class_names)]
    nan = float('nan')
    if not annotations:
        return MapResult(nan, nan, dict.fromkeys(class_names), len(images), len(detections), 0)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {'images': images, 'categories': categories, 'annotations': annotations}
        gt.createIndex()
        dt = COCO()
        dt.dataset = {'images': images, 'categories': categories, 'annotations': detections}
        dt.createIndex()
        ev = COCOeval(gt, dt, 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = np.asarray(ev.eval['precision'])  # (T, R, K, A, M)
    per_class: dict[str, float | None] = {}
    for k, name in enumerate(class_names):
        at50 = precision[0, :, k, 0, -1]
        per_class[name] = float(at50[at50 > -1].mean()) if (at50 > -1).any() else None
    return MapResult(float(ev.stats[0]), float(ev.stats[1]), per_class, len(images),
                     len(detections), len(annotations))


def predict_network(
    net: YoloWorldNet,
    text: torch.Tensor,
    batches: Iterable[dict[str, torch.Tensor]],
    conf: float = 0.001,
    iou: float = 0.7,
    max_det: int = 100,
) -> list[ImageResult]:
    """Run ``net`` (eval mode) with text (C, E) on collated batches; detections and ground
    truth in network-input pixels, classes as text indices."""
    import torch

    from negas_ros.backends.yolo_world.postprocess import select_detections

    out: list[ImageResult] = []
    device = next(net.parameters()).device
    prepared = net.prepare_text(text.to(device), None, 'off')
    with torch.inference_mode():
        for batch in batches:
            images = batch['images']
            h, w = images.shape[2:]
            head = net(images.to(device), prepared)
            boxes, id_logits = head.boxes.cpu(), head.id_logits.cpu()
            for i in range(images.shape[0]):
                keep = select_detections(boxes[i], id_logits[i], conf, iou, max_det)
                logits = id_logits[i][keep]
                mask = batch['mask'][i]
                out.append(ImageResult(
                    int(w), int(h),
                    batch['boxes'][i][mask].numpy().astype(np.float32),
                    batch['classes'][i][mask].numpy().astype(np.int64),
                    boxes[i][keep].numpy().astype(np.float32),
                    torch.sigmoid(logits.max(1).values).numpy().astype(np.float32),
                    logits.argmax(1).numpy().astype(np.int64)))
    return out


def evaluate_backend(
    backend: YoloWorldBackend,
    world_seed: int,
    split: str,
    indices: Iterable[int],
    labels: Sequence[str],
    negative_labels: Sequence[str] = (),
    nega: bool = False,
    conf: float = 0.001,
) -> tuple[MapResult, list[ImageResult]]:
    """mAP of the backend on rendered scenes of a world split, with ``labels`` as the ID
    labels; ground-truth objects of other categories are not evaluated (as COCO-OOD protocols
    ignore them). Boxes in source pixels; ground truth (x1, y1, x2 + 1, y2 + 1)."""
    from negas_ros.world import World

    world = World(world_seed)
    index = {name: k for k, name in enumerate(labels)}
    backend.set_labels(list(labels), list(negative_labels), nega)
    results = []
    for i in indices:
        scene = world.render(split, int(i))
        raw = backend.infer(scene.image, conf)
        gt = [o for o in scene.objects if o.category in index]
        gt_boxes = np.array([[o.box[0], o.box[1], o.box[2] + 1, o.box[3] + 1] for o in gt],
                            np.float32).reshape(-1, 4)
        logits: Any = raw.id_logits
        scores = 1.0 / (1.0 + np.exp(-logits.max(1))) if len(raw) else np.zeros(0, np.float32)
        results.append(ImageResult(
            int(scene.image.shape[1]), int(scene.image.shape[0]), gt_boxes,
            np.array([index[o.category] for o in gt], np.int64),
            raw.boxes_xyxy.astype(np.float32), np.asarray(scores, np.float32),
            logits.argmax(1).astype(np.int64) if len(raw) else np.zeros(0, np.int64)))
    return coco_map(results, labels), results
