"""Checks of launch/detector.launch.py, config/*.yaml and rviz/negas.rviz.

``ros2 launch`` cannot run in the unit tests (launch and launch_ros are not on PyPI). The launch
file computes what it launches with plain functions of the launch argument values and the share
directory; it is imported here as a module (it imports launch and launch_ros only when a launch
description is built) and those functions are run and compared with what they must agree with:
the node's source, CMakeLists.txt, the parameter table and the files they point at. One test
builds the launch description with recording stand-ins for launch, launch_ros and
ament_index_python, for the few lines that turn those results into launch objects.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
import importlib.util
import inspect
import os
from pathlib import Path
import re
import sys
import types
from typing import Any

import pytest
import yaml

from negas_ros.config import PARAMETERS, config_from_values, load_params_file
from negas_ros.package_paths import resolve_package_uri

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILE = REPO / 'launch' / 'detector.launch.py'
NODE_SOURCE = REPO / 'negas_ros' / 'ros' / 'detector_node.py'
CMAKE = REPO / 'CMakeLists.txt'
RVIZ_FILE = REPO / 'rviz' / 'negas.rviz'
PARAMETER_NAMES = {spec.name for spec in PARAMETERS}
# The launch file's view of the package's share directory: the repository, as installed by
# CMakeLists.txt (config/, launch/, rviz/ under share/negas_ros).
SHARE_DIR = str(REPO)

EXPECTED_ARGUMENTS = [
    'params_file', 'labels_file', 'namespace', 'image_topic', 'device', 'model', 'cameras',
    'camera_topics', 'use_rviz']
# Inline label lists: the alternative to labels_file, documented in detector.yaml comments.
INLINE_LABEL_PARAMETERS = {'id_labels', 'negative_labels'}
LAUNCH_MODULES = ('launch', 'launch.actions', 'launch.conditions', 'launch.substitutions',
                  'launch.launch_context', 'launch.launch_description', 'launch_ros',
                  'launch_ros.actions', 'launch_ros.parameter_descriptions',
                  'ament_index_python', 'ament_index_python.packages')


def _import_launch_file() -> types.ModuleType:
    """launch/detector.launch.py imported as a module, as ``ros2 launch`` loads it."""
    spec = importlib.util.spec_from_file_location('detector_launch', LAUNCH_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def launch_file() -> types.ModuleType:
    return _import_launch_file()


class _Used(dict[str, str]):
    """Launch argument values that remember which arguments were read."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.used: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.used.add(name)
        return super().__getitem__(name)


def _defaults(launch_file: types.ModuleType) -> dict[str, str]:
    return {name: default for name, default, _ in launch_file.launch_arguments(SHARE_DIR)}


def _values(launch_file: types.ModuleType, **overrides: str) -> _Used:
    """Launch argument values as ``ros2 launch`` hands them over: the defaults, then overrides."""
    return _Used(_defaults(launch_file) | overrides)


def _share_path(path: str) -> str:
    """A path under the share directory, relative to it."""
    relative = os.path.relpath(path, SHARE_DIR)
    assert not relative.startswith('..'), path
    return relative.replace(os.sep, '/')


def _cmake_installed_directories() -> set[str]:
    match = re.search(r'install\(\s*DIRECTORY\s+(.*?)\s+DESTINATION\s+share/\$\{PROJECT_NAME\}',
                      CMAKE.read_text(encoding='utf-8'), re.S)
    assert match, 'CMakeLists.txt does not install directories to share/${PROJECT_NAME}'
    return set(match.group(1).split())


# ---- the launch file ---------------------------------------------------------------------------

