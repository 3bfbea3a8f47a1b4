"""Test data for the rosbag workflow tests (a module of its own, so tests can import it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 640, 360
ID_LABELS = ['car', 'pedestrian', 'truck']


def write_frames(folder: Path, count: int, seed: int, prefix: str = 'frame') -> list[str]:
    """Write ``count`` JPEG frames into ``folder``; returns their file names."""
    import cv2

    from negas_ros.synthetic import street_frame

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(count):
        name = f'{prefix}{index:04d}.jpg'
        assert cv2.imwrite(str(folder / name), street_frame(index, WIDTH, HEIGHT, seed=seed),
                           [cv2.IMWRITE_JPEG_QUALITY, 90])
        names.append(name)
    return names


def hand_labels(names: list[str]) -> list[dict[str, Any]]:
    """det_20 frames with increasing timestamps (100 ms apart) and hand-made boxes."""
    frames = []
    for index, name in enumerate(names):
        labels = [
            {'id': f'{index}-1', 'category': 'car', 'attributes': {'occluded': False},
             'box2d': {'x1': 10.0 + index, 'y1': 200.0, 'x2': 109.0 + index, 'y2': 259.0}},
            {'id': f'{index}-2', 'category': 'traffic sign',
             'box2d': {'x1': 600.0, 'y1': 0.0, 'x2': WIDTH - 1.0, 'y2': 30.5}},
        ]
        if index % 2:
            labels.append({'id': f'{index}-3', 'category': 'other person',
                           'box2d': {'x1': 300.0, 'y1': 150.0, 'x2': 319.0, 'y2': 199.0}})
        frames.append({'name': name, 'timestamp': 10000 + 100 * index,
                       'attributes': {'weather': 'clear', 'scene': 'city street',
                                      'timeofday': 'daytime'},
                       'labels': labels})
    return frames


