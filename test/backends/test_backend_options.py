"""Node parameters that reach the backend through BackendSpec.options (yolo_world NegA rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from negas_ros.backends.base import create_backend
from negas_ros.config import config_from_values
from negas_ros.pipeline import DetectorPipeline


def _pipeline(tiny_yolo_world_dir: Path, **values: object) -> DetectorPipeline:
    config = config_from_values({
        'backend': 'yolo_world', 'model': str(tiny_yolo_world_dir), 'id_labels': ['car', 'person'],
        'negative_labels': ['van', 'statue'], 'box_threshold': 0.0, **values})
    return DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))


def test_nega_fusion_parameter_overrides_the_model_card(tiny_yolo_world_dir: Path) -> None:
    default = _pipeline(tiny_yolo_world_dir)
    assert default.backend.card.nega_fusion == 'max'  # type: ignore[attr-defined]
    weighted = _pipeline(tiny_yolo_world_dir, nega_fusion='weighted', nega_weight=0.25)
    assert weighted.backend.card.nega_fusion == 'weighted'  # type: ignore[attr-defined]
    assert weighted.backend.card.nega_weight == 0.25  # type: ignore[attr-defined]
    image = np.random.default_rng(0).integers(0, 255, (200, 260, 3), dtype=np.uint8)
    a = default.process(image).detections
    b = weighted.process(image).detections
    # A different fusion rule changes the neck, so the ID responses move.
    assert [d.id_confidence for d in a] != [d.id_confidence for d in b]


def test_nega_fusion_is_ignored_by_grounding_dino_and_validated() -> None:
    config = config_from_values({'id_labels': ['car'], 'nega_fusion': 'max'})
    assert config.backend_options == {}
    with pytest.raises(ValueError, match="'nega_fusion' is 'sum'"):
        config_from_values({'id_labels': ['car'], 'nega_fusion': 'sum'})


def test_label_changes_encode_outside_the_frame_lock(tiny_yolo_world_dir: Path) -> None:
    """Frames keep running on the old labels while new ones encode; then both switch at once."""
    import threading

    from negas_ros.synthetic import street_frame

    pipeline = _pipeline(tiny_yolo_world_dir)
    old = pipeline.config
    backend: Any = pipeline.backend
    frame = street_frame(0, 160, 120, seed=1)[..., ::-1].copy()
    entered, release = threading.Event(), threading.Event()
    real_prepare = backend.prepare_labels

    def slow_prepare(*args: Any) -> Any:
        entered.set()
        assert release.wait(30.0)
        return real_prepare(*args)

    backend.prepare_labels = slow_prepare  # the encoder takes its time
    new = config_from_values({
        'backend': 'yolo_world', 'model': str(tiny_yolo_world_dir),
        'id_labels': ['car', 'person', 'bus'],
        'negative_labels': ['van', 'statue'], 'box_threshold': 0.0})
    applying = threading.Thread(target=pipeline.apply, args=(new,))
    applying.start()
    assert entered.wait(30.0)
    during: list[Any] = []
    frame_thread = threading.Thread(target=lambda: during.append(pipeline.process(frame)))
    frame_thread.start()
    frame_thread.join(20.0)
    assert during, 'a frame waited for the label encoding'
    assert during[0].config is old and pipeline.config is old
    assert all(d.id_label in old.labels.id_labels for d in during[0].detections)
    release.set()
    applying.join(30.0)
    after = pipeline.process(frame)
    assert after.config is new and pipeline.config is new
    assert all(len(d.id_probs) == 3 for d in after.detections) and after.detections

    def failing_prepare(*args: Any) -> Any:
        raise ValueError("cannot embed 'zzz'")

    backend.prepare_labels = failing_prepare
    third = config_from_values({**new.values, 'id_labels': ['car']})
    with pytest.raises(ValueError, match='zzz'):
        pipeline.apply(third)
    assert pipeline.config is new
    assert len(pipeline.process(frame).detections[0].id_probs) == 3


def test_a_label_state_only_fits_the_backend_that_prepared_it(tiny_yolo_world_dir: Path) -> None:
    first, second = (_pipeline(tiny_yolo_world_dir).backend for _ in range(2))
    state = first.prepare_labels(['car'], [], False)
    with pytest.raises(TypeError, match='prepare_labels'):
        second.use_labels(state)
    first.use_labels(state)  # its own backend takes it


def test_process_batch_scores_each_image_as_process_does(tiny_yolo_world_dir: Path) -> None:
    """The node's multi-camera path: one backend batch, the same verdicts as frame by frame,
    max_detections applied per image."""
    pipeline = _pipeline(tiny_yolo_world_dir, max_detections=7, score_method='negs_diff',
                         ood_threshold=0.0)
    rng = np.random.default_rng(4)
    images = [rng.integers(0, 255, shape, dtype=np.uint8)
              for shape in ((200, 260, 3), (120, 300, 3), (200, 260, 3))]
    singles = [pipeline.process(image) for image in images]
    batch = pipeline.process_batch(images)
    assert pipeline.process_batch([]) == []
    assert len(batch) == 3
    assert batch[0].timings['batch'] == 3 and 'infer' in batch[0].timings
    for one, many in zip(singles, batch, strict=True):
        assert len(many.detections) == len(one.detections) == 7
        assert many.config is one.config
        for a, b in zip(one.detections, many.detections, strict=True):
            assert a.is_ood == b.is_ood and a.id_label == b.id_label
            np.testing.assert_allclose(b.box_xyxy, a.box_xyxy, atol=1e-3)
            assert b.id_confidence == pytest.approx(a.id_confidence, abs=1e-4)
            assert b.id_score == pytest.approx(a.id_score, abs=1e-4)
