"""The label phrases the mini detector is pretrained with (pure data, no torch).

A real VLM detector is pretrained on grounding captions, where the same kind of object is
named in many ways ("car", "sedan", "a parked automobile") and sometimes only by a broader word
("vehicle"). Its projection from the frozen text space to the detector's therefore learns a
smooth map rather than a table of a few points, which is what lets it read a word it never saw
in training (a generated negative label, a held-out category) by its meaning. The world's
pretraining gives each seen category the same variety:

- :data:`CATEGORY_PHRASES`: per seen category its name first, then synonyms and near-synonyms
  (WordNet lemmas of its sense, common usage) and attribute phrases that are true of every
  instance the world draws;
- :data:`GROUP_PHRASES`: broader words, each naming a set of categories (its WordNet
  hyponyms among the seen categories). A text set holds a group phrase only instead of the
  phrases of its categories, so that every box still has at most one positive text;
- :data:`TEMPLATES`: caption-like frames around a phrase.

Held out: no phrase names a held-out category (:data:`negas_ros.world.UNSEEN`) or a synonym of
one; :data:`UNSEEN_SYNONYMS` lists those words so that the random "background" words drawn
for training (absent-class texts, as YOLO-World trains with) never include them either. Both
lists were written from WordNet and everyday usage before any benchmark result was seen.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    'CATEGORY_PHRASES',
    'GROUP_PHRASES',
    'TEMPLATES',
    'UNSEEN_SYNONYMS',
    'all_phrases',
]

CATEGORY_PHRASES: Mapping[str, tuple[str, ...]] = {
    # ID categories
    'car': ('car', 'automobile', 'motorcar', 'auto', 'sedan', 'hatchback', 'suv',
            'passenger car', 'compact car', 'parked car'),
    'pedestrian': ('pedestrian', 'person', 'walker', 'man', 'woman', 'person walking',
                   'passer-by', 'human'),
    'bus': ('bus', 'autobus', 'coach', 'city bus', 'transit bus', 'omnibus', 'motorbus'),
    'truck': ('truck', 'lorry', 'motortruck', 'cargo truck', 'delivery truck', 'dump truck',
              'box truck'),
    'bicycle': ('bicycle', 'bike', 'cycle', 'push-bike', 'pedal bike', 'road bike'),
    'traffic light': ('traffic light', 'traffic signal', 'stoplight', 'stop light',
                      'signal light', 'traffic lights'),
    'traffic sign': ('traffic sign', 'road sign', 'street sign', 'stop sign', 'warning sign',
                     'regulatory sign'),
    # known near-OOD categories
    'golf cart': ('golf cart', 'golfcart', 'golf buggy', 'electric cart'),
    'mannequin': ('mannequin', 'manikin', 'mannikin', 'dummy', 'display dummy', 'dress form',
                  "tailor's dummy", 'shop mannequin'),
    'tram': ('tram', 'streetcar', 'tramcar', 'trolley car', 'light rail vehicle', 'tramway car'),
    'tractor': ('tractor', 'farm tractor', 'agricultural tractor', 'farm vehicle'),
    'wheelchair': ('wheelchair', 'wheel chair', 'manual wheelchair', 'chair with wheels'),
    'lamp post': ('lamp post', 'lamppost', 'street lamp', 'streetlight', 'street light',
                  'light pole', 'lamp standard'),
    'billboard': ('billboard', 'hoarding', 'advertising board', 'advertisement board',
                  'advertising hoarding'),
    # known far-OOD categories
    'dog': ('dog', 'puppy', 'hound', 'pooch', 'canine', 'domestic dog'),
    'bench': ('bench', 'park bench', 'wooden bench', 'street bench'),
    'fire hydrant': ('fire hydrant', 'hydrant', 'fireplug', 'fire plug', 'water hydrant'),
    'potted plant': ('potted plant', 'pot plant', 'houseplant', 'plant in a pot', 'planter'),
}
"""Seen category -> its phrases, the category name first."""

GROUP_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ('vehicle', ('car', 'bus', 'truck', 'golf cart', 'tram', 'tractor')),
    ('motor vehicle', ('car', 'bus', 'truck', 'golf cart', 'tractor')),
    ('wheeled vehicle', ('car', 'bus', 'truck', 'bicycle', 'golf cart', 'tram', 'tractor')),
    ('sign', ('traffic sign', 'billboard')),
    ('seat', ('bench', 'wheelchair')),
    ('animal', ('dog',)),
    ('plant', ('potted plant',)),
)
"""Broader phrases and the seen categories each names."""

TEMPLATES: tuple[str, ...] = ('{}', 'a {}', 'the {}', '{} on the street')
"""Caption-like frames; the first (the bare phrase) is how labels are given at run time."""

UNSEEN_SYNONYMS: tuple[str, ...] = (
    'statue', 'sculpture', 'monument', 'figure', 'bust', 'effigy',
    'forklift', 'fork lift', 'forklift truck', 'lift truck', 'fork truck',
    'scooter', 'motor scooter', 'kick scooter', 'e-scooter', 'electric scooter', 'moped',
    'suitcase', 'luggage', 'baggage', 'bag', 'trolley case', 'valise', 'travel bag',
    'trash can', 'garbage can', 'dustbin', 'bin', 'wastebin', 'litter bin', 'wastebasket',
    'trashcan', 'garbage bin', 'rubbish bin',
)
"""Names of the held-out categories and their synonyms: never a training text."""


def all_phrases() -> tuple[str, ...]:
    """Every category and group phrase, each once, in a fixed order."""
    out: dict[str, None] = {}
    for phrases in CATEGORY_PHRASES.values():
        out.update(dict.fromkeys(phrases))
    out.update(dict.fromkeys(name for name, _ in GROUP_PHRASES))
    return tuple(out)
