"""Named image streams of the world and which categories each may contain.

Every split draws scenes from the *same* distribution of streets, weather, lighting, clutter,
camera and object count; only the allowed categories differ. So nothing but the objects tells
an OOD image from an ID one (no background shortcut), as in the VOS protocol where ID and OOD
images are both natural street/COCO photos.

Why these splits:

- ``pretrain`` / ``pretrain_val``: the "web-scale" data of the mini VLM. All
  :data:`PRETRAIN_VOCAB` categories (ID plus the *known* near- and far-OOD ones), every object
  labelled, as grounding data is. The held-out categories never appear, not even unlabelled,
  so that they are truly unseen.
- ``id_train`` / ``id_val`` / ``id_test``: BDD100K-like images with ID objects only (plus
  unlabelled background clutter). ``id_val`` is where thresholds and negative labels may be
  tuned; ``id_test`` is the ID side of the benchmark (mAP, the F1-optimal threshold, the 95%
  TPR point).
- ``ood_near`` / ``ood_far``: OOD test images holding no ID object, with known near- or far-OOD
  categories only, like COCO/OpenImages images filtered to have no BDD100K class.
- ``ood_near_unseen`` / ``ood_far_unseen``: the same with the held-out categories only; a
  negative-label miner working from the pretraining vocabulary cannot name them.
- ``mixed_test``: deployment-like scenes with at least one ID and one OOD object (known or
  unseen), for per-box open-set evaluation and for measuring where attention goes while ID
  objects compete for it.
- ``ood_val_near`` / ``ood_val_far`` / ``ood_val_near_unseen`` / ``ood_val_far_unseen`` /
  ``mixed_val``: validation twins of the OOD and mixed test splits (with ``id_val``, the twin
  of ``id_test``; :data:`VALIDATION_TWINS`). Each is drawn exactly like its test twin (same
  categories, object counts and required groups: only name and purpose differ), so every
  tuning choice (negative list, NegA rule and weight, score form, thresholds) can be made on
  them and the test splits kept for reporting only.

An image is a pure function of (world seed, split name, index), so that split streams never
overlap and any image can be regenerated alone. That is also what keeps a validation split
disjoint from its test twin: the split name is hashed into the image's seed, so ``ood_val_near``
and ``ood_near`` are two independent streams of the same distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from negas_ros.world.categories import (
    FAR_OOD,
    ID_LABELS,
    NEAR_OOD,
    PRETRAIN_VOCAB,
    UNSEEN,
    UNSEEN_FAR_OOD,
    UNSEEN_NEAR_OOD,
)

__all__ = ['SPLITS', 'VALIDATION_TWINS', 'SplitSpec']


@dataclass(frozen=True)
class SplitSpec:
    """One split.

    categories: the categories its objects are drawn from (uniformly).
    min_objects, max_objects: objects per image (inclusive), before occlusion culling.
    required: groups of categories; each image holds at least one object of every group.
    purpose: one line for the documentation.
    """

    name: str
    categories: tuple[str, ...]
    min_objects: int
    max_objects: int
    required: tuple[tuple[str, ...], ...]
    purpose: str

    def __post_init__(self) -> None:
        if not self.categories:
            raise ValueError(f'split {self.name!r} has no categories')
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(f'split {self.name!r}: need 1 <= min_objects <= max_objects')
        for group in self.required:
            if not set(group) <= set(self.categories):
                raise ValueError(f'split {self.name!r}: required group {group} not allowed')


_OOD_ANY = NEAR_OOD + FAR_OOD + UNSEEN


def _spec(name: str, categories: tuple[str, ...], purpose: str,
          required: tuple[tuple[str, ...], ...] = (), lo: int = 2, hi: int = 8) -> SplitSpec:
    return SplitSpec(name, categories, lo, hi, required or (categories,), purpose)


_TEST_SPECS = (
    _spec('ood_near', NEAR_OOD, 'near-OOD test images: known near-OOD categories, no ID'),
    _spec('ood_far', FAR_OOD, 'far-OOD test images: known far-OOD categories, no ID'),
    _spec('ood_near_unseen', UNSEEN_NEAR_OOD,
          'near-OOD test images: categories never seen in pretraining, no ID'),
    _spec('ood_far_unseen', UNSEEN_FAR_OOD,
          'far-OOD test images: categories never seen in pretraining, no ID'),
    _spec('mixed_test', ID_LABELS + _OOD_ANY,
          'open-world scenes: at least one ID and one OOD object',
          required=(ID_LABELS, _OOD_ANY), lo=3, hi=9),
)

VALIDATION_TWINS: Mapping[str, str] = {
    'id_val': 'id_test',
    'ood_val_near': 'ood_near',
    'ood_val_far': 'ood_far',
    'ood_val_near_unseen': 'ood_near_unseen',
    'ood_val_far_unseen': 'ood_far_unseen',
    'mixed_val': 'mixed_test',
}
"""Validation split -> the test split it is drawn like (same spec but for name and purpose)."""

_TEST_BY_NAME = {s.name: s for s in _TEST_SPECS}
# id_val predates the other validation splits and stands with the ID splits below (its spec is
# id_test's); the others are derived from their test twins here, so the two cannot drift apart.
_VAL_SPECS = tuple(
    replace(_TEST_BY_NAME[test], name=val,
            purpose=_TEST_BY_NAME[test].purpose.replace(' test images', ' validation images')
            + f' (tuning twin of {test})')
    for val, test in VALIDATION_TWINS.items() if test in _TEST_BY_NAME)

SPLITS: Mapping[str, SplitSpec] = {
    s.name: s for s in (
        _spec('pretrain', PRETRAIN_VOCAB, 'pretraining the mini VLM (all seen categories)',
              lo=3, hi=10),
        _spec('pretrain_val', PRETRAIN_VOCAB, 'validation of pretraining', lo=3, hi=10),
        _spec('id_train', ID_LABELS, 'ID images (ID objects only) for fine-tuning/calibration'),
        _spec('id_val', ID_LABELS, 'ID validation: thresholds, negative-label selection'),
        _spec('id_test', ID_LABELS, 'ID side of the OOD benchmark and the ID mAP'),
        *_TEST_SPECS,
        *_VAL_SPECS,
    )
}
"""Split name -> :class:`SplitSpec`."""
