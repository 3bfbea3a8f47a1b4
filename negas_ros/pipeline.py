"""The per-frame pipeline shared by the node and offline tools (pure: no ROS imports).

It owns the running configuration; the edges (node, tools) build the backend and hand it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
import threading
import time

import numpy as np
import numpy.typing as npt

from negas_ros.backends.base import DetectorBackend
from negas_ros.config import DetectorConfig
from negas_ros.detection import Detection, RawDetections
from negas_ros.scoring import score_detections
from negas_ros.tracking import VideoTracker

__all__ = ['DetectorPipeline', 'FrameResult', 'StreamTracker']


@dataclass(frozen=True)
class FrameResult:
    """Scored detections for one frame, best ID confidence first, the configuration they were
    made with, and stage timings (s)."""

    detections: list[Detection]
    config: DetectorConfig
    timings: dict[str, float] = field(default_factory=dict)
    tracked: bool = False  # verdicts are tracks' (a StreamTracker applied them)

    @property
    def track_evidence(self) -> str:
        """The evidence rule behind the verdicts when they are tracks', else ''."""
        return self.config.tracking.evidence.rule if self.tracked else ''


def _prompts(config: DetectorConfig) -> tuple[list[str], list[str], bool]:
    return (list(config.labels.id_prompts()), list(config.labels.negative_prompts()),
            config.nega)


class DetectorPipeline:
    """Backend + scoring + the running configuration, so a frame never sees half of a change.

    Text encodings are refreshed only when the labels or NegA change (:meth:`apply`), and the
    encoding runs outside the frame lock: frames keep flowing while a new label set encodes.
    """

    def __init__(self, config: DetectorConfig, backend: DetectorBackend) -> None:
        self._lock = threading.Lock()  # frames vs. the swap of labels + config
        self._apply_lock = threading.Lock()  # one change at a time
        self._backend = backend
        self._backend.set_labels(*_prompts(config))
        self._config = config

    @property
    def config(self) -> DetectorConfig:
        """The configuration in force (the one owner of it)."""
        return self._config

    @property
    def backend(self) -> DetectorBackend:
        return self._backend

    def apply(self, new: DetectorConfig) -> None:
        """Switch to a validated config atomically; re-encodes texts only if labels changed.

        The backend encodes the new labels first (frames continue with the old ones); labels
        and config are then swapped together between two frames. If encoding fails, nothing
        has changed and the error propagates: the running configuration keeps working.
        """
        with self._apply_lock:
            prepared = None
            if self._config.needs_label_reencode(new):
                prepared = self._backend.prepare_labels(*_prompts(new))
            with self._lock:
                if prepared is not None:
                    self._backend.use_labels(prepared)
                self._config = new

    def process(self, image_rgb: npt.NDArray[np.uint8]) -> FrameResult:
        """Detect and score one (H, W, 3) uint8 RGB image."""
        with self._lock:
            config = self._config
            start = time.perf_counter()
            raw = self._backend.infer(image_rgb, config.box_threshold)
            model_done = time.perf_counter()
            timings = dict(self._backend.last_timings)
            detections = self._score(raw, config)
            scored = time.perf_counter()
        timings['infer'] = model_done - start
        timings['score'] = scored - model_done
        return FrameResult(detections, config, timings)

    def process_batch(self, images_rgb: Sequence[npt.NDArray[np.uint8]]) -> list[FrameResult]:
        """Detect and score several images (one per camera) with one backend batch.

        All results share one configuration and the batch's timings ('infer', 'score' and the
        backend's stages, 'batch' = number of images). Raises ValueError naming the index of a
        bad image (the caller decodes images first, so that a bad one costs only its camera).
        """
        images = list(images_rgb)
        if not images:
            return []
        with self._lock:
            config = self._config
            start = time.perf_counter()
            raws = self._backend.infer_batch(images, config.box_threshold)
            model_done = time.perf_counter()
            timings = dict(self._backend.last_timings)
            scored = [self._score(raw, config) for raw in raws]
            done = time.perf_counter()
        timings['infer'] = model_done - start
        timings['score'] = done - model_done
        return [FrameResult(detections, config, timings) for detections in scored]

    @staticmethod
    def _score(raw: RawDetections, config: DetectorConfig) -> list[Detection]:
        detections = score_detections(
            raw, config.labels, config.score_method, config.ood_threshold, config.score_params)
        detections.sort(key=lambda d: d.id_confidence, reverse=True)
        del detections[config.max_detections:]
        return detections


class StreamTracker:
    """Track-level verdicts for one camera's stream of frame results (one per camera).

    Follows the configuration each result was made with: off when ``tracking`` is false, a new
    tracker when the tracking settings change, tracks forgotten when the scores stop being
    comparable (labels, score method or its parameters, NegA), at a cut in time (a frame
    stamped earlier than the last one, as when a bag is replayed again, or more than
    ``max_gap_s`` after it: a camera that stalled, the next video of a bag) and on
    :meth:`request_reset`. Track ids keep growing through all of these: an id is never given
    to two tracks of one stream. One caller applies frames; :meth:`request_reset` may come
    from another thread.
    """

    def __init__(self, max_gap_s: float = 1.0) -> None:
        self.max_gap_s = max_gap_s
        self._video: VideoTracker | None = None
        self._next_id = 0  # where a new VideoTracker starts numbering
        self._last_stamp_s: float | None = None
        self._reset_requested = False
        self.cuts = 0  # tracks forgotten at a cut in time

    def request_reset(self) -> None:
        """Forget every track before the next frame (thread-safe: only sets a flag)."""
        self._reset_requested = True

    def apply(self, result: FrameResult, stamp_s: float | None = None) -> FrameResult:
        """``result`` with track verdicts; ``stamp_s``: the frame's stamp (None: no cut check)."""
        config = result.config
        if not config.tracking.enabled:
            self._retire()
            return result
        start = time.perf_counter()
        if self._reset_requested:
            self._reset_requested = False
            if self._video is not None:
                self._video.reset()
        if self._video is None or self._video.config != config.tracking:
            self._retire()
            self._video = VideoTracker(config.tracking, self._next_id)
        if stamp_s is not None:
            last, self._last_stamp_s = self._last_stamp_s, stamp_s
            if last is not None and not 0.0 <= stamp_s - last <= self.max_gap_s:
                self._video.reset()
                self.cuts += 1
        score_key = (config.labels.id_labels, config.labels.negative_labels, config.nega,
                     config.score_params)
        detections = self._video.track(result.detections, config.score_method,
                                       config.ood_threshold, score_key)
        timings = {**result.timings, 'track': time.perf_counter() - start}
        return replace(result, detections=detections, timings=timings, tracked=True)

    def _retire(self) -> None:
        if self._video is not None:
            self._next_id = self._video.next_id
            self._video = None
