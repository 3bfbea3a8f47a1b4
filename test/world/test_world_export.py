"""Exported folders (JPEG + det_20 JSON + PNG instance maps) and the `negas-ros world` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from negas_ros.cli import main
from negas_ros.world import SPLITS, World, export_split
from negas_ros.world.det20 import check_frame


def test_export_writes_a_readable_folder(world: World, tmp_path: Path) -> None:
    out = tmp_path / 'near'
    result = export_split('ood_near', 4, out, start=10, world=world, size=(256, 192))
    assert result['images'] == 4 and result['labels'] == out / 'labels.json'
    frames = json.loads((out / 'labels.json').read_text())
    assert [f['name'] for f in frames] == [f'ood_near_{i:06d}.jpg' for i in range(10, 14)]
    meta = json.loads((out / 'world.json').read_text())
    assert meta['split'] == 'ood_near' and meta['seed'] == 0 and meta['start'] == 10
    assert meta['split_categories'] == list(SPLITS['ood_near'].categories)
    for frame, index in zip(frames, range(10, 14), strict=True):
        check_frame(frame, 256, 192)
        image = cv2.imread(str(out / 'images' / frame['name']))
        assert image is not None and image.shape == (192, 256, 3)
        scene = world.render('ood_near', index, (256, 192))
        jpeg_error = np.abs(image[:, :, ::-1].astype(int) - scene.image.astype(int)).mean()
        assert jpeg_error < 4  # the RGB render, saved as BGR JPEG
        masks = cv2.imread(str(out / 'masks' / frame['name'].replace('.jpg', '.png')),
                           cv2.IMREAD_UNCHANGED)
        assert masks.dtype == np.uint16
        assert np.array_equal(masks, scene.instance_map)
        for label in frame['labels']:
            rows, cols = np.nonzero(masks == int(label['id']))
            box = label['box2d']
            assert (cols.min(), rows.min(), cols.max(), rows.max()) == (
                box['x1'], box['y1'], box['x2'], box['y2'])
    assert not (out / 'labels.json.part').exists()


def test_export_refuses_a_non_empty_folder_unless_asked(world: World, tmp_path: Path) -> None:
    export_split('id_test', 1, tmp_path, world=world)
    with pytest.raises(ValueError, match='not empty'):
        export_split('id_test', 1, tmp_path, world=world)
    export_split('id_val', 2, tmp_path, world=world, overwrite=True)
    assert sorted(p.name for p in (tmp_path / 'images').iterdir()) == [
        'id_val_000000.jpg', 'id_val_000001.jpg']


def test_cli_export_preview_and_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'far'
    assert main(['world', 'export', '--split', 'ood_far', '--count', '2', '--out', str(out),
                 '--size', '160x128', '--seed', '3']) == 0
    frames = json.loads((out / 'labels.json').read_text())
    assert len(frames) == 2 and cv2.imread(str(out / 'images' / frames[0]['name'])).shape == (
        128, 160, 3)
    sheet = tmp_path / 'sheet.png'
    assert main(['world', 'preview', '--out', str(sheet), '--cell', '64', '--scenes', '1',
                 '--splits', 'ood_far']) == 0
    image = cv2.imread(str(sheet))
    assert image is not None and image.shape[1] == 6 * 64
    assert main(['world', 'info']) == 0
    assert 'golf cart' in capsys.readouterr().out
    assert main(['world', 'export', '--split', 'nope', '--count', '1',
                 '--out', str(tmp_path / 'x')]) == 2
