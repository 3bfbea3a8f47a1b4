"""ONNX export of YOLO-World with the label set baked in, and the onnxruntime parity check.

The exported graph is the network from the letterboxed image to raw per-anchor outputs; the
label set (ID and negative embeddings, already passed through every block's guide projection)
and the NegA rule are constants of the graph. Static shapes, opset 17, no data-dependent
control flow (TensorRT-friendly). Confidence filter, NMS and the mapping to source pixels stay
in our post-processing (:mod:`.postprocess`), shared with the PyTorch path.

Graph I/O
    input  ``images``     (1, 3, h, w) float32 RGB in [0, 1], letterboxed (grey 114 padding)
    output ``boxes``      (1, A, 4) xyxy in network-input pixels
    output ``id_logits``  (1, A, K) pre-sigmoid
    output ``neg_logits`` (1, A, M) pre-sigmoid; absent when M == 0 (no zero-sized tensors)
    Metadata (``metadata_props``): id/negative labels (JSON), nega, fusion, weight, imgsz,
    letterbox pad value, the source checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import logging
import os
from pathlib import Path
from typing import Any, cast
import warnings

import numpy as np
import torch
from torch import nn

from negas_ros.backends.yolo_world.backend import YoloWorldBackend
from negas_ros.backends.yolo_world.letterbox import LETTERBOX_PAD
from negas_ros.backends.yolo_world.network import BlockGuide, PreparedText, YoloWorldNet
from negas_ros.backends.yolo_world.postprocess import select_detections

__all__ = [
    'DEFAULT_OPSET',
    'ExportedDetector',
    'ParityReport',
    'check_onnx_parity',
    'export_onnx',
    'read_onnx_metadata',
]

_LOG = logging.getLogger(__name__)
DEFAULT_OPSET = 17
_META_PREFIX = 'negas_'


class ExportedDetector(nn.Module):
    """The network with one label set baked in: images (B, 3, h, w) -> raw outputs.

    Returns (boxes (B, A, 4), id_logits (B, A, K)) and, when M > 0, neg_logits (B, A, M).
    """

    def __init__(self, net: YoloWorldNet, text: PreparedText) -> None:
        super().__init__()
        self.net = net
        self.fusion = text.fusion
        self.weight = text.weight
        self.num_blocks = len(text.guides)
        self.has_negs = text.num_negs > 0
        for i, guide in enumerate(text.guides):
            self.register_buffer(f'guide{i}_ids', guide.ids.clone())
            if guide.negs is not None:
                self.register_buffer(f'guide{i}_negs', guide.negs.clone())
        self.register_buffer('head_ids', text.head_ids.clone())
        self.register_buffer('head_negs', text.head_negs.clone())

    def text(self) -> PreparedText:
        guides = tuple(
            BlockGuide(getattr(self, f'guide{i}_ids'), getattr(self, f'guide{i}_negs', None))
            for i in range(self.num_blocks)
        )
        head_ids: torch.Tensor = self.get_buffer('head_ids')
        head_negs: torch.Tensor = self.get_buffer('head_negs')
        return PreparedText(guides, head_ids, head_negs, self.fusion, self.weight)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(images, self.text())
        if self.has_negs:
            return out.boxes, out.id_logits, out.neg_logits_all()
        return out.boxes, out.id_logits


def _current_text(backend: YoloWorldBackend) -> tuple[PreparedText, dict[str, str]]:
    state = backend._state
    if state is None:
        raise RuntimeError('set_labels must be called before export')
    meta = {
        'id_labels': json.dumps(list(state.id_labels)),
        'negative_labels': json.dumps(list(state.neg_labels)),
        'nega': json.dumps(state.nega),
        'nega_fusion': state.text.fusion,
        'nega_weight': repr(state.text.weight),
        'imgsz': json.dumps(list(backend.card.imgsz)),
        'letterbox_pad': str(LETTERBOX_PAD),
        'input': 'images: (1, 3, h, w) float32 RGB in [0, 1], letterboxed',
        'source': backend.source,
        'architecture': backend.net.config.to_json(),
    }
    return state.text, meta


def export_onnx(backend: YoloWorldBackend, path: str | os.PathLike[str],
                opset: int = DEFAULT_OPSET) -> Path:
    """Write the backend's network with its current label set as an ONNX file (fp32, CPU)."""
    import onnx

    text, meta = _current_text(backend)
    net = backend.net
    if next(net.parameters()).dtype != torch.float32 or backend._device.type != 'cpu':
        raise ValueError('export from a cpu, fp32 backend (build it with device=cpu, half=False)')
    module = ExportedDetector(net, text).eval()
    h, w = backend.card.imgsz
    dummy = torch.rand(1, 3, h, w)
    outputs = ['boxes', 'id_logits'] + (['neg_logits'] if text.num_negs else [])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # Shape comparisons in Python are constants of a static-shape export, by design.
        warnings.simplefilter('ignore', cast(Any, torch.jit).TracerWarning)
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(
            module,
            (dummy,),
            str(path),
            input_names=['images'],
            output_names=outputs,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter: static shapes, no onnxscript dependency
        )
    model = onnx.load(str(path))
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = _META_PREFIX + key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``negas_*`` metadata of an exported file, without the prefix."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key[len(_META_PREFIX):]: p.value for p in model.metadata_props
            if p.key.startswith(_META_PREFIX)}


