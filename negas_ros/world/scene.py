"""Composing a scene: placing objects and clutter in depth, occlusion, labels and masks.

Objects stand on the ground plane at sampled (X, Z). They are painted far to near, so nearer
objects hide farther ones; a first pass over the masks measures how much of each object stays
visible, objects hidden too much are removed before painting (every painted object is
labelled), and the final instance map gives each object's visible pixels and its tight box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
import math
from typing import Any
import zlib

import numpy as np
import numpy.typing as npt

from negas_ros.world.background import (
    Camera,
    Conditions,
    GroundRect,
    Street,
    paint_background,
    sample_camera,
    sample_conditions,
    sample_street,
)
from negas_ros.world.canvas import Sprite
from negas_ros.world.categories import CATEGORY_BY_NAME
from negas_ros.world.clutter import CLUTTER
from negas_ros.world.det20 import TIMESTAMP_MS, frame_dict
from negas_ros.world.lighting import apply_conditions, fog_background, fog_colour, fog_sprite_alpha
from negas_ros.world.painters import paint
from negas_ros.world.splits import SPLITS, SplitSpec
from negas_ros.world.textures import TextureBank

__all__ = ['DEFAULT_SIZE', 'Scene', 'SceneObject', 'World']

RgbImage = npt.NDArray[np.uint8]
BoolImage = npt.NDArray[np.bool_]
IdImage = npt.NDArray[np.int32]
Rng = np.random.Generator

DEFAULT_SIZE = (320, 320)
"""(width, height) of a render unless another size is asked for."""

_MIN_VISIBLE_PX = 16  # fewer visible pixels than this: not a detectable object, not drawn
_MIN_VISIBLE_OF_IN_IMAGE = 0.3  # hidden more than 70% by nearer things: removed
_MIN_IN_IMAGE = 0.25  # more than 75% outside the frame: removed
_OCCLUDED_BELOW = 0.9  # det_20 occluded: less than 90% of the in-frame part visible
_MAX_SIDE = 4096


@dataclass(frozen=True)
class SceneObject:
    """One labelled object of a scene.

    id: its value in :attr:`Scene.instance_map` (1..N, far to near) and its det_20 label id.
    category: the category name.
    box: (x1, y1, x2, y2) tight box of its visible pixels, inclusive pixel indices.
    visible_fraction: visible pixels / all pixels of the object, in (0, 1] (occlusion and
        truncation by the frame together).
    occluded: nearer things hide more than 10% of its in-frame part.
    truncated: part of it lies outside the frame.
    depth_m: its distance from the camera along the street, metres.
    attributes: extra det_20 attributes the painter set (``trafficLightColor``).
    track_id: in a video frame (:meth:`World.render_video`), the object's identity, the same
        in every frame of its sequence and its label id there; 0 in a still image.
    """

    id: int
    category: str
    box: tuple[int, int, int, int]
    visible_fraction: float
    occluded: bool
    truncated: bool
    depth_m: float
    attributes: Mapping[str, str]
    track_id: int = 0

    def label(self) -> dict[str, Any]:
        """This object as a det_20 label (see :mod:`negas_ros.world.det20`); in a video frame
        its id is the track id, as in BDD100K's tracking labels."""
        x1, y1, x2, y2 = self.box
        return {
            'id': str(self.track_id or self.id),
            'category': self.category,
            'attributes': {
                'occluded': self.occluded,
                'truncated': self.truncated,
                'trafficLightColor': self.attributes.get('trafficLightColor', 'NA'),
                'visibility': round(self.visible_fraction, 4),
            },
            'box2d': {'x1': float(x1), 'y1': float(y1), 'x2': float(x2), 'y2': float(y2)},
        }


@dataclass(frozen=True)
class Scene:
    """One rendered image with its ground truth.

    image: (H, W, 3) uint8 RGB.
    instance_map: (H, W) int32; 0 is background (clutter included), k is ``objects[k - 1]``.
    objects: the labelled objects, ordered by id.
    frame_label: the det_20 frame (:func:`negas_ros.world.det20.frame_dict`).
    """

    split: str
    index: int
    image: RgbImage
    instance_map: IdImage
    objects: tuple[SceneObject, ...]
    frame_label: dict[str, Any]

    @property
    def name(self) -> str:
        """The image file name, ``<split>_<index:06d>.jpg``."""
        return str(self.frame_label['name'])

    def masks(self) -> BoolImage:
        """(N, H, W) bool visible-pixel masks, one per object in id order."""
        ids = np.arange(1, len(self.objects) + 1, dtype=np.int32)
        return np.asarray(self.instance_map[None, :, :] == ids[:, None, None], np.bool_)