def test_launch_file_imports_without_ros_and_has_an_entry_point(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing builds nothing: launch and launch_ros are imported only by the entry point."""
    for name in LAUNCH_MODULES:
        monkeypatch.setitem(sys.modules, name, None)  # None: importing it raises ImportError
    module = _import_launch_file()
    assert callable(module.generate_launch_description)
    with pytest.raises(ImportError):
        module.generate_launch_description()


def test_executable_is_the_installed_script(launch_file: types.ModuleType) -> None:
    executable = launch_file.detector_node(_values(launch_file))['executable']
    assert executable == 'detector_node'
    cmake = CMAKE.read_text(encoding='utf-8')
    match = re.search(r'install\(\s*PROGRAMS\s+(.*?)\s+DESTINATION\s+lib/\$\{PROJECT_NAME\}',
                      cmake, re.S)
    assert match, 'CMakeLists.txt has no install(PROGRAMS ... DESTINATION lib/${PROJECT_NAME})'
    programs = match.group(1).split()
    assert f'scripts/{executable}' in programs
    script = REPO / 'scripts' / executable
    assert script.is_file()
    assert script.read_text(encoding='utf-8').startswith('#!/usr/bin/env python3')
    assert re.search(r'project\(\s*negas_ros\s*\)', cmake)
    assert launch_file.detector_node(_values(launch_file))['package'] == 'negas_ros'


def _node_source_constant(name: str) -> Any:
    """A literal module constant of the node's source (the node module needs rclpy to import)."""
    for statement in ast.parse(NODE_SOURCE.read_text(encoding='utf-8')).body:
        if isinstance(statement, ast.Assign) and [ast.unparse(t) for t in statement.targets] == [
                name]:
            return ast.literal_eval(statement.value)
    raise AssertionError(f'{NODE_SOURCE.name} has no constant {name}')


def test_node_name_matches_the_node_source(launch_file: types.ModuleType) -> None:
    name = launch_file.detector_node(_values(launch_file))['name']
    assert name == 'negas_detector'
    assert _node_source_constant('NODE_NAME') == name
    # Params files may name the node in their section keys; the file check must use this name.
    assert inspect.signature(load_params_file).parameters['node_name'].default == name


def test_node_output_goes_to_the_screen(launch_file: types.ModuleType) -> None:
    node = launch_file.detector_node(_values(launch_file))
    assert (node['output'], node['emulate_tty']) == ('screen', True)


def test_every_argument_is_declared_once_with_a_description(
        launch_file: types.ModuleType) -> None:
    arguments = launch_file.launch_arguments(SHARE_DIR)
    assert [name for name, _, _ in arguments] == EXPECTED_ARGUMENTS
    for name, default, description in arguments:
        assert isinstance(default, str), name
        assert isinstance(description, str) and len(description.strip()) > 10, name


def test_defaults(launch_file: types.ModuleType) -> None:
    defaults = _defaults(launch_file)
    assert _share_path(defaults['params_file']) == 'config/detector.yaml'
    assert defaults['image_topic'] == '/camera/image_raw'
    assert defaults['use_rviz'] == 'false'
    # Empty means "keep the params file's value", so config/detector.yaml stays authoritative.
    for name in ('labels_file', 'model', 'device', 'namespace', 'cameras', 'camera_topics'):
        assert defaults[name] == '', name


def test_defaults_start_the_node_on_the_params_file_alone(launch_file: types.ModuleType) -> None:
    values = _values(launch_file)
    node = launch_file.detector_node(values)
    assert node['parameters'] == [values['params_file']]
    assert node['namespace'] == ''
    assert dict(node['remappings']) == {'image': '/camera/image_raw',
                                        'image/compressed': '/camera/image_raw/compressed'}


def test_every_argument_is_used(launch_file: types.ModuleType) -> None:
    values = _values(launch_file)
    launch_file.detector_node(values)
    launch_file.rviz_node(values, SHARE_DIR)
    # use_rviz is the rviz2 node's launch condition (checked with the launch description).
    assert values.used | {'use_rviz'} == set(EXPECTED_ARGUMENTS)


@pytest.mark.parametrize('given', [
    {'labels_file': '/tmp/labels.yaml'},
    {'model': 'IDEA-Research/grounding-dino-tiny', 'device': 'cpu'},
    {'labels_file': 'package://negas_ros/config/labels/world.yaml', 'model': 'negas_mini',
     'device': 'cuda:1'},
    {'device': '1'},  # kept a string: the launch description gives value_type=str
])
def test_non_empty_arguments_override_the_params_file(launch_file: types.ModuleType,
                                                      given: dict[str, str]) -> None:
    values = _values(launch_file, params_file='/tmp/params.yaml', **given)
    parameters = launch_file.detector_node(values)['parameters']
    # The params file first: the overrides after it win.
    assert parameters[0] == '/tmp/params.yaml'
    order = ('labels_file', 'model', 'device')
    assert parameters[1:] == [(name, given[name]) for name in order if name in given]


def test_overridden_parameters_exist(launch_file: types.ModuleType) -> None:
    overridable = launch_file.OVERRIDABLE_PARAMETERS
    assert set(overridable) == {'labels_file', 'model', 'device'}
    defaults = {spec.name: spec.default for spec in PARAMETERS}
    values = _values(launch_file, **{name: 'x' for name in overridable})
    overridden = [name for name, _ in launch_file.detector_node(values)['parameters'][1:]]
    assert overridden == list(overridable)
    for name in overridden:
        assert name in PARAMETER_NAMES, f'{name} is not a node parameter (negas_ros.config)'
        assert name in EXPECTED_ARGUMENTS
        # Launch arguments are strings: only string parameters can be overridden as they are.
        assert isinstance(defaults[name], str), name


def test_image_topics_are_remapped_to_what_the_node_subscribes(
        launch_file: types.ModuleType) -> None:
    values = _values(launch_file, image_topic='/front/image_raw', namespace='robot1')
    node = launch_file.detector_node(values)
    assert node['namespace'] == 'robot1'
    assert dict(node['remappings']) == {'image': '/front/image_raw',
                                        'image/compressed': '/front/image_raw/compressed'}
    node_strings = {n.value for n in ast.walk(ast.parse(NODE_SOURCE.read_text(encoding='utf-8')))
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert {'image', 'image/compressed', 'debug_image'} <= node_strings


def _share_files(launch_file: types.ModuleType) -> set[str]:
    """Every file of the share directory the launch file points at, relative to it."""
    values = _values(launch_file)
    rviz_arguments = launch_file.rviz_node(values, SHARE_DIR)['arguments']
    return {_share_path(values['params_file']),
            _share_path(launch_file.fastdds_profile(SHARE_DIR)[1]),
            _share_path(rviz_arguments[rviz_arguments.index('-d') + 1])}


def test_share_files_exist_and_are_installed(launch_file: types.ModuleType) -> None:
    paths = _share_files(launch_file)
    assert paths == {'config/detector.yaml', 'rviz/negas.rviz', 'config/fastdds_shm.xml'}
    installed = _cmake_installed_directories()
    assert 'launch' in installed
    for path in paths:
        assert (REPO / path).is_file(), path
        assert path.split('/')[0] in installed, f'{path} is not installed by CMakeLists.txt'


def test_fastdds_profile_is_the_shipped_profile(launch_file: types.ModuleType) -> None:
    variable, profile = launch_file.fastdds_profile(SHARE_DIR)
    assert variable == 'FASTDDS_DEFAULT_PROFILES_FILE'
    assert _share_path(profile) == 'config/fastdds_shm.xml'
    assert variable in Path(profile).read_text(encoding='utf-8')


def test_rviz_is_remapped_to_the_rviz_file_topics(launch_file: types.ModuleType) -> None:
    values = _values(launch_file, image_topic='/front/image_raw', namespace='robot1')
    rviz = launch_file.rviz_node(values, SHARE_DIR)
    assert (rviz['package'], rviz['executable']) == ('rviz2', 'rviz2')
    assert rviz['arguments'][0] == '-d'
    assert rviz['namespace'] == 'robot1'
    remappings = dict(rviz['remappings'])
    assert set(remappings) == set(_rviz_topics())
    # The detector publishes the relative debug_image in its namespace; the camera is the input.
    assert remappings == {'/debug_image': 'debug_image', '/camera/image_raw': '/front/image_raw'}


def test_cameras_get_their_own_inputs_and_the_cameras_parameter(
        launch_file: types.ModuleType) -> None:
    values = _values(launch_file, cameras=' front, left ,right',
                     camera_topics='/cam_front/image_raw,/cam_left/image_raw,/cam_right/raw',
                     device='cpu')
    node = launch_file.detector_node(values)
    # The names reach the node as the string array parameter 'cameras', after the file.
    assert node['parameters'][1:] == [('device', 'cpu'),
                                      {'cameras': ['front', 'left', 'right']}]
    assert dict(node['remappings']) == {
        'front/image': '/cam_front/image_raw',
        'front/image/compressed': '/cam_front/image_raw/compressed',
        'left/image': '/cam_left/image_raw',
        'left/image/compressed': '/cam_left/image_raw/compressed',
        'right/image': '/cam_right/raw',
        'right/image/compressed': '/cam_right/raw/compressed',
    }
    # The node accepts what the launch file gives it (the names are valid camera names).
    config_from_values({'id_labels': ['car'], 'cameras': ['front', 'left', 'right']})
    # Without camera_topics each camera reads /<name>/image_raw.
    default_topics = launch_file.detector_node(_values(launch_file, cameras='front,rear'))
    assert dict(default_topics['remappings'])['rear/image'] == '/rear/image_raw'


def test_camera_topics_must_match_the_cameras(launch_file: types.ModuleType) -> None:
    values = _values(launch_file, cameras='front,left', camera_topics='/a/image')
    with pytest.raises(ValueError, match='1 topics for 2 cameras'):
        launch_file.detector_node(values)


def test_rviz_shows_every_cameras_debug_image(launch_file: types.ModuleType,
                                              tmp_path: Path) -> None:
    values = _values(launch_file, cameras='front,left,right', namespace='robot1')
    rviz = launch_file.rviz_node(values, SHARE_DIR, str(tmp_path))
    path = rviz['arguments'][rviz['arguments'].index('-d') + 1]
    assert Path(path).parent == tmp_path
    layout = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
    displays = layout['Visualization Manager']['Displays']
    assert [(d['Class'], d['Topic']['Value']) for d in displays] == [
        ('rviz_default_plugins/Image', f'/{name}/debug_image')
        for name in ('front', 'left', 'right')]
    assert all(d['Topic']['Reliability Policy'] == 'Best Effort' for d in displays)
    # Each display's topic is remapped to the detector's relative output in its namespace.
    assert rviz['namespace'] == 'robot1'
    assert dict(rviz['remappings']) == {f'/{n}/debug_image': f'{n}/debug_image'
                                        for n in ('front', 'left', 'right')}
    assert {d['Name'] for d in displays} <= set(layout['Window Geometry'])


# ---- the launch description, built with recording stand-ins ------------------------------------

class _Recorded:
    """A launch or launch_ros object: what it was constructed with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration(_Recorded):
    def perform(self, context: Mapping[str, str]) -> str:
        return context[self.args[0]]


def _recorder(name: str) -> type[_Recorded]:
    return type(name, (_Recorded,), {})


def _share_directory(package: str) -> str:
    assert package == 'negas_ros'
    return SHARE_DIR


def _stand_ins() -> dict[str, types.ModuleType]:
    """Modules named as the launch file imports them, with recording classes."""
    contents: dict[str, dict[str, Any]] = {
        'launch.actions': {name: _recorder(name) for name in (
            'DeclareLaunchArgument', 'OpaqueFunction', 'SetEnvironmentVariable')},
        'launch.conditions': {'IfCondition': _recorder('IfCondition')},
        'launch.substitutions': {'EnvironmentVariable': _recorder('EnvironmentVariable'),
                                 'LaunchConfiguration': _LaunchConfiguration},
        'launch.launch_context': {'LaunchContext': _recorder('LaunchContext')},
        'launch.launch_description': {'LaunchDescription': _recorder('LaunchDescription')},
        'launch_ros.actions': {'Node': _recorder('Node')},
        'launch_ros.parameter_descriptions': {'Parameter': _recorder('Parameter')},
        'ament_index_python.packages': {'get_package_share_directory': _share_directory},
    }
    modules = {name: types.ModuleType(name) for name in LAUNCH_MODULES}
    for name, attributes in contents.items():
        vars(modules[name]).update(attributes)
    return modules


@pytest.fixture
def with_stand_ins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, module in _stand_ins().items():
        monkeypatch.setitem(sys.modules, name, module)
    yield


def _kind(recorded: Any) -> str:
    return type(recorded).__name__


@pytest.mark.usefixtures('with_stand_ins')
def test_launch_description(launch_file: types.ModuleType) -> None:
    description = launch_file.generate_launch_description()
    assert _kind(description) == 'LaunchDescription'
    *declared, environment, opaque = description.args[0]
    # Every argument declared once, with its default and description (what --show-args lists).
    assert [(_kind(d), d.args[0], d.kwargs['default_value'], d.kwargs['description'])
            for d in declared] == [('DeclareLaunchArgument', *argument)
                                   for argument in launch_file.launch_arguments(SHARE_DIR)]
    # The Fast DDS profile is the variable itself, defaulting to ours: a user's setting wins.
    variable, profile = launch_file.fastdds_profile(SHARE_DIR)
    assert _kind(environment) == 'SetEnvironmentVariable'
    assert environment.args[0] == variable
    value = environment.args[1]
    assert (_kind(value), value.args, value.kwargs) == (
        'EnvironmentVariable', (variable,), {'default_value': profile})
    # The nodes are built once the argument values are known.
    assert _kind(opaque) == 'OpaqueFunction'
    context = dict(_defaults(launch_file), labels_file=' /tmp/labels.yaml ', device='1',
                   namespace='robot1')
    detector, rviz = opaque.kwargs['function'](context)
    values = _values(launch_file, labels_file='/tmp/labels.yaml', device='1', namespace='robot1')
    expected = launch_file.detector_node(values)
    params_file, *overrides = expected.pop('parameters')
    assert _kind(detector) == 'Node' and detector.args == ()
    parameters = detector.kwargs.pop('parameters')
    assert detector.kwargs == expected
    # Overrides are launch_ros Parameters typed str, so '1' stays the string '1'.
    assert parameters[0] == params_file
    assert [(_kind(p), p.args, p.kwargs) for p in parameters[1:]] == [
        ('Parameter', (name, value), {'value_type': str}) for name, value in overrides]
    assert _kind(rviz) == 'Node' and rviz.args == ()
    condition = rviz.kwargs.pop('condition')
    assert _kind(condition) == 'IfCondition'
    assert _kind(condition.args[0]) == '_LaunchConfiguration'
    assert condition.args[0].args == ('use_rviz',)
    assert rviz.kwargs == launch_file.rviz_node(values, SHARE_DIR)


# ---- config/*.yaml -----------------------------------------------------------------------------

def _ros_parameters(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding='utf-8'))
    assert list(data) == ['/**'], f'{path.name}: one /** section expected'
    parameters = data['/**']['ros__parameters']
    assert isinstance(parameters, dict)
    return parameters


@pytest.mark.parametrize('name', ['detector.yaml', 'demo.yaml'])
def test_params_file_validates(name: str) -> None:
    """As the node checks it: package:// paths from the share directory (here the repo)."""
    path = REPO / 'config' / name
    values = load_params_file(path, 'negas_detector', share_dir=str(REPO))
    labels_file = values['labels_file']
    assert labels_file.startswith('package://negas_ros/config/labels/'), labels_file
    assert Path(resolve_package_uri(labels_file, str(REPO))).is_file()


def test_params_file_fails_without_the_share_directory() -> None:
    """The check above depends on resolving package://; without it the file must not pass."""
    with pytest.raises(ValueError, match='package://negas_ros'):
        load_params_file(REPO / 'config' / 'detector.yaml', 'negas_detector', share_dir=None)


def test_detector_yaml_sets_every_user_facing_parameter() -> None:
    path = REPO / 'config' / 'detector.yaml'
    parameters = _ros_parameters(path)
    missing = PARAMETER_NAMES - INLINE_LABEL_PARAMETERS - set(parameters)
    assert not missing, f'detector.yaml lacks {sorted(missing)}'
    text = path.read_text(encoding='utf-8')
    for name in INLINE_LABEL_PARAMETERS:
        assert f'# {name}:' in text, f'detector.yaml should show {name} as a commented example'
    assert parameters['model'] == 'IDEA-Research/grounding-dino-tiny'
    assert parameters['labels_file'] == 'package://negas_ros/config/labels/bdd100k.yaml'
    assert parameters['device'].startswith('cuda')


def test_demo_yaml_runs_offline_on_the_cpu() -> None:
    parameters = _ros_parameters(REPO / 'config' / 'demo.yaml')
    assert parameters['device'] == 'cpu'
    # The embedded model: offline, shipped inside the package (no hub id to download).
    assert (parameters['backend'], parameters['model']) == ('yolo_world', 'negas_mini')
    assert parameters['labels_file'] == 'package://negas_ros/config/labels/world.yaml'
    assert parameters['publish_debug_image'] is True


# ---- rviz/negas.rviz ---------------------------------------------------------------------------

def _rviz() -> dict[str, Any]:
    data = yaml.safe_load(RVIZ_FILE.read_text(encoding='utf-8'))
    assert isinstance(data, dict)
    return data


def _rviz_topics() -> list[str]:
    return [display['Topic']['Value'] for display in _rviz()['Visualization Manager']['Displays']
            if 'Topic' in display]


def test_rviz_file_has_the_rviz2_structure() -> None:
    data = _rviz()
    assert {'Panels', 'Visualization Manager', 'Window Geometry'} <= set(data)
    manager = data['Visualization Manager']
    assert {'Class', 'Displays', 'Global Options', 'Tools', 'Views'} <= set(manager)
    assert manager['Global Options']['Fixed Frame'] == 'camera'
    for display in manager['Displays']:
        assert display['Class'].startswith('rviz_default_plugins/'), display
        assert display['Name']
    for panel in data['Panels']:
        assert panel['Class'].startswith('rviz_common/'), panel
    assert os.path.basename(RVIZ_FILE) == 'negas.rviz'


def test_rviz_shows_the_debug_image_and_the_camera() -> None:
    displays = {d['Topic']['Value']: d['Class']
                for d in _rviz()['Visualization Manager']['Displays'] if 'Topic' in d}
    # The node publishes the relative 'debug_image': /debug_image without a namespace.
    assert displays.get('/debug_image') == 'rviz_default_plugins/Image'
    assert displays.get('/camera/image_raw') == 'rviz_default_plugins/Image'
