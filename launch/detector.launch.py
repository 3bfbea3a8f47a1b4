"""Start the negas_detector node (and optionally rviz2 showing its debug image).

    ros2 launch negas_ros detector.launch.py image_topic:=/my_camera/image_raw
    ros2 launch negas_ros detector.launch.py labels_file:=/path/to/labels.yaml use_rviz:=true
    ros2 launch negas_ros detector.launch.py device:=cpu   # no GPU
    ros2 launch negas_ros detector.launch.py cameras:=front,left,right use_rviz:=true \
        camera_topics:=/cam_front/image_raw,/cam_left/image_raw,/cam_right/image_raw
    ros2 launch negas_ros detector.launch.py --show-args  # every argument with its description

Every node parameter comes from ``params_file`` (default: the installed
``config/detector.yaml``). The ``labels_file``, ``model`` and ``device`` arguments override the
parameter of the same name only when they are not empty, so by default the params file decides.

What is launched is computed by plain functions of the launch argument values and the share
directory (``launch_arguments``, ``fastdds_profile``, ``detector_node``, ``rviz_node``); the
launch and launch_ros objects are only built from their results, in
``generate_launch_description`` and ``_start_nodes``, which import those packages when called.
The unit tests import this file without ROS and check the plain functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import copy
import os
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from launch.launch_context import LaunchContext
    from launch.launch_description import LaunchDescription
    from launch_ros.actions import Node

PACKAGE = 'negas_ros'
# Launch arguments that override the node parameter of the same name when not empty.
OVERRIDABLE_PARAMETERS = ('labels_file', 'model', 'device')
FASTDDS_PROFILES_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'


def launch_arguments(share_dir: str) -> list[tuple[str, str, str]]:
    """(name, default value, description) of every launch argument, in declaration order."""
    return [
        ('params_file', os.path.join(share_dir, 'config', 'detector.yaml'),
         'ROS parameters YAML for negas_detector (all node parameters).'),
        ('labels_file', '',
         'Labels YAML (id_labels, negative_labels); overrides the params '
         "file's labels_file. package://negas_ros/... names a shipped file, a "
         "relative path is taken from the current directory. Empty: keep the "
         "params file's."),
        ('namespace', '',
         'Namespace of the detector (and rviz2); its topics are relative.'),
        ('image_topic', '/camera/image_raw',
         'Camera topic remapped to the node input image; '
         '<image_topic>/compressed feeds image/compressed.'),
        ('device', '',
         "Torch device, 'cpu' or 'cuda:N'. Empty: keep the params file's "
         '(cuda:0 in the shipped detector.yaml).'),
        ('model', '',
         "Checkpoint: a hub id or a local directory. Empty: keep the params "
         "file's."),
        ('cameras', '',
         'Comma-separated camera names served by one model (front,left,right): the node '
         'reads <name>/image and publishes <name>/detections, ... Empty: one camera on '
         'image_topic.'),
        ('camera_topics', '',
         'With cameras: comma-separated camera topics in the order of cameras, each remapped '
         'to <name>/image (<topic>/compressed to <name>/image/compressed). Empty: '
         '/<name>/image_raw for each camera.'),
        ('use_rviz', 'false',
         'Also start rviz2 showing the debug image and the camera image (with cameras: '
         "every camera's debug image)."),
    ]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(',') if part.strip()]


def camera_inputs(args: Mapping[str, str]) -> list[tuple[str, str]]:
    """(camera name, its topic) per camera of the ``cameras`` argument; [] without cameras.

    Raises ValueError when camera_topics is given but does not name one topic per camera.
    """
    names = _split(args['cameras'])
    topics = _split(args['camera_topics'])
    if topics and len(topics) != len(names):
        raise ValueError(
            f"camera_topics names {len(topics)} topics for {len(names)} cameras "
            f"({', '.join(names) or 'none'}); give one topic per camera, in the same order")
    if not topics:
        topics = [f'/{name}/image_raw' for name in names]
    return list(zip(names, topics, strict=True))


def fastdds_profile(share_dir: str) -> tuple[str, str]:
    """(variable, default): the environment variable set to itself, defaulting to our profile.

    Camera-sized best-effort images are lost between processes with Fast DDS's default
    transports (see config/fastdds_shm.xml); a profile the user already set is kept.
    """
    return FASTDDS_PROFILES_VARIABLE, os.path.join(share_dir, 'config', 'fastdds_shm.xml')


def detector_node(args: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments of the detector's launch_ros Node, from the launch argument values.

    ``parameters`` is the params file followed by ``(name, value)`` overrides, one per
    overridable argument that is not empty; the launch description turns each override into a
    ``Parameter(name, value, value_type=str)`` so that a value such as 'true' or '1' stays a
    string. Overrides become '-p name:=value' rules after '--params-file', so they win over the
    file.
    """
    overrides: list[Any] = [(name, args[name]) for name in OVERRIDABLE_PARAMETERS if args[name]]
    image_topic = args['image_topic']
    # The node subscribes to the relative 'image' ('image/compressed' when the parameter
    # input_transport is 'compressed'), or '<name>/image' per camera.
    inputs = camera_inputs(args)
    if inputs:
        # A dict keeps the names strings (launch_ros writes it to a params file as YAML).
        overrides.append({'cameras': [name for name, _ in inputs]})
    else:
        inputs = [('', image_topic)]
    remappings = []
    for name, topic in inputs:
        prefix = f'{name}/' if name else ''
        remappings += [(f'{prefix}image', topic), (f'{prefix}image/compressed',
                                                   topic + '/compressed')]
    return {
        'package': PACKAGE,
        'executable': 'detector_node',
        'name': 'negas_detector',
        'namespace': args['namespace'],
        'parameters': [args['params_file'], *overrides],
        'remappings': remappings,
        'output': 'screen',
        'emulate_tty': True,
    }


