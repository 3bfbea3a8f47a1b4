"""Static checks of launch/detector.launch.py, config/*.yaml and rviz/negas.rviz.

``ros2 launch`` cannot run in the unit tests (launch and launch_ros are not on PyPI), so the
launch file is read with ``ast``, never imported, and compared with what it must agree with:
the node's source, CMakeLists.txt, the parameter table and the files it points at.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import contextlib
import inspect
import os
from pathlib import Path
import re
from typing import Any

import pytest
import yaml

from negas_ros.config import PARAMETERS, load_params_file
from negas_ros.package_paths import resolve_package_uri

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILE = REPO / 'launch' / 'detector.launch.py'
NODE_SOURCE = REPO / 'negas_ros' / 'ros' / 'detector_node.py'
CMAKE = REPO / 'CMakeLists.txt'
RVIZ_FILE = REPO / 'rviz' / 'negas.rviz'
PARAMETER_NAMES = {spec.name for spec in PARAMETERS}

EXPECTED_ARGUMENTS = {
    'params_file', 'labels_file', 'namespace', 'image_topic', 'device', 'model', 'use_rviz'}
# Inline label lists: the alternative to labels_file, documented in detector.yaml comments.
INLINE_LABEL_PARAMETERS = {'id_labels', 'negative_labels'}
_UNSET = object()


# ---- reading Python source without running it ------------------------------------------------

def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding='utf-8'), filename=str(path))


def _module_constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level NAME = <literal> assignments."""
    constants = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and \
                isinstance(statement.targets[0], ast.Name):
            with contextlib.suppress(ValueError):  # a computed value is not a constant
                constants[statement.targets[0].id] = ast.literal_eval(statement.value)
    return constants


def _value(node: ast.AST | None, constants: dict[str, Any]) -> Any:
    """The literal value of an expression (a module constant's for a name), else _UNSET."""
    if node is None:
        return _UNSET
    if isinstance(node, ast.Name):
        return constants.get(node.id, _UNSET)
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _UNSET


def _calls(tree: ast.AST, name: str) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            if called == name:
                yield node


def _kwarg(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _pairs(node: ast.expr | None, constants: dict[str, Any]) -> list[tuple[Any, ast.expr]]:
    """(first, second) of a list of 2-tuples such as remappings; first as a literal."""
    if not isinstance(node, ast.List):
        return []
    return [(_value(element.elts[0], constants), element.elts[1]) for element in node.elts
            if isinstance(element, ast.Tuple) and len(element.elts) == 2]


@pytest.fixture(scope='module')
def launch_tree() -> ast.Module:
    return _tree(LAUNCH_FILE)


@pytest.fixture(scope='module')
def launch_constants(launch_tree: ast.Module) -> dict[str, Any]:
    return _module_constants(launch_tree)


def _nodes(tree: ast.Module, constants: dict[str, Any], package: str) -> list[ast.Call]:
    return [call for call in _calls(tree, 'Node')
            if _value(_kwarg(call, 'package'), constants) == package]


@pytest.fixture(scope='module')
def detector_node(launch_tree: ast.Module, launch_constants: dict[str, Any]) -> ast.Call:
    nodes = _nodes(launch_tree, launch_constants, 'negas_ros')
    assert len(nodes) == 1, 'the launch file should start exactly one negas_ros node'
    return nodes[0]


@pytest.fixture(scope='module')
def declared_arguments(launch_tree: ast.Module,
                       launch_constants: dict[str, Any]) -> dict[str, ast.Call]:
    declared = {}
    for call in _calls(launch_tree, 'DeclareLaunchArgument'):
        name = _value(call.args[0] if call.args else _kwarg(call, 'name'), launch_constants)
        assert isinstance(name, str), f'line {call.lineno}: argument name is not a literal'
        assert name not in declared, f'launch argument {name!r} declared twice'
        declared[name] = call
    return declared


# ---- the launch file ---------------------------------------------------------------------------

def test_launch_file_is_valid_python_with_an_entry_point(launch_tree: ast.Module) -> None:
    functions = {n.name for n in launch_tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in functions


def test_launch_file_has_no_side_effects_at_import(launch_tree: ast.Module) -> None:
    """Only imports, literal constants and functions at module level (house style)."""
    for statement in launch_tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef)):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # docstring
        if isinstance(statement, ast.Assign):
            ast.literal_eval(statement.value)  # raises ValueError for a computed value
            continue
        pytest.fail(f'line {statement.lineno}: module-level statement with possible side '
                    f'effects: {ast.unparse(statement)[:80]}')


