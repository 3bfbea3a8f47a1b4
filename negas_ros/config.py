"""The detector's configuration: the parameter table and a validated, frozen config (pure).

The ROS node declares its parameters from :data:`PARAMETERS` (so the node, the launch file and
``config/detector.yaml`` share one source of truth) and turns parameter values into a
:class:`DetectorConfig` with :func:`config_from_values`, which validates the whole set at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import importlib.util
import os
from pathlib import Path
import re
from typing import Any

from negas_ros.backends.base import BACKEND_MODULES, BackendSpec
from negas_ros.backends.device import check_device_name
from negas_ros.labels import LabelError, LabelSet, load_labels, make_label_set
from negas_ros.models import EMBEDDED_MODELS, resolve_model
from negas_ros.package_paths import resolve_package_uri
from negas_ros.scores import SCORE_METHODS, ScoreParams
from negas_ros.track_evidence import EVIDENCE_RULES, EvidenceConfig
from negas_ros.tracking import TRACKERS, TrackerConfig, TrackingConfig

__all__ = [
    'PARAMETERS',
    'ConfigError',
    'DetectorConfig',
    'LabelError',
    'ParamSpec',
    'config_from_values',
    'default_values',
    'load_params_file',
    'resolve_path',
]


class ConfigError(ValueError):
    """An invalid parameter set; the message names the parameter (and file) and the fix."""


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: its default, description, and limits.

    read_only: a change needs the model reloaded (lifecycle cleanup + configure), so it is
        fixed while the node runs.
    """

    name: str
    default: Any
    description: str
    read_only: bool = False
    float_range: tuple[float, float] | None = None
    int_range: tuple[int, int] | None = None
    choices: tuple[str, ...] = ()


_SCORE_CHOICES = tuple(SCORE_METHODS)

PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('backend', 'grounding_dino', 'Detector backend.', read_only=True,
              choices=tuple(BACKEND_MODULES)),
    ParamSpec('model', 'IDEA-Research/grounding-dino-tiny',
              'Checkpoint: a hub id or a local directory.', read_only=True),
    ParamSpec('device', 'cpu', "Torch device: 'cpu' or 'cuda:N'.", read_only=True),
    ParamSpec('half', False, 'Run the model in fp16 (CUDA only).', read_only=True),
    ParamSpec('labels_file', '',
              'Labels YAML (id_labels, negative_labels). Empty: use the inline lists.'),
    ParamSpec('id_labels', [''],
              'Inline in-distribution labels, used when labels_file is empty.'),
    ParamSpec('negative_labels', [''],
              'Inline negative labels, used when labels_file is empty.'),
    ParamSpec('box_threshold', 0.3,
              'Minimum best-ID sigmoid confidence for a box to be reported.',
              float_range=(0.0, 1.0)),
    ParamSpec('score_method', 'negs', 'OOD score used for the verdict.',
              choices=_SCORE_CHOICES),
    ParamSpec('ood_threshold', 0.5,
              'A detection whose OOD score (larger = more ID) is below this is unknown.',
              float_range=(-1.0e6, 1.0e6)),
    ParamSpec('score_temperature', 1.0,
              'Temperature of the energy and neglabel scores (negs_softmax has its own, 0.1).',
              float_range=(1.0e-4, 1.0e4)),
    ParamSpec('neglabel_groups', 1, 'Random groups of negatives averaged by neglabel.',
              int_range=(1, 1000)),
    ParamSpec('nega', True,
              'NegA: negative labels take part in the text-guided attention. Off: the ID '
              'detections equal those of an ID-only prompt; negatives only feed the score.'),
    ParamSpec('nega_fusion', '',
              "yolo_world: how negative guidance joins the ID guidance in the neck when nega is "
              "on ('branch': a separate negative-guided pass feeds the negative logits, "
              "'branch_union': the same guided by ID and negatives, 'branch_contrast': guided "
              "by z_neg - z_id, 'max': union, 'weighted': a_id + w a_neg, 'gate': "
              "a_id (1 - w a_neg), 'off'). Empty: the model card's.",
              read_only=True,
              choices=('', 'off', 'max', 'weighted', 'gate', 'branch', 'branch_union',
                       'branch_contrast')),
    ParamSpec('nega_weight', 0.5, "yolo_world: w of nega_fusion 'weighted' and 'gate'.",
              read_only=True, float_range=(0.0, 1.0)),
    ParamSpec('unknown_label', 'unknown', 'class_id published for detections flagged OOD.'),
    ParamSpec('max_detections', 100, 'At most this many detections per frame (best first).',
              int_range=(1, 10000)),
    ParamSpec('input_transport', 'raw',
              "'raw': subscribe image (sensor_msgs/Image); 'compressed': image/compressed.",
              read_only=True, choices=('raw', 'compressed')),
    ParamSpec('cameras', [''],
              "Camera names; one model serves them all, their frames batched. [''] (default): "
              'one camera on image, detections, ... Names: <name>/image, <name>/detections, ...',
              read_only=True),
    ParamSpec('tracking', True,
              "Track detections over frames (per camera): Detection2D.id holds the track id "
              "and each detection's verdict is its track's (docs/tracking.md).",
              ),
    ParamSpec('tracker', 'bytetrack',
              "'bytetrack': ours, vectorised; 'trackers_bytetrack': the trackers package's.",
              choices=TRACKERS),
    ParamSpec('track_evidence', 'mean',
              "How a track's per-frame OOD scores combine: 'mean' (of the last track_window "
              "frames), 'ema' (decaying mean) or 'frame' (per-frame verdict).",
              choices=EVIDENCE_RULES),
    ParamSpec('track_window', 30, "Frames averaged by track_evidence 'mean'.",
              int_range=(1, 10000)),
    ParamSpec('track_decay', 0.8,
              "Weight of each older frame relative to the next in track_evidence 'ema'.",
              float_range=(0.0, 0.999)),
    ParamSpec('track_min_frames', 5,
              'Frames a track must be seen before it can be flagged unknown.',
              int_range=(1, 1000)),
    ParamSpec('track_max_lost', 30,
              'Frames a track survives without a matching detection.', int_range=(0, 10000)),
    ParamSpec('publish_debug_image', True,
              'Publish debug_image (drawn only while someone subscribes).'),
    ParamSpec('autostart', True,
              'Configure and activate the lifecycle node by itself at start-up.',
              read_only=True),
)

