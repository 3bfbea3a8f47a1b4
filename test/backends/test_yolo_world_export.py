"""ONNX export of the tiny YOLO-World and the onnxruntime parity check (CPU, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yolo_world_fixtures

torch = pytest.importorskip('torch')
onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

from negas_ros.backends.yolo_world import (  # noqa: E402
    YoloWorldBackend,
    load_model_card,
    load_text_embeddings,
)
from negas_ros.backends.yolo_world.export import (  # noqa: E402
    check_onnx_parity,
    export_onnx,
    read_onnx_metadata,
)
from negas_ros.cli import main  # noqa: E402

pytestmark = pytest.mark.model
# Shared fixture: one torch thread for the module (tiny_yolo_world_dir is in test/conftest.py).
one_torch_thread = yolo_world_fixtures.one_torch_thread

ID_LABELS = ['car', 'person', 'bus']
NEG_LABELS = ['van', 'mannequin', 'tram', 'scooter']


def _params(tmp: Path, model: Path, nega: bool = True, negatives: bool = True) -> Path:
    labels = tmp / 'labels.yaml'
    labels.write_text(f'id_labels: {ID_LABELS}\n'
                      f'negative_labels: {NEG_LABELS if negatives else []}\n')
    params = tmp / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    backend: yolo_world\n'
                      f'    model: {model}\n    labels_file: {labels}\n'
                      f'    box_threshold: 0.3\n    nega: {str(nega).lower()}\n')
    return params


def test_export_cli_writes_a_checked_onnx_model(tiny_yolo_world_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'tiny.onnx'
    params = _params(tmp_path, tiny_yolo_world_dir)
    assert main(['export', '--params', str(params), '--out', str(out), '--check']) == 0
    printed = capsys.readouterr().out
    assert 'onnxruntime vs PyTorch' in printed and 'MISMATCH' not in printed
    meta = read_onnx_metadata(out)
    assert json.loads(meta['id_labels']) == ID_LABELS
    assert json.loads(meta['negative_labels']) == NEG_LABELS
    assert meta['nega_fusion'] == 'max' and json.loads(meta['imgsz']) == [320, 320]
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    assert [i.shape for i in session.get_inputs()] == [[1, 3, 320, 320]]  # static
    anchors = 40 * 40 + 20 * 20 + 10 * 10
    assert {o.name: o.shape for o in session.get_outputs()} == {
        'boxes': [1, anchors, 4], 'id_logits': [1, anchors, 3], 'neg_logits': [1, anchors, 4]}
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert not ops & {'Loop', 'If', 'Scan', 'NonMaxSuppression', 'NonZero'}  # TensorRT-friendly


@pytest.mark.parametrize(('nega', 'negatives'), [(False, True), (True, False)])
def test_parity_without_nega_or_without_negatives(tiny_yolo_world_dir: Path, tmp_path: Path,
                                                  nega: bool, negatives: bool) -> None:
    backend = YoloWorldBackend.from_card(load_model_card(str(tiny_yolo_world_dir)))
    backend.set_labels(ID_LABELS, NEG_LABELS if negatives else [], nega=nega)
    path = export_onnx(backend, tmp_path / 'm.onnx')
    outputs = [o.name for o in ort.InferenceSession(str(path)).get_outputs()]
    assert outputs == ['boxes', 'id_logits'] + (['neg_logits'] if negatives else [])
    report = check_onnx_parity(backend, path, trials=2)
    assert report.ok, report.message
    assert report.box_max_abs <= 1e-4 and report.score_max_abs <= 1e-4


def test_parity_check_catches_a_wrong_model(tiny_yolo_world_dir: Path, tmp_path: Path) -> None:
    backend = YoloWorldBackend.from_card(load_model_card(str(tiny_yolo_world_dir)))
    backend.set_labels(ID_LABELS, NEG_LABELS, nega=True)
    path = export_onnx(backend, tmp_path / 'm.onnx')
    model = onnx.load(str(path))
    weights = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    array = onnx.numpy_helper.to_array(weights).copy()
    weights.CopyFrom(onnx.numpy_helper.from_array(array * 2.0, weights.name))
    onnx.save(model, str(path))
    report = check_onnx_parity(backend, path, trials=1)
    assert not report.ok and 'MISMATCH' in report.message


def test_export_refuses_other_backends(tmp_path: Path) -> None:
    params = tmp_path / 'gd.yaml'
    params.write_text('/**:\n  ros__parameters:\n    backend: grounding_dino\n'
                      '    model: some/model\n    id_labels: [car]\n')
    assert main(['export', '--params', str(params), '--out', str(tmp_path / 'x.onnx')]) == 2


def test_text_embeddings_cli(tiny_yolo_world_dir: Path, tmp_path: Path) -> None:
    extra = tmp_path / 'extra.yaml'
    extra.write_text('id_labels: [truck]\nnegative_labels: [cart]\n')
    out = tmp_path / 'vocab.npz'
    params = _params(tmp_path, tiny_yolo_world_dir)
    assert main(['text-embeddings', '--params', str(params), '--out', str(out),
                 '--labels-file', str(extra)]) == 0
    table = load_text_embeddings(out)
    assert table.labels == (*ID_LABELS, *NEG_LABELS, 'truck', 'cart')
    assert table.embeddings.shape == (9, 64)
