"""The infer_batch contract every backend keeps (the node's multi-camera path relies on it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from negas_ros.backends.base import BackendSpec, DetectorBackend, create_backend

ID_LABELS = ['car', 'person', 'traffic light']
NEG_LABELS = ['mannequin', 'statue', 'scooter']


@pytest.fixture(scope='module', params=['grounding_dino', 'yolo_world'])
def backend(request: pytest.FixtureRequest) -> DetectorBackend:
    model_dir: Path = request.getfixturevalue(
        'tiny_gdino_dir' if request.param == 'grounding_dino' else 'tiny_yolo_world_dir')
    detector = create_backend(request.param, BackendSpec(model=str(model_dir)))
    detector.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    return detector


def _image(height: int = 211, width: int = 317, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_a_batch_of_one_equals_infer_exactly(backend: DetectorBackend) -> None:
    image = _image(seed=7)
    one = backend.infer(image, 0.1)
    (batch,) = backend.infer_batch([image], 0.1)
    assert len(one) > 0
    np.testing.assert_array_equal(batch.boxes_xyxy, one.boxes_xyxy)
    np.testing.assert_array_equal(batch.id_logits, one.id_logits)
    np.testing.assert_array_equal(batch.neg_logits, one.neg_logits)
    assert backend.last_timings['batch'] == 1


def test_empty_and_bad_batches(backend: DetectorBackend) -> None:
    assert backend.infer_batch([], 0.3) == []
    with pytest.raises(ValueError, match=r'image 1 of the batch: .*HxWx3'):
        backend.infer_batch([_image(), np.zeros((4, 4), np.uint8)], 0.3)
    floats: Any = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(ValueError, match=r'image 2 of the batch: .*uint8'):
        backend.infer_batch([_image(), _image(), floats], 0.3)
    with pytest.raises(ValueError, match='box_threshold'):
        backend.infer_batch([_image()], 1.5)