_SPECS = {spec.name: spec for spec in PARAMETERS}
# Parameters rclpy itself understands; a params file may carry them.
_ROS_BUILTIN_PARAMETERS = frozenset(
    {'use_sim_time', 'qos_overrides', 'start_type_description_service'})


def default_values() -> dict[str, Any]:
    return {spec.name: spec.default for spec in PARAMETERS}


@dataclass(frozen=True)
class DetectorConfig:
    """A validated parameter set. Never mutated: an update builds a new one."""

    backend: str
    model: str
    device: str
    half: bool
    labels: LabelSet
    labels_source: str
    box_threshold: float
    score_method: str
    ood_threshold: float
    score_params: ScoreParams
    nega: bool
    unknown_label: str
    max_detections: int
    input_transport: str
    cameras: tuple[str, ...]
    tracking: TrackingConfig
    publish_debug_image: bool
    backend_options: Mapping[str, Any]
    autostart: bool
    values: Mapping[str, Any] = field(compare=False, repr=False)

    def backend_spec(self) -> BackendSpec:
        """What ``create_backend(self.backend, ...)`` needs; the edges build the backend."""
        return BackendSpec(self.model, self.device, self.half, self.backend_options)

    def needs_label_reencode(self, other: DetectorConfig) -> bool:
        """True when going from self to other changes what the backend must encode."""
        return (self.labels.id_labels, self.labels.negative_labels, self.labels.prompt_template,
                self.nega) != (other.labels.id_labels, other.labels.negative_labels,
                               other.labels.prompt_template, other.nega)


def _clean_list(value: Any, name: str) -> list[str]:
    # ROS cannot declare an empty string array by default, so [''] stands for "empty".
    if value is None:
        return []
    if isinstance(value, str):
        raise ConfigError(f"parameter '{name}' must be a list of strings, got a string")
    if not isinstance(value, Sequence):
        raise ConfigError(f"parameter '{name}' must be a list of strings, got {value!r}")
    return [v for v in value if not (isinstance(v, str) and v.strip() == '')]


def _check_type(name: str, value: Any) -> None:
    default = _SPECS[name].default
    expected: tuple[type, ...]
    if isinstance(default, bool):
        expected = (bool,)
    elif isinstance(default, float):
        expected = (float, int)
    elif isinstance(default, int):
        expected = (int,)
    elif isinstance(default, str):
        expected = (str,)
    else:
        return
    if not isinstance(value, expected) or (expected != (bool,) and isinstance(value, bool)):
        raise ConfigError(
            f"parameter '{name}' must be of type {expected[0].__name__}, got {value!r}")


