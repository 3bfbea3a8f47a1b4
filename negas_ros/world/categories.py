"""The world's object categories and their roles in the benchmark (pure data, no drawing).

Roles mirror open-vocabulary OOD detection on BDD100K:

- ``id``: the in-distribution label set a user would prompt with (BDD100K-like).
- ``near``: near-OOD, each designed as the visual twin of one ID category (same silhouette
  family, related colours) but a different thing: the hard case NegAS targets.
- ``far``: far-OOD, visually unlike every ID category.

``seen`` says whether a category is in the pretraining vocabulary (the VLM's world knowledge).
Real OOD benchmarks take OOD objects from COCO/OpenImages, whose classes a VLM *has* seen, so
most OOD categories here are seen. A few are held out of pretraining altogether (never drawn
in a pretraining image, never a text label): they test whether a method flags objects the
detector has no name for, and they cannot be picked as negative labels by a miner that only
knows the pretraining vocabulary, which keeps one benchmark honest even if the known near-OOD
names leak into the negatives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    'CATEGORIES',
    'CATEGORY_BY_NAME',
    'FAR_OOD',
    'ID_LABELS',
    'NEAR_OOD',
    'PRETRAIN_VOCAB',
    'TWINS',
    'UNSEEN',
    'UNSEEN_FAR_OOD',
    'UNSEEN_NEAR_OOD',
    'Category',
    'Role',
    'Zone',
]

Role = Literal['id', 'near', 'far']
Zone = Literal['road', 'sidewalk', 'any']


@dataclass(frozen=True)
class Category:
    """One object category.

    name: the text label (a real English noun phrase, for the detector's text encoder).
    role: ``'id'``, ``'near'`` (near-OOD) or ``'far'`` (far-OOD).
    seen: True if in :data:`PRETRAIN_VOCAB`.
    twin: for near-OOD, the ID category it is designed to resemble; otherwise None.
    look: how it is drawn (silhouette, palette, texture), for the documentation.
    zone: where it stands: on the road, on a sidewalk, or either.
    size_m: nominal (width, height) in metres of the side view, used for placement bounds
        (painters vary around it).
    depth_m: ground footprint along the viewing direction, to keep objects from interpenetrating.
    """

    name: str
    role: Role
    seen: bool
    twin: str | None
    look: str
    zone: Zone
    size_m: tuple[float, float]
    depth_m: float


CATEGORIES: tuple[Category, ...] = (
    # --- ID: BDD100K-like classes ---------------------------------------------------------
    Category('car', 'id', True, None,
             'saloon, hatchback or SUV, side view: body, glass cabin, two wheels; many paint '
             'colours, glossy', 'road', (4.4, 1.55), 1.8),
    Category('pedestrian', 'id', True, None,
             'walking person: skin-tone head with hair, coloured shirt, trousers or dress, '
             'swinging limbs, sometimes a bag', 'any', (0.6, 1.75), 0.5),
    Category('bus', 'id', True, None,
             'long single-deck box on two wheels, row of dark windows, doors, route sign',
             'road', (11.0, 3.1), 2.5),
    Category('truck', 'id', True, None,
             'cab with windscreen plus cargo box (often with a logo) or dump bed, three wheels',
             'road',
             (7.5, 3.4), 2.5),
    Category('bicycle', 'id', True, None,
             'two equal spoked wheels, diamond frame, saddle and handlebar', 'any',
             (1.75, 1.05), 0.6),
    Category('traffic light', 'id', True, None,
             'pole with a dark three-lamp housing, one lamp lit red, amber or green', 'sidewalk',
             (0.4, 3.6), 0.4),
    Category('traffic sign', 'id', True, None,
             'thin pole with a small disc, triangle, octagon, diamond or square plate',
             'sidewalk', (0.75, 2.9), 0.3),
    # --- near-OOD, in the pretraining vocabulary -----------------------------------------
    Category('golf cart', 'near', True, 'car',
             'short low body, open or curtained sides, canopy roof on thin posts, bench '
             'seats, small wheels', 'road', (3.2, 1.8), 1.3),
    Category('mannequin', 'near', True, 'pedestrian',
             'human figure with plastic head and hands, no hair, often dressed, stiff pose, on '
             'a stand', 'any',
             (0.55, 1.8), 0.5),
    Category('tram', 'near', True, 'bus',
             'longer articulated box, skirt hiding the wheels, pantograph on the roof, '
             'two-tone paint', 'road', (16.0, 4.2), 2.6),
    Category('tractor', 'near', True, 'truck',
             'huge rear wheel, small front wheel, glass cab, engine hood, exhaust stack',
             'road', (3.9, 2.8), 2.2),
    Category('wheelchair', 'near', True, 'bicycle',
             'one big spoked wheel, small caster, seat with backrest and push handles', 'any',
             (1.0, 0.95), 0.7),
    Category('lamp post', 'near', True, 'traffic light',
             'taller pole with a single warm lamp: lantern, globe or arm-mounted head',
             'sidewalk', (0.9, 4.9), 0.4),
    Category('billboard', 'near', True, 'traffic sign',
             'wide advertising panel on one or two posts: vivid background, logo disc, text '
             'bars', 'sidewalk', (3.0, 4.7), 0.4),
    # --- far-OOD, in the pretraining vocabulary ------------------------------------------
    Category('dog', 'far', True, None,
             'four-legged animal: body, head with snout and ears, tail; furry browns',
             'any', (0.85, 0.65), 0.35),
    Category('bench', 'far', True, None,
             'wooden or painted slats on two cast-iron side frames', 'sidewalk', (1.8, 0.9),
             0.6),
    Category('fire hydrant', 'far', True, None,
             'short red or yellow barrel with dome bonnet and side nozzles', 'sidewalk',
             (0.45, 0.75), 0.4),
    Category('potted plant', 'far', True, None,
             'terracotta or concrete pot with a mound of green foliage', 'sidewalk',
             (0.8, 1.2), 0.6),
    # --- held out of pretraining ---------------------------------------------------------
    Category('statue', 'near', False, 'pedestrian',
             'human figure in stone, bronze or verdigris with one arm raised, on a pedestal',
             'sidewalk', (0.8, 2.9), 0.9),
    Category('forklift', 'near', False, 'truck',
             'compact body, overhead guard, mast with forks at the front, small wheels', 'road',
             (2.9, 2.3), 1.2),
    Category('scooter', 'near', False, 'bicycle',
             'e-scooter: two small wheels, low deck, tall steering column with T bar, '
             'sometimes a saddle', 'any', (1.3, 1.05), 0.4),
    Category('suitcase', 'far', False, None,
             'rounded box with ribs, extended trolley handle, small wheels', 'any',
             (0.5, 1.1), 0.3),
    Category('trash can', 'far', False, None,
             'ribbed cylinder with a wider lid, green, grey, blue or brown', 'sidewalk',
             (0.6, 1.0), 0.6),
)

CATEGORY_BY_NAME: Mapping[str, Category] = {c.name: c for c in CATEGORIES}


def _names(role: Role, seen: bool) -> tuple[str, ...]:
    return tuple(c.name for c in CATEGORIES if c.role == role and c.seen == seen)


ID_LABELS: tuple[str, ...] = _names('id', True)
"""The in-distribution label set (7 BDD100K-like classes), in class-index order."""
NEAR_OOD: tuple[str, ...] = _names('near', True)
"""Near-OOD categories the VLM knows (in the pretraining vocabulary)."""
FAR_OOD: tuple[str, ...] = _names('far', True)
"""Far-OOD categories the VLM knows."""
UNSEEN_NEAR_OOD: tuple[str, ...] = _names('near', False)
"""Near-OOD categories held out of pretraining."""
UNSEEN_FAR_OOD: tuple[str, ...] = _names('far', False)
"""Far-OOD categories held out of pretraining."""
UNSEEN: tuple[str, ...] = UNSEEN_NEAR_OOD + UNSEEN_FAR_OOD
PRETRAIN_VOCAB: tuple[str, ...] = ID_LABELS + NEAR_OOD + FAR_OOD
"""Everything the mini VLM is pretrained on: ID plus the known OOD categories."""
TWINS: Mapping[str, str] = {c.name: c.twin for c in CATEGORIES if c.twin is not None}
"""Near-OOD category -> the ID category it is designed to resemble."""
