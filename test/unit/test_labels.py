"""Unit tests of negas_ros.labels: label sets, plural-insensitive checks, label files."""

from __future__ import annotations

from pathlib import Path

import pytest

from negas_ros.labels import (
    ALLOWED_KEYS,
    LabelError,
    LabelSet,
    load_labels,
    make_label_set,
    normalize_label,
    singular,
)


def write(tmp_path: Path, text: str, name: str = 'labels.yaml') -> Path:
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return path


def load_error(path: Path) -> str:
    with pytest.raises(LabelError) as info:
        load_labels(path)
    message = str(info.value)
    assert str(path) in message, message
    return message


# --- singular / normalize_label ---------------------------------------------------------


@pytest.mark.parametrize(
    ('plural', 'expected'),
    [
        ('cars', 'car'),
        ('trucks', 'truck'),
        ('buses', 'bus'),
        ('bus', 'bus'),
        ('glasses', 'glass'),
        ('glass', 'glass'),
        ('boxes', 'box'),
        ('benches', 'bench'),
        ('dishes', 'dish'),
        ('bodies', 'body'),
        ('ponies', 'pony'),
        ('cookies', 'cookie'),
        ('ties', 'tie'),
        ('horses', 'horse'),
        ('houses', 'house'),
        ('blouses', 'blouse'),
        ('viruses', 'virus'),
        ('noises', 'noise'),
        ('irises', 'iris'),
        ('dresses', 'dress'),
        ('shoes', 'shoe'),
        ('tomatoes', 'tomato'),
        ('people', 'person'),
        ('men', 'man'),
        ('women', 'woman'),
        ('children', 'child'),
        ('mice', 'mouse'),
        ('geese', 'goose'),
        ('feet', 'foot'),
        ('teeth', 'tooth'),
        ('leaves', 'leaf'),
        ('knives', 'knife'),
        ('lens', 'lens'),
        ('lenses', 'lens'),
        ('species', 'species'),
        ('cactus', 'cactus'),
        ('gas', 'gas'),
        ('person', 'person'),
        ('sheep', 'sheep'),
    ],
)
def test_singular(plural: str, expected: str) -> None:
    assert singular(plural) == expected


def test_singular_is_idempotent_on_singulars() -> None:
    for word in ('car', 'bus', 'glass', 'box', 'body', 'cookie', 'house', 'person', 'knife'):
        assert singular(word) == word


def test_normalize_label_folds_case_whitespace_separators_and_plural_of_last_word() -> None:
    assert normalize_label('  Traffic   Lights ') == 'traffic light'
    assert normalize_label('traffic_light') == 'traffic light'
    assert normalize_label('traffic-light') == 'traffic light'
    assert normalize_label('PEOPLE') == 'person'
    # Only the head noun (last word) is made singular.
    assert normalize_label('glasses case') == 'glasses case'
    assert normalize_label('') == ''


# --- LabelSet / make_label_set ----------------------------------------------------------


def test_make_label_set_cleans_and_stores_tuples() -> None:
    labels = make_label_set([' car ', 'traffic \t light'], ['van'], 'a photo of a {}.')
    assert labels == LabelSet(('car', 'traffic light'), ('van',), 'a photo of a {}.')
    assert labels.id_prompts() == ('a photo of a car.', 'a photo of a traffic light.')
    assert labels.negative_prompts() == ('a photo of a van.',)


def test_make_label_set_defaults() -> None:
    labels = make_label_set(['car'])
    assert labels.negative_labels == ()
    assert labels.prompt_template == '{}'
    assert labels.id_prompts() == ('car',)


def test_label_set_constructor_validates_and_cleans() -> None:
    labels = LabelSet([' car'], [], 'x {}')  # type: ignore[arg-type]
    assert labels.id_labels == ('car',)
    assert labels.negative_labels == ()
    with pytest.raises(LabelError, match=r'<inline>: id_labels is empty'):
        LabelSet((), ())


def test_label_set_is_frozen() -> None:
    labels = make_label_set(['car'])
    with pytest.raises(AttributeError):
        labels.id_labels = ('bus',)  # type: ignore[misc]


def test_literal_braces_in_template_are_allowed() -> None:
    labels = make_label_set(['car'], prompt_template='{{{}}}')
    assert labels.id_prompts() == ('{car}',)


@pytest.mark.parametrize(
    ('ids', 'negs', 'fragment'),
    [
        ([], [], 'id_labels is empty'),
        ('car', [], 'id_labels must be a list of strings, got string'),
        (['car', 5], [], 'id_labels[1] must be a non-empty string, got number 5'),
        (['car', None], [], 'id_labels[1] must be a non-empty string, got null'),
        (['car', True], [], 'id_labels[1] must be a non-empty string, got boolean True'),
        (['car', '  '], [], 'id_labels[1] is empty or blank'),
        (['car'], ['van', 3.5], 'negative_labels[1] must be a non-empty string, got number'),
        (['car', 'Cars'], [], "id_labels[1] ('Cars') repeats id_labels[0] ('car')"),
        (['bus', 'truck', 'BUSES'], [], "id_labels[2] ('BUSES') repeats id_labels[0] ('bus')"),
        (['person', 'people'], [], "id_labels[1] ('people') repeats id_labels[0]"),
        (['car'], ['van', 'vans'], "negative_labels[1] ('vans') repeats negative_labels[0]"),
        (
            ['car', 'traffic light'],
            ['van', 'Traffic Lights'],
            "negative_labels[1] ('Traffic Lights') is the same label as id_labels[1] "
            "('traffic light')",
        ),
    ],
)
def test_make_label_set_rejects(ids: object, negs: object, fragment: str) -> None:
    with pytest.raises(LabelError) as info:
        make_label_set(ids, negs, source='my.yaml')  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith('my.yaml: '), message
    assert fragment in message, message


