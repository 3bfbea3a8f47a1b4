"""The negas_detector lifecycle node: camera images in, NegAS-scored detections out.

Lifecycle: configure validates the parameters and loads the model; activate starts publishing;
deactivate stops; cleanup frees the model. With ``autostart`` (default) a plain
``ros2 run negas_ros detector_node`` configures and activates by itself, and exits with an
error when the configuration is invalid.

Threading: the subscription callbacks only store each camera's newest frame; a worker thread
runs the model. A frame that arrives while another of the same camera waits replaces it and is
counted as dropped, so the node never builds a backlog of stale frames.

Cameras (parameter ``cameras``): one model serves every camera. The worker takes the frames
waiting at that moment, at most one per camera, and runs them as one batch
(``DetectorPipeline.process_batch``), so a camera waits at most for the batch in flight, and a
silent camera holds up nobody. Each camera has its own topics (``<name>/image`` in,
``<name>/detections``, ``<name>/ood_detections``, ``<name>/debug_image`` out), counters and
``/diagnostics`` status; ``label_info`` is shared. ``cameras: ['']`` (the default) is one camera
on the plain names ``image``, ``detections``, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import functools
import math
import sys
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.event_handler import QoSRequestedIncompatibleQoSInfo, SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import (
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray, LabelInfo

from negas_ros.backends.base import NonFiniteOutputError, create_backend
from negas_ros.config import (
    PARAMETERS,
    ConfigError,
    DetectorConfig,
    ParamSpec,
    config_from_values,
    load_params_file,
)
from negas_ros.drawing import draw_detections
from negas_ros.image_convert import ImageError, compressed_to_rgb, raw_to_rgb, rgb_to_bgr
from negas_ros.msg import OodDetectionArray
from negas_ros.package_paths import share_dir
from negas_ros.pipeline import DetectorPipeline, FrameResult, StreamTracker
from negas_ros.ros.conversions import (
    bgr_to_image_msg,
    to_detection_array,
    to_detection_arrays,
    to_label_info,
)

__all__ = ['DetectorNode', 'main']

NODE_NAME = 'negas_detector'
_PARAMETER_NAMES = frozenset(spec.name for spec in PARAMETERS)
_THROTTLE_S = 5.0
# /diagnostics stays WARN (bad frames, errors) or ERROR (NaN/inf model output) this long after
# the last such frame, then returns to OK: the counters keep the history, the level the present.
RECENT_PROBLEM_S = 10.0


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    text = spec.description
    if spec.choices:
        text += f' One of: {", ".join(spec.choices)}.'
    if spec.read_only:
        text += ' Read-only while running (reload the node to change).'
    # dynamic_typing: rclpy's own type check answers "Wrong parameter type, expected '3' got
    # '4'" without the parameter's name; our validation (config_from_values) says which
    # parameter, what type it needs and what it got, and keeps the old configuration.
    descriptor = ParameterDescriptor(description=text, read_only=spec.read_only,
                                     dynamic_typing=True)
    if spec.float_range:
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=spec.float_range[0], to_value=spec.float_range[1])]
    if spec.int_range:
        descriptor.integer_range = [
            IntegerRange(from_value=spec.int_range[0], to_value=spec.int_range[1], step=1)]
    return descriptor


def _share_dir() -> str | None:
    # The node resolves package:// only through its ament install, never a source tree.
    return share_dir(source_tree_fallback=False)


_COUNTERS = ('received', 'processed', 'dropped', 'bad_images', 'errors', 'non_finite_outputs',
             'batched')


@dataclass
class _Camera:
    """One camera's input, outputs, newest waiting frame and counters.

    errors: frames that failed for any other reason than a bad image; non_finite_outputs: of
    those, the model gave NaN/inf (a broken model or precision, never "no detections");
    batched: processed frames that shared their model run with another camera's frame.
    """

    name: str  # '' for the single unnamed camera
    subscription: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    pending: Image | CompressedImage | None = None
    stats: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))
    latency_ema_s: float = 0.0
    last_frame_time: float = 0.0
    last_problem: float = -math.inf  # monotonic time of the last bad or failed frame
    last_non_finite: float = -math.inf  # ... of the last NaN/inf model output
    tracks: StreamTracker = field(default_factory=StreamTracker)  # worker thread only

    def topic(self, relative: str) -> str:
        """The camera's name for a per-camera topic ('image' -> 'front/image')."""
        return f'{self.name}/{relative}' if self.name else relative

    @property
    def input_topic(self) -> str:
        """The subscribed topic's resolved name, for messages."""
        return self.subscription.topic_name if self.subscription is not None else \
            self.topic('image')


