"""`negas-ros evaluate` matches a direct computation on the same detections.

The test runs the pipeline itself on the frames (decoded from the same JPEG bytes), builds the
ID ground truth from some of those detections (so mAP is neither 0 nor 1), converts the frames
to bags, runs the real command, and recomputes every number with pycocotools, the VOS
threshold code written out here, and negas_ros.metrics.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
import subprocess
from typing import Any

from bag_data import ID_LABELS, write_frames
import numpy as np
import pytest

from negas_ros.backends.base import create_backend
from negas_ros.bag.bdd100k import ImageFolderSequence
from negas_ros.bag.convert import convert_to_bag
from negas_ros.cli import main
from negas_ros.config import config_from_values, load_params_file
from negas_ros.detection import Detection
from negas_ros.image_convert import compressed_to_rgb
from negas_ros.metrics import ood_metrics
from negas_ros.pipeline import DetectorPipeline

pytestmark = pytest.mark.model

START_NS = 1_700_000_000_000_000_000


def _labels_from_detections(name: str, index: int, detections: list[Detection],
                            rng: np.random.Generator) -> dict[str, Any]:
    labels = []

    def box2d(box: tuple[float, float, float, float]) -> dict[str, float]:
        x1, y1, x2, y2 = box  # continuous -> BDD100K inclusive ends
        return {'x1': max(x1, 0.0), 'y1': max(y1, 0.0), 'x2': min(x2 - 1, 639.0),
                'y2': min(y2 - 1, 359.0)}

    for k, d in enumerate(detections[:5]):
        x1, y1, x2, y2 = d.box_xyxy
        if k == 3:  # a partly found object
            shift = 0.3 * (x2 - x1)
            x1, x2 = min(x1 + shift, 600.0), min(x2 + shift, 640.0)
        category = 'other person' if k == 4 else d.id_label
        labels.append({'id': f'{index}-{k}', 'category': category,
                       'box2d': box2d((x1, y1, x2, y2))})
    x, y = (float(v) for v in rng.uniform(0, 300, 2).round())
    labels.append({'id': f'{index}-x', 'category': 'traffic sign',  # not an ID label
                   'box2d': {'x1': x, 'y1': y, 'x2': x + 20, 'y2': y + 20}})
    return {'name': name, 'timestamp': 10000 + 100 * index, 'labels': labels}


@pytest.fixture(scope='module')
def eval_data(tmp_path_factory: pytest.TempPathFactory, params_file: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp('eval')
    id_names = write_frames(root / 'id', 8, seed=11)
    ood_names = write_frames(root / 'ood', 6, seed=12, prefix='ood')
    config = config_from_values(load_params_file(params_file))
    pipeline = DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))

    def detect(path: Path) -> list[Detection]:
        return pipeline.process(compressed_to_rgb('jpeg', path.read_bytes())).detections

    id_detections = [detect(root / 'id' / n) for n in id_names]
    ood_detections = [detect(root / 'ood' / n) for n in ood_names]
    rng = np.random.default_rng(0)
    frames = [_labels_from_detections(n, i, d, rng)
              for i, (n, d) in enumerate(zip(id_names, id_detections, strict=True))]
    labels = root / 'id_labels.json'
    labels.write_text(json.dumps(frames, indent=1))
    convert_to_bag(ImageFolderSequence(root / 'id', labels, start_ns=START_NS),
                   root / 'id_bag', progress=False)
    convert_to_bag(ImageFolderSequence(root / 'ood', start_ns=START_NS), root / 'ood_bag',
                   progress=False)
    return {'root': root, 'labels': labels, 'frames': frames, 'id': id_detections,
            'ood': ood_detections, 'config': config}


def _direct_metrics(data: dict[str, Any]) -> dict[str, Any]:
    """Everything recomputed from the test's own detections, without negas_ros.evaluation."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = ID_LABELS
    mapping = {'other person': ('pedestrian', 1)}
    images, annotations, results = [], [], []
    for image, (frame, dets) in enumerate(zip(data['frames'], data['id'], strict=True)):
        images.append({'id': image, 'width': 640, 'height': 360})
        for label in frame['labels']:
            category, crowd = mapping.get(label['category'], (label['category'], 0))
            if category not in names:
                continue
            b = label['box2d']  # inclusive ends: width = x2 - x1 + 1 (BDD100K toolkit)
            w, h = b['x2'] - b['x1'] + 1, b['y2'] - b['y1'] + 1
            annotations.append({'id': len(annotations) + 1, 'image_id': image,
                                'category_id': names.index(category) + 1,
                                'bbox': [b['x1'], b['y1'], w, h], 'area': w * h,
                                'iscrowd': crowd})
        for d in dets:
            x1, y1, x2, y2 = d.box_xyxy
            results.append({'image_id': image, 'category_id': names.index(d.id_label) + 1,
                            'bbox': [x1, y1, x2 - x1, y2 - y1], 'score': d.id_confidence})
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {'images': images, 'annotations': annotations,
                         'categories': [{'id': k + 1, 'name': n} for k, n in enumerate(names)]}
        truth.createIndex()
        coco_eval = COCOeval(truth, truth.loadRes(results), 'bbox')
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    # The VOS / probdet threshold, written out: F1 per class over recall points, IoU-averaged.
    precision = coco_eval.eval['precision'].mean(0)[:, :, 0, -1]
    recalls = np.expand_dims(coco_eval.params.recThrs, 1)
    with np.errstate(invalid='ignore', divide='ignore'):
        f1 = np.nan_to_num(2 * precision * recalls / (precision + recalls))
    best = f1.argmax(0)
    scores = coco_eval.eval['scores'].mean(0)[:, :, 0, -1]
    per_class = np.array([scores[best[k], k] for k in range(len(names))])
    has_truth = (coco_eval.eval['precision'][:, :, :, 0, -1] > -1).all(axis=(0, 1))
    per_class = per_class[has_truth & (per_class != 0)]
    tau = float(per_class.mean())
    id_kept = [d.id_score for dets in data['id'] for d in dets if d.id_confidence >= tau]
    ood_kept = [d.id_score for dets in data['ood'] for d in dets if d.id_confidence >= tau]
    per_class_ap = {}
    for k, name in enumerate(names):
        p = coco_eval.eval['precision'][:, :, k, 0, -1]
        per_class_ap[name] = float(p[p > -1].mean()) if (p > -1).any() else None
    return {'map': coco_eval.stats[0], 'map50': coco_eval.stats[1], 'tau': tau,
            'per_class_ap': per_class_ap, 'id_kept': id_kept, 'ood_kept': ood_kept,
            'ood': ood_metrics(id_kept, ood_kept)}


