"""`negatives prune`: responses on ID detections, the keep rule, the grouping round trip and
the command on a real (tiny) detector over real ID images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from negas_ros.detection import RawDetections
from negas_ros.labels import load_labels
from negas_ros.negatives.output import read_negative_groups, write_labels_yaml
from negas_ros.negatives.prune import id_responses, prune_negatives


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _raw(conf: list[float], negs: list[list[float]]) -> RawDetections:
    n = len(conf)
    return RawDetections(np.tile(np.array([[0, 0, 10, 10]], np.float32), (n, 1)),
                         np.array([[_logit(c)] for c in conf], np.float32),
                         np.array([[_logit(q) for q in row] for row in negs], np.float32))


def test_responses_are_quantiles_over_confident_id_detections() -> None:
    raws = [_raw([0.9, 0.1], [[0.5, 0.01], [0.99, 0.99]]),  # the 0.1 box is no ID sample
            _raw([0.8], [[0.3, 0.02]]), RawDetections.empty(1, 2)]
    values, samples = id_responses(raws, ['van', 'kite'], min_confidence=0.25, quantile=1.0)
    assert samples == 2
    np.testing.assert_allclose(values, [0.5, 0.02], rtol=1e-5)
    median, _ = id_responses(raws, ['van', 'kite'], 0.25, 0.5)
    np.testing.assert_allclose(median, [0.4, 0.015], rtol=1e-5)
    nothing, none = id_responses([_raw([0.1], [[0.5, 0.5]])], ['van', 'kite'], 0.25, 0.95)
    assert none == 0 and np.isnan(nothing).all()
    with pytest.raises(ValueError, match='2 negative logits for 3'):
        id_responses(raws, ['van', 'kite', 'dog'], 0.25, 0.95)


def test_prune_keeps_order_and_names_what_it_drops() -> None:
    result = prune_negatives(['van', 'kite', 'tram'], [0.5, 0.02, 0.1], 0.1, samples=7)
    assert result.kept == ('kite', 'tram') and result.dropped == ('van',)
    assert result.response['van'] == 0.5 and result.samples == 7
    with pytest.raises(ValueError, match='no ID detection'):
        prune_negatives(['van'], [np.nan], 0.1)


def test_negative_groups_round_trip(tmp_path: Path) -> None:
    path = tmp_path / 'generated.yaml'
    groups = {'car': ['golf cart', 'van'], 'bus': ['tram'], None: ['kite']}
    write_labels_yaml(path, ['car', 'bus'], groups, {'method': 'test'})
    assert read_negative_groups(path) == groups
    flat = tmp_path / 'flat.yaml'
    flat.write_text('id_labels: [car]\nnegative_labels: [van, kite]\n', encoding='utf-8')
    assert read_negative_groups(flat) == {None: ['van', 'kite']}


def test_prune_command_on_a_detector_and_id_images(tiny_yolo_world_dir: Path,
                                                   tmp_path: Path) -> None:
    import cv2

    from negas_ros.cli import main
    from negas_ros.world import World

    model = tiny_yolo_world_dir
    images = tmp_path / 'images'
    images.mkdir()
    world = World(0)
    for i in range(3):
        cv2.imwrite(str(images / f'{i}.png'), world.render('id_val', i).image[:, :, ::-1])
    (images / 'notes.txt').write_text('not an image')
    labels = tmp_path / 'in.yaml'
    write_labels_yaml(labels, ['car', 'bus'], {'car': ['golf cart', 'van'], 'bus': ['tram']},
                      {'method': 'wordnet'})
    out = tmp_path / 'out.yaml'
    # The tiny random model answers everything alike: a threshold between its responses keeps
    # some and drops others; the response of each word is what the file records.
    args = ['negatives', 'prune', '--labels', str(labels), '--out', str(out), '--model',
            str(model), '--images', str(images), '--min-confidence', '0', '--max-response']
    assert main([*args, '1.0']) == 0
    assert load_labels(out).negative_labels == ('golf cart', 'van', 'tram')
    data = yaml.safe_load(out.read_text())
    responses = data['provenance']['kept_response']
    assert set(responses) == {'golf cart', 'van', 'tram'}
    assert data['provenance']['source']['method'] == 'wordnet'
    low, middle, high = sorted(responses.values())
    threshold = (middle + high) / 2  # between recorded (rounded) responses
    assert low < middle < high
    assert main([*args, f'{threshold}']) == 0
    kept = load_labels(out).negative_labels
    assert set(kept) == {w for w, v in responses.items() if v <= threshold} and len(kept) == 2
    assert read_negative_groups(out).get('bus', []) == [w for w in ('tram',) if w in kept]
    assert 'negas-ros negatives prune' in out.read_text().splitlines()[1]


def test_prune_refuses_test_splits(tmp_path: Path) -> None:
    from negas_ros.cli import main

    labels = tmp_path / 'in.yaml'
    labels.write_text('id_labels: [car]\nnegative_labels: [van]\n', encoding='utf-8')
    code_or_error: object
    try:
        code_or_error = main(['negatives', 'prune', '--labels', str(labels), '--out',
                              str(tmp_path / 'o.yaml'), '--world-split', 'id_test'])
    except ValueError as error:
        code_or_error = str(error)
    assert 'never tune on a test split' in str(code_or_error) or code_or_error == 2
