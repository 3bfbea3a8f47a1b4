"""The parameter table, config validation and params-file checks (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from negas_ros.config import (
    PARAMETERS,
    ConfigError,
    config_from_values,
    default_values,
    load_params_file,
    resolve_path,
)
from negas_ros.labels import LabelError
from negas_ros.scores import SCORE_METHODS

BASE = {'id_labels': ['car', 'person'], 'negative_labels': ['van']}


def test_every_parameter_has_a_description_and_a_typed_default() -> None:
    names = [spec.name for spec in PARAMETERS]
    assert len(names) == len(set(names))
    for spec in PARAMETERS:
        assert spec.description.endswith('.'), spec.name
        assert spec.default is not None


def test_issue_parameters_are_all_declared() -> None:
    required = {'backend', 'model', 'device', 'half', 'labels_file', 'id_labels',
                'negative_labels', 'box_threshold', 'score_method', 'ood_threshold', 'nega',
                'unknown_label', 'input_transport', 'publish_debug_image'}
    assert required <= set(default_values())


def test_reload_parameters_are_read_only_and_thresholds_are_not() -> None:
    read_only = {spec.name for spec in PARAMETERS if spec.read_only}
    assert {'backend', 'model', 'device', 'half', 'input_transport'} <= read_only
    assert not {'box_threshold', 'ood_threshold', 'score_method', 'id_labels',
                'negative_labels', 'labels_file', 'nega'} & read_only


def test_score_method_choices_are_the_score_registry() -> None:
    spec = next(s for s in PARAMETERS if s.name == 'score_method')
    assert set(spec.choices) == set(SCORE_METHODS)


def test_inline_labels_build_a_config() -> None:
    config = config_from_values(BASE)
    assert config.labels.id_labels == ('car', 'person')
    assert config.labels.negative_labels == ('van',)
    assert config.score_method == 'negs'
    assert config.labels_source == 'parameters id_labels/negative_labels'


def test_empty_string_placeholders_mean_empty_lists() -> None:
    config = config_from_values({'id_labels': ['car', ''], 'negative_labels': ['']})
    assert config.labels.id_labels == ('car',)
    assert config.labels.negative_labels == ()


def test_labels_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / 'labels.yaml'
    path.write_text('id_labels: [bus]\nnegative_labels: [tram]\n')
    config = config_from_values({'labels_file': str(path)})
    assert config.labels.id_labels == ('bus',)
    assert config.labels_source == str(path)


def test_package_uri_resolves_against_the_share_directory(tmp_path: Path) -> None:
    (tmp_path / 'config').mkdir()
    (tmp_path / 'config' / 'l.yaml').write_text('id_labels: [bus]\n')
    config = config_from_values({'labels_file': 'package://negas_ros/config/l.yaml'},
                                share_dir=str(tmp_path))
    assert config.labels.id_labels == ('bus',)
    with pytest.raises(ConfigError, match='share directory'):
        resolve_path('package://negas_ros/config/l.yaml')


def test_bad_labels_file_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / 'bad.yaml'
    path.write_text('id_labels: [car]\nnegative_labels: [cars]\n')
    with pytest.raises(LabelError) as info:
        config_from_values({'labels_file': str(path)})
    assert str(path) in str(info.value) and 'negative_labels' in str(info.value)


@pytest.mark.parametrize(('values', 'fragment'), [
    ({}, "no ID labels: set parameter 'labels_file'"),
    ({**BASE, 'score_method': 'msp'}, "'score_method' is 'msp'; choose one of"),
    ({**BASE, 'ood_threshold': 2.0}, "'ood_threshold' is 2.0 but score_method 'negs' lies in"),
    ({**BASE, 'score_method': 'negs_diff', 'ood_threshold': -1.5}, 'lies in [-1, 1]'),
    ({**BASE, 'box_threshold': 1.5}, "'box_threshold' is 1.5; it must lie in [0.0, 1.0]"),
    ({**BASE, 'device': 'gpu'}, "'device' is 'gpu'; use 'cpu' or 'cuda:N'"),
    ({**BASE, 'half': True}, "fp16 needs 'cuda:N'"),
    ({**BASE, 'model': ' '}, "'model' is empty"),
    ({**BASE, 'unknown_label': 'Car'}, "'unknown_label' 'Car' is also an ID label"),
    ({**BASE, 'labels_file': 'x.yaml'}, 'are both set; use one of them'),
    ({**BASE, 'max_detections': 0}, "'max_detections' is 0"),
    ({**BASE, 'box_threshold': 'high'}, "'box_threshold' must be of type float"),
    ({**BASE, 'nega': 1}, "'nega' must be of type bool"),
    ({**BASE, 'bogus': 1}, 'unknown parameter(s) bogus'),
    ({'id_labels': 'car'}, "'id_labels' must be a list of strings"),
    ({**BASE, 'tracking': 'yes'}, "'tracking' must be of type bool"),
    ({**BASE, 'tracker': 'sort'}, "'tracker' is 'sort'; choose one of bytetrack"),
    ({**BASE, 'track_evidence': 'median'}, "'track_evidence' is 'median'; choose one of"),
    ({**BASE, 'track_decay': 1.0}, "'track_decay' is 1.0; it must lie in [0.0, 0.999]"),
    ({**BASE, 'track_min_frames': 0}, "'track_min_frames' is 0"),
    ({**BASE, 'track_window': 0}, "'track_window' is 0"),
    ({**BASE, 'track_max_lost': -1}, "'track_max_lost' is -1"),
])
def test_invalid_values_are_rejected_with_the_parameter_named(values: dict[str, object],
                                                                fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_values(values)
    assert fragment in str(info.value)


def test_energy_accepts_any_threshold() -> None:
    config = config_from_values({**BASE, 'score_method': 'energy', 'ood_threshold': -7.5})
    assert config.ood_threshold == -7.5


def test_label_reencode_is_needed_only_for_label_or_nega_changes() -> None:
    a = config_from_values(BASE)
    assert not a.needs_label_reencode(config_from_values({**BASE, 'ood_threshold': 0.9}))
    assert a.needs_label_reencode(config_from_values({**BASE, 'nega': False}))
    assert a.needs_label_reencode(config_from_values({**BASE, 'negative_labels': ['tram']}))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / 'params.yaml'
    path.write_text(text)
    return path


def test_params_file_accepts_wildcard_and_node_sections(tmp_path: Path) -> None:
    path = _write(tmp_path, '/**:\n  ros__parameters:\n    id_labels: [car]\n'
                            'negas_detector:\n  ros__parameters:\n    ood_threshold: 0.4\n'
                            'other_node:\n  ros__parameters:\n    whatever: 1\n')
    assert load_params_file(path) == {'id_labels': ['car'], 'ood_threshold': 0.4}


@pytest.mark.parametrize(('text', 'fragment'), [
    ('/**:\n  ros__parameters:\n    id_labels: [car]\n    scor_method: negs\n',
     "unknown parameter 'scor_method'"),
    ('/**:\n  ros__parameters: [1, 2]\n', "needs a 'ros__parameters' mapping"),
    ('/**: {ros__parameters: {id_labels: [car], ood_threshold: 3.0}}\n', "'ood_threshold'"),
    ('/**:\n  ros__parameters:\n   - bad: [\n', 'not valid YAML'),
    ('- just a list\n', "expected a mapping like '/**"),
])
def test_bad_params_file_names_the_file_and_key(tmp_path: Path, text: str,
                                                fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_params_file(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_missing_params_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='cannot read the parameters file'):
        load_params_file(tmp_path / 'nope.yaml')


def test_embedded_model_name_resolves_inside_the_package() -> None:
    config = config_from_values({**BASE, 'backend': 'yolo_world', 'model': 'negas_mini'})
    assert Path(config.model).parts[-2:] == ('models', 'negas_mini')
    assert Path(config.model).is_absolute()
    with pytest.raises(ConfigError, match='set backend: yolo_world'):
        config_from_values({**BASE, 'backend': 'grounding_dino', 'model': 'negas_mini'})


def test_cameras_parameter() -> None:
    base = {'id_labels': ['car']}
    assert config_from_values(base).cameras == ('',)  # today's single camera, plain names
    assert config_from_values({**base, 'cameras': ['']}).cameras == ('',)
    assert config_from_values({**base, 'cameras': ['front', 'cam/left']}).cameras == (
        'front', 'cam/left')
    for bad in (['front', 'front'], ['1st'], ['/front'], ['front/'], ['fr ont'], ['a-b']):
        with pytest.raises(ConfigError, match="parameter 'cameras'"):
            config_from_values({**base, 'cameras': bad})
    with pytest.raises(ConfigError, match="'cameras' must be a list"):
        config_from_values({**base, 'cameras': 'front'})


def test_tracking_parameters_build_the_tracking_config(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_from_values({**BASE, 'track_evidence': 'mean', 'track_window': 7,
                                 'track_decay': 0.5, 'track_min_frames': 4,
                                 'track_max_lost': 12})
    tracking = config.tracking
    assert tracking.enabled and tracking.tracker == 'bytetrack'
    assert (tracking.evidence.rule, tracking.evidence.window, tracking.evidence.decay,
            tracking.evidence.min_frames) == ('mean', 7, 0.5, 4)
    assert tracking.association.max_lost == tracking.evidence.max_missed == 12
    assert not config_from_values({**BASE, 'tracking': False}).tracking.enabled
    # The optional tracker needs its package; without it the parameter is refused by name.
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'trackers' else real(name, *a))
    with pytest.raises(ConfigError, match="'tracker' is 'trackers_bytetrack' but the 'trackers'"):
        config_from_values({**BASE, 'tracker': 'trackers_bytetrack'})