class DetectorNode(LifecycleNode):
    """See the module docstring; topics and parameters are documented in the README."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, _descriptor(spec))
        self._share_dir = _share_dir()
        self._pipeline: DetectorPipeline | None = None  # owns the running configuration
        self._cameras: list[_Camera] = []
        self._label_info_pub: Any = None
        self._frame_cv = threading.Condition()  # guards every camera's pending frame
        self._worker: threading.Thread | None = None
        self._worker_running = False
        self._is_active = False
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        # Images and timers in their own group: a parameter callback that encodes labels (the
        # parameter services use the default group) never delays them (main spins 2 threads).
        self._io_group = MutuallyExclusiveCallbackGroup()
        self._diagnostics_timer = self.create_timer(1.0, self._publish_diagnostics,
                                                    callback_group=self._io_group)
        self._input_watch_timer = self.create_timer(10.0, self._warn_if_no_input,
                                                    callback_group=self._io_group)

    # ---- configuration -------------------------------------------------------------------

    def _parameter_values(self, overrides: Sequence[Parameter[Any]] = ()) -> dict[str, Any]:
        values = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        for param in overrides:
            if param.name in values:
                values[param.name] = param.value
        return values

    def _build_config(self, values: dict[str, Any]) -> DetectorConfig:
        return config_from_values(values, share_dir=self._share_dir)

    @property
    def config(self) -> DetectorConfig | None:
        """The running configuration (the pipeline owns it); None before configure."""
        return self._pipeline.config if self._pipeline is not None else None

    def _on_set_parameters(self, params: list[Parameter[Any]]) -> SetParametersResult:
        """Validate the whole new parameter set, then apply it atomically, or reject it.

        Runs in the parameter services' callback group on a multi-threaded executor (main), so
        a slow text encoding here never holds up image callbacks, timers or the inference
        worker: frames keep running on the old labels until the new ones are encoded, then
        both switch between two frames. Encoding is part of validation (only the text encoder
        knows whether it can embed a phrase), so it happens before the answer: a label the
        backend cannot take is rejected with its name, and nothing changes. (A post-set
        callback cannot reject, and Humble's rclpy has none.)
        """
        if not any(p.name in _PARAMETER_NAMES for p in params):
            return SetParametersResult(successful=True)  # rclpy's own (qos_overrides.*, ...)
        try:
            new = self._build_config(self._parameter_values(params))
        except ValueError as exc:
            self.get_logger().warning(f'rejected parameter update: {exc}')
            return SetParametersResult(successful=False, reason=str(exc))
        if self._pipeline is not None:
            old = self._pipeline.config
            try:
                self._pipeline.apply(new)
            except Exception as exc:  # the backend could not encode the labels
                self.get_logger().error(f'rejected parameter update: {exc}')
                return SetParametersResult(successful=False, reason=str(exc))
            if old.labels != new.labels or old.unknown_label != new.unknown_label \
                    or old.box_threshold != new.box_threshold:
                self._publish_label_info()
            self.get_logger().info(
                f'applied parameter update: {", ".join(p.name for p in params)}')
        return SetParametersResult(successful=True)

    # ---- lifecycle -------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            config = self._build_config(self._parameter_values())
        except ValueError as exc:
            self.get_logger().error(f'invalid configuration: {exc}')
            return TransitionCallbackReturn.FAILURE
        try:
            started = time.perf_counter()
            backend = create_backend(config.backend, config.backend_spec())
            self._pipeline = DetectorPipeline(config, backend)
        except Exception as exc:
            self.get_logger().error(
                f"cannot load model '{config.model}' with backend '{config.backend}' on "
                f"'{config.device}': {exc}")
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(
            f"loaded {config.backend} '{config.model}' on {config.device} in "
            f'{time.perf_counter() - started:.1f} s; {len(config.labels.id_labels)} ID labels, '
            f'{len(config.labels.negative_labels)} negative labels from {config.labels_source}; '
            f'score {config.score_method} < {config.ood_threshold} is unknown; '
            f"NegA {'on' if config.nega else 'off'}")
        self._create_io(config)
        self._worker_running = True
        self._worker = threading.Thread(target=self._work_loop, name='negas_inference',
                                        daemon=True)
        self._worker.start()
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        for camera in self._cameras:  # frames after a pause start new tracks
            camera.tracks.request_reset()
        self._is_active = True
        self._publish_label_info()
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._is_active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return super().on_shutdown(state)

    @property
    def stats(self) -> dict[str, int]:
        """Counters summed over the cameras."""
        return {key: sum(c.stats[key] for c in self._cameras) for key in _COUNTERS}

    def _teardown(self) -> None:
        self._is_active = False
        self._worker_running = False
        with self._frame_cv:
            for camera in self._cameras:
                camera.pending = None
            self._frame_cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        for camera in self._cameras:
            if camera.subscription is not None:
                self.destroy_subscription(camera.subscription)
            for publisher in camera.outputs.values():
                self.destroy_lifecycle_publisher(publisher)
        self._cameras = []
        if self._label_info_pub is not None:
            self.destroy_lifecycle_publisher(self._label_info_pub)
            self._label_info_pub = None
        self._pipeline = None  # frees the model (and the configuration it owns)

    def _create_io(self, config: DetectorConfig) -> None:
        self._label_info_pub = self.create_lifecycle_publisher(
            LabelInfo, 'label_info',
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL))
        # Depth 1: only the newest frame matters; older ones would only add latency.
        qos = QoSProfile(depth=1, reliability=qos_profile_sensor_data.reliability,
                         durability=qos_profile_sensor_data.durability,
                         history=qos_profile_sensor_data.history)
        if config.input_transport == 'compressed':
            relative, msg_type = 'image/compressed', CompressedImage
        else:
            relative, msg_type = 'image', Image
        self._cameras = []
        for name in config.cameras:
            camera = _Camera(name)
            camera.outputs = {
                'detections': self.create_lifecycle_publisher(
                    Detection2DArray, camera.topic('detections'), 10),
                'ood_detections': self.create_lifecycle_publisher(
                    OodDetectionArray, camera.topic('ood_detections'), 10),
                'debug_image': self.create_lifecycle_publisher(
                    Image, camera.topic('debug_image'), 2),
            }
            events = SubscriptionEventCallbacks(
                incompatible_qos=functools.partial(self._on_incompatible_qos, camera))
            camera.subscription = self.create_subscription(
                msg_type, camera.topic(relative),
                functools.partial(self._on_image, camera), qos, event_callbacks=events,
                callback_group=self._io_group,
                qos_overriding_options=QoSOverridingOptions.with_default_policies())
            self._cameras.append(camera)

    # ---- frames ----------------------------------------------------------------------------

    def _on_incompatible_qos(self, camera: _Camera,
                             info: QoSRequestedIncompatibleQoSInfo) -> None:
        topic = camera.input_topic
        self.get_logger().warning(
            f"a publisher on '{topic}' has QoS incompatible with this subscription "
            f'(policy id {info.last_policy_kind}, {info.total_count} so far): no images will '
            'arrive from it. The subscription is best effort by default; override it with '
            f"qos_overrides.{topic}.subscription.reliability", throttle_duration_sec=_THROTTLE_S)

    def _on_image(self, camera: _Camera, msg: Image | CompressedImage) -> None:
        with self._frame_cv:
            camera.stats['received'] += 1
            camera.last_frame_time = time.monotonic()
            if camera.pending is not None:
                camera.stats['dropped'] += 1
                self.get_logger().warning(
                    f"inference slower than the camera on '{camera.input_topic}': "
                    f"{camera.stats['dropped']} frames dropped so far (only the newest frame is "
                    'kept)', throttle_duration_sec=_THROTTLE_S)
            camera.pending = msg
            self._frame_cv.notify()

    def _take_frames(self) -> list[tuple[_Camera, Image | CompressedImage]]:
        """Wait for frames; then take every camera's waiting frame (at most one each)."""
        with self._frame_cv:
            while self._worker_running and not any(c.pending for c in self._cameras):
                self._frame_cv.wait(timeout=0.5)
            taken = [(c, c.pending) for c in self._cameras if c.pending is not None]
            for camera, _ in taken:
                camera.pending = None
        return taken

    def _work_loop(self) -> None:
        while self._worker_running:
            frames = self._take_frames()
            if not frames:
                continue
            try:
                self._process(frames)
            except NonFiniteOutputError as exc:
                for camera, _ in frames:
                    camera.stats['errors'] += 1
                    camera.stats['non_finite_outputs'] += 1
                    camera.last_problem = camera.last_non_finite = time.monotonic()
                self.get_logger().error(
                    f'frames from {", ".join(repr(c.input_topic) for c, _ in frames)} failed: '
                    f"{exc}; {self.stats['non_finite_outputs']} such frames so far",
                    throttle_duration_sec=_THROTTLE_S)
            except Exception as exc:  # a failing frame must not kill the node
                for camera, _ in frames:
                    camera.stats['errors'] += 1
                    camera.last_problem = time.monotonic()
                self.get_logger().error(f'frame failed: {exc!r}',
                                        throttle_duration_sec=_THROTTLE_S)

    def _decode(self, camera: _Camera, msg: Image | CompressedImage) -> Any:
        """The frame as an RGB array, or None for a bad image (skipped and counted)."""
        try:
            if isinstance(msg, CompressedImage):
                return compressed_to_rgb(msg.format, msg.data)
            return raw_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data,
                              msg.is_bigendian)
        except ImageError as exc:
            camera.stats['bad_images'] += 1
            camera.last_problem = time.monotonic()
            self.get_logger().warning(
                f"skipped a bad image on '{camera.input_topic}' "
                f"(frame_id '{msg.header.frame_id}'): {exc}; "
                f"{camera.stats['bad_images']} skipped so far", throttle_duration_sec=_THROTTLE_S)
            return None

    def _process(self, frames: list[tuple[_Camera, Image | CompressedImage]]) -> None:
        pipeline, active = self._pipeline, self._is_active
        if pipeline is None or not active:
            return
        started = time.perf_counter()
        decoded = [(camera, msg, self._decode(camera, msg)) for camera, msg in frames]
        good = [(camera, msg, rgb) for camera, msg, rgb in decoded if rgb is not None]
        if not good:
            return
        if len(good) == 1:
            results = [pipeline.process(good[0][2])]
        else:
            results = pipeline.process_batch([rgb for _, _, rgb in good])
        for (camera, msg, rgb), result in zip(good, results, strict=True):
            stamp_s = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            self._publish(camera, msg.header, rgb, camera.tracks.apply(result, stamp_s))
            camera.stats['processed'] += 1
            camera.stats['batched'] += len(good) > 1
            # Each camera's latency covers the whole batch it rode in: what it waited for.
            latency = time.perf_counter() - started
            camera.latency_ema_s = latency if camera.stats['processed'] == 1 else (
                0.9 * camera.latency_ema_s + 0.1 * latency)

    def _publish(self, camera: _Camera, header: Header, rgb: Any, result: FrameResult) -> None:
        config = result.config
        ood_output = camera.outputs['ood_detections']
        # The rich array is built only while someone reads it (rosbag record and ros2 topic
        # count): building and converting it costs as much again as the plain one.
        if ood_output.get_subscription_count() > 0:
            plain, rich = to_detection_arrays(
                result.detections, header, config.unknown_label, config.score_method,
                config.ood_threshold, config.nega, result.track_evidence)
            camera.outputs['detections'].publish(plain)
            ood_output.publish(rich)
        else:
            camera.outputs['detections'].publish(
                to_detection_array(result.detections, header, config.unknown_label))
        debug = camera.outputs['debug_image']
        if config.publish_debug_image and debug.get_subscription_count() > 0:
            canvas = draw_detections(rgb_to_bgr(rgb), result.detections, config.unknown_label)
            debug.publish(bgr_to_image_msg(canvas, header))

    # ---- status ----------------------------------------------------------------------------

    def _publish_label_info(self) -> None:
        publisher = self._label_info_pub
        config = self.config
        if publisher is None or config is None:
            return
        header = Header(stamp=self.get_clock().now().to_msg())
        publisher.publish(to_label_info(config.labels.id_labels, config.unknown_label,
                                        config.box_threshold, header))

    def _warn_if_no_input(self) -> None:
        if not self._is_active:
            return
        now = time.monotonic()
        for camera in self._cameras:
            if camera.subscription is None or now - camera.last_frame_time < 10.0:
                continue
            topic = camera.input_topic
            publishers = self.get_publishers_info_by_topic(topic)
            if not publishers:
                relative = camera.topic('image')
                hint = ('no publisher on it: check the topic name or remap '
                        f'{relative}:=<camera topic>')
            else:
                hint = 'publishers: ' + ', '.join(
                    f'{p.node_namespace.rstrip("/")}/{p.node_name} '
                    f'({p.qos_profile.reliability.name.lower()})' for p in publishers)
            self.get_logger().warning(f"no images on '{topic}' for 10 s; {hint}",
                                      throttle_duration_sec=30.0)

    def _publish_diagnostics(self) -> None:
        statuses = [self._camera_status(camera) for camera in self._cameras]
        if not statuses:  # not configured: one status says so
            statuses = [self._camera_status(_Camera(''))]
        self._diagnostics_pub.publish(
            DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                            status=statuses))

    def _camera_status(self, camera: _Camera) -> DiagnosticStatus:
        """One status per camera: 'negas_detector: inference' for the single unnamed camera,
        'negas_detector: inference <camera>' for named ones."""
        stats = camera.stats
        name = f'{self.get_name()}: inference' + (f' {camera.name}' if camera.name else '')
        status = DiagnosticStatus(name=name,
                                  hardware_id=self.config.device if self.config else '')
        now = time.monotonic()
        status.level = DiagnosticStatus.OK
        status.message = 'active' if self._is_active else 'inactive'
        if now - camera.last_problem < RECENT_PROBLEM_S:
            status.level = DiagnosticStatus.WARN
            status.message += (f"; bad or failed frames in the last {RECENT_PROBLEM_S:.0f} s "
                               f"({stats['bad_images']} bad, {stats['errors']} failed so far)")
        if now - camera.last_non_finite < RECENT_PROBLEM_S:
            status.level = DiagnosticStatus.ERROR  # the model itself is broken
            status.message += (f"; model output NaN/inf on {stats['non_finite_outputs']} "
                               'frames (check the weights and the precision, e.g. half)')
        status.values = [KeyValue(key=k, value=str(v)) for k, v in stats.items()]
        status.values.append(KeyValue(key='latency_ms', value=f'{camera.latency_ema_s * 1e3:.1f}'))
        if camera.subscription is not None:
            status.values.append(KeyValue(key='topic', value=camera.input_topic))
        return status


