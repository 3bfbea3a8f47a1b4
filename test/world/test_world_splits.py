"""Categories and splits: roles, vocabularies, which categories each split may show."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from negas_ros.labels import normalize_label
from negas_ros.world import (
    CATEGORIES,
    FAR_OOD,
    ID_LABELS,
    NEAR_OOD,
    PRETRAIN_VOCAB,
    SPLITS,
    TWINS,
    UNSEEN,
    UNSEEN_FAR_OOD,
    UNSEEN_NEAR_OOD,
    VALIDATION_TWINS,
    World,
)
from negas_ros.world.painters import PAINTERS

OOD_ALL = set(NEAR_OOD + FAR_OOD + UNSEEN)


def test_category_table() -> None:
    names = [c.name for c in CATEGORIES]
    assert len(names) >= 16
    assert len({normalize_label(n) for n in names}) == len(names)  # no two are one label
    assert all(n == n.lower().strip() and n.replace(' ', '').isalpha() for n in names)
    assert set(PAINTERS) == set(names)
    assert len(ID_LABELS) >= 6
    assert set(ID_LABELS) >= {'car', 'pedestrian', 'bus', 'truck', 'bicycle', 'traffic light',
                              'traffic sign'}
    groups = [ID_LABELS, NEAR_OOD, FAR_OOD, UNSEEN_NEAR_OOD, UNSEEN_FAR_OOD]
    assert sum(len(g) for g in groups) == len(names)
    assert len(set().union(*groups)) == len(names)
    assert set(PRETRAIN_VOCAB) == set(ID_LABELS + NEAR_OOD + FAR_OOD)
    assert not set(PRETRAIN_VOCAB) & set(UNSEEN)
    assert UNSEEN_NEAR_OOD and UNSEEN_FAR_OOD
    for near, twin in TWINS.items():
        assert near in NEAR_OOD + UNSEEN_NEAR_OOD and twin in ID_LABELS
    assert set(TWINS) == set(NEAR_OOD + UNSEEN_NEAR_OOD)


def test_split_vocabularies() -> None:
    ids = set(ID_LABELS)
    for name, spec in SPLITS.items():
        allowed = set(spec.categories)
        if name.startswith('ood_'):
            assert not allowed & ids, name
        if name.startswith('id_'):
            assert allowed == ids, name
        if name.startswith('pretrain'):
            assert allowed == set(PRETRAIN_VOCAB), name
    assert set(SPLITS['ood_near'].categories) == set(NEAR_OOD)
    assert set(SPLITS['ood_far'].categories) == set(FAR_OOD)
    assert set(SPLITS['ood_near_unseen'].categories) == set(UNSEEN_NEAR_OOD)
    assert set(SPLITS['ood_far_unseen'].categories) == set(UNSEEN_FAR_OOD)


def test_rendered_splits_hold_only_their_categories(world: World) -> None:
    seen: Counter[str] = Counter()
    for name, spec in SPLITS.items():
        for index in range(15):
            scene = world.render(name, index)
            categories = {o.category for o in scene.objects}
            assert scene.objects, (name, index)
            assert categories <= set(spec.categories), (name, index, categories)
            for group in spec.required:
                assert categories & set(group), (name, index)
            if name.startswith('ood_'):
                assert not categories & set(ID_LABELS)
            if name.startswith('id_'):
                assert not categories & OOD_ALL
            if name.startswith('mixed_'):
                assert categories & set(ID_LABELS) and categories & OOD_ALL
            seen.update(categories)
    assert set(seen) == {c.name for c in CATEGORIES}  # every category shows up in a scene


def test_validation_splits_are_drawn_like_their_test_twins(world: World) -> None:
    assert dict(VALIDATION_TWINS) == {
        'id_val': 'id_test', 'ood_val_near': 'ood_near', 'ood_val_far': 'ood_far',
        'ood_val_near_unseen': 'ood_near_unseen', 'ood_val_far_unseen': 'ood_far_unseen',
        'mixed_val': 'mixed_test'}
    for val, test in VALIDATION_TWINS.items():
        spec, twin = SPLITS[val], SPLITS[test]
        assert spec.name == val and spec.purpose
        # Everything but name and purpose: categories (in order), object counts, required.
        assert replace(spec, name=twin.name, purpose=twin.purpose) == twin, val
        for index in range(3):
            scene, twin_scene = world.render(val, index), world.render(test, index)
            # Different split names seed different streams: same index, another image.
            assert not np.array_equal(scene.image, twin_scene.image), (val, index)
            categories = {o.category for o in scene.objects}
            assert scene.objects and categories <= set(twin.categories), (val, index)
            assert all(categories & set(group) for group in twin.required), (val, index)
            assert scene.name.startswith(f'{val}_'), scene.name


@pytest.mark.parametrize('category', [c.name for c in CATEGORIES])
def test_every_category_renders_alone(world: World, category: str) -> None:
    scene = world.render_category(category, 0, (160, 160))
    assert [o.category for o in scene.objects] == [category]
    obj = scene.objects[0]
    x1, y1, x2, y2 = obj.box
    assert max(x2 - x1, y2 - y1) + 1 > 0.4 * 160  # large enough to see
    assert np.count_nonzero(scene.instance_map == obj.id) > 100
    attrs = obj.label()['attributes']
    if category == 'traffic light':
        assert attrs['trafficLightColor'] in ('R', 'Y', 'G')
    else:
        assert attrs['trafficLightColor'] == 'NA'
