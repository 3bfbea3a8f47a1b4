"""The street behind the objects: camera, road layout, sky, buildings, markings and flat clutter.

Geometry is a pinhole camera over a flat ground plane: a point X metres to the right, Y metres
up and Z metres ahead projects to ``(cx + f X / Z, horizon + f (cam_height - Y) / Z)``. Ground
things (road, sidewalks, walls, markings) are polygons in that plane, so the street converges
to the vanishing point, and an object standing at depth Z is drawn at f / Z pixels per metre:
objects nearer the bottom of the image are larger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
import numpy.typing as npt

from negas_ros.world.canvas import Colour, jitter, mix, pick, scale
from negas_ros.world.textures import TextureBank

__all__ = [
    'Camera',
    'Conditions',
    'GroundRect',
    'Street',
    'paint_background',
    'sample_camera',
    'sample_conditions',
    'sample_street',
]

RgbImage = npt.NDArray[np.uint8]
BoolImage = npt.NDArray[np.bool_]
Rng = np.random.Generator

_Z_NEAR, _Z_FAR = 0.6, 400.0  # ground polygons run from behind the image bottom to the horizon

FACADES: tuple[Colour, ...] = (
    (152, 78, 58), (206, 190, 160), (150, 150, 150), (224, 222, 214), (122, 92, 72),
    (160, 184, 198), (220, 200, 142), (182, 120, 95),
)
ADS: tuple[Colour, ...] = ((205, 30, 35), (30, 85, 185), (240, 200, 25), (40, 150, 70),
                           (240, 120, 25), (190, 40, 140), (245, 245, 245))


@dataclass(frozen=True)
class Camera:
    """Pinhole camera ``cam_height`` metres above flat ground, looking along the street."""

    width: int
    height: int
    focal: float  # px
    cx: float  # px, column of the vanishing point
    horizon: float  # px, row of the horizon
    cam_height: float  # m

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """Image position (px) of the point x right, y up, z ahead (metres)."""
        return self.cx + self.focal * x / z, self.horizon + self.focal * (self.cam_height - y) / z

    def ppm(self, z: float) -> float:
        """Pixels per metre at depth ``z``."""
        return self.focal / z

    def ground_depth(self, row: float) -> float:
        """Depth of the ground seen at image row ``row`` (inf at or above the horizon)."""
        return math.inf if row <= self.horizon else self.focal * self.cam_height / (
            row - self.horizon)


@dataclass(frozen=True)
class Street:
    """Road layout in metres (X to the right of the camera)."""

    centre: float
    half_width: float
    sidewalk: float
    scene: str  # det_20 scene attribute: 'city street' or 'residential'

    def zone_intervals(self, zone: str) -> list[tuple[float, float]]:
        """X intervals of ``zone`` ('road', 'sidewalk' or 'any'), 0.3 m in from its edges."""
        c, hw, sw = self.centre, self.half_width, self.sidewalk
        road = [(c - hw + 0.3, c + hw - 0.3)]
        sidewalks = [(c - hw - sw + 0.3, c - hw - 0.3), (c + hw + 0.3, c + hw + sw - 0.3)]
        return {'road': road, 'sidewalk': sidewalks}.get(zone, road + sidewalks)

    @property
    def walls(self) -> tuple[float, float]:
        edge = self.half_width + self.sidewalk
        return self.centre - edge, self.centre + edge


@dataclass(frozen=True)
class GroundRect:
    """An axis-aligned ground rectangle: X in [x0, x1], Z in [z0, z1] (a shadow area)."""

    x0: float
    x1: float
    z0: float
    z1: float
    factor: float  # brightness multiplier inside

    def contains(self, x: float, z: float) -> bool:
        return self.x0 <= x <= self.x1 and self.z0 <= z <= self.z1


@dataclass(frozen=True)
class Conditions:
    """Weather, time of day and the photometric changes that follow from them."""

    weather: str  # det_20: clear, partly cloudy, overcast, rainy, foggy
    timeofday: str  # det_20: daytime, dawn/dusk, night
    brightness: float
    contrast: float
    gamma: float
    cast: tuple[float, float, float]  # per-channel RGB gain
    fog: float  # 0 = none; else 1 / visibility distance (1/m)
    shadow: float  # brightness inside cast shadows (1 = no shadows)
    sun_side: float  # +1: sun from the right, -1: from the left


def sample_camera(width: int, height: int, rng: Rng) -> Camera:
    return Camera(width, height, focal=width * float(rng.uniform(0.8, 1.0)),
                  cx=width * float(rng.uniform(0.42, 0.58)),
                  horizon=height * float(rng.uniform(0.36, 0.48)),
                  cam_height=float(rng.uniform(0.8, 1.7)))  # robot to car height


def sample_street(rng: Rng) -> Street:
    scene = 'city street' if rng.random() < 0.6 else 'residential'
    return Street(centre=float(rng.uniform(-1.5, 1.5)), half_width=float(rng.uniform(3.2, 6.5)),
                  sidewalk=float(rng.uniform(2.6, 4.5)), scene=scene)


def sample_conditions(rng: Rng) -> Conditions:
    timeofday = str(rng.choice(['daytime', 'dawn/dusk', 'night'], p=[0.65, 0.15, 0.2]))
    weather = str(rng.choice(['clear', 'partly cloudy', 'overcast', 'rainy', 'foggy'],
                             p=[0.4, 0.2, 0.2, 0.1, 0.1]))
    gains = rng.uniform(0.94, 1.06, 3)
    if timeofday == 'daytime':
        brightness, gamma = rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15)
    elif timeofday == 'dawn/dusk':
        brightness, gamma = rng.uniform(0.7, 0.9), rng.uniform(0.95, 1.15)
        gains *= (1.12, 0.95, 0.8)
    else:
        brightness, gamma = rng.uniform(0.42, 0.58), rng.uniform(1.05, 1.25)
        gains *= (0.85, 0.92, 1.12)
    contrast = rng.uniform(0.85, 1.15)
    if weather in ('overcast', 'rainy', 'foggy'):
        contrast *= 0.85
        gains = 0.5 * gains + 0.5 * gains.mean()  # weaker colour cast under cloud
    sunny = timeofday != 'night' and weather in ('clear', 'partly cloudy')
    return Conditions(
        weather=weather, timeofday=timeofday, brightness=float(brightness),
        contrast=float(contrast), gamma=float(gamma),
        cast=(float(gains[0]), float(gains[1]), float(gains[2])),
        fog=float(rng.uniform(1 / 60, 1 / 25)) if weather == 'foggy' else 0.0,
        shadow=float(rng.uniform(0.5, 0.7)) if sunny else float(rng.uniform(0.75, 0.9)),
        sun_side=1.0 if rng.random() < 0.5 else -1.0)


def _sky_colours(cond: Conditions) -> tuple[Colour, Colour]:
    if cond.timeofday == 'night':
        return (10, 14, 36), (46, 46, 78)
    if cond.weather in ('overcast', 'rainy', 'foggy'):
        return (148, 153, 164), (202, 204, 210)
    if cond.timeofday == 'dawn/dusk':
        return (72, 82, 142), (246, 172, 112)
    return (72, 132, 216), (188, 212, 236)


def paint_background(camera: Camera, street: Street, cond: Conditions, rng: Rng,
                     bank: TextureBank) -> tuple[RgbImage, BoolImage, list[GroundRect]]:
    """The empty street: (RGB image, glow mask of lit windows, ground shadow areas)."""
    import cv2

    w, h = camera.width, camera.height
    img = np.empty((h, w, 3), np.uint8)
    glow = np.zeros((h, w), np.uint8)
    horizon = round(camera.horizon)
    top, low = _sky_colours(cond)
    ramp = np.linspace(0.0, 1.0, max(horizon + 1, 1), dtype=np.float32)[:, None]
    sky = np.asarray(top, np.float32) * (1 - ramp) + np.asarray(low, np.float32) * ramp
    img[:horizon + 1] = sky[:, None, :].astype(np.uint8)
    if cond.weather in ('clear', 'partly cloudy') and cond.timeofday != 'night':
        cover = 0.8 if cond.weather == 'partly cloudy' else 0.3
        clouds = bank.window('cloud', horizon + 1, w, rng)
        alpha = np.clip((clouds - (1.6 - cover)) * 0.8, 0, 0.85)[:, :, None]
        img[:horizon + 1] = (img[:horizon + 1] * (1 - alpha) + 242 * alpha).astype(np.uint8)
    haze = low
    _skyline(img, camera, street, rng, haze)

    asphalt = jitter(rng, (84, 86, 90), 8)
    img[horizon + 1:] = asphalt
    paving = pick(rng, ((158, 156, 150), (176, 170, 160), (150, 120, 108), (140, 142, 146)), 8)
    kerb = scale(paving, 1.12)
    left_wall, right_wall = street.walls
    for side, wall in ((-1.0, left_wall), (1.0, right_wall)):
        inner = street.centre + side * street.half_width
        _ground_quad(img, camera, inner, wall, paving)
        _ground_quad(img, camera, inner, inner + side * 0.25, kerb)
        for z in np.arange(2.0, 60.0, 1.5):  # paving joints
            _ground_line(img, camera, (inner, float(z)), (wall, float(z)), scale(paving, 0.85))
    _markings(img, camera, street, rng)
    _flat_clutter(img, camera, street, rng)
    for side, wall in ((-1.0, left_wall), (1.0, right_wall)):
        lit = 0.75 if side == cond.sun_side else 1.0  # facades facing away from the sun
        _walls(img, glow, camera, street, wall, cond, rng, lit)
    shadows = _shadow_rects(street, cond, rng)
    if shadows:
        shade = np.full((h, w), 255, np.uint8)
        for rect in shadows:
            corners = [camera.project(x, 0.0, z) for x, z in
                       ((rect.x0, rect.z0), (rect.x1, rect.z0), (rect.x1, rect.z1),
                        (rect.x0, rect.z1))]
            cv2.fillPoly(shade, [np.round(np.array(corners)).astype(np.int32)],
                         (int(255 * rect.factor),))
        shade[:horizon + 1] = 255
        img = np.asarray(cv2.multiply(img, cv2.merge([shade, shade, shade]), scale=1 / 255),
                         np.uint8)
    lower = img[horizon + 1:]
    if lower.size:
        stains = bank.window('blotch', lower.shape[0], w, rng) * np.float32(6.0)
        grain = bank.window('grain', lower.shape[0], w, rng) * np.float32(5.0)
        noise = (stains + grain)[:, :, None]
        img[horizon + 1:] = np.clip(lower.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return img, glow > 0, shadows


def _pts(camera: Camera, points: Sequence[tuple[float, float, float]]) -> npt.NDArray[np.int32]:
    return np.round(np.array([camera.project(x, y, z) for x, y, z in points])).astype(np.int32)


def _ground_quad(img: RgbImage, camera: Camera, x0: float, x1: float, colour: Colour,
                 z0: float = _Z_NEAR, z1: float = _Z_FAR) -> None:
    import cv2

    pts = _pts(camera, [(x0, 0, z0), (x1, 0, z0), (x1, 0, z1), (x0, 0, z1)])
    cv2.fillPoly(img, [pts], colour)


def _ground_line(img: RgbImage, camera: Camera, a: tuple[float, float], b: tuple[float, float],
                 colour: Colour) -> None:
    import cv2

    pts = _pts(camera, [(a[0], 0, a[1]), (b[0], 0, b[1])])
    cv2.line(img, (int(pts[0, 0]), int(pts[0, 1])), (int(pts[1, 0]), int(pts[1, 1])), colour, 1)


def _markings(img: RgbImage, camera: Camera, street: Street, rng: Rng) -> None:
    white = jitter(rng, (226, 226, 222), 6)
    centre_colour = white if rng.random() < 0.6 else jitter(rng, (222, 188, 60), 6)
    c, hw = street.centre, street.half_width
    for side in (-1.0, 1.0):  # solid edge lines
        x = c + side * (hw - 0.35)
        _ground_quad(img, camera, x - 0.07, x + 0.07, white)
    period, dash = float(rng.uniform(8, 12)), float(rng.uniform(2.5, 4))
    offset = float(rng.uniform(0, period))
    lanes = [c] + ([c - hw / 2, c + hw / 2] if hw > 5 else [])
    for k, x in enumerate(lanes):
        colour = centre_colour if k == 0 else white
        for z in np.arange(1.0 + offset, 150.0, period):
            _ground_quad(img, camera, x - 0.08, x + 0.08, colour, float(z), float(z) + dash)
    if rng.random() < 0.3:  # zebra crossing
        z0 = float(rng.uniform(7, 25))
        x = c - hw + 0.5
        while x + 0.5 < c + hw - 0.3:
            _ground_quad(img, camera, x, x + 0.5, white, z0, z0 + 3.0)
            x += 1.0


def _flat_clutter(img: RgbImage, camera: Camera, street: Street, rng: Rng) -> None:
    """Things lying on the ground that are not objects: manholes, puddles, patches, litter."""
    import cv2

    for _ in range(int(rng.integers(1, 6))):
        kind = int(rng.integers(4))
        z = float(rng.uniform(4, 40))
        spans = street.zone_intervals('road' if kind < 3 else 'sidewalk')
        a, b = spans[int(rng.integers(len(spans)))]
        x = float(rng.uniform(a, b))
        cx, cy = camera.project(x, 0.0, z)
        ppm = camera.ppm(z)
        if not (-50 < cx < camera.width + 50):
            continue
        squash = camera.cam_height / z  # ground discs look flatter with distance
        if kind == 0:  # manhole
            r = 0.35 * ppm
            axes = (max(int(r), 1), max(int(r * squash * 2), 1))
            cv2.ellipse(img, (int(cx), int(cy)), axes, 0, 0, 360, (52, 52, 54), -1)
            cv2.ellipse(img, (int(cx), int(cy)), axes, 0, 0, 360, (70, 70, 72), 1)
        elif kind == 1:  # puddle: a darker, sky-tinted patch
            r = float(rng.uniform(0.5, 1.5)) * ppm
            axes = (max(int(r), 1), max(int(r * squash * 1.5), 1))
            cv2.ellipse(img, (int(cx), int(cy)), axes, float(rng.uniform(-10, 10)), 0, 360,
                        (70, 78, 92), -1)
        elif kind == 2:  # asphalt repair patch
            pw, pd = float(rng.uniform(0.8, 3)), float(rng.uniform(0.8, 3))
            pts = _pts(camera, [(x, 0, z), (x + pw, 0, z), (x + pw, 0, z + pd), (x, 0, z + pd)])
            cv2.fillPoly(img, [pts], (62, 63, 66))
        else:  # litter: a few small coloured specks
            for _ in range(int(rng.integers(3, 8))):
                px = int(cx + rng.normal(0, 0.5) * ppm)
                py = int(cy + rng.normal(0, 0.2) * ppm * squash)
                size = max(int(0.08 * ppm), 1)
                colour = tuple(int(v) for v in rng.integers(40, 230, 3))
                cv2.rectangle(img, (px, py), (px + size, py + max(size // 2, 1)), colour, -1)


def _walls(img: RgbImage, glow: RgbImage, camera: Camera, street: Street, wall_x: float,
           cond: Conditions, rng: Rng, lit: float) -> None:
    """Building facades along one side, as vertical planes at X = wall_x, with windows,
    shop fronts and posters (posters and shop signs are coloured distractors)."""
    import cv2

    z = float(rng.uniform(0.5, 3.0))
    residential = street.scene == 'residential'
    while z < 160:
        length = float(rng.uniform(8, 25))
        if rng.random() < (0.3 if residential else 0.1):  # gap between buildings
            z += float(rng.uniform(3, 10))
            continue
        height = float(rng.uniform(5, 10) if residential else rng.uniform(9, 32))
        facade = scale(pick(rng, FACADES, 14), lit)
        z0, z1 = z, z + length
        cv2.fillPoly(img, [_pts(camera, [(wall_x, 0, z0), (wall_x, height, z0),
                                         (wall_x, height, z1), (wall_x, 0, z1)])], facade)
        edge = _pts(camera, [(wall_x, height, z0), (wall_x, 0, z0)])
        cv2.line(img, (int(edge[0, 0]), int(edge[0, 1])), (int(edge[1, 0]), int(edge[1, 1])),
                 scale(facade, 0.7), 1)
        near_px = camera.ppm(max(z0, 1.0))
        glass = scale((62, 74, 92), lit)
        if near_px * 1.2 >= 1.5:
            spacing = float(rng.uniform(3.0, 4.5))
            rows = np.arange(3.6 if not residential else 1.2, height - 1.6, 3.0)
            for zw in np.arange(z0 + 1.0, z1 - 1.2, spacing):
                if camera.ppm(float(zw)) * 1.2 < 1.5:
                    break
                for y in rows:
                    light = cond.timeofday != 'night' or rng.random() > 0.35
                    colour = glass if light else jitter(rng, (250, 220, 140), 10)
                    pts = _pts(camera, [(wall_x, float(y), float(zw)),
                                        (wall_x, float(y) + 1.4, float(zw)),
                                        (wall_x, float(y) + 1.4, float(zw) + 1.3),
                                        (wall_x, float(y), float(zw) + 1.3)])
                    cv2.fillPoly(img, [pts], colour)
                    if not light:
                        cv2.fillPoly(glow, [pts], (255,))
            if not residential:  # shop front: glazing and a coloured fascia sign
                pts = _pts(camera, [(wall_x, 0.3, z0 + 0.8), (wall_x, 2.6, z0 + 0.8),
                                    (wall_x, 2.6, z1 - 0.8), (wall_x, 0.3, z1 - 0.8)])
                cv2.fillPoly(img, [pts], scale(glass, 0.8))
                sign = scale(pick(rng, ADS, 10), lit)
                pts = _pts(camera, [(wall_x, 2.8, z0 + 1.0), (wall_x, 3.3, z0 + 1.0),
                                    (wall_x, 3.3, z1 - 1.0), (wall_x, 2.8, z1 - 1.0)])
                cv2.fillPoly(img, [pts], sign)
            if rng.random() < 0.4:  # poster or graffiti blob
                zp = float(rng.uniform(z0 + 0.5, max(z0 + 0.6, z1 - 2.0)))
                colour = scale(pick(rng, ADS, 20), lit)
                pts = _pts(camera, [(wall_x, 0.6, zp), (wall_x, 2.0, zp), (wall_x, 2.0, zp + 1.2),
                                    (wall_x, 0.6, zp + 1.2)])
                cv2.fillPoly(img, [pts], colour)
        z = z1 + (float(rng.uniform(0.0, 0.4)) if not residential else 0.0)


def _skyline(img: RgbImage, camera: Camera, street: Street, rng: Rng, haze: Colour) -> None:
    """Distant buildings (or tree lines) across the end of the street, faded into the sky."""
    import cv2

    depth = float(rng.uniform(120, 250))
    x = -camera.cx * depth / camera.focal - 5
    x_end = (camera.width - camera.cx) * depth / camera.focal + 5
    residential = street.scene == 'residential'
    while x < x_end:
        width = float(rng.uniform(8, 30))
        colour = mix(pick(rng, FACADES, 20), haze, 0.55)
        if residential:
            height = float(rng.uniform(6, 16))
            cx, cy = camera.project(x + width / 2, height * 0.6, depth)
            axes = (max(int(camera.ppm(depth) * width / 2), 1),
                    max(int(camera.ppm(depth) * height * 0.6), 1))
            cv2.ellipse(img, (int(cx), int(cy)), axes, 0, 0, 360,
                        mix((60, 100, 60), haze, 0.5), -1)
        else:
            height = float(rng.uniform(10, 60))
            pts = _pts(camera, [(x, 0, depth), (x + width, 0, depth), (x + width, height, depth),
                                (x, height, depth)])
            cv2.fillPoly(img, [pts], colour)
        x += width


def _shadow_rects(street: Street, cond: Conditions, rng: Rng) -> list[GroundRect]:
    """Shadows cast by the buildings on the sun side across sidewalk and part of the road."""
    if cond.shadow > 0.95 or rng.random() < 0.35:
        return []
    left, right = street.walls
    reach = float(rng.uniform(1.0, street.sidewalk + street.half_width * 1.5))
    rects = []
    z = float(rng.uniform(1.0, 10.0))
    while z < 150:
        length = float(rng.uniform(6, 30))
        if rng.random() < 0.75:  # gaps between buildings let the sun through
            if cond.sun_side > 0:
                rects.append(GroundRect(right - reach, right, z, z + length, cond.shadow))
            else:
                rects.append(GroundRect(left, left + reach, z, z + length, cond.shadow))
        z += length + float(rng.uniform(1, 10))
    return rects
