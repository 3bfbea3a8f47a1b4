"""YOLO-World v2 in PyTorch, written from the published architecture, with NegA in the neck.

Layer indices and attribute names follow the released ultralytics checkpoints, so their state
dict keys (``model.0.conv.weight`` ... ``model.22.dfl.conv.weight``) load one to one (names and
shapes are facts about those files; no code was taken from GPL/AGPL sources).

Text-guided block (our reading of the max-sigmoid attention of the YOLO-World paper)
    X (B, C, H, W) is split per head into M heads of d = C/M channels; guides
    G = Linear(text) (N, M, d); z_m(h, w) = max_j <X_m(h, w), G_jm>;
    a_m = sigmoid(z_m / sqrt(d) + b_m); output = BN(conv3x3(X)) per head times a_m.
    The guides depend only on the label set, so :meth:`YoloWorldNet.prepare_text` computes them
    once per label set (``G_id`` for the K ID labels, ``G_neg`` for the M negative labels); a
    frame only pays for the similarities and the max.

NegA fusion (how negative guidance joins the ID guidance; see :data:`FUSIONS`)
    ``off``       a = sigmoid(z_id / sqrt(d) + b): negatives take no part in the attention.
    ``max``       a = sigmoid(max(z_id, z_neg) / sqrt(d) + b): the union of ID and negative
                  texts, exactly what YOLO-World computes when the negatives are appended to
                  the vocabulary.
    ``weighted``  a = min(1, a_id + w * a_neg), w in [0, 1], each term the sigmoid above on its
                  own texts: negatives add attention where they match, scaled by w; w = 0 is
                  ``off``. Where both match, attention saturates at 1 (the trained maximum).
    ``gate``      a = a_id * (1 - w * a_neg): the negative guidance gates the ID branch, damping
                  the attention where a negative matches; w = 0 is ``off``.
    ``branch``    a separate negative-attention branch: the ID outputs come from the ID texts
                  alone (bit-for-bit ``off``), and the negative logits from a second pass of
                  the neck whose attention is guided by the negative texts alone,
                  a_neg = sigmoid(z_neg / sqrt(d) + b); the backbone runs once.
    ``branch_union``  the same with the second pass guided by ID and negative texts together
                  (a = sigmoid(max(z_id, z_neg) / sqrt(d) + b), the ``max`` map).
    ``branch_contrast``  the same with the second pass guided by how much better a negative
                  matches than every ID text: a = sigmoid((z_neg - z_id) / sqrt(d) + b). A
                  region that any label would light up (an object) gets z_neg close to z_id;
                  only the part of the match that is specific to a negative survives the
                  difference, so the negative logits are read where a negative explains the
                  region better than the ID labels do.
    Why the branch rules (our design; measured in docs/results.md): ``max`` and ``weighted``
    lift the attention where a negative matches, but that lifts the *ID* features there too, so
    an OOD object that looks like a negative gets a higher ID confidence as well, and the
    detector confidence and NegS both lose. The branch rules give the negatives their own
    attended features: a region that matches a negative is enhanced for the negative logits
    only, the ID confidences stay those of the plain detector.
    With no negative labels every rule runs the same code as the plain detector (bit-for-bit
    equal outputs); with ``off`` and the branch rules the ID path never touches the negatives,
    so the ID outputs are bit-for-bit those of an ID-only vocabulary.

Head (BN contrastive head, per level)
    e = cv3(x) (B, E, H, W) is batch-normalised, s_k = <BN(e), w_k / |w_k|> * exp(logit_scale)
    + bias. Negative-label logits use the same e and the same formula; :class:`HeadOutput` can
    compute them for all anchors or only for the anchors that survive NMS (what the backend does:
    NegS needs them only for the reported boxes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
import math
from typing import Any, cast

import torch
from torch import nn
import torch.nn.functional as nnf

from negas_ros.backends.yolo_world.config import (
    ATTENTION_LAYERS,
    BRANCH_FUSIONS,
    HEAD_LAYER,
    NEGA_FUSIONS,
    STRIDES,
    YoloWorldConfig,
)

__all__ = [
    'BRANCH_FUSIONS',
    'FUSIONS',
    'AttentionMaps',
    'HeadOutput',
    'PreparedText',
    'YoloWorldNet',
]

FUSIONS = NEGA_FUSIONS
_SIM_CHUNK = 256  # texts per similarity matmul: keeps the (B, M, HW, N) temporary cache-sized


# --------------------------------------------------------------------------- building blocks


class Conv(nn.Module):
    """Conv2d (no bias, 'same' padding) + BatchNorm + SiLU (or no activation)."""

    def __init__(
        self, c_in: int, c_out: int, k: int = 1, s: int = 1, act: bool = True, eps: float = 1e-3
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(c_out, eps=eps)
        self.act: nn.Module = nn.SiLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.act(self.bn(self.conv(x)))
        return out

    def fuse(self) -> None:
        """Fold the BatchNorm into the convolution (inference only)."""
        if isinstance(self.bn, nn.BatchNorm2d):
            self.conv = _fold_bn(self.conv, self.bn)
            self.bn = nn.Identity()


def _fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """conv followed by eval-mode bn, as one conv with bias: W' = W * s, b' = (b - mean) * s +
    beta with s = gamma / sqrt(var + eps)."""
    assert bn.running_mean is not None and bn.running_var is not None
    with torch.no_grad():
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            conv.stride,  # type: ignore[arg-type]
            conv.padding,  # type: ignore[arg-type]
            groups=conv.groups,
            bias=True,
        ).to(conv.weight.device, conv.weight.dtype)
        fused.weight.copy_(conv.weight * s.view(-1, 1, 1, 1))
        b0 = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        assert fused.bias is not None
        fused.bias.copy_((b0 - bn.running_mean) * s + bn.bias)
    return fused.requires_grad_(False)


class Bottleneck(nn.Module):
    """Two 3x3 Convs, with a residual add when ``shortcut`` (backbone) and widths agree."""

    def __init__(self, c: int, shortcut: bool, eps: float) -> None:
        super().__init__()
        self.cv1 = Conv(c, c, 3, eps=eps)
        self.cv2 = Conv(c, c, 3, eps=eps)
        self.add = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """CSP block: split in two halves, chain n bottlenecks on one, concat every stage, fuse."""

    def __init__(self, c_in: int, c_out: int, n: int, shortcut: bool, eps: float) -> None:
        super().__init__()
        self.c = c_out // 2
        self.cv1 = Conv(c_in, 2 * self.c, 1, eps=eps)
        self.cv2 = Conv((2 + n) * self.c, c_out, 1, eps=eps)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut, eps) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            y.append(block(y[-1]))
        out: torch.Tensor = self.cv2(torch.cat(y, 1))
        return out


class SPPF(nn.Module):
    """Spatial pyramid pooling: three chained 5x5 max-pools, concatenated with their input."""

    def __init__(self, c_in: int, c_out: int, eps: float, k: int = 5) -> None:
        super().__init__()
        hidden = c_in // 2
        self.cv1 = Conv(c_in, hidden, 1, eps=eps)
        self.cv2 = Conv(hidden * 4, c_out, 1, eps=eps)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        out: torch.Tensor = self.cv2(torch.cat(y, 1))
        return out


class Upsample(nn.Module):
    """Nearest 2x upsampling (layers 10 and 13; no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nnf.interpolate(x, scale_factor=2.0, mode='nearest')


class Concat(nn.Module):
    """Channel concat (layers 11, 14, 17, 20; no parameters, the routing is in the network)."""

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs, 1)


