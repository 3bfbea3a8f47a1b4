"""Training and validation samples from the procedural world, rendered on the fly.

A sample is a pure function of (world seed, split, index, augmentation seed): the scene comes
from :meth:`negas_ros.world.World.render` at the world's default 320 x 320 and is then
augmented (horizontal flip, HSV jitter) and letterboxed to the network input with the
backend's own :func:`~negas_ros.backends.yolo_world.letterbox.letterbox`, so that training
sees exactly the preprocessing the detector runs with. Rendering (about 20 ms) is cheaper than
keeping a cache and gives every step fresh scenes: the pretraining stream never repeats.

Boxes are continuous pixel coordinates ``(x1, y1, x2 + 1, y2 + 1)`` of the world's inclusive
det_20 boxes (the convention of :mod:`negas_ros.bag.bdd100k` and the detector's output).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from negas_ros.backends.yolo_world.letterbox import letterbox
from negas_ros.world import DEFAULT_SIZE, World

__all__ = ['Sample', 'WorldDetectionData', 'collate', 'hsv_jitter']


@dataclass(frozen=True)
class Sample:
    """image: (3, h, w) float32 in [0, 1]; boxes: (n, 4) float32 xyxy network pixels;
    classes: (n,) int64 vocabulary indices; index: the scene index in its split."""

    image: torch.Tensor
    boxes: torch.Tensor
    classes: torch.Tensor
    index: int


def hsv_jitter(image: npt.NDArray[np.uint8], gains: tuple[float, float, float]
               ) -> npt.NDArray[np.uint8]:
    """Scale hue, saturation and value of an (H, W, 3) uint8 RGB image by (1 + g) each.

    gains: (h, s, v) offsets, e.g. drawn from [-0.015, 0.015] x [-0.5, 0.5] x [-0.3, 0.3].
    Hue wraps around (OpenCV's 0..179), saturation and value are clipped to 0..255.
    """
    import cv2

    hue, sat, val = cv2.split(cv2.cvtColor(image, cv2.COLOR_RGB2HSV))
    x = np.arange(256, dtype=np.float32)
    lut_h = ((x * (1 + gains[0])) % 180).astype(np.uint8)
    lut_s = np.clip(x * (1 + gains[1]), 0, 255).astype(np.uint8)
    lut_v = np.clip(x * (1 + gains[2]), 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hue, lut_h), cv2.LUT(sat, lut_s), cv2.LUT(val, lut_v)))
    return np.asarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), dtype=np.uint8)


class WorldDetectionData(torch.utils.data.Dataset[Sample]):
    """Scenes ``offset .. offset + length - 1`` of one world split as detection samples.

    vocabulary: the category names, in text-index order; objects of other categories (there
    are none in the pretraining splits) are dropped. imgsz: network input (h, w).
    augment: flip with probability 0.5 and HSV gains in +-hsv; the draws are seeded by
    (seed, index) so a sample never depends on which worker renders it.
    """

    def __init__(
        self,
        world_seed: int,
        split: str,
        vocabulary: Sequence[str],
        imgsz: tuple[int, int],
        length: int,
        offset: int = 0,
        augment: bool = False,
        hsv: tuple[float, float, float] = (0.015, 0.5, 0.3),
        seed: int = 0,
        render_size: tuple[int, int] = DEFAULT_SIZE,
    ) -> None:
        if length < 0 or offset < 0:
            raise ValueError('length and offset must be >= 0')
        self.world_seed = world_seed
        self.split = split
        self.vocabulary = tuple(vocabulary)
        self._index = {name: i for i, name in enumerate(self.vocabulary)}
        self.imgsz = imgsz
        self.length = length
        self.offset = offset
        self.augment = augment
        self.hsv = hsv
        self.seed = seed
        self.render_size = render_size
        self._world: World | None = None  # built lazily: once per worker process

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item: int) -> Sample:
        if not 0 <= item < self.length:
            raise IndexError(item)
        if self._world is None:
            self._world = World(self.world_seed)
        index = self.offset + item
        scene = self._world.render(self.split, index, self.render_size)
        image = scene.image
        keep = [o for o in scene.objects if o.category in self._index]
        boxes = np.array([[o.box[0], o.box[1], o.box[2] + 1, o.box[3] + 1] for o in keep],
                         np.float32).reshape(-1, 4)
        classes = np.array([self._index[o.category] for o in keep], np.int64)
        if self.augment:
            rng = np.random.default_rng([self.seed, index])
            if rng.random() < 0.5:
                image = np.ascontiguousarray(image[:, ::-1])
                width = image.shape[1]
                boxes = np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0],
                                  boxes[:, 3]], 1) if len(boxes) else boxes
            gains = tuple(float(rng.uniform(-g, g)) for g in self.hsv)
            image = hsv_jitter(image, (gains[0], gains[1], gains[2]))
        boxed, plan = letterbox(image, self.imgsz)
        boxes = plan.to_input(boxes) if len(boxes) else boxes
        tensor = torch.from_numpy(boxed).permute(2, 0, 1).float().div_(255.0)
        return Sample(tensor, torch.from_numpy(boxes.astype(np.float32)),
                      torch.from_numpy(classes), index)


def collate(samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
    """Batch: images (B, 3, h, w); boxes (B, G, 4), classes (B, G), mask (B, G) padded to the
    largest box count G (at least 1); indices (B,)."""
    g = max([1, *(len(s.classes) for s in samples)])
    b = len(samples)
    boxes = torch.zeros((b, g, 4))
    classes = torch.zeros((b, g), dtype=torch.long)
    mask = torch.zeros((b, g), dtype=torch.bool)
    for i, s in enumerate(samples):
        n = len(s.classes)
        boxes[i, :n] = s.boxes
        classes[i, :n] = s.classes
        mask[i, :n] = True
    return {
        'images': torch.stack([s.image for s in samples]),
        'boxes': boxes,
        'classes': classes,
        'mask': mask,
        'indices': torch.tensor([s.index for s in samples]),
    }
