"""negas_ros.evaluation: F1-optimal threshold, COCO mAP, OOD samples and curves (pure)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from negas_ros.detection import Detection
from negas_ros.evaluation import (
    DetectionSet,
    coco_evaluate,
    evaluate_ood,
    f1_optimal_threshold,
    precision_recall_curve,
    roc_curve,
    to_jsonable,
)
from negas_ros.metrics import auroc, average_precision, ood_metrics

REPO_ROOT = Path(__file__).resolve().parents[2]


class Box:
    def __init__(self, category: str, box: tuple[float, float, float, float]) -> None:
        self.category = category
        self.box_xyxy = box


def det(box: tuple[float, float, float, float], label: str, confidence: float,
        score: float = 0.5, is_ood: bool = False) -> Detection:
    return Detection(box, label, confidence, np.zeros(1, np.float32), np.zeros(0, np.float32),
                     None, 0.0, score, 1.0 - score, is_ood)


def thresholds(dataset: DetectionSet) -> tuple[float | None, list[float | None],
                                               list[float | None]]:
    coco = coco_evaluate(dataset)
    result = f1_optimal_threshold(coco.precision, coco.scores, coco.rec_thrs)
    return result.tau, result.per_class, result.per_class_f1


def test_f1_optimal_threshold_on_hand_made_detections() -> None:
    # Class car: 2 boxes; detections TP 0.9, FP 0.8, TP 0.7 (exact boxes: same at every IoU).
    # Interpolated precision is 1 up to recall 0.5 and 2/3 after; F1 is 2/3 at r = 0.5 and
    # 0.8 at r = 1, reached first at the detection scored 0.7: the car threshold is 0.7.
    # Class bus: 1 box; FP 0.95 then TP 0.6: precision 0.5 everywhere, best F1 2/3 at r = 1,
    # threshold 0.6. tau = mean(0.7, 0.6). Class truck has no ground truth: left out.
    data = DetectionSet('id', ['car', 'bus', 'truck'])
    data.add_frame(200, 100, [
        det((0, 0, 10, 10), 'car', 0.9), det((50, 50, 60, 60), 'car', 0.8),
        det((20, 20, 30, 30), 'car', 0.7), det((100, 0, 120, 20), 'bus', 0.95),
        det((150, 50, 190, 90), 'bus', 0.6), det((0, 50, 10, 60), 'truck', 0.99),
    ], [Box('car', (0, 0, 10, 10)), Box('car', (20, 20, 30, 30)),
        Box('bus', (150, 50, 190, 90))])
    tau, per_class, per_class_f1 = thresholds(data)
    assert per_class == [pytest.approx(0.7), pytest.approx(0.6), None]
    assert per_class_f1 == [pytest.approx(0.8), pytest.approx(2 / 3), None]
    assert tau == pytest.approx(0.65)


def test_threshold_of_classes_without_true_positives() -> None:
    # As in the reference code: a class with ground truth but only false positives takes its
    # best score (recall point 0); a class with ground truth and no detection gets 0 and is
    # left out of the mean.
    data = DetectionSet('id', ['car', 'bus', 'truck'])
    data.add_frame(100, 100, [det((0, 0, 10, 10), 'car', 0.9),
                              det((60, 60, 70, 70), 'bus', 0.4),
                              det((80, 80, 90, 90), 'bus', 0.3)],
                   [Box('car', (0, 0, 10, 10)), Box('bus', (0, 40, 10, 50)),
                    Box('truck', (30, 30, 40, 40))])
    tau, per_class, _ = thresholds(data)
    assert per_class == [pytest.approx(0.9), pytest.approx(0.4), 0.0]
    assert tau == pytest.approx(0.65)


def test_threshold_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match='one shape'):
        f1_optimal_threshold(np.zeros((10, 101, 2, 4, 3)), np.zeros((10, 101, 3, 4, 3)),
                             np.linspace(0, 1, 101))
    with pytest.raises(ValueError, match='recall points'):
        f1_optimal_threshold(np.zeros((10, 101, 2, 4, 3)), np.zeros((10, 101, 2, 4, 3)),
                             np.linspace(0, 1, 11))


def _random_set(seed: int) -> tuple[DetectionSet, list[dict], list[dict], list[dict]]:
    """A random ID set, and the same data as COCO images / annotations / results lists."""
    rng = np.random.default_rng(seed)
    names = ['car', 'pedestrian', 'truck']
    data = DetectionSet('id', names)
    images, annotations, results = [], [], []
    for image in range(6):
        width, height = 320, 240
        truths, detections = [], []
        for _ in range(rng.integers(1, 6)):
            x, y = rng.uniform(0, 250), rng.uniform(0, 180)
            w, h = rng.uniform(8, 60), rng.uniform(8, 55)
            cls = int(rng.integers(0, 3))
            truths.append(Box(names[cls], (x, y, min(x + w, width), min(y + h, height))))
            if rng.random() < 0.8:  # found, with some jitter
                j = rng.normal(0, 3, 4)
                detections.append(det((x + j[0], y + j[1], x + w + j[2], y + h + j[3]),
                                      names[cls], float(rng.uniform(0.3, 1.0))))
        for _ in range(rng.integers(0, 4)):  # false positives
            x, y = rng.uniform(0, 250), rng.uniform(0, 180)
            detections.append(det((x, y, x + 30, y + 30), names[int(rng.integers(0, 3))],
                                  float(rng.uniform(0.0, 0.9))))
        if image == 2:  # an ignored region: BDD100K's 'other person' is crowd 'pedestrian'
            truths.append(Box('other person', (100, 100, 140, 180)))
            detections.append(det((101, 101, 139, 179), 'pedestrian', 0.95))
        data.add_frame(width, height, detections, truths)
        images.append({'id': image, 'width': width, 'height': height})
        for t in truths:
            x1, y1, x2, y2 = t.box_xyxy
            crowd = t.category == 'other person'
            cls = 'pedestrian' if crowd else t.category
            annotations.append({'id': len(annotations) + 1, 'image_id': image,
                                'category_id': names.index(cls) + 1,
                                'bbox': [x1, y1, x2 - x1, y2 - y1],
                                'area': (x2 - x1) * (y2 - y1), 'iscrowd': int(crowd)})
        for d in detections:
            x1, y1, x2, y2 = d.box_xyxy
            results.append({'image_id': image, 'category_id': names.index(d.id_label) + 1,
                            'bbox': [x1, y1, x2 - x1, y2 - y1], 'score': d.id_confidence})
    return data, images, annotations, results


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_map_matches_a_direct_pycocotools_computation(seed: int) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    data, images, annotations, results = _random_set(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {'images': images, 'annotations': annotations,
                         'categories': [{'id': k + 1, 'name': n}
                                        for k, n in enumerate(data.class_names)]}
        truth.createIndex()
        coco_eval = COCOeval(truth, truth.loadRes(results), 'bbox')
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    ours = coco_evaluate(data)
    assert ours.map == pytest.approx(coco_eval.stats[0], abs=1e-12)
    assert ours.map50 == pytest.approx(coco_eval.stats[1], abs=1e-12)
    assert ours.map75 == pytest.approx(coco_eval.stats[2], abs=1e-12)
    # Evaluated one class at a time, the arrays equal one COCOeval over all classes.
    np.testing.assert_allclose(ours.precision, coco_eval.eval['precision'])
    np.testing.assert_allclose(ours.scores, coco_eval.eval['scores'])
    np.testing.assert_allclose(list(ours.stats.values()), coco_eval.stats)
    for k, name in enumerate(data.class_names):
        p = coco_eval.eval['precision'][:, :, k, 0, -1]
        assert ours.per_class_ap[name] == pytest.approx(p[p > -1].mean(), abs=1e-12)
    # The crowd region is ignored: its detection is no false positive.
    assert data.gt_crowd.count(1) == 1


def test_ground_truth_categories_follow_the_bdd100k_mapping() -> None:
    data = DetectionSet('id', ['pedestrian', 'car'])
    data.add_frame(100, 100, [det((0, 0, 5, 5), 'lamp', 0.5)],
                   [Box('person', (0, 0, 10, 10)), Box('Other Vehicle', (0, 0, 10, 10)),
                    Box('traffic sign', (0, 0, 10, 10)), Box('car', (1, 1, 10, 10))])
    assert list(data.gt_class) == [0, 1, 1] and list(data.gt_crowd) == [0, 1, 0]
    assert data.gt_not_evaluated == {'traffic sign': 1}
    assert data.unknown_detection_labels == {'lamp': 1} and data.num_detections == 0
    data.add_frame(100, 100, [det((0, 0, 5, 5), 'car', 0.5)], None)  # no ground truth
    assert data.num_frames == 2 and data.num_frames_with_gt == 1
    coco = coco_evaluate(data)
    assert coco.images == 1 and coco.detections == 0  # frames without truth stay out of mAP


def test_map_without_ground_truth_is_undefined() -> None:
    data = DetectionSet('id', ['car'])
    data.add_frame(100, 100, [det((0, 0, 5, 5), 'car', 0.5)], None)
    coco = coco_evaluate(data)
    assert np.isnan(coco.map) and coco.per_class_ap == {'car': None}
    assert to_jsonable({'map': coco.map}) == {'map': None}


def test_ood_samples_are_kept_detections_scored_by_the_ood_score() -> None:
    id_set = DetectionSet('id', ['car'])
    ood_set = DetectionSet('ood', ['car'])
    id_set.add_frame(100, 100, [det((0, 0, 5, 5), 'car', c, s) for c, s in
                                [(0.9, 0.8), (0.7, 0.6), (0.2, 0.1), (0.6, 0.3)]], None)
    ood_set.add_frame(100, 100, [det((0, 0, 5, 5), 'car', c, s) for c, s in
                                 [(0.95, 0.4), (0.5, 0.9), (0.61, 0.2)]], None)
    result = evaluate_ood(id_set, ood_set, 0.6)
    np.testing.assert_array_equal(result.id_scores, [0.8, 0.6, 0.3])
    np.testing.assert_array_equal(result.ood_scores, [0.4, 0.2])
    expected = ood_metrics([0.8, 0.6, 0.3], [0.4, 0.2])
    assert result.metrics['aupr'] == result.metrics['aupr_in'] == expected['aupr_in']
    for key in ('fpr95', 'auroc', 'aupr_out'):
        assert result.metrics[key] == expected[key]
    assert evaluate_ood(id_set, ood_set, None).metrics['fpr95'] is None
    none_kept = evaluate_ood(id_set, ood_set, 0.99)
    assert none_kept.metrics['auroc'] is None and 'confidence >= tau' in none_kept.reason


def test_curves_agree_with_the_metrics() -> None:
    rng = np.random.default_rng(4)
    ids = np.round(rng.normal(1.0, 1.0, 300), 1)  # rounded: ties on purpose
    oods = np.round(rng.normal(0.0, 1.0, 200), 1)
    fpr, tpr = roc_curve(ids, oods)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(ids, oods), abs=1e-12)
    precision, recall = precision_recall_curve(ids, oods)
    assert np.sum(np.diff(recall, prepend=0.0) * precision) == pytest.approx(
        average_precision(ids, oods), abs=1e-12)


def test_evaluation_and_bag_modules_import_without_ros() -> None:
    # Like test_pure_core: a fresh interpreter that refuses rclpy and generated messages
    # imports the protocol and the bag tools, and builds the rosbags message types.
    script = textwrap.dedent("""
        import importlib, sys

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                top = name.partition('.')[0]
                if top.startswith(('rcl', 'rosidl', 'rmw')) or top in (
                        'vision_msgs', 'sensor_msgs', 'std_msgs', 'torch', 'transformers'):
                    raise ImportError('blocked ' + name)
                return None

        sys.meta_path.insert(0, Blocker())
        sys.path.insert(0, sys.argv[1])
        for module in sys.argv[2:]:
            importlib.import_module(module)
        from negas_ros.bag import messages
        messages.typestore()
        print('ok')
    """)
    modules = ['negas_ros.evaluation', 'negas_ros.bag.bdd100k', 'negas_ros.bag.messages',
               'negas_ros.bag.writer', 'negas_ros.bag.reader', 'negas_ros.bag.convert',
               'negas_ros.bag.offline', 'negas_ros.bag.plots']
    done = subprocess.run([sys.executable, '-c', script, str(REPO_ROOT), *modules],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == 'ok', done.stderr