def resolve_path(path: str, base_dir: str | None = None, share_dir: str | None = None) -> Path:
    """Resolve a file parameter: ``package://negas_ros/...`` is taken from the package's share
    directory (share_dir, see :mod:`negas_ros.package_paths`); ~ and environment variables are
    expanded; other relative paths are taken from base_dir (default: the current directory)."""
    try:
        path = resolve_package_uri(path, share_dir or '')
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    expanded = Path(os.path.expandvars(os.path.expanduser(path)))
    if not expanded.is_absolute() and base_dir:
        expanded = Path(base_dir) / expanded
    return expanded


def config_from_values(
    values: Mapping[str, Any], base_dir: str | None = None, share_dir: str | None = None
) -> DetectorConfig:
    """Validate a full parameter set (defaults filled in) and build a :class:`DetectorConfig`.

    Raises ConfigError (or LabelError, a ValueError naming the labels file and key) with a
    message that names the parameter and says how to fix it. Nothing is changed on failure.
    """
    unknown = sorted(set(values) - set(_SPECS))
    if unknown:
        raise ConfigError(
            f'unknown parameter(s) {", ".join(unknown)}; known: {", ".join(sorted(_SPECS))}')
    merged = {**default_values(), **values}
    for name in _SPECS:
        if name not in ('id_labels', 'negative_labels', 'cameras'):
            _check_type(name, merged[name])
    for spec in PARAMETERS:
        value = merged[spec.name]
        if spec.choices and value not in spec.choices:
            raise ConfigError(
                f"parameter '{spec.name}' is {value!r}; choose one of {', '.join(spec.choices)}")
        if spec.float_range and not spec.float_range[0] <= float(value) <= spec.float_range[1]:
            raise ConfigError(
                f"parameter '{spec.name}' is {value}; it must lie in "
                f'[{spec.float_range[0]}, {spec.float_range[1]}]')
        if spec.int_range and not spec.int_range[0] <= int(value) <= spec.int_range[1]:
            raise ConfigError(
                f"parameter '{spec.name}' is {value}; it must lie in "
                f'[{spec.int_range[0]}, {spec.int_range[1]}]')

    device = str(merged['device'])
    try:
        check_device_name(device)
    except ValueError:
        raise ConfigError(f"parameter 'device' is {device!r}; use 'cpu' or 'cuda:N'") from None
    if merged['half'] and device == 'cpu':
        raise ConfigError("parameter 'half' is true but device is 'cpu'; fp16 needs 'cuda:N'")
    if not str(merged['model']).strip():
        raise ConfigError("parameter 'model' is empty; give a hub id or a checkpoint directory")
    model = str(merged['model']).strip()
    embedded_backend = EMBEDDED_MODELS.get(model)
    if embedded_backend is not None and not Path(model).exists():
        if embedded_backend != merged['backend']:
            raise ConfigError(
                f"parameter 'model' names the embedded model '{model}', which is a "
                f"{embedded_backend} model; set backend: {embedded_backend}")
        model = resolve_model(model)
    if not str(merged['unknown_label']).strip():
        raise ConfigError("parameter 'unknown_label' is empty; the default is 'unknown'")

    labels_file = str(merged['labels_file']).strip()
    id_inline = _clean_list(merged['id_labels'], 'id_labels')
    neg_inline = _clean_list(merged['negative_labels'], 'negative_labels')
    if labels_file:
        if id_inline or neg_inline:
            raise ConfigError(
                "parameters 'labels_file' and inline 'id_labels'/'negative_labels' are both "
                'set; use one of them')
        path = resolve_path(labels_file, base_dir, share_dir)
        labels = load_labels(path)
        source = str(path)
    else:
        if not id_inline:
            raise ConfigError(
                "no ID labels: set parameter 'labels_file' to a labels YAML or give "
                "'id_labels' (a list of strings)")
        source = 'parameters id_labels/negative_labels'
        labels = make_label_set(id_inline, neg_inline, source=source)
    if str(merged['unknown_label']).strip().lower() in {x.lower() for x in labels.id_labels}:
        raise ConfigError(
            f"parameter 'unknown_label' {merged['unknown_label']!r} is also an ID label; "
            'pick a name that is not an ID label')

    method = str(merged['score_method'])
    threshold = float(merged['ood_threshold'])
    score_range = SCORE_METHODS[method].score_range
    if score_range is not None and not score_range[0] <= threshold <= score_range[1]:
        raise ConfigError(
            f"parameter 'ood_threshold' is {threshold} but score_method '{method}' lies in "
            f'[{score_range[0]:g}, {score_range[1]:g}]; pick a threshold in that range')

    return DetectorConfig(
        backend=str(merged['backend']),
        model=model,
        device=device,
        half=bool(merged['half']),
        labels=labels,
        labels_source=source,
        box_threshold=float(merged['box_threshold']),
        score_method=method,
        ood_threshold=threshold,
        score_params=ScoreParams(
            temperature=float(merged['score_temperature']),
            neglabel_groups=int(merged['neglabel_groups']),
        ),
        nega=bool(merged['nega']),
        unknown_label=str(merged['unknown_label']).strip(),
        max_detections=int(merged['max_detections']),
        input_transport=str(merged['input_transport']),
        cameras=_cameras(merged['cameras']),
        tracking=_tracking(merged),
        publish_debug_image=bool(merged['publish_debug_image']),
        backend_options=_backend_options(merged),
        autostart=bool(merged['autostart']),
        values=dict(merged),
    )