@dataclass
class _Item:
    """A placed sprite: an object (category set) or clutter (category None)."""

    category: str | None
    x: float
    z: float
    sprite: Sprite
    left: int  # image column of the sprite's first column
    top: int  # image row of the sprite's first row
    track: int = 0  # identity across the frames of a video (0: a still image)


class World:
    """A seeded procedural street world.

    ``World(seed).render(split, index)`` is a pure function of (seed, split, index, size):
    rendering it again, in any order or process, gives identical bytes. Texture tiles are
    built once per World (about 0.1 s).
    """

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f'seed must be a non-negative int, got {seed!r}')
        self.seed = seed
        self._bank = TextureBank(seed)

    def render(self, split: str, index: int,
               size: tuple[int, int] = DEFAULT_SIZE) -> Scene:
        """Image ``index`` (>= 0) of ``split`` (a key of :data:`SPLITS`), ``size`` = (W, H)."""
        spec, width, height = _check_request(split, index, size)
        scene_rng, layout_rng, clutter_rng, light_rng = self._rngs(split, index)
        camera, street, cond, background, glow, shadows = self._street(width, height, scene_rng)
        # Re-draw the layout until every required group survives culling (almost always the
        # first time); then fall back to the required objects alone, without clutter.
        for attempt in range(40):
            bare = attempt >= 8
            objects = self._layout(spec, camera, street, layout_rng, bare=bare)
            clutter = [] if bare else self._clutter(camera, street, clutter_rng, objects)
            items = _cull(clutter + objects, camera)
            present = {item.category for item in items}
            if all(present & set(group) for group in spec.required):
                break
        else:
            raise RuntimeError(f'{split} #{index}: no layout holds every required category')
        return self._compose(split, index, camera, street, cond, background, glow, shadows,
                             items, light_rng)

    def render_category(self, category: str, index: int = 0,
                        size: tuple[int, int] = DEFAULT_SIZE) -> Scene:
        """One instance of ``category``, large and centred on an uncluttered daytime street:
        the "what does it look like" view used by the preview sheet. Split name
        ``category:<name>``."""
        info = CATEGORY_BY_NAME.get(category)
        if info is None:
            raise ValueError(f'unknown category {category!r}')
        width, height = _check_size(size)
        split = f'category:{category}'
        scene_rng, layout_rng, _clutter_rng, light_rng = self._rngs(split, index)
        camera = sample_camera(width, height, scene_rng)
        street = sample_street(scene_rng)
        cond = sample_conditions(scene_rng)
        while cond.timeofday != 'daytime' or cond.weather in ('rainy', 'foggy'):
            cond = sample_conditions(scene_rng)
        # Measure this instance first (same draws at a reference scale), then frame it; small
        # things are seen from a low, robot-height camera so that they can fill the view.
        probe_rng = np.random.Generator(np.random.PCG64())
        probe_rng.bit_generator.state = layout_rng.bit_generator.state
        probe = paint(category, probe_rng, 100.0, self._bank)
        h_m, w_m = probe.mask.shape[0] / 100.0, probe.mask.shape[1] / 100.0
        camera = replace(camera, cam_height=min(camera.cam_height, max(0.45, 0.8 * h_m)))
        background, glow, shadows = paint_background(camera, street, cond, scene_rng,
                                                     self._bank)
        z = max(camera.focal * h_m / (0.7 * height), camera.focal * w_m / (0.85 * width),
                camera.focal * camera.cam_height / (0.95 * height - camera.horizon))
        if h_m > camera.cam_height:  # keep the top in the frame
            z = max(z, camera.focal * (h_m - camera.cam_height) / (camera.horizon - 0.05 * height))
        x = (width / 2 - camera.cx) * z / camera.focal
        item = self._item(category, x, z, camera, layout_rng)
        return self._compose(split, index, camera, street, cond, background, glow, shadows,
                             [item], light_rng)

    def render_video(self, split: str, index: int, frames: int = 60,
                     size: tuple[int, int] = DEFAULT_SIZE, fps: float = 30.0) -> list[Scene]:
        """Video ``index`` of ``split``: ``frames`` consecutive frames at ``fps``.

        One layout of the split (objects drawn as in :meth:`render`, from a stream of its own,
        so videos never repeat still images) seen from a camera driving forward at 0-4 m/s.
        Road objects drive along the street (-1..6 m/s), others walk across it (up to 1.2 m/s)
        or stand; static street furniture (traffic lights and signs, lamp posts, billboards,
        benches, hydrants, plants, statues, trash cans) never moves. Each object keeps its
        sprite, rescaled with its distance; its ``track_id`` (and det_20 label id) is the same
        in every frame. An object leaves the labels while culled (mostly hidden, out of the
        frame, or passed by the camera) and comes back with its id. Conditions and the street
        stay fixed; the street texture does not scroll (ego motion shows in the objects).
        The video is named ``<split>_v<index:04d>`` and its frames as BDD100K names video
        frames, ``<video>-<frame + 1:07d>.jpg``; each det_20 frame also holds BDD100K's
        ``videoName`` and ``frameIndex`` and a ``timestamp`` of ``10000 + 1000 t / fps`` ms.
        """
        spec, width, height = _check_request(split, index, size)
        if not isinstance(frames, int) or frames < 1:
            raise ValueError(f'frames must be a positive int, got {frames!r}')
        if not fps > 0:
            raise ValueError(f'fps must be positive, got {fps!r}')
        video = f'video:{split}'
        scene_rng, layout_rng, clutter_rng, light_rng = self._rngs(video, index)
        camera, street, cond, background, glow, shadows = self._street(width, height, scene_rng)
        objects = self._layout(spec, camera, street, layout_rng)
        clutter = self._clutter(camera, street, clutter_rng, objects)
        for track, item in enumerate(objects, start=1):
            item.track = track
        motion_rng = np.random.default_rng(layout_rng.integers(2**63))
        ego = float(motion_rng.uniform(0.0, 4.0))
        velocity = [_object_velocity(item.category, motion_rng) for item in objects]
        dt = 1.0 / fps
        name = f'{split}_v{index:04d}'.replace(':', '_').replace(' ', '_')
        scenes = []
        for t in range(frames):
            moved = [_moved(item, camera, vx * t * dt, (vz - ego) * t * dt)
                     for item, (vx, vz) in zip(objects, velocity, strict=True)]
            still = [_moved(item, camera, 0.0, -ego * t * dt) for item in clutter]
            items = _cull([i for i in still + moved if i is not None], camera)
            frame_rng = np.random.default_rng([int(light_rng.integers(2**63)), t])
            # _compose paints into the background it is given: each frame gets a copy.
            scene = self._compose(split, index, camera, street, cond, background.copy(), glow,
                                  shadows, items, frame_rng)
            label = {**scene.frame_label, 'name': f'{name}-{t + 1:07d}.jpg', 'videoName': name,
                     'frameIndex': t, 'timestamp': TIMESTAMP_MS + round(1000.0 * t / fps)}
            scenes.append(replace(scene, frame_label=label))
        return scenes

    # ---- internals --------------------------------------------------------------------------

    def _street(self, width: int, height: int, rng: Rng) -> tuple[
            Camera, Street, Conditions, RgbImage, BoolImage, list[GroundRect]]:
        """Camera, street, conditions and the painted empty street (background, glow mask,
        shadow areas), drawn from ``rng`` in that order."""
        camera = sample_camera(width, height, rng)
        street = sample_street(rng)
        cond = sample_conditions(rng)
        background, glow, shadows = paint_background(camera, street, cond, rng, self._bank)
        return camera, street, cond, background, glow, shadows

    def _rngs(self, split: str, index: int) -> list[Rng]:
        # crc32, not hash(): stable across processes and Python versions.
        root = np.random.SeedSequence([self.seed, zlib.crc32(split.encode()), index])
        return [np.random.default_rng(child) for child in root.spawn(4)]

    def _item(self, category: str | None, x: float, z: float, camera: Camera, rng: Rng,
              kind: str | None = None) -> _Item:
        if category is not None:
            sprite = paint(category, rng, camera.ppm(z), self._bank)
        else:
            painter, _depth = CLUTTER[kind or 'tree']
            sprite = painter(rng, camera.ppm(z), self._bank)
        if rng.random() < 0.5:
            sprite = sprite.flipped()
        foot_x, foot_y = camera.project(x, 0.0, z)
        return _Item(category, x, z, sprite, round(foot_x - sprite.foot[0]),
                     round(foot_y - sprite.foot[1]))

    def _layout(self, spec: SplitSpec, camera: Camera, street: Street, rng: Rng,
                bare: bool = False) -> list[_Item]:
        """Place a random number of objects, one of each required group first (only those
        when ``bare``)."""
        count = int(rng.integers(spec.min_objects, spec.max_objects + 1))
        names = [str(rng.choice(group)) for group in spec.required]
        if not bare:
            names += [str(rng.choice(spec.categories)) for _ in range(max(count - len(names), 0))]
        items: list[_Item] = []
        for name in names:
            info = CATEGORY_BY_NAME[name]
            spot = _find_spot(camera, street, info.zone, info.size_m, info.depth_m, items, rng)
            if spot is not None:
                items.append(self._item(name, spot[0], spot[1], camera, rng))
        return items

    def _clutter(self, camera: Camera, street: Street, rng: Rng,
                 objects: Sequence[_Item]) -> list[_Item]:
        items: list[_Item] = []
        kinds = list(CLUTTER)
        for _ in range(int(rng.integers(2, 8))):
            kind = kinds[int(rng.integers(len(kinds)))]
            _painter, depth = CLUTTER[kind]
            size = (2.0, 4.0) if kind in ('tree', 'pole') else (1.5, 1.2)
            spot = _find_spot(camera, street, 'sidewalk', size, depth, [*objects, *items], rng,
                              strict_zone=True)
            if spot is not None:
                items.append(self._item(None, spot[0], spot[1], camera, rng, kind))
        return items

    def _compose(self, split: str, index: int, camera: Camera, street: Street,
                 cond: Conditions, background: RgbImage, glow: BoolImage,
                 shadows: Sequence[GroundRect], items: Sequence[_Item], rng: Rng) -> Scene:
        img = fog_background(background, camera, cond)
        glow = glow.copy()
        height, width = img.shape[:2]
        instance_map = np.zeros((height, width), np.int32)
        order = sorted(range(len(items)), key=lambda k: (-items[k].z, k))
        objects: list[tuple[int, _Item]] = []
        fog = np.asarray(fog_colour(cond), np.float32)
        contact = cond.shadow if cond.timeofday != 'night' else 0.85
        for k in order:
            item = items[k]
            window = _window(item, width, height)
            if window is None:
                continue
            (ys, xs), (sy, sx) = window
            sprite = item.sprite
            _contact_shadow(img, camera, item, contact)
            rgb = sprite.rgb[sy, sx].astype(np.float32)
            factor = next((r.factor for r in shadows if r.contains(item.x, item.z)), 1.0)
            alpha = fog_sprite_alpha(cond, item.z)
            rgb = rgb * np.float32(factor * (1 - alpha)) + fog * np.float32(alpha)
            mask = sprite.mask[sy, sx]
            img[ys, xs][mask] = rgb.astype(np.uint8)[mask]
            glow[ys, xs][mask] = sprite.glow[sy, sx][mask]
            if item.category is None:
                instance_map[ys, xs][mask] = 0
            else:
                objects.append((len(objects) + 1, item))
                instance_map[ys, xs][mask] = len(objects)
        image = apply_conditions(img, glow, cond, rng, self._bank)
        counts = np.bincount(instance_map.ravel(), minlength=len(objects) + 1)
        scene_objects = []
        for object_id, item in objects:
            visible = int(counts[object_id])
            window = _window(item, width, height)
            if visible == 0 or window is None:  # cannot happen after culling; be safe
                instance_map[instance_map == object_id] = 0
                continue
            (ys, xs), (sy, sx) = window
            total = int(item.sprite.mask.sum())
            in_frame = int(item.sprite.mask[sy, sx].sum())
            rows, cols = np.nonzero(instance_map[ys, xs] == object_id)
            box = (int(cols.min()) + xs.start, int(rows.min()) + ys.start,
                   int(cols.max()) + xs.start, int(rows.max()) + ys.start)
            assert item.category is not None
            scene_objects.append(SceneObject(
                id=object_id, category=item.category, box=box,
                visible_fraction=visible / total,
                occluded=visible < _OCCLUDED_BELOW * in_frame,
                truncated=in_frame < total, depth_m=round(item.z, 3),
                attributes=dict(item.sprite.attributes), track_id=item.track))
        name = f'{split}_{index:06d}.jpg'.replace(':', '_').replace(' ', '_')
        frame = frame_dict(name, cond.weather, street.scene, cond.timeofday,
                           [o.label() for o in scene_objects])
        return Scene(split, index, image, instance_map, tuple(scene_objects), frame)


