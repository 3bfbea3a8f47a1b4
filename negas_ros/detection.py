"""Detection types shared by backends, scoring and the ROS glue (pure, numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ['Detection', 'RawDetections', 'box_iou']

FloatArray = npt.NDArray[np.float32]


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(N, M) IoU of (N, 4) and (M, 4) xyxy boxes, in float64; 0 where the union is empty."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    # x and y overlaps as two 2-D arrays: cheaper than a (N, M, 2) product (the tracker calls
    # this twice a frame).
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(width, 0.0) * np.maximum(height, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: npt.NDArray[np.float64] = np.where(union > 0.0, inter / np.maximum(union, 1e-12), 0.0)
    return out


@dataclass(frozen=True)
class RawDetections:
    """What a backend returns for one image, vectorised over N candidate boxes.

    boxes_xyxy: (N, 4) float32, source-image pixels (x1, y1, x2, y2), x2 >= x1, y2 >= y1.
    id_logits: (N, K) float32 pre-sigmoid responses to the K ID labels, in label order.
    neg_logits: (N, M) float32 pre-sigmoid responses to the M negative labels (M may be 0).
    """

    boxes_xyxy: FloatArray
    id_logits: FloatArray
    neg_logits: FloatArray

    def __post_init__(self) -> None:
        n = self.boxes_xyxy.shape[0]
        if self.boxes_xyxy.ndim != 2 or self.boxes_xyxy.shape[1] != 4:
            raise ValueError(f'boxes_xyxy must be (N, 4), got {self.boxes_xyxy.shape}')
        if self.id_logits.ndim != 2 or self.id_logits.shape[0] != n:
            raise ValueError(f'id_logits must be (N={n}, K), got {self.id_logits.shape}')
        if self.neg_logits.ndim != 2 or self.neg_logits.shape[0] != n:
            raise ValueError(f'neg_logits must be (N={n}, M), got {self.neg_logits.shape}')

    def __len__(self) -> int:
        return int(self.boxes_xyxy.shape[0])

    @staticmethod
    def empty(num_id: int, num_neg: int) -> RawDetections:
        return RawDetections(
            np.zeros((0, 4), np.float32),
            np.zeros((0, num_id), np.float32),
            np.zeros((0, num_neg), np.float32),
        )

    def select(self, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> RawDetections:
        return RawDetections(self.boxes_xyxy[keep], self.id_logits[keep], self.neg_logits[keep])


@dataclass(frozen=True)
class Detection:
    """One scored detection in source-image pixels.

    box_xyxy: (x1, y1, x2, y2) in source-image pixels.
    id_label / id_confidence: best ID label and its sigmoid score in [0, 1].
    id_probs / neg_probs: per-label sigmoid scores, (K,) and (M,), in label order.
    neg_label / neg_confidence: best negative label and its sigmoid (None / 0.0 when M == 0).
    id_score: the OOD score in force (larger = more in-distribution); its range depends on
        the score method.
    ood_confidence: how sure we are the object is unknown, in [0, 1].
    is_ood: the verdict, ``id_score < ood_threshold``.
    track_id / track_frames: the detection's track and the frames it has been seen in, this
        one included (-1 / 0 without tracking; see :mod:`negas_ros.tracking`). With tracking,
        id_score, ood_confidence and is_ood are the track's, and frame_id_score /
        frame_is_ood keep this frame's own score and verdict.
    """

    box_xyxy: tuple[float, float, float, float]
    id_label: str
    id_confidence: float
    id_probs: FloatArray
    neg_probs: FloatArray
    neg_label: str | None
    neg_confidence: float
    id_score: float
    ood_confidence: float
    is_ood: bool
    track_id: int = -1
    track_frames: int = 0
    frame_id_score: float | None = None
    frame_is_ood: bool | None = None

    def with_track(self, track_id: int, track_frames: int, track_score: float,
                   ood_confidence: float, is_ood: bool) -> Detection:
        """This detection with its track's verdict; its own score and verdict are kept in
        frame_id_score / frame_is_ood. (Built without ``dataclasses.replace``, whose __init__
        call costs as much as the rest of the tracking stage, 50 times per frame.)"""
        new = object.__new__(Detection)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(id_score=track_score, ood_confidence=ood_confidence, is_ood=is_ood,
                            track_id=track_id, track_frames=track_frames,
                            frame_id_score=self.own_id_score, frame_is_ood=self.own_is_ood)
        return new

    @property
    def own_id_score(self) -> float:
        """This frame's score alone (the track's may differ)."""
        return self.id_score if self.frame_id_score is None else self.frame_id_score

    @property
    def own_is_ood(self) -> bool:
        """This frame's verdict alone."""
        return self.is_ood if self.frame_is_ood is None else self.frame_is_ood
