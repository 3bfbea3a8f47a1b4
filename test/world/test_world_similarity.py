"""Near-OOD twins are measurably closer to their ID twin than far-OOD categories are."""

from __future__ import annotations

import numpy as np

from negas_ros.world import FAR_OOD, ID_LABELS, TWINS, UNSEEN_FAR_OOD
from negas_ros.world.similarity import category_distances, twin_margins


def test_near_ood_twins_are_closer_than_any_far_ood_category() -> None:
    names, distances = category_distances(samples=24, seed=0)
    assert np.allclose(distances, distances.T)
    margins = twin_margins(names, distances)
    assert {m.category for m in margins} == set(TWINS)
    failures = [m for m in margins if not m.to_twin < m.nearest_far]
    assert not failures, failures
    # And on average by a clear margin: near-twin distances vs every far-OOD-to-ID distance.
    index = {n: k for k, n in enumerate(names)}
    near = [distances[index[n], index[t]] for n, t in TWINS.items()]
    far = [distances[index[f], index[i]] for f in FAR_OOD + UNSEEN_FAR_OOD for i in ID_LABELS]
    assert np.mean(near) < 0.85 * np.mean(far)