@dataclass(frozen=True)
class ParityReport:
    """Result of :func:`check_onnx_parity`.

    box_max_abs: largest box difference, as a fraction of the image side (every anchor, and the
        reported boxes in source pixels after the shared post-processing).
    score_max_abs: largest difference of sigmoid scores (ID and negative, every anchor).
    detections: detections per trial (PyTorch side); same_selection: per trial, whether the
        post-processing of the onnxruntime outputs kept exactly the same anchors.
    ok: every difference within tolerance. A different independent selection alone is not a
        failure: greedy NMS is discontinuous, and exactly tied scores (e.g. the uniform letterbox
        padding, where neighbouring anchors see identical features) reorder on 1e-7 noise; it is
        reported in the message.
    """

    box_max_abs: float
    score_max_abs: float
    detections: tuple[int, ...]
    same_selection: tuple[bool, ...]
    ok: bool
    message: str


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x.double())


def check_onnx_parity(
    backend: YoloWorldBackend,
    onnx_path: str | os.PathLike[str],
    trials: int = 3,
    box_threshold: float = 0.25,
    atol: float = 1e-4,
    seed: int = 0,
) -> ParityReport:
    """Run onnxruntime and PyTorch on random images; compare after the same post-processing.

    Each trial draws a random uint8 image (a different aspect ratio each time), letterboxes it
    with the backend's preprocessing and runs both. Compared: boxes (as a fraction of the image
    side) and sigmoid scores of every anchor; the reported detections, i.e. the PyTorch side's
    confidence filter + NMS applied to both outputs and mapped to source pixels. Whether the
    onnxruntime side's own selection keeps the same anchors is reported too (see ParityReport).
    """
    import onnxruntime as ort

    text, _ = _current_text(backend)
    module = ExportedDetector(backend.net, text).eval()
    session = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    rng = np.random.default_rng(seed)
    h, w = backend.card.imgsz
    sizes = [(h, w), (max(1, h * 3 // 4), w), (h, max(1, w // 2))]
    box_diff = score_diff = 0.0
    counts: list[int] = []
    same: list[bool] = []
    problems: list[str] = []
    card = backend.card
    for trial in range(trials):
        src_h, src_w = sizes[trial % len(sizes)]
        image = rng.integers(0, 256, (src_h, src_w, 3), dtype=np.uint8)
        with torch.inference_mode():
            x, plan = backend.preprocess(image)
            ref = [t[0].float() for t in module(x)]
        got = [torch.from_numpy(np.asarray(a)[0]).float()
               for a in session.run(None, {'images': x.cpu().numpy()})]
        side = float(max(h, w))
        box_diff = max(box_diff, float((ref[0] - got[0]).abs().max()) / side)
        for r, g in zip(ref[1:], got[1:], strict=True):
            score_diff = max(score_diff, float((_sigmoid(r) - _sigmoid(g)).abs().max()))
        keep = select_detections(ref[0], ref[1], box_threshold, card.iou_threshold, card.max_det)
        counts.append(int(keep.numel()))
        scale = np.array([src_w, src_h, src_w, src_h], np.float32)
        if keep.numel():
            a = plan.to_source(ref[0][keep].numpy())
            b = plan.to_source(got[0][keep].numpy())
            box_diff = max(box_diff, float(np.abs((a - b) / scale).max()))
        other = select_detections(got[0], got[1], box_threshold, card.iou_threshold,
                                  card.max_det)
        same.append(bool(torch.equal(keep, other)))
    if box_diff > atol:
        problems.append(f'boxes differ by {box_diff:.2e} of the image side (> {atol:g})')
    if score_diff > atol:
        problems.append(f'scores differ by {score_diff:.2e} (> {atol:g})')
    message = (f'onnxruntime vs PyTorch on {trials} random images: boxes within {box_diff:.2e} '
               f'of the image side, scores within {score_diff:.2e}, detections {counts}, '
               f'identical selection {same}')
    if problems:
        message += '; MISMATCH: ' + '; '.join(problems)
    return ParityReport(box_diff, score_diff, tuple(counts), tuple(same), not problems, message)


def write_engine_metadata(engine_path: Path, onnx_path: Path) -> Path:
    """Sidecar JSON next to a TensorRT engine: the labels and settings baked into it."""
    meta: dict[str, Any] = read_onnx_metadata(onnx_path)
    sidecar = engine_path.with_suffix(engine_path.suffix + '.json')
    sidecar.write_text(json.dumps(meta, indent=2) + '\n', encoding='utf-8')
    return sidecar