def camera_rviz_config(share_dir: str, cameras: Sequence[str]) -> dict[str, Any]:
    """The shipped rviz layout with one Image display per camera's debug image
    (``/<name>/debug_image``, remapped by :func:`rviz_node` into the detector's namespace)."""
    import yaml

    with open(os.path.join(share_dir, 'rviz', 'negas.rviz'), encoding='utf-8') as stream:
        layout = yaml.safe_load(stream)
    displays = layout['Visualization Manager']['Displays']
    template = next(d for d in displays if d.get('Topic', {}).get('Value') == '/debug_image')
    per_camera = []
    for name in cameras:
        display = copy.deepcopy(template)
        display['Name'] = f'NegAS detections: {name}'
        display['Topic']['Value'] = f'/{name}/debug_image'
        per_camera.append(display)
    layout['Visualization Manager']['Displays'] = per_camera
    geometry = layout['Window Geometry']
    for key in ('Camera', 'NegAS detections'):
        geometry.pop(key, None)
    for display in per_camera:
        geometry[display['Name']] = {'collapsed': False}
    return dict(layout)


def rviz_node(args: Mapping[str, str], share_dir: str,
              config_dir: str | None = None) -> dict[str, Any]:
    """Keyword arguments of the rviz2 Node (started only when use_rviz is true).

    With cameras, the layout is :func:`camera_rviz_config`, written to ``config_dir`` (a new
    temporary directory when None).
    """
    cameras = [name for name, _ in camera_inputs(args)]
    if not cameras:
        return {
            'package': 'rviz2',
            'executable': 'rviz2',
            'arguments': ['-d', os.path.join(share_dir, 'rviz', 'negas.rviz')],
            # negas.rviz shows /debug_image and /camera/image_raw; the remappings point rviz2
            # at the detector's actual topics when namespace or image_topic are changed.
            'namespace': args['namespace'],
            'remappings': [('/debug_image', 'debug_image'),
                           ('/camera/image_raw', args['image_topic'])],
            'output': 'screen',
        }
    import yaml

    directory = config_dir or tempfile.mkdtemp(prefix='negas_rviz_')
    path = os.path.join(directory, 'negas_cameras.rviz')
    with open(path, 'w', encoding='utf-8') as stream:
        yaml.safe_dump(camera_rviz_config(share_dir, cameras), stream, sort_keys=False)
    return {
        'package': 'rviz2',
        'executable': 'rviz2',
        'arguments': ['-d', path],
        'namespace': args['namespace'],
        'remappings': [(f'/{name}/debug_image', f'{name}/debug_image') for name in cameras],
        'output': 'screen',
    }


def _start_nodes(context: LaunchContext) -> list[Node]:
    """Build the nodes once the launch arguments are known (so empty ones can be left out)."""
    from ament_index_python.packages import get_package_share_directory
    from launch.conditions import IfCondition
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import Parameter

    share_dir = get_package_share_directory(PACKAGE)
    args = {name: LaunchConfiguration(name).perform(context).strip()
            for name, _, _ in launch_arguments(share_dir)}
    settings = detector_node(args)
    params_file, *overrides = settings.pop('parameters')
    # value_type=str keeps a value such as 'true' or '1' a string; dicts (cameras) go as they
    # are.
    detector = Node(
        parameters=[params_file,
                    *(override if isinstance(override, dict)
                      else Parameter(*override, value_type=str) for override in overrides)],
        **settings)
    rviz = Node(condition=IfCondition(LaunchConfiguration('use_rviz')),
                **rviz_node(args, share_dir))
    return [detector, rviz]


def generate_launch_description() -> LaunchDescription:
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.launch_description import LaunchDescription
    from launch.substitutions import EnvironmentVariable

    share_dir = get_package_share_directory(PACKAGE)
    variable, profile = fastdds_profile(share_dir)
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, default, description in launch_arguments(share_dir)),
        SetEnvironmentVariable(variable, EnvironmentVariable(variable, default_value=profile)),
        OpaqueFunction(function=_start_nodes),
    ])
