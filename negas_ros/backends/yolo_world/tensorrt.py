"""TensorRT engine build and runtime for exported YOLO-World models (optional, CUDA only).

NOT VERIFIED in this project's CI: tensorrt is not installed there and no GPU was available
when this was written. The code follows the TensorRT 10 Python API (named I/O tensors,
``execute_async_v3``); treat the first run on your machine as the test, and compare against the
PyTorch path (same card without ``tensorrt_engine``) before trusting it.

Build: ``negas-ros export --params P.yaml --out model.onnx --engine model.engine [--fp16]``
writes the ONNX file, builds the engine from it and writes ``model.engine.json`` next to it with
the labels and NegA settings baked in. Run: put ``tensorrt_engine: model.engine`` in the model
card (device ``cuda:N``); the backend then runs the engine instead of the PyTorch network and
refuses label sets other than the baked one (re-export after changing labels).
"""

from __future__ import annotations

from collections.abc import Sequence
import json
import os
from pathlib import Path
from typing import Any

import torch

__all__ = ['TensorRTRunner', 'build_engine']


def _trt() -> Any:
    try:
        import tensorrt
    except ImportError:
        raise ValueError(
            'tensorrt is not installed: install NVIDIA TensorRT (pip install tensorrt) on a '
            'machine with a CUDA GPU, or run the PyTorch path (no tensorrt_engine in the card)'
        ) from None
    return tensorrt


def build_engine(onnx_path: str | os.PathLike[str], engine_path: str | os.PathLike[str],
                 fp16: bool = False, workspace_gib: float = 4.0) -> Path:
    """Parse the ONNX file and serialize a TensorRT engine for the current GPU."""
    trt = _trt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f'TensorRT cannot parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if fp16:
        if not builder.platform_has_fast_fp16:
            raise ValueError('fp16 requested but this GPU has no fast fp16')
        config.set_flag(trt.BuilderFlag.FP16)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ValueError(f'TensorRT could not build an engine from {onnx_path}')
    path = Path(engine_path)
    path.write_bytes(bytes(serialized))
    return path


_DTYPES = {'FLOAT': torch.float32, 'HALF': torch.float16, 'INT32': torch.int32,
           'INT64': torch.int64, 'BOOL': torch.bool}


class TensorRTRunner:
    """Runs an engine written by :func:`build_engine` on torch CUDA tensors.

    run(images (1, 3, h, w) float in [0, 1] on the device) -> (boxes (1, A, 4),
    id_logits (1, A, K), neg_logits (1, A, M) or None), float32 torch tensors on the device.
    """

    def __init__(self, engine_path: str | os.PathLike[str], device: torch.device) -> None:
        trt = _trt()
        path = Path(engine_path)
        sidecar = path.with_suffix(path.suffix + '.json')
        if not sidecar.is_file():
            raise ValueError(f'{sidecar} is missing: it records the labels baked into {path}')
        self.metadata: dict[str, str] = json.loads(sidecar.read_text(encoding='utf-8'))
        self._device = device
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        self._engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise ValueError(f'{path}: not a TensorRT engine for this TensorRT version / GPU')
        self._context = self._engine.create_execution_context()
        self._outputs: dict[str, torch.Tensor] = {}
        for i in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(i)
            if self._engine.get_tensor_mode(name) == trt.TensorIOMode.OUTPUT:
                shape = tuple(self._engine.get_tensor_shape(name))
                dtype = _DTYPES[self._engine.get_tensor_dtype(name).name]
                self._outputs[name] = torch.empty(shape, dtype=dtype, device=device)
                self._context.set_tensor_address(name, self._outputs[name].data_ptr())

    def check_labels(self, id_labels: Sequence[str], negative_labels: Sequence[str],
                     fusion: str) -> None:
        baked = (json.loads(self.metadata.get('id_labels', '[]')),
                 json.loads(self.metadata.get('negative_labels', '[]')),
                 self.metadata.get('nega_fusion'))
        wanted = (list(id_labels), list(negative_labels), fusion)
        if baked != wanted:
            raise ValueError(
                f'the TensorRT engine was built for ID labels {baked[0]}, negatives '
                f'{len(baked[1])} and NegA fusion {baked[2]!r}; re-export it for this label set '
                f'({len(wanted[0])} ID labels, {len(wanted[1])} negatives, fusion {fusion!r})'
            )

    def run(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        x = images.to(self._device, torch.float32).contiguous()
        self._context.set_tensor_address('images', x.data_ptr())
        stream = torch.cuda.current_stream(self._device)
        if not self._context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError('TensorRT execution failed')
        stream.synchronize()
        out = self._outputs
        neg = out['neg_logits'].float() if 'neg_logits' in out else None
        return out['boxes'].float(), out['id_logits'].float(), neg