# --------------------------------------------------------------------------- text and attention


@dataclass(frozen=True)
class BlockGuide:
    """Guides of one text-guided block: ``Linear(text)`` split per head.

    ids: (heads, head_dim, K); negs: (heads, head_dim, M) or None when M == 0.
    """

    ids: torch.Tensor
    negs: torch.Tensor | None


@dataclass(frozen=True)
class PreparedText:
    """Everything the network needs from one label set, computed once by ``prepare_text``.

    guides: one :class:`BlockGuide` per text-guided block (layers 12, 15, 18, 21).
    head_ids: (K, E) unit-norm ID label embeddings; head_negs: (M, E) (M may be 0).
    fusion: NegA rule (one of :data:`FUSIONS`); weight: w of 'weighted' and 'gate'.
    """

    guides: tuple[BlockGuide, ...]
    head_ids: torch.Tensor
    head_negs: torch.Tensor
    fusion: str
    weight: float

    @property
    def num_ids(self) -> int:
        return int(self.head_ids.shape[0])

    @property
    def num_negs(self) -> int:
        return int(self.head_negs.shape[0])


@dataclass(frozen=True)
class AttentionMaps:
    """Attention of one text-guided block for one forward, values in [0, 1].

    layer: 12, 15, 18 or 21 (strides 16, 8, 16, 32 of the network input).
    fused: (B, heads, H, W) the attention applied where NegA acts: the ID path's map, or for
    the branch rules the negative pass's map (what the negative logits are computed from);
    ids: (B, heads, H, W) from the ID texts alone; negs: (B, heads, H, W) from the negative
    texts alone, or None without negatives.
    """

    layer: int
    fused: torch.Tensor
    ids: torch.Tensor
    negs: torch.Tensor | None


