"""Start the negas_detector node (and optionally rviz2 showing its debug image).

    ros2 launch negas_ros detector.launch.py image_topic:=/my_camera/image_raw
    ros2 launch negas_ros detector.launch.py labels_file:=/path/to/labels.yaml use_rviz:=true
    ros2 launch negas_ros detector.launch.py device:=cpu   # no GPU
    ros2 launch negas_ros detector.launch.py --show-args  # every argument with its description

Every node parameter comes from ``params_file`` (default: the installed
``config/detector.yaml``). The ``labels_file``, ``model`` and ``device`` arguments override the
parameter of the same name only when they are not empty, so by default the params file decides.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.launch_context import LaunchContext
from launch.launch_description import LaunchDescription
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import Parameter

PACKAGE = 'negas_ros'
# Launch arguments that override the node parameter of the same name when not empty.
OVERRIDABLE_PARAMETERS = ('labels_file', 'model', 'device')
FASTDDS_PROFILES_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'


def _start_nodes(context: LaunchContext) -> list[Node]:
    """Build the nodes once the launch arguments are known (so empty ones can be left out)."""
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context).strip()

    # Overrides become '-p name:=value' rules after '--params-file', so they win over the file;
    # value_type=str keeps a value such as 'true' or '1' a string.
    overrides = [Parameter(name, arg(name), value_type=str)
                 for name in OVERRIDABLE_PARAMETERS if arg(name)]
    image_topic = arg('image_topic')
    detector = Node(
        package=PACKAGE,
        executable='detector_node',
        name='negas_detector',
        namespace=arg('namespace'),
        parameters=[arg('params_file'), *overrides],
        # The node subscribes to the relative 'image' ('image/compressed' when the parameter
        # input_transport is 'compressed').
        remappings=[('image', image_topic), ('image/compressed', image_topic + '/compressed')],
        output='screen',
        emulate_tty=True,
    )
    rviz_file = os.path.join(get_package_share_directory(PACKAGE), 'rviz', 'negas.rviz')
    rviz = Node(
        package='rviz2',
        executable='rviz2',
        arguments=['-d', rviz_file],
        # negas.rviz shows /debug_image and /camera/image_raw; the remappings point rviz2 at the
        # detector's actual topics when namespace or image_topic are changed.
        namespace=arg('namespace'),
        remappings=[('/debug_image', 'debug_image'), ('/camera/image_raw', image_topic)],
        output='screen',
        condition=IfCondition(LaunchConfiguration('use_rviz')),
    )
    return [detector, rviz]


def generate_launch_description() -> LaunchDescription:
    share_dir = get_package_share_directory(PACKAGE)
    default_params = os.path.join(share_dir, 'config', 'detector.yaml')
    shm_profile = os.path.join(share_dir, 'config', 'fastdds_shm.xml')
    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file', default_value=default_params,
            description='ROS parameters YAML for negas_detector (all node parameters).'),
        DeclareLaunchArgument(
            'labels_file', default_value='',
            description='Labels YAML (id_labels, negative_labels); overrides the params '
                        "file's labels_file. package://negas_ros/... names a shipped file, a "
                        "relative path is taken from the current directory. Empty: keep the "
                        "params file's."),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the detector (and rviz2); its topics are relative.'),
        DeclareLaunchArgument(
            'image_topic', default_value='/camera/image_raw',
            description='Camera topic remapped to the node input image; '
                        '<image_topic>/compressed feeds image/compressed.'),
        DeclareLaunchArgument(
            'device', default_value='',
            description="Torch device, 'cpu' or 'cuda:N'. Empty: keep the params file's "
                        '(cuda:0 in the shipped detector.yaml).'),
        DeclareLaunchArgument(
            'model', default_value='',
            description="Checkpoint: a hub id or a local directory. Empty: keep the params "
                        "file's."),
        DeclareLaunchArgument(
            'use_rviz', default_value='false',
            description='Also start rviz2 showing the debug image and the camera image.'),
        # Camera-sized best-effort images are lost between processes with Fast DDS's default
        # transports (see config/fastdds_shm.xml); a profile the user already set is kept.
        SetEnvironmentVariable(
            FASTDDS_PROFILES_VARIABLE,
            EnvironmentVariable(FASTDDS_PROFILES_VARIABLE, default_value=shm_profile)),
        OpaqueFunction(function=_start_nodes),
    ])
