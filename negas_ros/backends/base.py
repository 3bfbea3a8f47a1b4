"""The one interface every detector backend implements, and the one table of backends.

Who builds a backend: the edges (the node, the ``negas-ros`` tools, the benchmark and training
drivers) call :func:`create_backend` and hand the backend to the pipeline; the pure core
(pipeline, scoring, config, labels, scores, metrics, detection types) never builds one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
import importlib
import threading
import time
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from negas_ros.detection import RawDetections

__all__ = [
    'BACKEND_MODULES',
    'BackendSpec',
    'DetectorBackend',
    'LabelSwapping',
    'NonFiniteOutputError',
    'StageTimer',
    'available_backends',
    'check_image',
    'create_backend',
]

# The only list of backends: name -> module. Each module exposes ``from_spec(spec)`` and is
# imported when a backend of that name is built (importing it must not import torch).
BACKEND_MODULES: Mapping[str, str] = {
    'grounding_dino': 'negas_ros.backends.grounding_dino',
    'yolo_world': 'negas_ros.backends.yolo_world',
}


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
    Thread-safety: :meth:`infer` calls serialise inside the backend; :meth:`prepare_labels` may
    run on another thread while frames are being detected.
    """

    # Seconds of the last infer by stage ('preprocess', 'model', 'postprocess', 'total').
    last_timings: Mapping[str, float]

    def prepare_labels(
        self, id_labels: Sequence[str], negative_labels: Sequence[str], nega: bool
    ) -> object:
        """Encode the label texts (the slow part: the text encoder runs here) into an opaque
        label state, without changing the labels in use. Raises ValueError naming a label the
        backend cannot take; then nothing has changed.

        nega: when True the negative labels take part in the detector's text-guided attention
        (NegA); when False the ID detections equal those of an ID-only prompt and the negatives
        are only read out for scoring.
        """
        ...

    def use_labels(self, prepared: object) -> None:
        """Swap in a state from :meth:`prepare_labels` of this backend, between two frames
        (fast: no encoding). Raises TypeError for a state from elsewhere."""
        ...

    def set_labels(
        self, id_labels: Sequence[str], negative_labels: Sequence[str], nega: bool
    ) -> None:
        """``use_labels(prepare_labels(...))``: on error the previous labels stay in force."""
        ...

    def infer(self, image_rgb: npt.NDArray[np.uint8], box_threshold: float) -> RawDetections:
        """Detect on one HxWx3 uint8 RGB image.

        Returns candidates whose best ID sigmoid is >= box_threshold, boxes in source pixels,
        ID and negative logits in the label order given to :meth:`set_labels`.
        """
        ...

    def infer_batch(
        self, images_rgb: Sequence[npt.NDArray[np.uint8]], box_threshold: float
    ) -> list[RawDetections]:
        """Detect on several images of any sizes (several cameras' frames) through one model
        run where the backend can batch them; one result per image, in order, each equal to
        :meth:`infer` on that image up to float rounding. Raises ValueError naming the index
        of a bad image; on any error no result is returned. ``last_timings`` adds 'batch'.
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


def check_batch(images: Sequence[object], box_threshold: float,
                check: Callable[[object, float], None] = check_image) -> None:
    """The input contract of :meth:`DetectorBackend.infer_batch`: the threshold, then each
    image by ``check``; the ValueError names the index of the first bad image."""
    if not 0.0 <= box_threshold <= 1.0:
        raise ValueError(f'box_threshold must be in [0, 1], got {box_threshold}')
    for i, image in enumerate(images):
        try:
            check(image, box_threshold)
        except ValueError as exc:
            raise ValueError(f'image {i} of the batch: {exc}') from None


class LabelSwapping:
    """Mixin: ``set_labels`` as ``use_labels(prepare_labels(...))``; ``use_labels`` checks that
    the state comes from this very backend and installs it under the backend's frame lock."""

    def prepare_labels(
        self, id_labels: Sequence[str], negative_labels: Sequence[str], nega: bool
    ) -> object:
        raise NotImplementedError

    _lock: threading.Lock  # held by infer while it reads the labels in use

    def use_labels(self, prepared: object) -> None:
        """Swap in a state from :meth:`prepare_labels` of this backend, between two frames."""
        # Only this backend's prepare_labels marks a state as its own (it holds its encodings).
        if getattr(prepared, 'owner', None) is not self:
            raise TypeError("use_labels takes a state from this backend's prepare_labels")
        with self._lock:
            self._install_labels(prepared)

    def _install_labels(self, prepared: Any) -> None:
        raise NotImplementedError

    def set_labels(
        self, id_labels: Sequence[str], negative_labels: Sequence[str], nega: bool
    ) -> None:
        """Encode the labels and use them; on error the previous label set stays in force."""
        self.use_labels(self.prepare_labels(id_labels, negative_labels, nega))


class StageTimer:
    """Per-stage wall-clock seconds of one frame, synchronising CUDA first when asked.

    ``timer.mark('preprocess')`` closes the stage that began at the previous mark (or at
    construction); :attr:`timings` adds 'total'. GPU work is asynchronous, so without the
    synchronisation a stage's time would land in the next one.
    """

    def __init__(self, synchronize: Callable[[], None] | None = None) -> None:
        self._sync = synchronize
        self._start = self._last = time.perf_counter()
        self._stages: dict[str, float] = {}

    @classmethod
    def for_device(cls, device: Any) -> StageTimer:
        """A timer for a torch.device: synchronising on CUDA, not on the CPU."""
        if getattr(device, 'type', 'cpu') != 'cuda':
            return cls()
        import torch

        return cls(lambda: torch.cuda.synchronize(device))

    def mark(self, stage: str) -> None:
        if self._sync is not None:
            self._sync()
        now = time.perf_counter()
        self._stages[stage] = now - self._last
        self._last = now

    @property
    def timings(self) -> dict[str, float]:
        return {**self._stages, 'total': self._last - self._start}


def available_backends() -> list[str]:
    return sorted(BACKEND_MODULES)


def create_backend(name: str, spec: BackendSpec) -> DetectorBackend:
    """Build the backend ``name`` (a key of BACKEND_MODULES) from spec; for the edges only."""
    try:
        module_name = BACKEND_MODULES[name]
    except KeyError:
        raise ValueError(
            f'unknown backend {name!r}; available: {", ".join(available_backends())}'
        ) from None
    factory: Callable[[BackendSpec], DetectorBackend] = importlib.import_module(
        module_name).from_spec
    return factory(spec)

