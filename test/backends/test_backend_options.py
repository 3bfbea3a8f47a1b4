"""Node parameters that reach the backend through BackendSpec.options (yolo_world NegA rule)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from negas_ros.backends.yolo_world.tiny import write_tiny_yolo_world
from negas_ros.config import config_from_values
from negas_ros.pipeline import DetectorPipeline


@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_yolo_world(tmp_path_factory.mktemp('yw') / 'tiny', seed=0)


def _pipeline(tiny_dir: Path, **values: object) -> DetectorPipeline:
    return DetectorPipeline(config_from_values({
        'backend': 'yolo_world', 'model': str(tiny_dir), 'id_labels': ['car', 'person'],
        'negative_labels': ['van', 'statue'], 'box_threshold': 0.0, **values}))


def test_nega_fusion_parameter_overrides_the_model_card(tiny_dir: Path) -> None:
    default = _pipeline(tiny_dir)
    assert default.backend.card.nega_fusion == 'max'  # type: ignore[attr-defined]
    weighted = _pipeline(tiny_dir, nega_fusion='weighted', nega_weight=0.25)
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