# ---- helpers ---------------------------------------------------------------------------------

# Street furniture: never moves in a video.
_STATIC = frozenset({'traffic light', 'traffic sign', 'lamp post', 'billboard', 'bench',
                     'fire hydrant', 'potted plant', 'statue', 'trash can'})
_NEAREST_M = 2.0  # an object nearer than this has been passed by the camera


def _object_velocity(category: str | None, rng: Rng) -> tuple[float, float]:
    """(across, along) the street in m/s, relative to the ground."""
    if category is None or category in _STATIC:
        return 0.0, 0.0
    if CATEGORY_BY_NAME[category].zone == 'road':
        return 0.0, float(rng.uniform(-1.0, 6.0))
    if rng.random() < 0.4:
        return 0.0, 0.0
    return float(rng.uniform(-1.2, 1.2)), 0.0


def _moved(item: _Item, camera: Camera, dx: float, dz: float) -> _Item | None:
    """The item shifted by (dx, dz) metres, its sprite rescaled; None once passed."""
    import cv2

    z = item.z + dz
    if z < _NEAREST_M:
        return None
    sprite = item.sprite
    if dz != 0.0:
        scale = item.z / z
        h, w = sprite.mask.shape
        new_w, new_h = max(round(w * scale), 1), max(round(h * scale), 1)
        if new_w * new_h > 4 * camera.width * camera.height:
            return None
        sprite = Sprite(
            np.asarray(cv2.resize(sprite.rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR),
                       np.uint8),
            cv2.resize(sprite.mask.view(np.uint8), (new_w, new_h),
                       interpolation=cv2.INTER_NEAREST).astype(bool),
            cv2.resize(sprite.glow.view(np.uint8), (new_w, new_h),
                       interpolation=cv2.INTER_NEAREST).astype(bool),
            (sprite.foot[0] * new_w / w, sprite.foot[1] * new_h / h), dict(sprite.attributes))
    x = item.x + dx
    foot_x, foot_y = camera.project(x, 0.0, z)
    return _Item(item.category, x, z, sprite, round(foot_x - sprite.foot[0]),
                 round(foot_y - sprite.foot[1]), item.track)



