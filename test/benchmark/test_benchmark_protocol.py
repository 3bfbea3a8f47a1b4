"""The VOS protocol over cached outputs, cross-checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from negas_ros.benchmark.collect import BenchmarkOutputs, SplitOutputs, TruthBox
from negas_ros.benchmark.plan import BenchmarkPlan, build_plan
from negas_ros.benchmark.protocol import detection_set, evaluate_rows, with_scores
from negas_ros.detection import RawDetections
from negas_ros.scores import compute_score, sigmoid

IDS = ('car', 'pedestrian', 'bus')
SIMILAR = ('golf cart', 'mannequin', 'tram')
RANDOM = ('dog', 'bench', 'kite')
SETTINGS = ('nega_off', 'nega')


def _raw(rng: np.random.Generator, boxes: list[list[float]], classes: list[int],
         id_level: float, neg_level: float) -> RawDetections:
    n = len(boxes)
    id_logits = rng.normal(-4.0, 1.0, (n, len(IDS)))
    id_logits[np.arange(n), classes] = rng.normal(id_level, 1.5, n)
    neg = rng.normal(neg_level, 1.5, (n, len(SIMILAR) + len(RANDOM)))
    return RawDetections(np.asarray(boxes, np.float32).reshape(-1, 4),
                         id_logits.astype(np.float32), neg.astype(np.float32))


def _outputs(plan: BenchmarkPlan, seed: int = 0) -> BenchmarkOutputs:
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n_images in (('id_test', 25), ('ood_near', 12), ('ood_far', 12)):
        data = SplitOutputs(split, raw={key: [] for key in SETTINGS})
        for _ in range(n_images):
            truth: list[TruthBox] = []
            boxes: list[list[float]] = []
            classes: list[int] = []
            for _ in range(int(rng.integers(1, 4))):
                x, y = rng.uniform(0, 250, 2)
                w, h = rng.uniform(20, 60, 2)
                k = int(rng.integers(0, len(IDS)))
                box = [x, y, x + w, y + h]
                if split == 'id_test':
                    truth.append(TruthBox(IDS[k], (x, y, x + w, y + h)))
                    if rng.random() < 0.85:  # found, slightly off
                        boxes.append([v + rng.normal(0, 2) for v in box])
                        classes.append(k)
                else:
                    boxes.append(box)
                    classes.append(k)
            for _ in range(int(rng.integers(0, 3))):  # false positives
                x, y = rng.uniform(0, 250, 2)
                boxes.append([x, y, x + 30, y + 30])
                classes.append(int(rng.integers(0, len(IDS))))
            data.sizes.append((320, 320))
            data.truth.append(tuple(truth))
            for key in SETTINGS:
                ood = split != 'id_test'
                data.raw[key].append(_raw(rng, boxes, classes, 1.0 if ood else 2.5,
                                          0.5 if ood else -2.0))
        splits[split] = data
    return BenchmarkOutputs(splits, {}, [])


@pytest.fixture(scope='module')
def setup() -> tuple[BenchmarkPlan, BenchmarkOutputs]:
    plan = build_plan(IDS, SIMILAR, RANDOM, 'max').restricted(SETTINGS)
    return plan, _outputs(plan)


def _kept(outputs: BenchmarkOutputs, split: str, setting: str, tau: float,
          method: str, columns: list[int]) -> np.ndarray:
    values = []
    for raw in outputs.splits[split].raw[setting]:
        if not len(raw):
            continue
        conf = sigmoid(raw.id_logits).astype(np.float32).max(axis=1)
        score = compute_score(method, raw.id_logits, raw.neg_logits[:, columns])
        values.append(score[conf >= tau])
    return np.concatenate(values)


@pytest.mark.parametrize('row_key', ['max_sigmoid', 'negs', 'negas', 'neglabel'])
def test_row_metrics_match_sklearn(setup: tuple[BenchmarkPlan, BenchmarkOutputs],
                                   row_key: str) -> None:
    sklearn_metrics = pytest.importorskip('sklearn.metrics')
    plan, outputs = setup
    results = evaluate_rows(plan, outputs, plan.rows)
    row = results[row_key]
    assert row.tau is not None and 0.0 < row.tau < 1.0
    columns = [plan.settings[row.spec.setting].negatives.index(w) for w in row.spec.negatives]
    ids = _kept(outputs, 'id_test', row.spec.setting, row.tau, row.spec.method, columns)
    for name, split in (('near', 'ood_near'), ('far', 'ood_far')):
        oods = _kept(outputs, split, row.spec.setting, row.tau, row.spec.method, columns)
        assert oods.size == row.samples[name] and ids.size == row.samples['id']
        y = np.r_[np.ones(ids.size), np.zeros(oods.size)]
        s = np.r_[ids, oods]
        fpr, tpr, _ = sklearn_metrics.roc_curve(y, s)
        fpr95 = fpr[np.argmax(tpr >= 0.95)]
        metrics = row.metrics[name]
        assert metrics['auroc'] == pytest.approx(sklearn_metrics.roc_auc_score(y, s), abs=1e-12)
        assert metrics['fpr95'] == pytest.approx(fpr95, abs=1e-12)
        assert metrics['aupr'] == pytest.approx(
            sklearn_metrics.average_precision_score(y, s), abs=1e-12)
    assert row.id_images.size == ids.size and row.ood_images['near'].size == row.samples['near']
    if row.spec.negatives:
        response = row.negative_response
        assert set(response) == {'id', 'near', 'far'}
        for values in response.values():
            assert 0.0 <= values['mean_max_negative'] <= 1.0
            assert 0.0 <= values['negative_wins'] <= 1.0
        assert response['near']['mean_max_negative'] > response['id']['mean_max_negative']
    else:
        assert row.negative_response == {}
    # The synthetic OOD objects answer the negatives: NegS must separate better than the
    # baseline, so the test data exercise the negative columns.
    if row_key == 'negs':
        assert row.metrics['near']['auroc'] > results['max_sigmoid'].metrics['near']['auroc']


def test_main_rows_share_the_nega_off_map_and_tau(
        setup: tuple[BenchmarkPlan, BenchmarkOutputs]) -> None:
    plan, outputs = setup
    results = evaluate_rows(plan, outputs, plan.rows)
    off = [results[k] for k in ('max_sigmoid', 'energy', 'joint_energy', 'neglabel', 'negs')]
    assert len({(r.map, r.tau) for r in off}) == 1
    assert 0.0 < off[0].map <= 1.0


def test_limits_equal_truncated_outputs(setup: tuple[BenchmarkPlan, BenchmarkOutputs]) -> None:
    plan, outputs = setup
    limits = {'id_test': 10, 'ood_near': 5, 'ood_far': 4}
    limited = evaluate_rows(plan, outputs, plan.rows, limits=limits)
    truncated = BenchmarkOutputs({
        split: SplitOutputs(split, data.sizes[:limits[split]], data.truth[:limits[split]],
                            raw={k: v[:limits[split]] for k, v in data.raw.items()})
        for split, data in outputs.splits.items()}, {}, [])
    direct = evaluate_rows(plan, truncated, plan.rows)
    for key, row in limited.items():
        assert row.metrics == direct[key].metrics
        assert (row.map, row.tau, row.samples) == (direct[key].map, direct[key].tau,
                                                  direct[key].samples)


def test_with_scores_copies(setup: tuple[BenchmarkPlan, BenchmarkOutputs]) -> None:
    _plan, outputs = setup
    dataset = detection_set('id', IDS, outputs.splits['id_test'], 'nega_off')
    assert dataset.num_frames_with_gt == 25
    scored = with_scores(dataset, np.arange(dataset.num_detections, dtype=float))
    assert scored.scores()[-1] == dataset.num_detections - 1
    assert not dataset.scores().any()  # the original keeps its zeros
    np.testing.assert_array_equal(scored.confidences(), dataset.confidences())
    with pytest.raises(ValueError, match='scores for'):
        with_scores(dataset, np.zeros(3))
