"""One painter per category: a procedural side view with randomised size, parts and colours.

Every painter has the signature ``(rng, ppm, bank) -> Sprite``: it draws one instance at
``ppm`` pixels per metre, facing right (the scene mirrors half of them), with the ground
contact at y = 0. Near-OOD twins reuse their ID twin's building blocks on purpose (a human
figure for pedestrian/mannequin/statue, wheels and glass for car/golf cart, a lamp head on a
pole for traffic light/lamp post) and differ in the parts and palettes that name them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import math

import numpy as np

from negas_ros.world.canvas import Colour, Sprite, SpriteCanvas, jitter, mix, pick, scale
from negas_ros.world.textures import TextureBank

__all__ = ['PAINTERS', 'Painter', 'paint']

Painter = Callable[[np.random.Generator, float, TextureBank], Sprite]
Rng = np.random.Generator

# ---- palettes (RGB) ------------------------------------------------------------------------

CAR_PAINT: tuple[Colour, ...] = (
    (180, 25, 30), (30, 65, 155), (185, 187, 192), (232, 232, 230), (28, 28, 32),
    (35, 95, 60), (205, 165, 40), (115, 30, 40), (70, 130, 170),
)
CART_PAINT: tuple[Colour, ...] = (
    (236, 236, 228), (226, 214, 178), (35, 105, 60), (175, 30, 30), (40, 70, 150),
    (185, 187, 192),
)
GLASS: tuple[Colour, ...] = ((60, 78, 98), (85, 105, 125), (45, 55, 70))
TYRE: Colour = (22, 22, 24)
BUS_PAINT: tuple[Colour, ...] = (
    (232, 182, 25), (190, 32, 32), (30, 82, 170), (230, 230, 230), (40, 135, 75),
    (230, 110, 30),
)
TRAM_UPPER: tuple[Colour, ...] = ((238, 236, 228), (230, 220, 180), (200, 200, 205),
                                  (235, 200, 40))
TRAM_LOWER: tuple[Colour, ...] = ((185, 30, 35), (35, 120, 70), (30, 75, 160), (60, 60, 65),
                                  (225, 105, 25))
TRUCK_CAB: tuple[Colour, ...] = (
    (190, 35, 30), (232, 232, 230), (30, 75, 160), (230, 120, 25), (40, 110, 60),
    (70, 72, 78),
)
CARGO: tuple[Colour, ...] = ((228, 228, 225), (190, 192, 195), (215, 200, 165), (160, 190, 210))
TRACTOR_PAINT: tuple[Colour, ...] = (
    (45, 125, 50), (185, 32, 28), (232, 112, 22), (32, 72, 160), (210, 175, 25),
)
RIMS: tuple[Colour, ...] = ((232, 192, 30), (190, 35, 30), (190, 190, 190), (235, 235, 230))
FORKLIFT_PAINT: tuple[Colour, ...] = ((238, 190, 20), (235, 120, 20), (200, 40, 30),
                                      (60, 130, 70))
FRAMES: tuple[Colour, ...] = (
    (200, 35, 35), (35, 75, 170), (28, 28, 30), (230, 230, 230), (40, 140, 80),
    (235, 130, 30), (40, 150, 160),
)
WHEELCHAIR_FRAME: tuple[Colour, ...] = ((185, 188, 195), (30, 30, 32), (40, 80, 170),
                                        (175, 35, 40))
FABRIC: tuple[Colour, ...] = ((30, 30, 35), (35, 45, 80), (60, 30, 35), (50, 50, 55))
SKIN: tuple[Colour, ...] = ((240, 205, 175), (225, 180, 140), (190, 140, 100), (140, 95, 65),
                            (95, 65, 45))
HAIR: tuple[Colour, ...] = ((25, 20, 18), (80, 50, 30), (200, 165, 100), (150, 150, 150),
                            (120, 45, 25))
SHIRT: tuple[Colour, ...] = (
    (200, 40, 40), (40, 90, 180), (235, 235, 235), (40, 40, 40), (60, 150, 80),
    (235, 190, 40), (150, 80, 160), (240, 130, 60), (120, 170, 210), (130, 110, 90),
)
TROUSERS: tuple[Colour, ...] = ((35, 45, 80), (30, 30, 32), (90, 90, 95), (165, 145, 105),
                                (60, 45, 35))
PLASTIC: tuple[Colour, ...] = ((232, 226, 216), (220, 192, 160), (34, 34, 36), (178, 178, 184))
STONE: tuple[Colour, ...] = ((150, 150, 144), (118, 88, 52), (96, 146, 126), (214, 208, 198),
                             (80, 80, 76))
POLES: tuple[Colour, ...] = ((120, 122, 125), (40, 70, 50), (35, 35, 38), (170, 172, 175))
HOUSINGS: tuple[Colour, ...] = ((30, 30, 32), (32, 32, 30), (205, 172, 32), (48, 62, 52))
AD_COLOURS: tuple[Colour, ...] = (
    (205, 30, 35), (30, 85, 185), (240, 200, 25), (240, 240, 240), (40, 150, 70),
    (240, 120, 25), (190, 40, 140), (30, 150, 160),
)
DOG_FUR: tuple[Colour, ...] = ((128, 82, 46), (36, 32, 30), (206, 166, 96), (228, 222, 210),
                               (126, 120, 114), (176, 130, 80))
WOOD: tuple[Colour, ...] = ((148, 98, 56), (122, 76, 42), (172, 124, 74))
HYDRANT: tuple[Colour, ...] = ((196, 32, 26), (236, 196, 28), (188, 188, 192), (40, 122, 62))
POTS: tuple[Colour, ...] = ((176, 96, 56), (150, 148, 140), (42, 42, 44), (226, 222, 214),
                            (52, 82, 140))
LEAVES: tuple[Colour, ...] = ((48, 110, 40), (70, 140, 50), (35, 90, 45), (95, 150, 60))
LUGGAGE: tuple[Colour, ...] = ((30, 30, 32), (32, 42, 80), (190, 35, 40), (185, 187, 192),
                               (30, 130, 135), (110, 50, 140), (230, 120, 30))
BINS: tuple[Colour, ...] = ((40, 82, 52), (112, 114, 118), (40, 72, 142), (96, 66, 42),
                            (36, 36, 38))
DARK: Colour = (38, 38, 40)
WARM_LAMP: Colour = (255, 230, 165)


def U(rng: Rng, low: float, high: float) -> float:  # noqa: N802 (reads like the maths)
    return float(rng.uniform(low, high))


def _finish(c: SpriteCanvas, rng: Rng, bank: TextureBank, amplitude: float = 4.0,
            top: float = 1.08, bottom: float = 0.86) -> Sprite:
    c.texture(bank, 'fine', amplitude, rng)
    c.vertical_shading(top, bottom)
    return c.finish()


def _wheel(c: SpriteCanvas, x: float, r: float, hub: Colour, arch: Colour | None = None,
           y: float | None = None) -> None:
    cy = r if y is None else y
    if arch is not None:
        c.circle(x, cy, r * 1.14, arch)
    c.circle(x, cy, r, TYRE)
    c.circle(x, cy, r * 0.55, hub)
    c.circle(x, cy, r * 0.18, scale(hub, 0.6))


def _spoked_wheel(c: SpriteCanvas, x: float, y: float, r: float, rim: Colour,
                  spokes: int) -> None:
    c.circle(x, y, r - 0.022, TYRE, width=0.045)
    c.circle(x, y, r - 0.06, rim, width=0.02)
    if c.pixels(r) > 9:
        for k in range(spokes):
            a = math.pi * k / spokes
            dx, dy = math.cos(a) * (r - 0.06), math.sin(a) * (r - 0.06)
            c.line(x - dx, y - dy, x + dx, y + dy, 0.006, (170, 170, 175))
    c.circle(x, y, 0.03, (120, 120, 125))


# ---- vehicles ------------------------------------------------------------------------------


def paint_car(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    style = int(rng.choice(3, p=[0.5, 0.25, 0.25]))  # saloon, hatchback, SUV
    if style == 2:
        length, height, r = U(rng, 4.3, 4.9), U(rng, 1.65, 1.85), U(rng, 0.36, 0.4)
    else:
        length, height, r = U(rng, 3.8, 4.8), U(rng, 1.35, 1.55), U(rng, 0.3, 0.35)
    body = pick(rng, CAR_PAINT, 14)
    c = SpriteCanvas(ppm, -length / 2, length / 2, height)
    half = length / 2
    belt = height * U(rng, 0.55, 0.62)
    sill = 0.24 if style < 2 else 0.34
    hood = half - U(rng, 0.9, 1.25)  # windscreen foot
    trunk = -half + (U(rng, 0.45, 0.9) if style == 0 else U(rng, 0.05, 0.15))
    roof_front = hood - U(rng, 0.5, 0.8)
    roof_rear = trunk + (U(rng, 0.3, 0.6) if style == 0 else U(rng, 0.1, 0.3))
    c.poly([(-half, sill), (half, sill), (half, belt - 0.16), (half - 0.3, belt),
            (-half + 0.1, belt), (-half, belt - 0.08)], body)
    c.poly([(trunk, belt), (hood, belt), (roof_front, height), (roof_rear, height)], body)
    glass = pick(rng, GLASS, 10)
    inset = 0.07
    pillar = (roof_front + roof_rear) / 2 + U(rng, -0.15, 0.15)

    def edge(x_bottom: float, x_top: float, y: float) -> float:
        return x_bottom + (x_top - x_bottom) * (y - belt) / (height - belt)

    low, high = belt + inset, height - inset
    c.poly([(pillar + 0.05, low), (edge(hood, roof_front, low) - inset, low),
            (edge(hood, roof_front, high) - inset, high), (pillar + 0.05, high)], glass)
    c.poly([(edge(trunk, roof_rear, low) + inset, low), (pillar - 0.05, low),
            (pillar - 0.05, high), (edge(trunk, roof_rear, high) + inset, high)], glass)
    c.rect(-half, sill, half, sill + 0.12, scale(body, 0.7))
    c.line(pillar, sill + 0.1, pillar, belt, 0.02, scale(body, 0.6))
    c.rect(pillar + 0.15, belt - 0.12, pillar + 0.3, belt - 0.08, scale(body, 0.6))
    c.rect(half - 0.12, belt - 0.3, half, belt - 0.16, (240, 235, 200), glow=True)
    c.rect(-half, belt - 0.26, -half + 0.08, belt - 0.12, (205, 25, 25))
    for wx in (half - U(rng, 0.75, 0.9), -half + U(rng, 0.75, 0.9)):
        _wheel(c, wx, r, pick(rng, ((175, 175, 180), (60, 60, 62)), 10), arch=(25, 25, 27))
    c.line(-half + 0.2, belt - 0.06, half - 0.35, belt - 0.06, 0.03, scale(body, 1.25))
    return _finish(c, rng, bank, 4.0, 1.12, 0.8)


def paint_golf_cart(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    length, height, r = U(rng, 2.7, 3.8), U(rng, 1.7, 1.9), U(rng, 0.2, 0.25)
    body = pick(rng, CART_PAINT + CAR_PAINT[:4], 12)
    roof = body if rng.random() < 0.5 else pick(rng, ((236, 236, 230), (30, 30, 32)), 8)
    seat = pick(rng, ((35, 35, 38), (225, 215, 185), (120, 30, 30)), 10)
    half = length / 2
    c = SpriteCanvas(ppm, -half - 0.05, half + 0.05, height)
    roof_y = height - 0.07
    post = (40, 40, 42)
    front_post = (half - 0.45, half - 0.72)  # x at the cowl, x at the roof
    rear_x = -half + 0.35
    if rng.random() < 0.5:  # clear vinyl side curtains: a glazed cabin, car-like
        c.poly([(rear_x, 0.8), (front_post[0] - 0.05, 0.85), (front_post[1], roof_y),
                (rear_x, roof_y)], jitter(rng, (150, 165, 175), 8))
    c.line(front_post[0], 0.85, front_post[1], roof_y, 0.05, post)
    c.line(rear_x, 0.72, rear_x - 0.05, roof_y, 0.05, post)
    bench_x = half - 0.8
    c.rect(bench_x - 0.95, 0.55, bench_x, 0.68, seat)
    c.rect(bench_x - 0.95, 0.68, bench_x - 0.8, 1.12, seat)
    if length > 3.3:  # six-seater: a second forward bench
        c.rect(bench_x - 2.05, 0.55, bench_x - 1.1, 0.68, seat)
        c.rect(bench_x - 2.05, 0.68, bench_x - 1.9, 1.12, seat)
    elif length > 2.9:  # rear-facing second bench
        c.rect(-half + 0.15, 0.62, -half + 0.75, 0.72, seat)
        c.rect(-half + 0.62, 0.72, -half + 0.75, 1.0, seat)
    c.line(half - 0.75, 0.85, half - 0.95, 1.12, 0.03, post)
    c.ellipse(half - 0.95, 1.12, 0.12, 0.04, post, angle=-35)
    c.poly([(-half, 0.28), (half, 0.28), (half, 0.62), (half - 0.35, 0.88), (half - 0.62, 0.88),
            (half - 0.68, 0.55), (-half + 0.5, 0.55), (-half + 0.45, 0.76), (-half, 0.76)], body)
    c.rect(-half + 0.1, roof_y, half - 0.4, height, roof)
    c.rect(-half, 0.28, half, 0.36, DARK)
    c.rect(half - 0.1, 0.55, half, 0.62, (240, 235, 200), glow=True)
    for wx in (half - 0.42, -half + 0.5):
        _wheel(c, wx, r, pick(rng, ((190, 190, 195), (60, 60, 62)), 8), arch=(30, 30, 32))
    return _finish(c, rng, bank, 3.5, 1.1, 0.85)


def paint_bus(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    length, height, r = U(rng, 10.0, 12.5), U(rng, 2.9, 3.3), U(rng, 0.47, 0.53)
    paint = pick(rng, BUS_PAINT, 12)
    half = length / 2
    c = SpriteCanvas(ppm, -half, half, height)
    bottom = 0.32
    c.poly([(-half, bottom), (half, bottom), (half, height - 0.25), (half - 0.2, height),
            (-half + 0.15, height), (-half, height - 0.15)], paint)
    if rng.random() < 0.5:
        band = pick(rng, AD_COLOURS, 10)
        c.rect(-half, height * 0.3, half, height * 0.4, band)
    glass = pick(rng, GLASS, 8)
    low, high = height * 0.5, height * 0.86
    pane = U(rng, 1.1, 1.5)
    x = -half + 0.35
    front_door = (half - 1.9, half - 1.0)
    middle = U(rng, -1.5, 0.5)
    middle_door = (middle, middle + 1.0)
    while x + pane < half - 2.0:
        end = x + pane - 0.12
        if not (end > middle_door[0] and x < middle_door[1]):
            c.rect(x, low, end, high, glass)
        x += pane
    c.poly([(half - 0.95, height * 0.38), (half - 0.02, height * 0.38),
            (half - 0.02, height - 0.35), (half - 0.25, high), (half - 0.95, high)], glass)
    for x0, x1 in (front_door, middle_door):
        c.rect(x0, bottom + 0.05, x1, high, scale(paint, 0.55))
        c.rect(x0 + 0.06, bottom + 0.3, (x0 + x1) / 2 - 0.02, high - 0.06, glass)
        c.rect((x0 + x1) / 2 + 0.02, bottom + 0.3, x1 - 0.06, high - 0.06, glass)
    c.rect(half - 1.8, height - 0.3, half - 0.35, height - 0.08, (25, 25, 25))
    c.rect(half - 1.7, height - 0.23, half - 0.45, height - 0.15, (255, 170, 40), glow=True)
    c.rect(-half, bottom, half, bottom + 0.15, DARK)
    for wx in (half - 2.3, -half + U(rng, 2.6, 3.2)):
        _wheel(c, wx, r, (170, 170, 175), arch=(25, 25, 27))
    return _finish(c, rng, bank, 4.0, 1.08, 0.85)


def paint_tram(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    segments = 2 if rng.random() < 0.5 else 3
    seg_len, joint = U(rng, 5.5, 6.8), 0.45
    length = segments * seg_len + (segments - 1) * joint
    height, panto = U(rng, 3.2, 3.5), U(rng, 0.7, 1.05)
    upper, lower = pick(rng, TRAM_UPPER, 10), pick(rng, TRAM_LOWER, 12)
    glass = pick(rng, GLASS, 8)
    half = length / 2
    c = SpriteCanvas(ppm, -half, half, height + panto)
    xs = [-half + k * (seg_len + joint) for k in range(segments)]
    for x0 in xs:  # bogie wheels first: the skirt hides their upper half
        for wx in (x0 + 1.2, x0 + seg_len - 1.2):
            c.circle(wx, 0.3, 0.3, TYRE)
    for k, x0 in enumerate(xs):
        x1 = x0 + seg_len
        nose_front = 0.45 if k == segments - 1 else 0.0
        nose_rear = 0.45 if k == 0 else 0.0
        c.poly([(x0, 0.15), (x1, 0.15), (x1, height * 0.7), (x1 - nose_front, height),
                (x0 + nose_rear, height), (x0, height * 0.7)], upper)
        c.rect(x0, 0.15, x1, height * 0.38, lower)
        door = x0 + seg_len / 2 + U(rng, -1.0, 0.6)
        x = x0 + 0.3 + nose_rear
        while x + 1.0 < x1 - 0.2 - nose_front:
            end = x + U(rng, 0.85, 1.1)
            if not (end > door - 0.1 and x < door + 1.4):
                c.rect(x, height * 0.45, end, height * 0.86, glass)
            x = end + 0.1
        c.rect(door, 0.2, door + 1.3, height * 0.86, scale(lower, 0.6))
        c.rect(door + 0.07, 0.4, door + 0.62, height * 0.82, glass)
        c.rect(door + 0.68, 0.4, door + 1.23, height * 0.82, glass)
        if k < segments - 1:
            c.rect(x1, 0.35, x1 + joint, height - 0.1, (42, 42, 44))
            for j in range(1, 4):
                xj = x1 + joint * j / 4
                c.line(xj, 0.4, xj, height - 0.15, 0.02, (22, 22, 24))
        c.rect(x0 + 0.4, height, x0 + min(2.4, seg_len - 0.4), height + 0.22, (150, 152, 156))
    c.poly([(half - 0.02, height * 0.45), (half - 0.02, height * 0.7),
            (half - 0.4, height - 0.08), (half - 0.6, height - 0.08), (half - 0.6, height * 0.45)],
           glass)
    xp = xs[segments // 2] + seg_len / 2
    base = height + 0.18
    arm = (55, 55, 58)
    c.rect(xp - 0.5, height, xp + 0.5, base, arm)
    c.polyline([(xp - 0.45, base), (xp + 0.35, base + panto * 0.5),
                (xp - 0.15, height + panto - 0.05)], 0.05, arm)
    c.line(xp - 0.75, height + panto - 0.04, xp + 0.45, height + panto - 0.04, 0.06, arm)
    return _finish(c, rng, bank, 4.0, 1.08, 0.85)


def paint_truck(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    length, height, r = U(rng, 6.5, 9.0), U(rng, 3.0, 3.8), U(rng, 0.48, 0.53)
    cab_len, cab_h = U(rng, 1.9, 2.3), height * U(rng, 0.78, 0.9)
    cab = pick(rng, TRUCK_CAB, 12)
    half = length / 2
    c = SpriteCanvas(ppm, -half, half, height)
    c.rect(-half + 0.2, 0.45, half - 0.2, 0.85, DARK)
    cargo_end = half - cab_len - 0.15
    if rng.random() < 0.6:  # box body
        box = pick(rng, CARGO, 10)
        c.rect(-half, 0.85, cargo_end, height, box)
        rib = scale(box, 0.85)
        x = -half + 0.6
        while x < cargo_end - 0.3:
            c.line(x, 0.9, x, height - 0.05, 0.03, rib)
            x += 0.6
        if rng.random() < 0.6:
            logo = pick(rng, AD_COLOURS, 10)
            mid = (-half + cargo_end) / 2
            if rng.random() < 0.5:
                c.rect(-half, height * 0.45, cargo_end, height * 0.58, logo)
            else:
                c.circle(mid, (0.85 + height) / 2, (height - 0.85) * 0.3, logo)
    else:  # dump body
        bed = pick(rng, ((230, 120, 25), (215, 180, 30), (120, 122, 126), (185, 35, 30)), 12)
        top = 0.9 + U(rng, 0.9, 1.3)
        c.poly([(-half, 0.85), (cargo_end, 0.85), (cargo_end, top + 0.2), (-half + 0.3, top)],
               bed)
        for x in np.linspace(-half + 0.5, cargo_end - 0.3, 5):
            c.line(float(x), 0.9, float(x), top, 0.06, scale(bed, 0.75))
    x_cab = half - cab_len
    c.poly([(x_cab, 0.6), (half, 0.6), (half, cab_h * 0.55), (half - 0.25, cab_h),
            (x_cab, cab_h)], cab)
    glass = pick(rng, GLASS, 8)
    c.poly([(half - cab_len * 0.55, cab_h * 0.6), (half - 0.08, cab_h * 0.6),
            (half - 0.3, cab_h - 0.1), (half - cab_len * 0.55, cab_h - 0.1)], glass)
    c.line(half - cab_len * 0.6, 0.7, half - cab_len * 0.6, cab_h - 0.1, 0.03, scale(cab, 0.6))
    c.rect(half - 0.25, 0.55, half, 0.75, DARK)
    c.rect(half - 0.1, 0.8, half, 0.95, (240, 235, 200), glow=True)
    for wx in (half - cab_len * 0.5, -half + 1.4, -half + 2.5):
        _wheel(c, wx, r, (165, 165, 170), arch=(25, 25, 27))
    return _finish(c, rng, bank, 4.0, 1.08, 0.85)


def paint_tractor(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    length, height = U(rng, 3.4, 4.3), U(rng, 2.6, 3.0)
    r_rear, r_front = U(rng, 0.7, 0.85), U(rng, 0.38, 0.46)
    paint, rim = pick(rng, TRACTOR_PAINT, 12), pick(rng, RIMS, 10)
    half = length / 2
    c = SpriteCanvas(ppm, -half, half, height)
    xr, xf = -half + r_rear + 0.05, half - r_front - 0.1
    c.rect(xr, 0.5, xf, 0.85, DARK)
    c.poly([(xr + r_rear * 0.4, 0.8), (half, 0.8), (half, 1.32), (half - 0.15, 1.48),
            (xr + r_rear * 0.4, 1.55)], paint)
    for k in range(4):
        y = 0.9 + k * 0.12
        c.line(half - 0.05, y, half - 0.05, y + 0.07, 0.08, DARK)
    x0, x1 = xr - r_rear * 0.6, xr + r_rear * 0.9
    c.rect(x0, r_rear * 1.5, x1, height - 0.1, (150, 180, 190))
    c.line(x0, r_rear * 1.2, x0, height - 0.05, 0.07, DARK)
    c.line(x1, 1.4, x1, height - 0.05, 0.07, DARK)
    c.rect(x0 - 0.08, height - 0.13, x1 + 0.12, height, paint)
    c.line(half - 0.6, 1.4, half - 0.6, height * 0.93, 0.08, (55, 55, 58))
    for x, r in ((xr, r_rear), (xf, r_front)):
        c.circle(x, r, r, TYRE)
        for k in range(14):
            a = 2 * math.pi * k / 14
            c.line(x + math.cos(a) * r * 0.86, r + math.sin(a) * r * 0.86,
                   x + math.cos(a) * r, r + math.sin(a) * r, 0.07, (48, 48, 50))
        c.circle(x, r, r * 0.55, rim)
        c.circle(x, r, r * 0.2, scale(rim, 0.6))
    c.ellipse(xr, r_rear, r_rear * 1.08, r_rear * 1.08, paint, start=15, end=165, width=0.12)
    return _finish(c, rng, bank, 4.0, 1.08, 0.85)


def paint_forklift(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    body_len, fork_len, height = U(rng, 2.1, 2.5), U(rng, 0.9, 1.1), U(rng, 2.1, 2.4)
    paint = pick(rng, FORKLIFT_PAINT, 12)
    rear = -(body_len + fork_len) / 2
    mast = rear + body_len
    c = SpriteCanvas(ppm, rear, mast + 0.2 + fork_len, height)
    guard = (40, 40, 42)
    c.line(rear + 0.4, 1.1, rear + 0.35, height - 0.05, 0.06, guard)
    c.line(mast - 0.4, 1.0, mast - 0.55, height - 0.05, 0.06, guard)
    c.rect(rear + 0.25, height - 0.08, mast - 0.4, height, guard)
    c.rect(rear + 0.55, 1.0, rear + 0.85, 1.45, DARK)
    c.poly([(rear, 0.25), (mast - 0.15, 0.25), (mast - 0.15, 1.0), (rear + 0.5, 1.12),
            (rear, 1.0)], paint)
    c.rect(rear, 0.25, rear + 0.45, 0.95, scale(paint, 0.75))
    c.rect(mast, 0.12, mast + 0.12, height * U(rng, 0.92, 1.0), (62, 62, 66))
    for y in (0.6, 1.2, 1.8):
        c.line(mast, y, mast + 0.12, y, 0.05, (40, 40, 42))
    c.rect(mast + 0.12, 0.08, mast + 0.2, 0.95, DARK)
    fork_y = U(rng, 0.08, 0.35)
    c.rect(mast + 0.12, fork_y, mast + 0.2 + fork_len, fork_y + 0.06, (70, 70, 74))
    if rng.random() < 0.3:
        crate = pick(rng, ((190, 150, 100), (160, 120, 75)), 12)
        c.rect(mast + 0.25, fork_y + 0.06, mast + 0.15 + fork_len, fork_y + 0.2,
               (150, 110, 65))
        c.rect(mast + 0.3, fork_y + 0.2, mast + 0.1 + fork_len, fork_y + 0.8, crate)
    _wheel(c, mast - 0.4, 0.32, paint)
    _wheel(c, rear + 0.45, 0.27, paint)
    return _finish(c, rng, bank, 4.0, 1.08, 0.85)


# ---- two-wheelers and the like -----------------------------------------------------------


def paint_bicycle(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    r, base = U(rng, 0.32, 0.36), U(rng, 1.0, 1.1)
    frame = pick(rng, FRAMES, 14)
    c = SpriteCanvas(ppm, -base / 2 - r - 0.03, base / 2 + r + 0.03, r + 0.74)
    rear, front = (-base / 2, r), (base / 2, r)
    for x, y in (rear, front):
        _spoked_wheel(c, x, y, r, (175, 175, 180), 6)
    bb = (-0.06, r - 0.04)
    seat = (-base / 2 + 0.36, r + 0.52)
    head_top, head_low = (base / 2 - 0.14, r + 0.55), (base / 2 - 0.08, r + 0.36)
    tube = 0.035
    for p, q in ((rear, bb), (rear, seat), (bb, seat), (seat, head_top), (bb, head_low),
                 (head_low, front), (head_low, head_top)):
        c.line(p[0], p[1], q[0], q[1], tube, frame)
    c.line(seat[0], seat[1], seat[0] - 0.03, seat[1] + 0.1, 0.025, (150, 150, 155))
    c.poly([(seat[0] - 0.16, seat[1] + 0.1), (seat[0] + 0.1, seat[1] + 0.1),
            (seat[0] + 0.06, seat[1] + 0.15), (seat[0] - 0.14, seat[1] + 0.15)], DARK)
    bar = (base / 2 - 0.2, r + 0.7)
    c.line(head_top[0], head_top[1], bar[0], bar[1], 0.03, (60, 60, 62))
    c.line(bar[0], bar[1], bar[0] - 0.14, bar[1] + 0.01, 0.03, DARK)
    c.circle(bb[0], bb[1], 0.08, (110, 110, 115))
    c.line(bb[0] - 0.12, bb[1] - 0.12, bb[0] + 0.12, bb[1] + 0.12, 0.03, (80, 80, 84))
    return _finish(c, rng, bank, 3.0, 1.05, 0.92)


def paint_wheelchair(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    r, seat = U(rng, 0.28, 0.32), U(rng, 0.48, 0.52)
    frame, fabric = pick(rng, WHEELCHAIR_FRAME, 10), pick(rng, FABRIC, 8)
    c = SpriteCanvas(ppm, -0.46, 0.52, seat + 0.47)
    tube = 0.03
    c.line(-0.26, seat - 0.05, -0.26, seat + 0.44, tube, frame)
    c.line(-0.26, seat + 0.44, -0.37, seat + 0.46, tube, frame)
    c.line(-0.26, seat, 0.25, seat, tube, frame)
    c.line(0.25, seat, 0.29, 0.16, tube, frame)
    c.line(0.22, seat - 0.03, 0.4, 0.12, tube, frame)
    c.rect(0.34, 0.1, 0.48, 0.13, frame)
    c.rect(-0.31, seat + 0.05, -0.22, seat + 0.43, fabric)
    _spoked_wheel(c, -0.12, r, r, (185, 188, 195), 8)
    c.circle(-0.12, r, r * 0.86, frame, width=0.015)
    c.rect(-0.24, seat, 0.24, seat + 0.07, fabric)
    c.rect(-0.22, seat + 0.22, 0.16, seat + 0.26, fabric)
    c.line(0.12, seat + 0.05, 0.12, seat + 0.22, tube, frame)
    c.line(0.29, 0.16, 0.31, 0.08, 0.02, frame)
    c.circle(0.31, 0.08, 0.08, TYRE)
    c.circle(0.31, 0.08, 0.03, (150, 150, 155))
    return _finish(c, rng, bank, 3.0, 1.05, 0.92)


def paint_scooter(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    r, base, height = U(rng, 0.11, 0.16), U(rng, 0.95, 1.2), U(rng, 0.95, 1.1)
    paint = pick(rng, ((30, 30, 32), (200, 40, 40), (50, 160, 90), (235, 235, 235),
                       (240, 130, 30)), 12)
    c = SpriteCanvas(ppm, -base / 2 - r - 0.05, base / 2 + r + 0.12, height)
    c.rect(-base / 2 + 0.02, r + 0.02, base / 2 - 0.1, r + 0.08, paint)
    c.rect(-base / 2 + 0.05, r + 0.08, base / 2 - 0.15, r + 0.095, (50, 50, 52))
    c.ellipse(-base / 2, r, r * 1.25, r * 1.25, scale(paint, 0.8), start=20, end=160,
              width=0.025)
    top = (base / 2 - 0.12, height - 0.03)
    c.line(base / 2, r, top[0], top[1], 0.04, paint)
    c.line(base / 2 - 0.05, r + 0.05, base / 2 - 0.1, r + 0.1, 0.05, paint)
    c.line(top[0] - 0.12, top[1], top[0] + 0.1, top[1], 0.035, DARK)
    if rng.random() < 0.5:  # seated e-scooter: a saddle on a post over the deck
        post = (-base / 2 + 0.3, r + 0.08)
        saddle = (post[0] - 0.05, height * 0.72)
        c.line(post[0], post[1], saddle[0], saddle[1], 0.03, (60, 60, 62))
        c.poly([(saddle[0] - 0.14, saddle[1]), (saddle[0] + 0.12, saddle[1]),
                (saddle[0] + 0.09, saddle[1] + 0.05), (saddle[0] - 0.12, saddle[1] + 0.05)], DARK)
    for x in (-base / 2, base / 2):
        c.circle(x, r, r, TYRE)
        c.circle(x, r, r * 0.6, (160, 160, 165), width=0.015)
        c.circle(x, r, r * 0.2, (160, 160, 165))
    return _finish(c, rng, bank, 3.0, 1.05, 0.92)


# ---- people and figures ------------------------------------------------------------------


@dataclass(frozen=True)
class _Figure:
    skin: Colour
    hair: Colour | None
    shirt: Colour
    trousers: Colour
    shoes: Colour
    dress: bool = False


def _human(c: SpriteCanvas, y0: float, h: float, look: _Figure, stride: float, swing: float,
           raised_arm: bool = False) -> None:
    """A standing or walking person ``h`` metres tall with feet at height ``y0``."""
    head_r = 0.068 * h
    hip, shoulder = y0 + 0.5 * h, y0 + 0.8 * h
    leg_w, arm_w = 0.075 * h, 0.052 * h
    knee_y, foot_y = y0 + 0.27 * h, y0 + leg_w / 2
    far = 0.78  # far-side limbs are a little darker

    def leg(sign: float, colour: Colour) -> None:
        knee = (sign * stride * h * 0.25, knee_y)
        foot = (sign * stride * h * 0.45, foot_y)
        c.polyline([(0.0, hip), knee, foot], leg_w, colour)
        c.ellipse(foot[0] + 0.02 * h, y0 + 0.018 * h, 0.05 * h, 0.018 * h, look.shoes)

    def arm(sign: float, colour: Colour, hand: Colour) -> None:
        elbow = (sign * swing * 0.12 * h, y0 + 0.63 * h)
        wrist = (sign * swing * 0.22 * h, y0 + 0.49 * h)
        c.polyline([(0.0, shoulder - 0.02 * h), elbow, wrist], arm_w, colour)
        c.circle(wrist[0], wrist[1] - 0.01 * h, arm_w * 0.6, hand)

    arm(-1.0, scale(look.shirt, far), scale(look.skin, far))
    leg(-1.0, scale(look.trousers, far))
    leg(1.0, look.trousers)
    if look.dress:
        c.poly([(-0.08 * h, hip), (0.08 * h, hip), (0.14 * h, y0 + 0.3 * h),
                (-0.14 * h, y0 + 0.3 * h)], look.shirt)
    c.poly([(-0.075 * h, hip - 0.02 * h), (0.075 * h, hip - 0.02 * h), (0.082 * h, shoulder),
            (0.05 * h, shoulder + 0.03 * h), (-0.05 * h, shoulder + 0.03 * h),
            (-0.082 * h, shoulder)], look.shirt)
    c.rect(-0.025 * h, shoulder, 0.025 * h, y0 + h - 1.7 * head_r, look.skin)
    head_y = y0 + h - head_r
    c.circle(0.01 * h, head_y, head_r, look.skin)
    if look.hair is not None:
        c.ellipse(0.0, head_y + 0.1 * head_r, head_r * 1.05, head_r * 0.95, look.hair,
                  start=-20, end=200)
    if raised_arm:
        c.polyline([(0.0, shoulder - 0.02 * h), (0.1 * h, y0 + 0.93 * h),
                    (0.13 * h, y0 + 1.1 * h)], arm_w, look.shirt)
        c.circle(0.13 * h, y0 + 1.11 * h, arm_w * 0.6, look.skin)
    else:
        arm(1.0, look.shirt, look.skin)


def paint_pedestrian(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    h = U(rng, 1.55, 1.92)
    look = _Figure(pick(rng, SKIN, 8), pick(rng, HAIR, 8), pick(rng, SHIRT, 16),
                   pick(rng, TROUSERS, 10), pick(rng, ((30, 30, 30), (235, 235, 235),
                                                        (90, 60, 40)), 8),
                   dress=rng.random() < 0.2)
    c = SpriteCanvas(ppm, -0.3 * h, 0.3 * h, h)
    _human(c, 0.0, h, look, stride=U(rng, 0.05, 0.5), swing=U(rng, 0.2, 1.0))
    if rng.random() < 0.3:  # bag or backpack
        bag = pick(rng, ((40, 40, 40), (120, 70, 40), (40, 60, 120), (180, 40, 50)), 10)
        if rng.random() < 0.5:
            c.rect(-0.16 * h, 0.58 * h, -0.07 * h, 0.78 * h, bag)
        else:
            c.rect(0.04 * h, 0.42 * h, 0.13 * h, 0.52 * h, bag)
    return _finish(c, rng, bank, 5.0, 1.06, 0.9)


def paint_mannequin(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    h = U(rng, 1.72, 1.88)
    plastic = pick(rng, PLASTIC, 8)
    # Shop mannequins are usually dressed: what gives them away is the plastic head and
    # hands, the missing hair and face, the rigid pose and the stand.
    dressed = rng.random() < 0.65
    shirt = pick(rng, SHIRT, 14) if dressed else plastic
    trousers = pick(rng, TROUSERS, 10) if dressed and rng.random() < 0.6 else plastic
    look = _Figure(plastic, None, shirt, trousers, plastic)
    base_h = 0.04
    c = SpriteCanvas(ppm, -0.3 * h, 0.3 * h, h + base_h)
    c.line(0.0, base_h, 0.0, 0.3 * h, 0.025, (150, 150, 155))
    _human(c, base_h, h, look, stride=U(rng, 0.0, 0.3), swing=U(rng, 0.05, 0.6))
    c.ellipse(0.0, base_h / 2, 0.22, base_h / 2 + 0.01, pick(rng, ((40, 40, 42),
                                                                   (180, 180, 185)), 6))
    return _finish(c, rng, bank, 2.0, 1.2, 0.8)  # smooth and glossy


def paint_statue(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    ped_h, ped_w, h = U(rng, 0.6, 1.2), U(rng, 0.6, 0.9), U(rng, 1.7, 2.1)
    stone = pick(rng, STONE, 10)
    plinth = pick(rng, ((172, 166, 156), (122, 120, 114), (200, 196, 186)), 8)
    look = _Figure(stone, stone, stone, stone, stone, dress=rng.random() < 0.4)
    half = max(ped_w / 2 + 0.06, 0.3 * h)
    c = SpriteCanvas(ppm, -half, half, ped_h + 1.13 * h)
    c.rect(-ped_w / 2 - 0.05, 0.0, ped_w / 2 + 0.05, 0.1, plinth)
    c.rect(-ped_w / 2, 0.1, ped_w / 2, ped_h - 0.08, plinth)
    c.rect(-ped_w / 2 - 0.06, ped_h - 0.08, ped_w / 2 + 0.06, ped_h, scale(plinth, 0.92))
    _human(c, ped_h, h, look, stride=U(rng, 0.0, 0.25), swing=U(rng, 0.0, 0.4),
           raised_arm=rng.random() < 0.75)
    c.texture(bank, 'blotch', 14.0, rng, colour_noise=0.15)
    return _finish(c, rng, bank, 6.0, 1.1, 0.85)


# ---- street furniture ----------------------------------------------------------------------


def paint_traffic_light(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    pole_h, hw = U(rng, 2.3, 3.2), U(rng, 0.3, 0.38)
    hh = hw * U(rng, 2.6, 2.9)
    pole, housing = pick(rng, POLES, 8), pick(rng, HOUSINGS, 6)
    c = SpriteCanvas(ppm, -hw / 2 - 0.08, hw / 2 + 0.08, pole_h + hh + 0.06)
    c.rect(-0.06, 0.0, 0.06, pole_h + 0.1, pole)
    c.rect(-0.1, 0.0, 0.1, 0.12, scale(pole, 0.8))
    if rng.random() < 0.5:
        c.rect(-hw / 2 - 0.06, pole_h - 0.06, hw / 2 + 0.06, pole_h + hh + 0.06, (25, 25, 25))
    c.rect(-hw / 2, pole_h, hw / 2, pole_h + hh, housing)
    state = str(rng.choice(['R', 'Y', 'G'], p=[0.45, 0.15, 0.4]))
    lamps = (('R', (72, 22, 20), (255, 48, 36)), ('Y', (72, 58, 18), (255, 188, 24)),
             ('G', (18, 62, 32), (44, 232, 112)))
    r = hw * 0.32
    for k, (name, dim, lit) in enumerate(lamps):
        y = pole_h + hh * (5 - 2 * k) / 6
        c.ellipse(0.0, y + r * 0.15, r * 1.2, r * 1.2, scale(housing, 0.7), start=10, end=170,
                  width=0.03)
        c.circle(0.0, y, r, lit if name == state else dim, glow=name == state)
    c.attributes['trafficLightColor'] = state
    return _finish(c, rng, bank, 3.0, 1.05, 0.95)


def paint_lamp_post(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    pole_h = U(rng, 3.8, 5.5)
    pole = pick(rng, POLES[:3], 8)
    lamp = jitter(rng, WARM_LAMP, 8)
    style = int(rng.integers(3))
    reach = U(rng, 0.8, 1.2) if style == 2 else 0.0
    c = SpriteCanvas(ppm, -0.3, max(0.3, reach + 0.35), pole_h + 0.75)
    c.poly([(-0.09, 0.0), (0.09, 0.0), (0.05, pole_h), (-0.05, pole_h)], pole)
    c.rect(-0.14, 0.0, 0.14, 0.4, pole)
    c.poly([(-0.14, 0.4), (0.14, 0.4), (0.08, 0.6), (-0.08, 0.6)], pole)
    if style == 0:  # lantern
        c.rect(-0.18, pole_h, 0.18, pole_h + 0.08, pole)
        c.poly([(-0.13, pole_h + 0.08), (0.13, pole_h + 0.08), (0.2, pole_h + 0.5),
                (-0.2, pole_h + 0.5)], lamp, glow=True)
        c.line(0.0, pole_h + 0.08, 0.0, pole_h + 0.5, 0.02, pole)
        c.poly([(-0.28, pole_h + 0.5), (0.28, pole_h + 0.5), (0.0, pole_h + 0.7)], pole)
    elif style == 1:  # globe
        c.rect(-0.08, pole_h - 0.05, 0.08, pole_h + 0.06, pole)
        c.circle(0.0, pole_h + 0.27, 0.22, jitter(rng, (250, 244, 222), 6), glow=True)
    else:  # cobra head on an arm
        c.polyline([(0.0, pole_h - 0.1), (0.05, pole_h + 0.2), (reach * 0.6, pole_h + 0.33),
                    (reach, pole_h + 0.3)], 0.07, pole)
        c.ellipse(reach, pole_h + 0.25, 0.32, 0.09, pole)
        c.ellipse(reach, pole_h + 0.22, 0.24, 0.06, lamp, start=180, end=360, glow=True)
    return _finish(c, rng, bank, 3.0, 1.05, 0.95)


def paint_traffic_sign(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    pole_h, s = U(rng, 1.9, 2.5), U(rng, 0.6, 0.85)
    red, blue = jitter(rng, (205, 28, 32), 8), jitter(rng, (30, 82, 182), 8)
    black = (25, 25, 25)
    white = jitter(rng, (240, 240, 238), 5)
    kind = int(rng.integers(7))
    c = SpriteCanvas(ppm, -s / 2 - 0.03, s / 2 + 0.03, pole_h + s + 0.02)
    c.rect(-0.03, 0.0, 0.03, pole_h + s / 2, (150, 152, 155))
    cx, cy, r = 0.0, pole_h + s / 2, s / 2
    if kind == 0:  # prohibitory: red ring, white disc, black digits
        c.circle(cx, cy, r, red)
        c.circle(cx, cy, r * 0.74, white)
        c.ellipse(cx - r * 0.22, cy, r * 0.15, r * 0.28, black, width=0.03)
        c.ellipse(cx + r * 0.22, cy, r * 0.15, r * 0.28, black, width=0.03)
    elif kind == 1:  # mandatory: blue disc, white arrow
        c.circle(cx, cy, r, blue)
        c.rect(cx - r * 0.12, cy - r * 0.55, cx + r * 0.12, cy + r * 0.1, white)
        c.poly([(cx - r * 0.38, cy + 0.05 * r), (cx + r * 0.38, cy + 0.05 * r),
                (cx, cy + r * 0.6)], white)
    elif kind in (2, 4):  # warning (apex up) or yield (apex down): red border, white inside
        sign = 1.0 if kind == 2 else -1.0
        apex, base = cy + sign * r, cy - sign * r * 0.8
        c.poly([(cx - r, base), (cx + r, base), (cx, apex)], red)
        c.poly([(cx - r * 0.62, base + sign * r * 0.2), (cx + r * 0.62, base + sign * r * 0.2),
                (cx, apex - sign * r * 0.5)], white)
        if kind == 2:
            c.line(cx, cy - r * 0.25, cx, cy + r * 0.25, 0.05, black)
            c.circle(cx, cy - r * 0.42, 0.03, black)
    elif kind == 3:  # stop: red octagon, white rim and word bar
        pts = [(cx + r * math.cos(math.pi / 8 + k * math.pi / 4),
                cy + r * math.sin(math.pi / 8 + k * math.pi / 4)) for k in range(8)]
        c.poly(pts, red)
        c.polyline(pts, 0.03, white, closed=True)
        c.rect(cx - r * 0.65, cy - r * 0.15, cx + r * 0.65, cy + r * 0.15, white)
    elif kind == 5:  # information: blue square, white P
        c.rect(cx - r, cy - r, cx + r, cy + r, blue)
        c.line(cx - r * 0.25, cy - r * 0.55, cx - r * 0.25, cy + r * 0.55, 0.07, white)
        c.ellipse(cx - r * 0.05, cy + r * 0.28, r * 0.25, r * 0.25, white, start=-90, end=90,
                  width=0.06)
    else:  # diamond: yellow, black border and arrow
        yellow = jitter(rng, (242, 202, 28), 8)
        pts = [(cx, cy + r), (cx + r, cy), (cx, cy - r), (cx - r, cy)]
        c.poly(pts, yellow)
        c.polyline(pts, 0.03, black, closed=True)
        c.line(cx - r * 0.3, cy - r * 0.3, cx + r * 0.25, cy + r * 0.25, 0.05, black)
    return _finish(c, rng, bank, 3.0, 1.05, 0.95)


def paint_billboard(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    width = U(rng, 2.2, 3.8)
    panel_h, post_h = width * U(rng, 0.5, 0.75), U(rng, 1.6, 3.8)
    frame = pick(rng, ((60, 60, 64), (35, 35, 38), (120, 122, 126)), 6)
    colours = list(AD_COLOURS)
    first = int(rng.integers(len(colours)))
    background = jitter(rng, colours.pop(first), 10)
    accent = jitter(rng, colours[int(rng.integers(len(colours)))], 10)
    half = width / 2
    c = SpriteCanvas(ppm, -half - 0.1, half + 0.1, post_h + panel_h + 0.35)
    if rng.random() < 0.4:
        for x in (-width * 0.3, width * 0.3):
            c.rect(x - 0.06, 0.0, x + 0.06, post_h + 0.2, frame)
    else:
        c.rect(-0.13, 0.0, 0.13, post_h + 0.2, frame)
    top = post_h + panel_h
    c.rect(-half - 0.08, post_h - 0.08, half + 0.08, top + 0.08, frame)
    c.rect(-half, post_h, half, top, background)
    mid = post_h + panel_h / 2
    side = 1.0 if rng.random() < 0.5 else -1.0
    if rng.random() < 0.35:
        c.poly([(-half, post_h), (-half + width * 0.3, post_h), (-half + width * 0.6, top),
                (-half + width * 0.3, top)], mix(background, (255, 255, 255), 0.35))
    c.circle(side * width * 0.27, mid, panel_h * 0.3, accent)
    c.circle(side * width * 0.27, mid, panel_h * 0.14, background)
    text = (25, 25, 28) if sum(background) > 380 else (245, 245, 245)
    for k in range(int(rng.integers(2, 5))):
        y = top - panel_h * (0.2 + 0.2 * k)
        x0 = -side * half * 0.85
        x1 = x0 + side * width * U(rng, 0.2, 0.42)
        c.rect(min(x0, x1), y - panel_h * 0.05, max(x0, x1), y + panel_h * 0.05, text)
    if rng.random() < 0.4:
        for x in (-width * 0.25, width * 0.25):
            c.line(x, top + 0.08, x, top + 0.3, 0.04, frame)
            c.rect(x - 0.12, top + 0.22, x + 0.12, top + 0.3, WARM_LAMP, glow=True)
    return _finish(c, rng, bank, 3.0, 1.05, 0.95)


def paint_bench(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    length, height = U(rng, 1.4, 2.2), U(rng, 0.8, 0.95)
    painted = rng.random() < 0.35
    slat = pick(rng, ((40, 95, 55), (112, 112, 118), (35, 60, 110)) if painted else WOOD, 12)
    iron = pick(rng, ((30, 30, 30), (35, 60, 40), (62, 50, 45)), 6)
    half = length / 2
    c = SpriteCanvas(ppm, -half, half, height)
    for x in (-half + 0.1, half - 0.1):
        c.line(x, 0.0, x, height - 0.02, 0.06, iron)
        c.polyline([(x, 0.5), (x + (0.1 if x < 0 else -0.1), 0.64),
                    (x + (0.22 if x < 0 else -0.22), 0.64)], 0.04, iron)
    c.rect(-half, 0.42, half, 0.5, slat)
    for y in (0.58, 0.69, 0.8):
        if y + 0.07 <= height:
            c.rect(-half + 0.05, y, half - 0.05, y + 0.07, slat)
    if not painted:
        c.texture(bank, 'hstreak', 12.0, rng)
    return _finish(c, rng, bank, 3.0, 1.05, 0.9)


def paint_fire_hydrant(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    height, w = U(rng, 0.6, 0.9), U(rng, 0.22, 0.3)
    paint = pick(rng, HYDRANT, 10)
    cap = paint if rng.random() < 0.5 else pick(rng, ((235, 235, 235), (40, 80, 170),
                                                      (196, 32, 26)), 8)
    c = SpriteCanvas(ppm, -w / 2 - 0.12, w / 2 + 0.12, height)
    c.rect(-w * 0.75, 0.0, w * 0.75, 0.06, scale(paint, 0.85))
    c.rect(-w / 2, 0.06, w / 2, height * 0.72, paint)
    c.rect(-w * 0.62, height * 0.72, w * 0.62, height * 0.77, scale(paint, 0.85))
    c.ellipse(0.0, height * 0.77, w * 0.5, height * 0.14, cap, start=0, end=180)
    c.rect(-0.03, height * 0.88, 0.03, height, scale(cap, 0.85))
    for sign in (-1.0, 1.0):
        x0, x1 = sign * w / 2, sign * (w / 2 + 0.1)
        c.rect(min(x0, x1), height * 0.5, max(x0, x1), height * 0.6, paint)
        c.rect(x1 - 0.015, height * 0.48, x1 + 0.015, height * 0.62, cap)
    c.circle(0.0, height * 0.42, w * 0.22, cap)
    return _finish(c, rng, bank, 5.0, 1.12, 0.82)


def paint_potted_plant(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    pot_h, pot_top = U(rng, 0.3, 0.5), U(rng, 0.4, 0.6)
    foliage_h, foliage_w = U(rng, 0.5, 1.1), U(rng, 0.6, 1.0)
    pot = pick(rng, POTS, 10)
    half = max(foliage_w, pot_top) / 2 + 0.05
    c = SpriteCanvas(ppm, -half, half, pot_h + foliage_h)
    if rng.random() < 0.4:  # grassy spikes
        for _ in range(int(rng.integers(6, 12))):
            x = U(rng, -foliage_w / 2, foliage_w / 2)
            c.line(x * 0.3, pot_h, x, pot_h + foliage_h * U(rng, 0.6, 1.0), 0.03,
                   pick(rng, LEAVES, 14))
    for _ in range(int(rng.integers(8, 15))):
        rx = U(rng, 0.08, 0.2) * foliage_w / 0.8
        x = U(rng, -foliage_w / 2 + rx, foliage_w / 2 - rx)
        y = pot_h + U(rng, 0.1, 0.75) * foliage_h
        ry = min(U(rng, 0.6, 1.0) * rx, pot_h + foliage_h - y)
        c.ellipse(x, y, rx, max(ry, 0.02), pick(rng, LEAVES, 14), angle=U(rng, 0, 180))
    c.poly([(-pot_top * 0.35, 0.0), (pot_top * 0.35, 0.0), (pot_top / 2, pot_h),
            (-pot_top / 2, pot_h)], pot)
    c.rect(-pot_top / 2 - 0.02, pot_h - 0.05, pot_top / 2 + 0.02, pot_h, scale(pot, 0.85))
    c.texture(bank, 'blotch', 12.0, rng, colour_noise=0.3)
    return _finish(c, rng, bank, 5.0, 1.08, 0.85)


def paint_dog(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    length = U(rng, 0.6, 1.0)
    height = length * U(rng, 0.7, 0.85)
    fur = pick(rng, DOG_FUR, 12)
    dark = scale(fur, 0.7)
    c = SpriteCanvas(ppm, -0.6 * length, 0.62 * length, height)
    leg_h = height * 0.45
    body_y, rx, ry = leg_h + height * 0.1, length * 0.33, height * 0.17
    leg_w = length * 0.07
    gait = U(rng, 0.0, 0.08) * length
    for x, shift, colour in ((-0.25, -gait, dark), (0.22, gait, dark),
                             (-0.21, gait, fur), (0.26, -gait, fur)):
        c.line(x * length, body_y, x * length + shift, leg_w / 2, leg_w, colour)
    tail_up = rng.random() < 0.6
    c.line(-0.3 * length, body_y + ry * 0.5, -0.5 * length,
           body_y + ry * (1.8 if tail_up else -1.2), length * 0.045, fur)
    c.ellipse(-0.02 * length, body_y, rx, ry, fur)
    if rng.random() < 0.4:
        c.ellipse(U(rng, -0.15, 0.1) * length, body_y + ry * 0.2, rx * 0.4, ry * 0.6,
                  pick(rng, DOG_FUR, 10))
    head = (0.38 * length, height * 0.8)
    head_r = min(length * 0.1, height - head[1])
    c.line(0.24 * length, body_y + ry * 0.4, head[0], head[1], length * 0.12, fur)
    c.circle(head[0], head[1], head_r, fur)
    c.ellipse(head[0] + length * 0.11, head[1] - head_r * 0.35, length * 0.085, length * 0.05,
              fur)
    c.circle(head[0] + length * 0.19, head[1] - head_r * 0.3, length * 0.018, (20, 20, 20))
    if rng.random() < 0.5:  # floppy ear
        c.ellipse(head[0] - head_r * 0.4, head[1] - head_r * 0.1, head_r * 0.35, head_r * 0.75,
                  dark, angle=-20)
    else:  # pointed ear
        c.poly([(head[0] - head_r * 0.6, head[1] + head_r * 0.5),
                (head[0] - head_r * 0.1, head[1] + head_r * 0.6),
                (head[0] - head_r * 0.45, min(head[1] + head_r * 1.4, height))], dark)
    c.texture(bank, 'blotch', 10.0, rng, colour_noise=0.2)
    return _finish(c, rng, bank, 7.0, 1.1, 0.85)


def paint_suitcase(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    w, h = U(rng, 0.38, 0.5), U(rng, 0.55, 0.75)
    handle = U(rng, 0.3, 0.45) if rng.random() < 0.7 else 0.06
    colour = pick(rng, LUGGAGE, 10)
    wheel_r, corner = 0.04, 0.06
    c = SpriteCanvas(ppm, -w / 2 - 0.02, w / 2 + 0.02, 2 * wheel_r + h + handle)
    y0, y1 = 2 * wheel_r, 2 * wheel_r + h
    for x in (-w / 2 + 0.07, w / 2 - 0.07):
        c.circle(x, wheel_r, wheel_r, TYRE)
    hx = w * 0.25
    metal = (160, 162, 166) if rng.random() < 0.5 else (30, 30, 32)
    for x in (-hx, hx):
        c.line(x, y1 - 0.02, x, y1 + handle - 0.03, 0.025, metal)
    c.rect(-hx - 0.02, y1 + handle - 0.05, hx + 0.02, y1 + handle, (30, 30, 32))
    c.rect(-w / 2 + corner, y0, w / 2 - corner, y1, colour)
    c.rect(-w / 2, y0 + corner, w / 2, y1 - corner, colour)
    for x in (-w / 2 + corner, w / 2 - corner):
        for y in (y0 + corner, y1 - corner):
            c.circle(x, y, corner, colour)
    for k in range(1, 4):
        x = -w / 2 + w * k / 4
        c.line(x, y0 + 0.04, x, y1 - 0.04, 0.02, scale(colour, 0.75))
    return _finish(c, rng, bank, 3.0, 1.15, 0.85)


def paint_trash_can(rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    h, w = U(rng, 0.85, 1.05), U(rng, 0.5, 0.62)
    colour = pick(rng, BINS, 10)
    c = SpriteCanvas(ppm, -w / 2 - 0.04, w / 2 + 0.04, h + 0.1)
    c.poly([(-w * 0.45, 0.0), (w * 0.45, 0.0), (w / 2, h - 0.08), (-w / 2, h - 0.08)], colour)
    x = -w / 2 + 0.08
    while x < w / 2 - 0.05:
        c.line(x, 0.05, x, h - 0.12, 0.025, scale(colour, 0.75))
        x += 0.08
    c.rect(-w / 2, h * 0.45, w / 2, h * 0.5, scale(colour, 0.85))
    lid = scale(colour, 1.15)
    c.rect(-w / 2 - 0.03, h - 0.1, w / 2 + 0.03, h, lid)
    if rng.random() < 0.5:
        c.ellipse(0.0, h, w / 2, 0.09, lid, start=0, end=180)
    if rng.random() < 0.4:
        c.rect(-w * 0.15, h * 0.6, w * 0.15, h * 0.75, (235, 235, 230))
    return _finish(c, rng, bank, 4.0, 1.08, 0.85)


PAINTERS: Mapping[str, Painter] = {
    'car': paint_car,
    'pedestrian': paint_pedestrian,
    'bus': paint_bus,
    'truck': paint_truck,
    'bicycle': paint_bicycle,
    'traffic light': paint_traffic_light,
    'traffic sign': paint_traffic_sign,
    'golf cart': paint_golf_cart,
    'mannequin': paint_mannequin,
    'tram': paint_tram,
    'tractor': paint_tractor,
    'wheelchair': paint_wheelchair,
    'lamp post': paint_lamp_post,
    'billboard': paint_billboard,
    'dog': paint_dog,
    'bench': paint_bench,
    'fire hydrant': paint_fire_hydrant,
    'potted plant': paint_potted_plant,
    'statue': paint_statue,
    'forklift': paint_forklift,
    'scooter': paint_scooter,
    'suitcase': paint_suitcase,
    'trash can': paint_trash_can,
}
"""Category name -> painter; one entry per :data:`~negas_ros.world.categories.CATEGORIES`."""


def paint(category: str, rng: Rng, ppm: float, bank: TextureBank) -> Sprite:
    """One random instance of ``category`` at ``ppm`` pixels per metre (facing right)."""
    try:
        painter = PAINTERS[category]
    except KeyError:
        raise ValueError(f'unknown category {category!r}; known: {", ".join(PAINTERS)}') from None
    return painter(rng, ppm, bank)