def test_executable_is_the_installed_script(detector_node: ast.Call,
                                            launch_constants: dict[str, Any]) -> None:
    executable = _value(_kwarg(detector_node, 'executable'), launch_constants)
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


def test_node_name_matches_the_node_source(detector_node: ast.Call,
                                           launch_constants: dict[str, Any]) -> None:
    name = _value(_kwarg(detector_node, 'name'), launch_constants)
    assert name == 'negas_detector'
    assert _module_constants(_tree(NODE_SOURCE)).get('NODE_NAME') == name
    # Params files may name the node in their section keys; the file check must use this name.
    assert inspect.signature(load_params_file).parameters['node_name'].default == name


def test_node_output_goes_to_the_screen(detector_node: ast.Call,
                                        launch_constants: dict[str, Any]) -> None:
    assert _value(_kwarg(detector_node, 'output'), launch_constants) == 'screen'
    assert _value(_kwarg(detector_node, 'emulate_tty'), launch_constants) is True


def test_every_argument_is_declared_once_with_a_description(
        declared_arguments: dict[str, ast.Call], launch_constants: dict[str, Any]) -> None:
    assert set(declared_arguments) == EXPECTED_ARGUMENTS
    for name, call in declared_arguments.items():
        description = _value(_kwarg(call, 'description'), launch_constants)
        assert isinstance(description, str) and len(description.strip()) > 10, name
        assert _kwarg(call, 'default_value') is not None, f'{name} has no default'


def test_literal_defaults(declared_arguments: dict[str, ast.Call],
                          launch_constants: dict[str, Any]) -> None:
    defaults = {name: _value(_kwarg(call, 'default_value'), launch_constants)
                for name, call in declared_arguments.items()}
    assert defaults['image_topic'] == '/camera/image_raw'
    assert defaults['use_rviz'] == 'false'
    # Empty means "keep the params file's value", so config/detector.yaml stays authoritative.
    for name in ('labels_file', 'model', 'device', 'namespace'):
        assert defaults[name] == '', name


def test_every_used_argument_is_declared(launch_tree: ast.Module,
                                         launch_constants: dict[str, Any],
                                         declared_arguments: dict[str, ast.Call]) -> None:
    used = set(launch_constants['OVERRIDABLE_PARAMETERS'])
    for function in ('LaunchConfiguration', 'arg'):
        for call in _calls(launch_tree, function):
            name = _value(call.args[0] if call.args else None, launch_constants)
            if name is not _UNSET:
                used.add(name)
    assert used, 'found no use of a launch argument'
    assert used <= set(declared_arguments), used - set(declared_arguments)
    assert set(declared_arguments) <= used, set(declared_arguments) - used


