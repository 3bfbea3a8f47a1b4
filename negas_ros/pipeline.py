"""The per-frame pipeline shared by the node and offline tools (pure: no ROS imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
import threading
import time

import numpy as np
import numpy.typing as npt

from negas_ros.backends.base import BackendSpec, DetectorBackend, create_backend
from negas_ros.config import DetectorConfig
from negas_ros.detection import Detection
from negas_ros.scoring import score_detections

__all__ = ['DetectorPipeline', 'FrameResult']


@dataclass(frozen=True)
class FrameResult:
    """Scored detections for one frame, best ID confidence first, and stage timings (s)."""

    detections: list[Detection]
    timings: dict[str, float] = field(default_factory=dict)
    config: DetectorConfig | None = None


def _prompts(config: DetectorConfig) -> tuple[list[str], list[str], bool]:
    return (list(config.labels.id_prompts()), list(config.labels.negative_prompts()),
            config.nega)


class DetectorPipeline:
    """Backend + scoring under one lock, so a frame never sees a half-applied configuration.

    Text encodings are refreshed only when the labels or NegA change (:meth:`apply`).
    """

    def __init__(self, config: DetectorConfig, backend: DetectorBackend | None = None) -> None:
        self._lock = threading.Lock()
        self._backend = backend if backend is not None else create_backend(
            config.backend,
            BackendSpec(config.model, config.device, config.half, config.backend_options))
        self._backend.set_labels(
            *_prompts(config),
        )
        self._config = config

    @property
    def config(self) -> DetectorConfig:
        return self._config

    @property
    def backend(self) -> DetectorBackend:
        return self._backend

    def apply(self, new: DetectorConfig) -> None:
        """Switch to a validated config atomically; re-encodes texts only if labels changed.

        If the backend fails to encode the new labels, the old ones are restored and the
        error propagates: the running configuration keeps working.
        """
        with self._lock:
            old = self._config
            if old.needs_label_reencode(new):
                try:
                    self._backend.set_labels(
                        *_prompts(new),
                    )
                except Exception:
                    self._backend.set_labels(
                        *_prompts(old),
                    )
                    raise
            self._config = new

    def process(self, image_rgb: npt.NDArray[np.uint8]) -> FrameResult:
        """Detect and score one (H, W, 3) uint8 RGB image."""
        with self._lock:
            config = self._config
            start = time.perf_counter()
            raw = self._backend.infer(image_rgb, config.box_threshold)
            model_done = time.perf_counter()
            detections = score_detections(
                raw, config.labels, config.score_method, config.ood_threshold,
                config.score_params)
            detections.sort(key=lambda d: d.id_confidence, reverse=True)
            del detections[config.max_detections:]
            scored = time.perf_counter()
        timings = dict(getattr(self._backend, 'last_timings', {}) or {})
        timings['infer'] = model_done - start
        timings['score'] = scored - model_done
        return FrameResult(detections, timings, config)
