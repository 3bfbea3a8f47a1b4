"""Checks of the shipped label sets in config/labels/*.yaml.

The rules (see the comments in each file): every file loads with negas_ros.labels.load_labels;
the ID labels are the dataset's classes in its class-index order; no negative label is an ID
label or its plural, a known synonym, hyponym or hypernym of one, or shares a word with one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from negas_ros.labels import LabelSet, load_labels, normalize_label, singular

LABELS_DIR = Path(__file__).resolve().parents[2] / 'config' / 'labels'
SHIPPED = ('bdd100k', 'voc', 'coco', 'demo')
DATASET_SETS = ('bdd100k', 'voc', 'coco')  # the real sets; demo is deliberately small

VOC_CLASSES = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa',
    'train', 'tv monitor')
BDD100K_CLASSES = (
    'pedestrian', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle',
    'traffic light', 'traffic sign')

# Words for a person: never a negative when people are ID (person, pedestrian, rider).
_PERSON_WORDS = (
    'person', 'people', 'human', 'man', 'woman', 'child', 'kid', 'boy', 'girl', 'baby',
    'adult', 'pedestrian', 'rider', 'cyclist', 'motorcyclist', 'biker', 'jogger', 'runner',
    'walker', 'worker', 'police officer', 'soldier', 'skier', 'surfer', 'skateboarder', 'crowd',
    'jockey')
_VEHICLE = ('vehicle', 'motor vehicle', 'automobile')
# ID label -> labels that would be the same thing (synonym), a kind of it (hyponym) or a class
# containing it (hypernym). A negative from this list would flag true ID objects as unknown.
NOT_NEGATIVES: dict[str, tuple[str, ...]] = {
    'person': _PERSON_WORDS,
    'pedestrian': _PERSON_WORDS,
    'rider': _PERSON_WORDS,
    'car': (*_VEHICLE, 'sedan', 'taxi', 'cab', 'van', 'minivan', 'suv', 'jeep', 'police car',
            'race car', 'sports car', 'ambulance', 'hatchback', 'convertible', 'limousine',
            'coupe', 'station wagon', 'go-kart'),
    'truck': (*_VEHICLE, 'pickup truck', 'pickup', 'lorry', 'fire truck', 'fire engine',
              'dump truck', 'tow truck', 'garbage truck', 'semi truck', 'tractor trailer',
              'delivery truck', 'cement mixer'),
    'bus': (*_VEHICLE, 'coach', 'minibus', 'school bus', 'double-decker bus', 'trolleybus'),
    'train': (*_VEHICLE, 'tram', 'streetcar', 'locomotive', 'subway', 'light rail', 'railcar',
              'cable car', 'monorail', 'freight train'),
    'motorcycle': (*_VEHICLE, 'motorbike', 'scooter', 'moped', 'dirt bike', 'motor scooter',
                   'bike'),
    'motorbike': (*_VEHICLE, 'motorcycle', 'scooter', 'moped', 'dirt bike', 'motor scooter',
                  'bike'),
    # Not 'unicycle' or 'tricycle': WordNet files them as wheeled vehicles, not kinds of
    # bicycle; they look like one and mean something else, which is what a negative is for.
    'bicycle': (*_VEHICLE, 'bike', 'mountain bike', 'tandem', 'e-bike', 'cycle'),
    'traffic light': ('traffic signal', 'stoplight', 'signal light', 'pedestrian signal'),
    'traffic sign': ('road sign', 'street sign', 'stop sign', 'speed limit sign', 'yield sign',
                     'signpost', 'sign'),
    'aeroplane': ('airplane', 'plane', 'jet', 'airliner', 'glider', 'seaplane', 'aircraft'),
    'airplane': ('aeroplane', 'plane', 'jet', 'airliner', 'glider', 'seaplane', 'aircraft'),
    'boat': ('ship', 'yacht', 'canoe', 'kayak', 'sailboat', 'rowboat', 'ferry', 'raft',
             'jet ski', 'vessel', 'motorboat', 'watercraft'),
    'bird': ('duck', 'goose', 'swan', 'pigeon', 'parrot', 'owl', 'eagle', 'chicken', 'crow',
             'seagull', 'penguin', 'ostrich', 'hen', 'rooster', 'sparrow'),
    'cat': ('kitten', 'kitty', 'lion', 'tiger', 'leopard', 'cheetah', 'lynx'),
    'dog': ('puppy', 'wolf', 'hound', 'poodle', 'coyote'),
    'horse': ('pony', 'donkey', 'mule', 'foal', 'stallion', 'mare'),
    'cow': ('bull', 'ox', 'calf', 'cattle', 'buffalo', 'bison', 'yak'),
    'sheep': ('lamb', 'ram', 'ewe'),
    'bear': ('panda', 'polar bear', 'koala'),
    'sofa': ('couch', 'settee', 'loveseat', 'futon'),
    'couch': ('sofa', 'settee', 'loveseat', 'futon'),
    'chair': ('armchair', 'recliner', 'rocking chair', 'office chair', 'seat', 'highchair'),
    'dining table': ('table', 'desk', 'kitchen table'),
    'tv monitor': ('television', 'tv', 'monitor', 'screen', 'computer monitor', 'display'),
    'tv': ('television', 'monitor', 'screen', 'computer monitor', 'display'),
    'potted plant': ('plant', 'houseplant', 'flower pot', 'flowerpot', 'bonsai'),
    'bottle': ('water bottle', 'wine bottle', 'flask', 'thermos'),
    'cup': ('mug', 'teacup'),
    'handbag': ('purse', 'bag', 'clutch', 'tote bag'),
    'backpack': ('rucksack', 'knapsack', 'bag'),
    'suitcase': ('luggage', 'briefcase'),
    'umbrella': ('parasol',),
    'sandwich': ('hamburger', 'burger', 'sub', 'panini'),
    'hot dog': ('sausage', 'frankfurter'),
    'donut': ('doughnut',),
    'cake': ('cupcake', 'muffin'),
    'orange': ('tangerine', 'mandarin', 'clementine'),
    'oven': ('stove', 'cooker'),
    'refrigerator': ('fridge', 'freezer'),
    'cell phone': ('phone', 'smartphone', 'mobile phone', 'telephone'),
    'laptop': ('notebook computer', 'computer'),
    'remote': ('remote control', 'game controller', 'controller'),
    'mouse': ('computer mouse', 'rat'),
    'sports ball': ('ball', 'football', 'soccer ball', 'baseball', 'tennis ball'),
    'tennis racket': ('racket', 'badminton racket'),
    'clock': ('alarm clock', 'wall clock'),
    'toilet': ('urinal', 'bidet'),
    'book': ('notebook', 'novel'),
    'bench': ('park bench',),
}
# Not words of a label's meaning; ignored by the shared-word rule.
_STOP_WORDS = frozenset({'a', 'an', 'the', 'of', 'on', 'in', 'with', 'for', 'and', 'or'})


def _load(name: str) -> LabelSet:
    return load_labels(LABELS_DIR / f'{name}.yaml')


def _words(label: str) -> set[str]:
    return {singular(w) for w in normalize_label(label).split()} - _STOP_WORDS


def test_the_shipped_files_are_all_there() -> None:
    assert {p.stem for p in LABELS_DIR.glob('*.yaml')} >= set(SHIPPED)


@pytest.mark.parametrize('path', sorted(LABELS_DIR.glob('*.yaml')), ids=lambda p: p.name)
def test_file_loads_and_negatives_are_not_id_labels(path: Path) -> None:
    labels = load_labels(path)  # raises on any rule of negas_ros.labels
    id_keys = {normalize_label(x) for x in labels.id_labels}
    for negative in labels.negative_labels:
        assert normalize_label(negative) not in id_keys, negative
        # An exact plural too, in case normalize_label's rules change.
        assert normalize_label(negative + 's') not in id_keys, negative


@pytest.mark.parametrize('path', sorted(LABELS_DIR.glob('*.yaml')), ids=lambda p: p.name)
def test_negatives_share_no_word_with_an_id_label(path: Path) -> None:
    labels = load_labels(path)
    id_words = set().union(*(_words(x) for x in labels.id_labels))
    offenders = {n: sorted(_words(n) & id_words) for n in labels.negative_labels
                 if _words(n) & id_words}
    assert not offenders, f'{path.name}: negatives sharing a word with an ID label: {offenders}'


@pytest.mark.parametrize('path', sorted(LABELS_DIR.glob('*.yaml')), ids=lambda p: p.name)
def test_negatives_are_no_synonym_hyponym_or_hypernym(path: Path) -> None:
    labels = load_labels(path)
    negatives = {normalize_label(n): n for n in labels.negative_labels}
    for id_label in labels.id_labels:
        forbidden = {normalize_label(f) for f in NOT_NEGATIVES.get(normalize_label(id_label), ())}
        clash = sorted(negatives[k] for k in forbidden & set(negatives))
        assert not clash, f'{path.name}: {clash} would flag true {id_label!r} objects'


@pytest.mark.parametrize('path', sorted(LABELS_DIR.glob('*.yaml')), ids=lambda p: p.name)
def test_provenance_says_how_and_when(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding='utf-8'))
    provenance = data.get('provenance')
    assert isinstance(provenance, dict), f'{path.name}: no provenance mapping'
    # world.yaml: WordNet candidates ranked by the detector's own text encoder, as a user
    # makes them (negas-ros negatives generate; the validation run chose the unpruned list).
    expected = 'curated by hand' if path.name != 'world.yaml' else 'wordnet'
    assert provenance.get('method') == expected
    assert isinstance(provenance.get('date'), str) and provenance['date'][:4].isdigit()
    if path.name == 'world.yaml':  # generated: the command that remakes it says how
        assert 'negas-ros negatives generate' in str(provenance.get('command'))
    else:
        assert str(provenance.get('notes', '')).strip()


@pytest.mark.parametrize('name', DATASET_SETS)
def test_dataset_sets_have_a_useful_number_of_negatives(name: str) -> None:
    assert 40 <= len(_load(name).negative_labels) <= 80


def test_voc_classes_in_devkit_order() -> None:
    assert _load('voc').id_labels == VOC_CLASSES


def test_bdd100k_classes_in_det20_order() -> None:
    assert _load('bdd100k').id_labels == BDD100K_CLASSES


def test_coco_classes_in_category_id_order() -> None:
    ids = _load('coco').id_labels
    assert len(ids) == 80
    # Spot checks at the ends and where COCO's category ids skip numbers.
    assert (ids[0], ids[9], ids[11], ids[24], ids[79]) == (
        'person', 'traffic light', 'stop sign', 'backpack', 'toothbrush')


def test_demo_set_is_small_and_in_the_demo_tokenizer_vocabulary() -> None:
    from negas_ros.backends.tiny import _vocabulary  # pure: no torch at import

    labels = _load('demo')
    assert len(labels.id_labels) <= 6 and len(labels.negative_labels) <= 10
    vocabulary = set(_vocabulary())
    words = {w for label in labels.id_labels + labels.negative_labels for w in label.split()}
    assert words <= vocabulary, f'would tokenise to [UNK] or pieces: {words - vocabulary}'