def test_overridden_parameters_exist(launch_tree: ast.Module,
                                     launch_constants: dict[str, Any],
                                     declared_arguments: dict[str, ast.Call]) -> None:
    overridable = launch_constants['OVERRIDABLE_PARAMETERS']
    assert set(overridable) == {'labels_file', 'model', 'device'}
    defaults = {spec.name: spec.default for spec in PARAMETERS}
    for name in overridable:
        assert name in PARAMETER_NAMES, f'{name} is not a node parameter (negas_ros.config)'
        assert name in declared_arguments
        # Launch arguments are strings: only string parameters can be overridden as they are.
        assert isinstance(defaults[name], str), name
    parameter_calls = list(_calls(launch_tree, 'Parameter'))
    assert parameter_calls, 'the overrides should be launch_ros Parameter descriptions'
    for call in parameter_calls:
        name = _value(call.args[0], launch_constants)
        assert name is _UNSET or name in PARAMETER_NAMES, name
        assert ast.unparse(_kwarg(call, 'value_type') or ast.Constant(None)) == 'str'
    # Any literal parameter dict in the file must name real parameters too.
    for node in ast.walk(launch_tree):
        if isinstance(node, ast.Dict) and node.keys and all(
                isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            assert keys <= PARAMETER_NAMES | {'use_sim_time'}, keys - PARAMETER_NAMES


def test_image_topics_are_remapped_to_what_the_node_subscribes(
        detector_node: ast.Call, launch_constants: dict[str, Any]) -> None:
    remapped = {first for first, _ in _pairs(_kwarg(detector_node, 'remappings'),
                                             launch_constants)}
    assert remapped == {'image', 'image/compressed'}
    node_strings = {n.value for n in ast.walk(_tree(NODE_SOURCE))
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert {'image', 'image/compressed', 'debug_image'} <= node_strings


def _share_paths(tree: ast.Module) -> set[str]:
    """Paths built as os.path.join(<share dir>, 'dir', 'file') in the launch file."""
    paths = set()
    for call in _calls(tree, 'join'):
        parts = [a.value for a in call.args[1:] if isinstance(a, ast.Constant)]
        if call.args and len(parts) == len(call.args) - 1 and parts:
            paths.add('/'.join(parts))
    return paths


def test_share_files_exist_and_are_installed(launch_tree: ast.Module) -> None:
    paths = _share_paths(launch_tree)
    assert {'config/detector.yaml', 'rviz/negas.rviz', 'config/fastdds_shm.xml'} <= paths
    match = re.search(r'install\(\s*DIRECTORY\s+(.*?)\s+DESTINATION\s+share/\$\{PROJECT_NAME\}',
                      CMAKE.read_text(encoding='utf-8'), re.S)
    assert match, 'CMakeLists.txt does not install directories to share/${PROJECT_NAME}'
    installed = set(match.group(1).split())
    assert 'launch' in installed
    for path in paths:
        assert (REPO / path).is_file(), path
        assert path.split('/')[0] in installed, f'{path} is not installed by CMakeLists.txt'


def test_fastdds_profile_is_set_unless_already_set(launch_tree: ast.Module,
                                                   launch_constants: dict[str, Any]) -> None:
    calls = list(_calls(launch_tree, 'SetEnvironmentVariable'))
    assert len(calls) == 1
    variable = _value(calls[0].args[0], launch_constants)
    assert variable == 'FASTDDS_DEFAULT_PROFILES_FILE'
    # The value is the variable itself, defaulting to our profile: a user's setting wins.
    value = calls[0].args[1]
    assert isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
    assert value.func.id == 'EnvironmentVariable'
    assert _value(value.args[0], launch_constants) == variable
    assert _kwarg(value, 'default_value') is not None
    assert variable in (REPO / 'config' / 'fastdds_shm.xml').read_text(encoding='utf-8')


def test_rviz_is_optional_and_remapped_to_the_rviz_file_topics(
        launch_tree: ast.Module, launch_constants: dict[str, Any]) -> None:
    nodes = _nodes(launch_tree, launch_constants, 'rviz2')
    assert len(nodes) == 1
    rviz = nodes[0]
    condition = _kwarg(rviz, 'condition')
    assert isinstance(condition, ast.Call) and ast.unparse(condition.func) == 'IfCondition'
    assert "'use_rviz'" in ast.unparse(condition)
    assert "'-d'" in ast.unparse(_kwarg(rviz, 'arguments'))  # type: ignore[arg-type]
    remapped = {first for first, _ in _pairs(_kwarg(rviz, 'remappings'), launch_constants)}
    assert remapped == set(_rviz_topics())


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
