"""The one interface every detector backend implements, and the backend registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from negas_ros.detection import RawDetections

__all__ = [
    'BackendSpec',
    'DetectorBackend',
    'NonFiniteOutputError',
    'available_backends',
    'check_image',
    'create_backend',
    'register_backend',
]


@dataclass(frozen=True)
class BackendSpec:
    """How to build a backend: what a reload needs (model, device, precision)."""

    model: str  # hub id or local directory
    device: str = 'cpu'  # 'cpu' or 'cuda:N'
    half: bool = False  # fp16 weights and activations (CUDA only)
    # Backend-specific settings that override the model's own defaults (e.g. yolo_world's
    # nega_fusion); a backend ignores keys it does not know.
    options: Mapping[str, Any] = field(default_factory=dict)


class DetectorBackend(Protocol):
    """An open-vocabulary detector that answers for ID and negative labels.

    Implementations import torch lazily and run the model under ``torch.inference_mode()``.
    """

    def set_labels(
        self, id_labels: Sequence[str], negative_labels: Sequence[str], nega: bool
    ) -> None:
        """Encode the label texts once; called on every label-set or NegA change, never per frame.

        nega: when True the negative labels take part in the detector's text-guided attention
        (NegA); when False the ID detections equal those of an ID-only prompt and the negatives
        are only read out for scoring.
        """
        ...

    def infer(self, image_rgb: npt.NDArray[np.uint8], box_threshold: float) -> RawDetections:
        """Detect on one HxWx3 uint8 RGB image.

        Returns candidates whose best ID sigmoid is >= box_threshold, boxes in source pixels,
        ID and negative logits in the label order given to :meth:`set_labels`.
        """
        ...


class NonFiniteOutputError(RuntimeError):
    """The model produced NaN or inf logits or boxes: a broken model or precision, not an image.

    Backends raise it instead of returning an empty result (NaN fails every threshold test, so
    the frame would silently look empty); the node counts it in ``/diagnostics`` and logs it.
    """


def check_image(image_rgb: object, box_threshold: float) -> None:
    """The input contract of :meth:`DetectorBackend.infer`; ValueError saying what is wrong."""
    if not isinstance(image_rgb, np.ndarray):
        raise ValueError(f'image must be a numpy array, got {type(image_rgb).__name__}')
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f'image must be HxWx3, got shape {image_rgb.shape}')
    if image_rgb.dtype != np.uint8:
        raise ValueError(f'image must be uint8, got {image_rgb.dtype}')
    if image_rgb.shape[0] == 0 or image_rgb.shape[1] == 0:
        raise ValueError(f'image is empty: shape {image_rgb.shape}')
    if not 0.0 <= box_threshold <= 1.0:
        raise ValueError(f'box_threshold must be in [0, 1], got {box_threshold}')


BackendFactory = Callable[[BackendSpec], DetectorBackend]
_REGISTRY: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    _REGISTRY[name] = factory


def available_backends() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def create_backend(name: str, spec: BackendSpec) -> DetectorBackend:
    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f'unknown backend {name!r}; available: {", ".join(sorted(_REGISTRY))}'
        ) from None
    return factory(spec)


def _load_builtin() -> None:
    # Importing the module registers it; the module itself imports torch only when building.
    from negas_ros.backends import (
        grounding_dino,  # noqa: F401
        yolo_world,  # noqa: F401
    )