def _ros_param_sources(argv: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """The --params-file paths and -p name:=value overrides after --ros-args, in order."""
    import yaml

    files: list[str] = []
    overrides: dict[str, Any] = {}
    in_ros_args = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == '--ros-args':
            in_ros_args = True
        elif arg == '--':
            in_ros_args = False
        elif in_ros_args and arg == '--params-file' and i + 1 < len(argv):
            files.append(argv[i + 1])
            i += 1
        elif in_ros_args and arg in ('-p', '--param') and i + 1 < len(argv):
            name, sep, text = argv[i + 1].partition(':=')
            if sep and '.' not in name and ':' not in name:
                try:  # rcl parses -p values as YAML too
                    overrides[name] = yaml.safe_load(text)
                except yaml.YAMLError:
                    overrides[name] = text
            i += 1
        i += 1
    return files, overrides


def _check_start_up_parameters(argv: Sequence[str]) -> str | None:
    """Validate the parameter files merged with -p overrides; an error message, or None.

    Each file alone only has to be well formed with known keys (a second file may hold only
    ``device: cpu``); the merge is what must make a valid configuration.
    """
    files, overrides = _ros_param_sources(argv)
    if not files:
        return None  # nothing from files: configure reports what is missing
    share_dir = _share_dir()
    merged: dict[str, Any] = {}
    try:
        for path in files:
            merged.update(load_params_file(path, NODE_NAME, share_dir=share_dir,
                                           validate=False))
    except ConfigError as exc:
        return str(exc)
    merged.update({k: v for k, v in overrides.items() if k in _PARAMETER_NAMES})
    try:
        config_from_values(merged, share_dir=share_dir)
    except ValueError as exc:
        source = ', '.join(files) + (' with -p overrides' if overrides else '')
        return f'{source}: {exc}'
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    # Check parameter files before rcl reads them, so a bad one stops start-up with a message
    # that names the file and key instead of an rcl traceback.
    problem = _check_start_up_parameters(args)
    if problem is not None:
        print(f'[{NODE_NAME}] invalid parameters file: {problem}', file=sys.stderr)
        return 2
    rclpy.init(args=args)
    node: DetectorNode | None = None
    try:
        try:
            node = DetectorNode()
        except Exception as exc:  # e.g. a parameter outside its declared range
            print(f'[{NODE_NAME}] cannot start: {exc}', file=sys.stderr)
            return 2
        if node.get_parameter('autostart').value:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal('configuration failed (see above); exiting')
                return 1
            node.trigger_activate()
        executor = MultiThreadedExecutor(num_threads=2)
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node._teardown()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