def _max_similarity(embed: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """max_j <embed, guide_j>: embed (B, M, P, d), guide (M, d, N) -> (B, M, P).

    Chunked over N so that 1000 negatives never build a (B, M, P, 1000) temporary; chunking
    only changes which maxima are compared, never a dot product, so the result is exact.
    """
    n = guide.shape[-1]
    if n <= _SIM_CHUNK:
        return torch.matmul(embed, guide).amax(-1)
    best = torch.matmul(embed, guide[..., :_SIM_CHUNK]).amax(-1)
    for start in range(_SIM_CHUNK, n, _SIM_CHUNK):
        part = torch.matmul(embed, guide[..., start : start + _SIM_CHUNK]).amax(-1)
        best = torch.maximum(best, part)
    return best


class MaxSigmoidAttention(nn.Module):
    """Max-sigmoid text attention with NegA fusion (the module docstring has the math)."""

    def __init__(self, channels: int, heads: int, embed_dim: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = channels // heads
        self.gl = nn.Linear(embed_dim, channels)  # text -> per-head guides
        self.bias = nn.Parameter(torch.zeros(heads))
        self.proj_conv = Conv(channels, channels, 3, act=False, eps=eps)
        self.layer = -1  # set by the network, for AttentionMaps
        self.sink: list[AttentionMaps] | None = None  # set while capturing attention
        # Training only: keep the last applied map, with its gradient (attention supervision).
        self.keep_attention = False
        self.last_attention: torch.Tensor | None = None

    def guide(self, text: torch.Tensor) -> torch.Tensor:
        """(N, E) unit-norm texts -> (heads, head_dim, N) guides."""
        g: torch.Tensor = self.gl(text)
        g = g.view(text.shape[0], self.heads, self.head_dim)
        return g.permute(1, 2, 0).contiguous()

    def forward(
        self, x: torch.Tensor, guide: BlockGuide, fusion: str, weight: float
    ) -> torch.Tensor:
        b, c, h, w = x.shape
        embed = x.view(b, self.heads, self.head_dim, h * w).transpose(2, 3)
        bias = self.bias.view(1, self.heads, 1)
        scale = math.sqrt(self.head_dim)
        z_ids = _max_similarity(embed, guide.ids)
        z_negs = None
        if guide.negs is not None and (fusion != 'off' or self.sink is not None):
            z_negs = _max_similarity(embed, guide.negs)
        if z_negs is None or fusion == 'off':
            attn = torch.sigmoid(z_ids / scale + bias)
        elif fusion == 'max':
            attn = torch.sigmoid(torch.maximum(z_ids, z_negs) / scale + bias)
        elif fusion == 'weighted':
            a_ids = torch.sigmoid(z_ids / scale + bias)
            a_negs = torch.sigmoid(z_negs / scale + bias)
            attn = torch.clamp(a_ids + weight * a_negs, max=1.0)
        elif fusion == 'gate':
            a_ids = torch.sigmoid(z_ids / scale + bias)
            a_negs = torch.sigmoid(z_negs / scale + bias)
            attn = a_ids * (1.0 - weight * a_negs)
        elif fusion == 'contrast':  # the negative pass of 'branch_contrast' only
            attn = torch.sigmoid((z_negs - z_ids) / scale + bias)
        else:
            raise ValueError(f'unknown NegA fusion {fusion!r}; choose one of {FUSIONS}')
        if self.sink is not None:
            self.sink.append(
                AttentionMaps(
                    layer=self.layer,
                    fused=attn.view(b, self.heads, h, w).detach().clone(),
                    ids=torch.sigmoid(z_ids / scale + bias).view(b, self.heads, h, w).detach(),
                    negs=None
                    if z_negs is None
                    else torch.sigmoid(z_negs / scale + bias).view(b, self.heads, h, w).detach(),
                )
            )
        if self.keep_attention:
            self.last_attention = attn.view(b, self.heads, h, w)
        proj: torch.Tensor = self.proj_conv(x)
        out = proj.view(b, self.heads, c // self.heads, h, w) * attn.view(b, self.heads, 1, h, w)
        return out.view(b, c, h, w)


class C2fAttn(nn.Module):
    """Text-guided CSP block (T-CSPLayer): C2f whose concat gets one more, attended branch."""

    def __init__(
        self, c_in: int, c_out: int, n: int, heads: int, embed_dim: int, eps: float
    ) -> None:
        super().__init__()
        self.c = c_out // 2
        self.cv1 = Conv(c_in, 2 * self.c, 1, eps=eps)
        self.cv2 = Conv((3 + n) * self.c, c_out, 1, eps=eps)
        self.m = nn.ModuleList(Bottleneck(self.c, False, eps) for _ in range(n))
        self.attn = MaxSigmoidAttention(self.c, heads, embed_dim, eps)

    def forward(
        self, x: torch.Tensor, guide: BlockGuide, fusion: str, weight: float
    ) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            y.append(block(y[-1]))
        y.append(self.attn(y[-1], guide, fusion, weight))
        out: torch.Tensor = self.cv2(torch.cat(y, 1))
        return out


# --------------------------------------------------------------------------- head


class BNContrastiveHead(nn.Module):
    """Region-text similarity: s = <BN(e), w> * exp(logit_scale) + bias (w unit-norm)."""

    def __init__(self, embed_dim: int, eps: float) -> None:
        super().__init__()
        self.norm: nn.Module = nn.BatchNorm2d(embed_dim, eps=eps)
        self.bias = nn.Parameter(torch.tensor([-10.0]))  # rare positives at initialisation
        self.logit_scale = nn.Parameter(torch.tensor(-1.0))


class DFL(nn.Module):
    """Distribution focal loss integral: the expected bin of a softmax over reg_max bins.

    ``conv.weight`` (1, reg_max, 1, 1) holds the bin values 0..reg_max-1 (a fixed, stored
    weight in the released checkpoints).
    """

    def __init__(self, reg_max: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.arange(reg_max, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4 * reg_max, A) logits -> (B, 4, A) distances in grid units."""
        b, _, a = x.shape
        reg = self.conv.weight.shape[1]
        probs = x.view(b, 4, reg, a).softmax(2)
        return (probs * self.conv.weight.view(1, 1, reg, 1)).sum(2)


@dataclass(frozen=True)
class HeadOutput:
    """Raw head outputs of one forward over A anchors (all levels, P3 first, row-major).

    boxes: (B, A, 4) xyxy in network-input pixels.
    id_logits: (B, A, K) pre-sigmoid ID logits.
    embeds: per level (B, E, H*W) batch-normalised class embeddings.
    scales / biases: (A,) exp(logit_scale) and bias of each anchor's level.
    head_negs: (M, E) unit-norm negative texts, for :meth:`neg_logits`.
    neg_embeds: per level the class embeddings of the negative-guided pass (branch rules), from
    which the negative logits are read instead of ``embeds``; None otherwise.
    """

    boxes: torch.Tensor
    id_logits: torch.Tensor
    embeds: tuple[torch.Tensor, ...]
    scales: torch.Tensor
    biases: torch.Tensor
    head_negs: torch.Tensor
    neg_embeds: tuple[torch.Tensor, ...] | None = None

    def _negative_embeds(self) -> tuple[torch.Tensor, ...]:
        return self.embeds if self.neg_embeds is None else self.neg_embeds

    def neg_logits_all(self) -> torch.Tensor:
        """(B, A, M) negative logits of every anchor of every image (what export emits)."""
        embeds = torch.cat(self._negative_embeds(), 2)  # (B, E, A)
        logits = torch.matmul(self.head_negs, embeds) * self.scales + self.biases  # (B, M, A)
        return logits.transpose(1, 2)

    def neg_logits(self, batch: int, anchors: torch.Tensor | None = None) -> torch.Tensor:
        """Negative logits of image ``batch``: (n, M) for the anchor indices (n,), or (A, M).

        Same formula and inputs as the ID logits; computed on demand so that NegS pays for the
        reported boxes only.
        """
        negs = self.head_negs
        levels = self._negative_embeds()
        if anchors is None:
            embeds = torch.cat([e[batch] for e in levels], 1)  # (E, A)
            return (negs @ embeds).T * self.scales[:, None] + self.biases[:, None]
        out = negs.new_zeros((anchors.shape[0], negs.shape[0]))
        start = 0
        for e in levels:  # gather per level: no (E, A) copy for a handful of boxes
            size = e.shape[-1]
            rows = torch.nonzero((anchors >= start) & (anchors < start + size)).flatten()
            if rows.numel():
                out[rows] = (negs @ e[batch][:, anchors[rows] - start]).T
            start += size
        return out * self.scales[anchors, None] + self.biases[anchors, None]


class WorldHead(nn.Module):
    """Per level: DFL box branch (cv2), class-embedding branch (cv3), contrastive head (cv4)."""

    def __init__(self, cfg: YoloWorldConfig) -> None:
        super().__init__()
        eps = cfg.bn_eps
        self.reg_max = cfg.reg_max
        self.cv2 = nn.ModuleList(
            nn.Sequential(
                Conv(c, cfg.box_channels, 3, eps=eps),
                Conv(cfg.box_channels, cfg.box_channels, 3, eps=eps),
                nn.Conv2d(cfg.box_channels, 4 * cfg.reg_max, 1),
            )
            for c in cfg.head_in
        )
        self.cv3 = nn.ModuleList(
            nn.Sequential(
                Conv(c, cfg.cls_channels, 3, eps=eps),
                Conv(cfg.cls_channels, cfg.cls_channels, 3, eps=eps),
                nn.Conv2d(cfg.cls_channels, cfg.embed_dim, 1),
            )
            for c in cfg.head_in
        )
        self.cv4 = nn.ModuleList(BNContrastiveHead(cfg.embed_dim, eps) for _ in cfg.head_in)
        self.dfl = DFL(cfg.reg_max)
        self._anchor_cache: dict[tuple[object, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def _anchors(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell centres (A, 2) in grid units and strides (A,) for the feature shapes."""
        key = (feats[0].device, feats[0].dtype, *(tuple(f.shape[2:]) for f in feats))
        cached = self._anchor_cache.get(key)
        tracing = bool(cast(Any, torch.jit).is_tracing())
        if cached is not None and not tracing:
            return cached
        points, strides = [], []
        for f, stride in zip(feats, STRIDES, strict=True):
            h, w = f.shape[2:]
            ys = torch.arange(h, device=f.device, dtype=f.dtype) + 0.5
            xs = torch.arange(w, device=f.device, dtype=f.dtype) + 0.5
            gy, gx = torch.meshgrid(ys, xs, indexing='ij')
            points.append(torch.stack((gx, gy), -1).view(-1, 2))
            strides.append(torch.full((h * w,), float(stride), device=f.device, dtype=f.dtype))
        result = (torch.cat(points), torch.cat(strides))
        if not tracing:  # traced graphs must compute anchors, not capture stale tensors
            self._anchor_cache[key] = result
        return result

    def class_embeds(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Per level the batch-normalised class embeddings (B, E, H*W) alone (no boxes)."""
        out = []
        for i, x in enumerate(feats):
            head = cast(BNContrastiveHead, self.cv4[i])
            out.append(head.norm(self.cv3[i](x)).flatten(2))
        return tuple(out)

    def forward(self, feats: list[torch.Tensor], text: PreparedText) -> HeadOutput:
        box_raw, id_logits, embeds, scales, biases = [], [], [], [], []
        for i, x in enumerate(feats):
            head = cast(BNContrastiveHead, self.cv4[i])
            box_raw.append(self.cv2[i](x).flatten(2))
            e = head.norm(self.cv3[i](x)).flatten(2)  # (B, E, HW)
            scale = head.logit_scale.exp()
            id_logits.append(torch.matmul(text.head_ids, e) * scale + head.bias)  # (B, K, HW)
            embeds.append(e)
            n = e.shape[-1]
            scales.append(scale.expand(n))
            biases.append(head.bias.expand(n))
        points, strides = self._anchors(feats)
        dist = self.dfl(torch.cat(box_raw, 2))  # (B, 4, A): left, top, right, bottom
        xy = points.T.unsqueeze(0)  # (1, 2, A)
        boxes = torch.cat((xy - dist[:, :2], xy + dist[:, 2:]), 1) * strides
        return HeadOutput(
            boxes=boxes.transpose(1, 2),
            id_logits=torch.cat(id_logits, 2).transpose(1, 2),
            embeds=tuple(embeds),
            scales=torch.cat(scales),
            biases=torch.cat(biases),
            head_negs=text.head_negs,
        )

# --------------------------------------------------------------------------- the network


class YoloWorldNet(nn.Module):
    """YOLO-World v2: ``model`` holds layers 0-22 as in the released checkpoints.

    forward(images (B, 3, H, W) RGB in [0, 1], H and W multiples of 32, text) -> HeadOutput.
    """

    def __init__(self, cfg: YoloWorldConfig) -> None:
        super().__init__()
        self.config = cfg
        eps = cfg.bn_eps
        c64, c128, c256, c512, c1024 = cfg.widths
        n2, n4, n6, n8 = cfg.backbone_depths
        n = cfg.neck_depth
        h12, h15, h18, h21 = cfg.attn_heads
        e = cfg.embed_dim
        layers: list[nn.Module] = [
            Conv(3, c64, 3, 2, eps=eps),  # 0  P1/2
            Conv(c64, c128, 3, 2, eps=eps),  # 1  P2/4
            C2f(c128, c128, n2, True, eps),  # 2
            Conv(c128, c256, 3, 2, eps=eps),  # 3  P3/8
            C2f(c256, c256, n4, True, eps),  # 4
            Conv(c256, c512, 3, 2, eps=eps),  # 5  P4/16
            C2f(c512, c512, n6, True, eps),  # 6
            Conv(c512, c1024, 3, 2, eps=eps),  # 7  P5/32
            C2f(c1024, c1024, n8, True, eps),  # 8
            SPPF(c1024, c1024, eps),  # 9
            Upsample(),  # 10
            Concat(),  # 11 (10, 6)
            C2fAttn(c1024 + c512, c512, n, h12, e, eps),  # 12
            Upsample(),  # 13
            Concat(),  # 14 (13, 4)
            C2fAttn(c512 + c256, c256, n, h15, e, eps),  # 15 -> P3 out
            Conv(c256, c256, 3, 2, eps=eps),  # 16
            Concat(),  # 17 (16, 12)
            C2fAttn(c256 + c512, c512, n, h18, e, eps),  # 18 -> P4 out
            Conv(c512, c512, 3, 2, eps=eps),  # 19
            Concat(),  # 20 (19, 9)
            C2fAttn(c512 + c1024, c1024, n, h21, e, eps),  # 21 -> P5 out
            WorldHead(cfg),  # 22
        ]
        self.model = nn.ModuleList(layers)
        self.fused = False
        for layer in ATTENTION_LAYERS:
            self._attn(layer).layer = layer

    def _attn(self, layer: int) -> MaxSigmoidAttention:
        block = self.model[layer]
        assert isinstance(block, C2fAttn)
        return block.attn

    @property
    def head(self) -> WorldHead:
        head = self.model[HEAD_LAYER]
        assert isinstance(head, WorldHead)
        return head

    @torch.no_grad()
    def prepare_text(
        self,
        id_embeddings: torch.Tensor,
        neg_embeddings: torch.Tensor | None = None,
        fusion: str = 'max',
        weight: float = 0.5,
    ) -> PreparedText:
        """Guides and head weights for one label set (call once per label set, not per frame).

        id_embeddings: (K, E), K >= 1; neg_embeddings: (M, E) or None. Any scale: they are
        L2-normalised here. fusion: one of :data:`FUSIONS`; weight in [0, 1] ('weighted').
        """
        if fusion not in FUSIONS:
            raise ValueError(f'unknown NegA fusion {fusion!r}; choose one of {FUSIONS}')
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f'NegA weight must be in [0, 1], got {weight}')
        e = self.config.embed_dim
        param = next(self.parameters())
        ids = id_embeddings.to(param.device, param.dtype)
        negs = (
            neg_embeddings.to(param.device, param.dtype)
            if neg_embeddings is not None
            else ids.new_zeros((0, e))
        )
        if ids.ndim != 2 or ids.shape[0] < 1 or ids.shape[1] != e:
            raise ValueError(f'id_embeddings must be (K >= 1, {e}), got {tuple(ids.shape)}')
        if negs.ndim != 2 or negs.shape[1] != e:
            raise ValueError(f'neg_embeddings must be (M, {e}), got {tuple(negs.shape)}')
        # ultralytics normalises the texts once for the neck and again inside the head.
        ids = ids / ids.norm(p=2, dim=-1, keepdim=True)
        negs = negs / negs.norm(p=2, dim=-1, keepdim=True)
        guides = []
        for layer in ATTENTION_LAYERS:
            attn = self._attn(layer)
            guides.append(
                BlockGuide(attn.guide(ids), attn.guide(negs) if negs.shape[0] else None)
            )
        return PreparedText(
            guides=tuple(guides),
            head_ids=nnf.normalize(ids, dim=-1),
            head_negs=nnf.normalize(negs, dim=-1),
            fusion=fusion,
            weight=float(weight),
        )

    def _neck(self, p3: torch.Tensor, p4: torch.Tensor, p5: torch.Tensor,
              guides: tuple[BlockGuide, ...], fusion: str, weight: float) -> list[torch.Tensor]:
        m = self.model
        g12, g15, g18, g21 = guides
        t12 = m[12](m[11]([m[10](p5), p4]), g12, fusion, weight)
        out3 = m[15](m[14]([m[13](t12), p3]), g15, fusion, weight)
        out4 = m[18](m[17]([m[16](out3), t12]), g18, fusion, weight)
        out5 = m[21](m[20]([m[19](out4), p5]), g21, fusion, weight)
        return [out3, out4, out5]

    def forward(self, images: torch.Tensor, text: PreparedText) -> HeadOutput:
        m = self.model
        x = m[1](m[0](images))
        x = m[2](x)
        p3 = m[4](m[3](x))
        p4 = m[6](m[5](p3))
        p5 = m[9](m[8](m[7](p4)))
        branch = text.fusion in BRANCH_FUSIONS and text.num_negs > 0
        sink = self._attn(ATTENTION_LAYERS[0]).sink
        mark = len(sink) if sink is not None else 0
        feats = self._neck(p3, p4, p5, text.guides, 'off' if branch else text.fusion,
                           text.weight)
        result: HeadOutput = self.head(feats, text)
        if not branch:
            return result
        # The negative branch: the same backbone features through the neck again, guided by
        # the negatives (alone, or with the ID texts), read out by the class-embedding branch.
        if text.fusion == 'branch':
            guides = tuple(BlockGuide(g.negs, None) for g in text.guides if g.negs is not None)
            neg_feats = self._neck(p3, p4, p5, guides, 'off', text.weight)
        else:
            rule = 'max' if text.fusion == 'branch_union' else 'contrast'
            neg_feats = self._neck(p3, p4, p5, text.guides, rule, text.weight)
        if sink is not None:  # one map per block: the negative pass's, with the ID pass's ids
            id_maps, neg_maps = sink[mark:mark + 4], sink[mark + 4:mark + 8]
            del sink[mark:]
            sink.extend(AttentionMaps(a.layer, b.fused, a.ids, a.negs)
                        for a, b in zip(id_maps, neg_maps, strict=True))
        return replace(result, neg_embeds=self.head.class_embeds(neg_feats))

    @torch.no_grad()
    def fuse(self) -> YoloWorldNet:
        """Fold every BatchNorm into the convolution before it, for inference.

        About 1.5x faster on CPU (BatchNorm is memory-bound); changes results only by float
        rounding. The state dict no longer has the BatchNorm keys afterwards, so load
        checkpoints before fusing. Idempotent.
        """
        for module in self.modules():
            if isinstance(module, Conv):
                module.fuse()
        head = self.head
        for i, contrastive in enumerate(head.cv4):
            assert isinstance(contrastive, BNContrastiveHead)
            if isinstance(contrastive.norm, nn.BatchNorm2d):
                branch = head.cv3[i]
                assert isinstance(branch, nn.Sequential)
                last = branch[2]
                assert isinstance(last, nn.Conv2d)
                branch[2] = _fold_bn(last, contrastive.norm)
                contrastive.norm = nn.Identity()
        self.fused = True
        return self

    @contextmanager
    def capture_attention(self) -> Iterator[list[AttentionMaps]]:
        """Record the attention maps of every forward run inside the ``with`` block.

        Yields a list that receives one :class:`AttentionMaps` per text-guided block and
        forward, in execution order (layers 12, 15, 18, 21). Capturing computes the negative
        maps even with fusion 'off' (they are reported, not applied).
        """
        sink: list[AttentionMaps] = []
        blocks = [self._attn(layer) for layer in ATTENTION_LAYERS]
        for block in blocks:
            block.sink = sink
        try:
            yield sink
        finally:
            for block in blocks:
                block.sink = None
