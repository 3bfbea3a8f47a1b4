"""The text-encoder report's measures against references (scipy, hand-made embeddings)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from negas_ros.train.text_report import nearest_neighbours, spearman


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.integers(0, 6, size=30).astype(float)  # many ties
        b = a + rng.normal(size=30)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert np.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError):
        spearman([1.0], [2.0])


def test_nearest_neighbours_rank_by_cosine_excluding_self() -> None:
    words = ['car', 'golf cart', 'dog', 'bench']
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]]) * np.array([[3.0], [1.0],
                                                                              [2.0], [5.0]])
    table = nearest_neighbours(words, emb, 2).table
    assert [w for w, _ in table['car']] == ['golf cart', 'bench']
    assert table['car'][0][1] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    among = nearest_neighbours(words, emb, 3, among=['dog', 'bench']).table
    assert [w for w, _ in among['dog']] == ['bench']  # itself excluded
    with pytest.raises(ValueError, match='not embedded'):
        nearest_neighbours(words, emb, 1, among=['tram'])