def _check_request(split: str, index: int,
                   size: tuple[int, int]) -> tuple[SplitSpec, int, int]:
    """The split's spec and (width, height), or ValueError naming the bad argument."""
    spec = SPLITS.get(split)
    if spec is None:
        raise ValueError(f'unknown split {split!r}; known: {", ".join(SPLITS)}')
    width, height = _check_size(size)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f'index must be a non-negative int, got {index!r}')
    return spec, width, height


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f'size must be (width, height), got {size!r}') from None
    if not (32 <= width <= _MAX_SIDE and 32 <= height <= _MAX_SIDE):
        raise ValueError(f'size {width}x{height} outside 32..{_MAX_SIDE} pixels per side')
    return width, height


def _depth_range(camera: Camera, size_m: tuple[float, float]) -> tuple[float, float]:
    """Depths at which an object of nominal size fits: feet at most just below the frame,
    at most 3/4 of the image tall and 9/10 wide, no farther than 80 m."""
    width_m, height_m = size_m
    f, w, h = camera.focal, camera.width, camera.height
    z_min = max(3.0, 0.95 * f * camera.cam_height / (h - camera.horizon),
                f * height_m / (0.75 * h), f * width_m / (0.9 * w))
    return z_min, max(80.0, 1.1 * z_min)