@pytest.mark.parametrize(
    'template', ['a photo', '{} and {}', '{0}', '{name}', '{:>5}', '{!r}', '{']
)
def test_make_label_set_rejects_bad_templates(template: str) -> None:
    with pytest.raises(LabelError) as info:
        make_label_set(['car'], prompt_template=template, source='t.yaml')
    message = str(info.value)
    assert message.startswith('t.yaml: prompt_template'), message
    assert "'{}'" in message, message


def test_label_error_is_a_value_error() -> None:
    assert issubclass(LabelError, ValueError)


# --- load_labels ------------------------------------------------------------------------


def test_load_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'id_labels: [car, truck, traffic light]\n'
        'negative_labels:\n  - van\n  - tram\n'
        "prompt_template: 'a photo of a {}.'\n"
        'provenance:\n  generator: llm\n  model: some-model\n  seed: 3\n',
    )
    labels = load_labels(path)
    assert labels.id_labels == ('car', 'truck', 'traffic light')
    assert labels.negative_labels == ('van', 'tram')
    assert labels.prompt_template == 'a photo of a {}.'


def test_load_accepts_str_path_and_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, 'id_labels: [car]\n')
    labels = load_labels(str(path))
    assert labels == LabelSet(('car',), (), '{}')


def test_load_null_optional_keys_mean_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, 'id_labels: [car]\nnegative_labels:\nprompt_template:\n')
    assert load_labels(path) == LabelSet(('car',), (), '{}')


def test_missing_file(tmp_path: Path) -> None:
    message = load_error(tmp_path / 'nope.yaml')
    assert 'not found' in message


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    message = load_error(tmp_path)
    assert 'cannot read' in message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'id_labels: [car, truck\nnegative_labels: [van]\n')
    message = load_error(path)
    assert 'not valid YAML' in message
    assert 'line' in message


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / 'labels.yaml'
    path.write_bytes(b'id_labels: [caf\xe9]\n')
    assert 'cannot read' in load_error(path)


def test_empty_file(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, '# nothing here\n'))
    assert 'empty' in message and 'id_labels' in message


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, '- car\n- truck\n'))
    assert 'top level must be a mapping' in message
    assert 'id_labels' in message and 'got list' in message


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, 'id_labels: [car]\nnegatives: [van]\n'))
    assert "unknown top-level key(s) 'negatives'" in message
    for key in ALLOWED_KEYS:
        assert key in message


def test_duplicate_key(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, 'id_labels: [car]\nid_labels: [bus]\n'))
    assert "duplicate key 'id_labels'" in message


def test_missing_id_labels(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, 'negative_labels: [van]\n'))
    assert 'missing key id_labels' in message


@pytest.mark.parametrize(
    ('text', 'fragment'),
    [
        ('id_labels: []\n', 'id_labels is empty'),
        ('id_labels:\n', 'id_labels must be a list of strings, got null'),
        ('id_labels: car\n', 'id_labels must be a list of strings, got string'),
        ('id_labels: {car: 1}\n', 'id_labels must be a list of strings, got dict'),
        ('id_labels: [car, 42]\n', 'id_labels[1] must be a non-empty string, got number 42'),
        ('id_labels: [car, yes]\n', 'id_labels[1] must be a non-empty string, got boolean'),
        ('id_labels:\n  - car\n  -\n', 'id_labels[1] must be a non-empty string, got null'),
        ("id_labels: [car, ' ']\n", 'id_labels[1] is empty or blank'),
        ('id_labels: [car, bus, Cars]\n', "id_labels[2] ('Cars') repeats id_labels[0] ('car')"),
        ('id_labels: [car]\nnegative_labels: van\n', 'negative_labels must be a list'),
        ('id_labels: [car]\nnegative_labels: [1]\n', 'negative_labels[0] must be a non-empty'),
        (
            'id_labels: [car]\nnegative_labels: [van, vans]\n',
            "negative_labels[1] ('vans') repeats negative_labels[0] ('van')",
        ),
        (
            'id_labels: [car, person]\nnegative_labels: [van, people]\n',
            "negative_labels[1] ('people') is the same label as id_labels[1] ('person')",
        ),
        ('id_labels: [car]\nprompt_template: 3\n', 'prompt_template must be a string'),
        ("id_labels: [car]\nprompt_template: 'a {} {}'\n", 'prompt_template'),
        ("id_labels: [car]\nprompt_template: 'a photo'\n", "exactly one '{}'"),
    ],
)
def test_load_rejects_bad_content(tmp_path: Path, text: str, fragment: str) -> None:
    message = load_error(write(tmp_path, text))
    assert fragment in message, message


def test_error_messages_say_how_to_fix(tmp_path: Path) -> None:
    fixes = {
        'id_labels: [car, car]\n': 'remove one of them',
        'id_labels: [car]\nnegative_labels: [cars]\n': 'remove it from negative_labels',
        'id_labels: [1]\n': 'quote it in YAML',
        'id_labels: car\n': 'write it as a YAML list',
        "id_labels: [car]\nprompt_template: 'x'\n": "e.g. 'a photo of a {}.'",
    }
    for text, fix in fixes.items():
        assert fix in load_error(write(tmp_path, text)), text


@pytest.mark.parametrize('value', [{'car', 'bus'}, {'car': 1}, (label for label in ['car'])])
def test_unordered_or_lazy_containers_are_rejected(value: object) -> None:
    # Label order is class order: sets, mappings and generators are not label lists.
    with pytest.raises(LabelError, match='<inline>: id_labels must be a list of strings'):
        make_label_set(value)  # type: ignore[arg-type]


def test_tuples_are_accepted() -> None:
    assert make_label_set(('car',), ('van',)).negative_labels == ('van',)
