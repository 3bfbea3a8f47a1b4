"""BDD100K det_20 label frames for world scenes: building and checking them.

A frame is the JSON object BDD100K's det_20 label files list, one per image::

    {"name": "ood_near_000012.jpg",
     "attributes": {"weather": "clear", "scene": "city street", "timeofday": "daytime"},
     "timestamp": 10000,
     "labels": [{"id": "1", "category": "golf cart",
                 "attributes": {"occluded": false, "truncated": false,
                                "trafficLightColor": "NA", "visibility": 0.83},
                 "box2d": {"x1": 12.0, "y1": 40.0, "x2": 57.0, "y2": 71.0}}]}

``box2d`` ends are inclusive pixel indices (BDD100K's convention). ``id`` is the object's value
in the instance map. ``visibility`` (the fraction of the object's pixels that are visible in
the image) is our addition; BDD100K tools ignore unknown attributes. ``timestamp`` is 10000 as
in det_20 (the frame's offset in its source video).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ['LABEL_ATTRIBUTES', 'TIMESTAMP_MS', 'check_frame', 'frame_dict']

TIMESTAMP_MS = 10000
LABEL_ATTRIBUTES = ('occluded', 'truncated', 'trafficLightColor', 'visibility')
_FRAME_ATTRIBUTES = ('weather', 'scene', 'timeofday')
_LIGHT_COLOURS = ('NA', 'R', 'Y', 'G')


def frame_dict(name: str, weather: str, scene: str, timeofday: str,
               labels: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A det_20 frame (see the module docstring) with ``labels`` copied in."""
    return {
        'name': name,
        'attributes': {'weather': weather, 'scene': scene, 'timeofday': timeofday},
        'timestamp': TIMESTAMP_MS,
        'labels': [dict(label) for label in labels],
    }


def check_frame(frame: Mapping[str, Any], width: int, height: int,
                categories: Sequence[str] | None = None) -> None:
    """Raise ValueError naming the first problem if ``frame`` is not a valid world det_20 frame
    for a ``width`` x ``height`` image (boxes inside it, ends inclusive, ids unique, categories
    among ``categories`` when given)."""
    name = frame.get('name')
    if not isinstance(name, str) or not name:
        raise ValueError(f'frame name must be a non-empty string, got {name!r}')
    attributes = frame.get('attributes')
    if not isinstance(attributes, Mapping) or any(
            not isinstance(attributes.get(key), str) for key in _FRAME_ATTRIBUTES):
        raise ValueError(f'{name}: attributes need string {", ".join(_FRAME_ATTRIBUTES)}')
    if not isinstance(frame.get('timestamp'), int):
        raise ValueError(f'{name}: timestamp must be an integer (ms)')
    labels = frame.get('labels')
    if not isinstance(labels, list):
        raise ValueError(f'{name}: labels must be a list')
    seen: set[str] = set()
    for k, label in enumerate(labels):
        where = f'{name}, label {k}'
        if not isinstance(label, Mapping):
            raise ValueError(f'{where}: must be an object')
        label_id = label.get('id')
        if not isinstance(label_id, str) or not label_id or label_id in seen:
            raise ValueError(f'{where}: id must be a unique non-empty string, got {label_id!r}')
        seen.add(label_id)
        category = label.get('category')
        known = categories is None or category in categories
        if not isinstance(category, str) or not known:
            raise ValueError(f'{where}: unknown category {category!r}')
        attrs = label.get('attributes')
        if not isinstance(attrs, Mapping) or set(attrs) != set(LABEL_ATTRIBUTES):
            raise ValueError(f'{where}: attributes must have exactly {LABEL_ATTRIBUTES}')
        if not isinstance(attrs['occluded'], bool) or not isinstance(attrs['truncated'], bool):
            raise ValueError(f'{where}: occluded and truncated must be booleans')
        if attrs['trafficLightColor'] not in _LIGHT_COLOURS:
            raise ValueError(f'{where}: trafficLightColor must be one of {_LIGHT_COLOURS}')
        visibility = attrs['visibility']
        if not isinstance(visibility, float) or not 0.0 < visibility <= 1.0:
            raise ValueError(f'{where}: visibility must be a float in (0, 1]')
        box = label.get('box2d')
        if not isinstance(box, Mapping) or set(box) != {'x1', 'y1', 'x2', 'y2'}:
            raise ValueError(f'{where}: box2d must have exactly x1, y1, x2, y2')
        x1, y1, x2, y2 = (box[key] for key in ('x1', 'y1', 'x2', 'y2'))
        if not all(isinstance(v, float) and v.is_integer() for v in (x1, y1, x2, y2)):
            raise ValueError(f'{where}: box2d values must be whole-pixel floats')
        if not (0 <= x1 <= x2 <= width - 1 and 0 <= y1 <= y2 <= height - 1):
            raise ValueError(f'{where}: box2d {dict(box)} outside the {width}x{height} image')