def _find_spot(camera: Camera, street: Street, zone: str, size_m: tuple[float, float],
               depth_m: float, placed: Sequence[_Item], rng: Rng,
               strict_zone: bool = False) -> tuple[float, float] | None:
    """A ground position (X, Z) whose foot is in the frame and whose footprint does not
    intersect a placed item's; None after 40 tries.

    The depth comes from an apparent height drawn log-uniformly between 5% and 55% of the
    image height, so that every category shows a similar spread of pixel sizes (a hydrant is
    then nearer than a bus of the same height in pixels, as perspective demands): otherwise
    small categories would only ever be tiny and size alone would separate ID from OOD. X is
    drawn from the part of the zone in view at that depth; where none of the zone is in view
    (a nearby sidewalk lies outside the field of view) the object stands anywhere in view
    instead, unless ``strict_zone``, so that the zone never biases the size.
    """
    z_min, z_max = _depth_range(camera, size_m)
    half = size_m[0] / 2
    zones = street.zone_intervals(zone)
    for _ in range(40):
        apparent = camera.height * math.exp(float(rng.uniform(math.log(0.05), math.log(0.55))))
        z = min(max(camera.focal * size_m[1] / apparent, z_min), z_max)
        lo = -camera.cx * z / camera.focal
        hi = (camera.width - 1 - camera.cx) * z / camera.focal
        spans = [(max(a, lo), min(b, hi)) for a, b in zones if max(a, lo) < min(b, hi)]
        if not spans:
            if strict_zone:
                continue
            spans = [(lo, hi)]
        lengths = np.array([b - a for a, b in spans])
        a, b = spans[int(rng.choice(len(spans), p=lengths / lengths.sum()))]
        x = float(rng.uniform(a, b))
        clash = False
        for other in placed:
            other_half = other.sprite.mask.shape[1] / camera.ppm(other.z) / 2
            if abs(other.x - x) < half + other_half and abs(other.z - z) < depth_m + 0.5:
                clash = True
                break
        if not clash:
            return x, z
    return None