_CAMERA_TOKEN = re.compile(r'[A-Za-z][A-Za-z0-9_]*')


def _cameras(value: Any) -> tuple[str, ...]:
    """The camera names: ('',) for the single unnamed camera, else unique relative names."""
    names = [str(v).strip() for v in _clean_list(value, 'cameras')]
    if not names:
        return ('',)
    for name in names:
        if not all(_CAMERA_TOKEN.fullmatch(token) for token in name.split('/')):
            raise ConfigError(
                f"parameter 'cameras' has {name!r}; a camera name is a relative ROS name "
                "(letters, digits, '_', tokens separated by '/', each starting with a letter), "
                "e.g. 'front' or 'cam/left'")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"parameter 'cameras' names {', '.join(repeated)} more than once")
    return tuple(names)


def _tracking(values: Mapping[str, Any]) -> TrackingConfig:
    """The tracking settings (ranges and choices were checked against PARAMETERS)."""
    if values['tracker'] == 'trackers_bytetrack' and importlib.util.find_spec('trackers') is None:
        raise ConfigError(
            "parameter 'tracker' is 'trackers_bytetrack' but the 'trackers' package is not "
            "installed; install it (docs/tracking.md) or use 'bytetrack'")
    return TrackingConfig(
        enabled=bool(values['tracking']),
        tracker=str(values['tracker']),
        association=TrackerConfig(max_lost=int(values['track_max_lost'])),
        evidence=EvidenceConfig(
            rule=str(values['track_evidence']), window=int(values['track_window']),
            decay=float(values['track_decay']), min_frames=int(values['track_min_frames']),
            max_missed=int(values['track_max_lost'])),
    )


def _backend_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings passed to the backend (BackendSpec.options); empty means the model's default."""
    if values['backend'] != 'yolo_world' or not values['nega_fusion']:
        return {}
    return {'nega_fusion': values['nega_fusion'], 'nega_weight': float(values['nega_weight'])}


def load_params_file(
    path: str | Path, node_name: str = 'negas_detector', share_dir: str | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """Read the node's parameters from a ROS params YAML and validate them.

    Accepts ``/**:``, ``<node_name>:`` or ``/<node_name>:`` sections (namespaced keys ending in
    the node name too), each with ``ros__parameters``. Returns the merged parameter values.
    Raises ConfigError naming the file and the key, so start-up stops with a useful message.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as exc:
        raise ConfigError(f'{path}: cannot read the parameters file ({exc.strerror})') from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f'{path}: not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping like '/**: {{ros__parameters: {{...}}}}'")
    values: dict[str, Any] = {}
    for section, body in data.items():
        name = str(section).rstrip('/').split('/')[-1]
        if str(section) != '/**' and name != node_name:
            continue  # parameters for another node sharing the file
        if not isinstance(body, dict) or not isinstance(body.get('ros__parameters'), dict):
            raise ConfigError(f"{path}: section '{section}' needs a 'ros__parameters' mapping")
        for key, value in body['ros__parameters'].items():
            if key not in _SPECS and key not in _ROS_BUILTIN_PARAMETERS:
                raise ConfigError(
                    f"{path}: unknown parameter '{key}' under '{section}'; known parameters: "
                    f'{", ".join(sorted(_SPECS))}')
            if key in _SPECS:
                values[key] = value
    if validate:
        try:
            config_from_values(values, share_dir=share_dir)
        except ValueError as exc:
            raise ConfigError(f'{path}: {exc}') from None
    return values