def _check(metrics: dict[str, Any], direct: dict[str, Any], ood_name: str) -> None:
    assert 0.0 < direct['map'] < 1.0  # the test data is not degenerate
    assert metrics['map'] == pytest.approx(direct['map'], abs=1e-9)
    assert metrics['map50'] == pytest.approx(direct['map50'], abs=1e-9)
    for name, ap in direct['per_class_ap'].items():
        assert metrics['per_class_ap'][name] == pytest.approx(ap, abs=1e-9)
    assert metrics['tau'] == pytest.approx(direct['tau'], rel=1e-9)
    entry = metrics['ood'][ood_name]
    assert entry['num_id_samples'] == len(direct['id_kept']) > 0
    assert entry['num_ood_samples'] == len(direct['ood_kept']) > 0
    for key in ('fpr95', 'auroc', 'aupr_in', 'aupr_out'):
        assert entry[key] == pytest.approx(direct['ood'][key], abs=1e-9), key
    assert entry['aupr'] == entry['aupr_in']


def test_evaluate_bags_matches_a_direct_computation(eval_data: dict[str, Any],
                                                    params_file: Path) -> None:
    from rosbags.highlevel import AnyReader

    root = eval_data['root']
    out = root / 'report'
    done = subprocess.run(
        ['negas-ros', 'evaluate', '--params', str(params_file), '--id-bag',
         str(root / 'id_bag'), '--ood-bag', f'far={root / "ood_bag"}', '--out', str(out),
         '--annotate', '--no-progress'],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / 'metrics.json').read_text())
    direct = _direct_metrics(eval_data)
    _check(metrics, direct, 'far')
    assert metrics['ground_truth_not_evaluated'] == {'traffic sign': 8}
    id_info = metrics['sets']['id_bag']
    assert (id_info['frames'], id_info['frames_with_ground_truth']) == (8, 8)
    assert id_info['detections'] == sum(len(d) for d in eval_data['id'])
    assert metrics['sets']['far']['frames'] == 6
    for plot in ('roc.png', 'score_histogram.png', 'precision_recall.png',
                 'precision_recall_id.png'):
        assert (out / plot).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

    # The result bag: the node's topics, in step with the source bag.
    with AnyReader([root / 'id_bag']) as reader:
        source = [log for conn, log, _ in reader.messages()
                  if conn.topic == '/image/compressed']
    with AnyReader([Path(id_info['result_bag'])]) as reader:
        got: dict[str, list[tuple[int, Any]]] = {}
        for conn, log_ns, raw in reader.messages():
            got.setdefault(conn.topic, []).append((log_ns, reader.deserialize(raw,
                                                                              conn.msgtype)))
    assert len(got['/label_info']) == 1
    assert [log for log, _ in got['/detections']] == source
    assert [log for log, _ in got['/debug_image/compressed']] == source
    for (log_ns, msg), dets in zip(got['/detections'], eval_data['id'], strict=True):
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == log_ns
        assert len(msg.detections) == len(dets)
    rich = got['/ood_detections'][0][1]
    assert [d.id_score for d in rich.detections] == pytest.approx(
        [d.id_score for d in eval_data['id'][0]])


def test_evaluate_image_folders_gives_the_same_metrics(eval_data: dict[str, Any],
                                                       params_file: Path) -> None:
    root = eval_data['root']
    out = root / 'report_folders'
    assert main(['evaluate', '--params', str(params_file), '--id-images', str(root / 'id'),
                 '--id-labels', str(eval_data['labels']), '--ood-images', str(root / 'ood'),
                 '--out', str(out), '--no-result-bags', '--no-progress']) == 0
    metrics = json.loads((out / 'metrics.json').read_text())
    _check(metrics, _direct_metrics(eval_data), 'ood')
    assert metrics['sets']['id']['result_bag'] is None


def test_evaluate_reports_bad_inputs(eval_data: dict[str, Any], params_file: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = eval_data['root']
    assert main(['evaluate', '--params', str(params_file), '--id-bag', str(root / 'ood_bag'),
                 '--ood-bag', str(root / 'id_bag'), '--out', str(root / 'x')]) == 2
    assert 'the ID bag has no ground-truth topic' in capsys.readouterr().err
    assert main(['evaluate', '--params', str(params_file), '--id-bag', str(root / 'id_bag'),
                 '--ood-bag', str(root / 'nope'), '--out', str(root / 'x')]) == 2
    assert f'{root / "nope"}: no such bag' in capsys.readouterr().err