def _window(item: _Item, width: int, height: int) -> tuple[tuple[slice, slice],
                                                            tuple[slice, slice]] | None:
    """(image slices, sprite slices) of the part of the sprite inside the frame, or None."""
    h, w = item.sprite.mask.shape
    x0, y0 = max(item.left, 0), max(item.top, 0)
    x1, y1 = min(item.left + w, width), min(item.top + h, height)
    if x0 >= x1 or y0 >= y1:
        return None
    return ((slice(y0, y1), slice(x0, x1)),
            (slice(y0 - item.top, y1 - item.top), slice(x0 - item.left, x1 - item.left)))


def _cull(items: Sequence[_Item], camera: Camera) -> list[_Item]:
    """Objects that stay visible enough once everything nearer is drawn (clutter is kept)."""
    width, height = camera.width, camera.height
    ids = np.zeros((height, width), np.int32)
    order = sorted(range(len(items)), key=lambda k: (-items[k].z, k))
    for k in order:
        window = _window(items[k], width, height)
        if window is not None:
            (ys, xs), (sy, sx) = window
            ids[ys, xs][items[k].sprite.mask[sy, sx]] = k + 1
    counts = np.bincount(ids.ravel(), minlength=len(items) + 1)
    kept = []
    for k, item in enumerate(items):
        if item.category is None:
            kept.append(item)
            continue
        window = _window(item, width, height)
        if window is None:
            continue
        total = int(item.sprite.mask.sum())
        in_frame = int(item.sprite.mask[window[1]].sum())
        visible = int(counts[k + 1])
        if (visible >= _MIN_VISIBLE_PX and visible >= _MIN_VISIBLE_OF_IN_IMAGE * in_frame
                and in_frame >= _MIN_IN_IMAGE * total):
            kept.append(item)
    return kept


def _contact_shadow(img: RgbImage, camera: Camera, item: _Item, factor: float) -> None:
    """Darken a flat ellipse of ground under the item's foot."""
    import cv2

    foot_x, foot_y = camera.project(item.x, 0.0, item.z)
    rx = 0.45 * item.sprite.mask.shape[1]
    ry = max(1.5, 0.5 * camera.focal * camera.cam_height * 0.8 / (item.z * item.z))
    x0, x1 = max(int(foot_x - rx) - 1, 0), min(int(foot_x + rx) + 2, camera.width)
    y0, y1 = max(int(foot_y - ry) - 1, 0), min(int(foot_y + ry) + 2, camera.height)
    if x0 >= x1 or y0 >= y1:
        return
    roi = img[y0:y1, x0:x1]
    mask = np.zeros(roi.shape[:2], np.uint8)
    cv2.ellipse(mask, (round(foot_x - x0), round(foot_y - y0)), (max(round(rx), 1),
                max(round(ry), 1)), 0, 0, 360, (255,), -1)
    selected = mask > 0
    roi[selected] = (roi[selected] * factor).astype(np.uint8)
