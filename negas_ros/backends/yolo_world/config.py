"""YOLO-World v2 architecture description (pure: no torch).

The network is the YOLOv8 layout of the ultralytics ``yolov8-worldv2.yaml`` (layers 0-22): a CSP
backbone (0-9), a text-guided PAN neck (10-21) and the WorldDetect head (22). Sizes differ only
by three scale constants (depth multiple, width multiple, channel cap), from which every channel
count, repeat count and head count follows by the rules below. These numbers are facts about the
released checkpoints; :func:`config_for_variant` reproduces them and
:func:`config_from_shapes` reads them back from a state dict, so a checkpoint never needs to
carry its size name.

Channel table (``c(x) = ceil(min(x, cap) * width / 8) * 8``)::

    variant  depth  width  cap    backbone widths (c64, c128, c256, c512, c1024)  heads 12/15/18/21
    s        0.33   0.50   1024   32, 64, 128, 256, 512                           4, 2, 4, 8
    m        0.67   0.75   768    48, 96, 192, 384, 576                           6, 3, 6, 9
    l        1.00   1.00   512    64, 128, 256, 512, 512                          8, 4, 8, 8
    x        1.00   1.25   512    80, 160, 320, 640, 640                          10, 5, 10, 10

Every attention head has 32 channels in all four released sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
import json
import math
from typing import Any

__all__ = [
    'ATTENTION_LAYERS',
    'HEAD_LAYER',
    'STRIDES',
    'VARIANTS',
    'YoloWorldConfig',
    'config_for_variant',
    'config_from_scale',
    'config_from_shapes',
    'variant_name',
]

STRIDES = (8, 16, 32)  # P3, P4, P5
ATTENTION_LAYERS = (12, 15, 18, 21)  # the text-guided CSP blocks (C2fAttn) of the neck
NEGA_FUSIONS = ('off', 'max', 'weighted', 'gate', 'branch', 'branch_union', 'branch_contrast')
"""NegA rules (:mod:`negas_ros.backends.yolo_world.network` has their definitions)."""
BRANCH_FUSIONS = ('branch', 'branch_union', 'branch_contrast')
"""Rules whose negative logits come from a second, negative-guided pass of the neck."""
HEAD_LAYER = 22

# (depth multiple, width multiple, channel cap) of yolov8-worldv2.yaml; 'tiny' is ours, for tests.
_SCALES: dict[str, tuple[float, float, int]] = {
    's': (0.33, 0.50, 1024),
    'm': (0.67, 0.75, 768),
    'l': (1.00, 1.00, 512),
    'x': (1.00, 1.25, 512),
    'tiny': (0.33, 0.125, 1024),
}
VARIANTS = tuple(_SCALES)
_TINY_EMBED_DIM = 64  # a small text width keeps the tiny model and its tiny CLIP fast


@dataclass(frozen=True)
class YoloWorldConfig:
    """Every size the network needs, explicit (so a state dict determines it).

    widths: output channels of backbone layers 0, 1, 3, 5, 7 (the yaml's 64, 128, 256, 512,
        1024 after scaling); layers 2, 4, 6, 8 keep their input width, SPPF (9) keeps c1024.
    backbone_depths: bottlenecks in the C2f layers 2, 4, 6, 8.
    neck_depth: bottlenecks in each text-guided block (layers 12, 15, 18, 21).
    attn_heads: attention heads of blocks 12, 15, 18, 21; each head has hidden/heads channels,
        hidden being half the block's output width.
    embed_dim: text embedding width (512 for CLIP ViT-B/32) = guide width = class-embedding width.
    box_channels / cls_channels: hidden widths of the head's box (cv2) and class (cv3) branches.
    reg_max: DFL bins per box side.
    bn_eps: BatchNorm epsilon (ultralytics sets 1e-3 on every BatchNorm2d).
    """

    widths: tuple[int, int, int, int, int]
    backbone_depths: tuple[int, int, int, int]
    neck_depth: int
    attn_heads: tuple[int, int, int, int]
    embed_dim: int = 512
    box_channels: int = 64
    cls_channels: int = 128
    reg_max: int = 16
    bn_eps: float = 1e-3
    name: str = 'custom'

    def __post_init__(self) -> None:
        if len(self.widths) != 5 or any(w <= 0 or w % 2 for w in self.widths):
            raise ValueError(f'widths must be 5 positive even numbers, got {self.widths}')
        if len(self.backbone_depths) != 4 or any(d < 1 for d in self.backbone_depths):
            raise ValueError(f'backbone_depths must be 4 numbers >= 1, got {self.backbone_depths}')
        if self.neck_depth < 1:
            raise ValueError(f'neck_depth must be >= 1, got {self.neck_depth}')
        if len(self.attn_heads) != 4:
            raise ValueError(f'attn_heads must have 4 entries, got {self.attn_heads}')
        for layer, hidden, heads in zip(
            ATTENTION_LAYERS, self.neck_hidden, self.attn_heads, strict=True
        ):
            if heads < 1 or hidden % heads:
                raise ValueError(
                    f'layer {layer}: {heads} attention heads do not divide its {hidden} channels'
                )
        for name in ('embed_dim', 'box_channels', 'cls_channels', 'reg_max'):
            if int(getattr(self, name)) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if not 0.0 < self.bn_eps < 1.0:
            raise ValueError(f'bn_eps must be in (0, 1), got {self.bn_eps}')

    @property
    def neck_out(self) -> tuple[int, int, int, int]:
        """Output widths of layers 12, 15, 18, 21 (the yaml's 512, 256, 512, 1024)."""
        _, _, c256, c512, c1024 = self.widths
        return (c512, c256, c512, c1024)

    @property
    def neck_hidden(self) -> tuple[int, int, int, int]:
        """Hidden width of each text-guided block: half its output (C2f expansion 0.5)."""
        out = self.neck_out
        return (out[0] // 2, out[1] // 2, out[2] // 2, out[3] // 2)

    @property
    def head_in(self) -> tuple[int, int, int]:
        """Input widths of the head: P3 (layer 15), P4 (18), P5 (21)."""
        out = self.neck_out
        return (out[1], out[2], out[3])

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> YoloWorldConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError('a YOLO-World config must be a JSON object')
        return YoloWorldConfig.from_dict(data)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> YoloWorldConfig:
        known = set(YoloWorldConfig.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f'unknown YOLO-World config keys: {", ".join(unknown)}')
        args = dict(data)
        for key in ('widths', 'backbone_depths', 'attn_heads'):
            if key in args:
                args[key] = tuple(int(v) for v in args[key])
        return YoloWorldConfig(**args)


def _make_divisible(value: float, divisor: int = 8) -> int:
    return int(math.ceil(value / divisor) * divisor)


def config_from_scale(
    depth: float,
    width: float,
    max_channels: int,
    *,
    embed_dim: int = 512,
    num_classes: int = 80,
    reg_max: int = 16,
    name: str = 'custom',
) -> YoloWorldConfig:
    """Sizes of yolov8-worldv2.yaml for one (depth, width, channel cap) scale.

    num_classes: the class count the checkpoint was built with; it only sets the class-branch
    width ``max(c256, min(num_classes, 100))`` (80 for every released checkpoint).
    """

    def ch(c: int) -> int:
        return _make_divisible(min(c, max_channels) * width)

    def repeats(n: int) -> int:
        return max(round(n * depth), 1) if n > 1 else n

    def heads(h: int) -> int:
        return int(max(round(min(h, max_channels // 2 // 32)) * width, 1)) if h > 1 else h

    widths = (ch(64), ch(128), ch(256), ch(512), ch(1024))
    attn_heads = (heads(8), heads(4), heads(8), heads(16))
    # The guide embeds to exactly the block's hidden width in the yaml's sizes; a different
    # width would need an extra 1x1 conv that no released checkpoint has, so we check it.
    embed = (
        _make_divisible(min(256, max_channels // 2) * width),
        _make_divisible(min(128, max_channels // 2) * width),
        _make_divisible(min(256, max_channels // 2) * width),
        _make_divisible(min(512, max_channels // 2) * width),
    )
    cfg = YoloWorldConfig(
        widths=widths,
        backbone_depths=(repeats(3), repeats(6), repeats(6), repeats(3)),
        neck_depth=repeats(3),
        attn_heads=attn_heads,
        embed_dim=embed_dim,
        box_channels=max(16, widths[2] // 4, reg_max * 4),
        cls_channels=max(widths[2], min(num_classes, 100)),
        reg_max=reg_max,
        name=name,
    )
    if embed != cfg.neck_hidden:
        raise ValueError(
            f'scale ({depth}, {width}, {max_channels}) gives guide widths {embed} != block '
            f'widths {cfg.neck_hidden}; such a network is not supported'
        )
    return cfg


def config_for_variant(variant: str) -> YoloWorldConfig:
    """The sizes of ``yolov8{s,m,l,x}-worldv2`` or of our test-only ``tiny`` network."""
    key = variant.lower().removeprefix('yolov8').removesuffix('-worldv2')
    if key not in _SCALES:
        raise ValueError(f'unknown YOLO-World variant {variant!r}; choose one of {VARIANTS}')
    depth, width, cap = _SCALES[key]
    embed = _TINY_EMBED_DIM if key == 'tiny' else 512
    return config_from_scale(depth, width, cap, embed_dim=embed, name=key)


def variant_name(cfg: YoloWorldConfig) -> str:
    """'s', 'm', 'l', 'x' or 'tiny' when cfg has exactly those sizes, else 'custom'."""
    for key in VARIANTS:
        ref = config_for_variant(key)
        if _sizes(ref) == _sizes(cfg):
            return key
    return 'custom'


def _sizes(cfg: YoloWorldConfig) -> tuple[Any, ...]:
    d = asdict(cfg)
    d.pop('name')
    d.pop('bn_eps')
    return tuple(sorted(d.items()))


def config_from_shapes(
    shapes: Mapping[str, Sequence[int]], prefix: str = 'model.'
) -> YoloWorldConfig:
    """Read the network sizes back from state-dict tensor shapes (released key names).

    shapes: key -> shape, e.g. ``{'model.0.conv.weight': (32, 3, 3, 3), ...}``.
    Raises ValueError naming the first key it needs and cannot find; the strict key and shape
    check of the loader then catches anything else.
    """

    def shape(key: str, ndim: int) -> tuple[int, ...]:
        full = prefix + key
        if full not in shapes:
            raise ValueError(f'not a YOLO-World v2 state dict: no {full!r}')
        value = tuple(int(s) for s in shapes[full])
        if len(value) != ndim:
            raise ValueError(f'{full!r} has shape {value}, expected {ndim} dimensions')
        return value

    def count(layer: int) -> int:
        stem = f'{prefix}{layer}.m.'
        found = {key[len(stem) :].split('.', 1)[0] for key in shapes if key.startswith(stem)}
        indices = sorted(int(i) for i in found if i.isdigit())
        if not indices or indices != list(range(len(indices))):
            raise ValueError(f'layer {layer}: bottleneck modules {prefix}{layer}.m.N not found')
        return len(indices)

    widths = tuple(shape(f'{i}.conv.weight', 4)[0] for i in (0, 1, 3, 5, 7))
    neck = [count(layer) for layer in ATTENTION_LAYERS]
    if len(set(neck)) != 1:
        raise ValueError(f'text-guided blocks have different depths {neck}; not supported')
    heads = tuple(shape(f'{layer}.attn.bias', 1)[0] for layer in ATTENTION_LAYERS)
    gl = shape(f'{ATTENTION_LAYERS[0]}.attn.gl.weight', 2)
    box = shape(f'{HEAD_LAYER}.cv2.0.0.conv.weight', 4)[0]
    box_out = shape(f'{HEAD_LAYER}.cv2.0.2.weight', 4)[0]
    cls = shape(f'{HEAD_LAYER}.cv3.0.0.conv.weight', 4)[0]
    embed = shape(f'{HEAD_LAYER}.cv3.0.2.weight', 4)[0]
    if box_out % 4:
        raise ValueError(f'box branch has {box_out} outputs, not 4 * reg_max')
    if gl[1] != embed:
        raise ValueError(f'guide width {gl[1]} != class-embedding width {embed}')
    cfg = YoloWorldConfig(
        widths=(widths[0], widths[1], widths[2], widths[3], widths[4]),
        backbone_depths=(count(2), count(4), count(6), count(8)),
        neck_depth=neck[0],
        attn_heads=(heads[0], heads[1], heads[2], heads[3]),
        embed_dim=embed,
        box_channels=box,
        cls_channels=cls,
        reg_max=box_out // 4,
    )
    return YoloWorldConfig.from_dict({**asdict(cfg), 'name': variant_name(cfg)})
