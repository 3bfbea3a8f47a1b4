"""Label text embeddings: the CLIP text tower, and files that replace it on the robot.

YOLO-World reads its vocabulary as L2-normalised CLIP ViT-B/32 text embeddings (512-d, the
projected end-of-text token). :class:`ClipTextEncoder` computes them with transformers'
``CLIPTextModelWithProjection`` (``openai/clip-vit-base-patch32`` or a local copy); it runs once
per label set, never per frame.

Offline vocabulary: :func:`save_text_embeddings` writes a ``.npz`` file holding the label strings
and their embeddings (no pickled objects: it loads with ``allow_pickle=False``), and
:class:`TextEmbedder` looks labels up there first, so a deployed robot whose labels are all in the
file never loads the text tower (nor transformers). ``negas-ros text-embeddings`` writes such a
file for a params file's labels.

Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import os
from pathlib import Path
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    'DEFAULT_TEXT_MODEL',
    'ClipTextEncoder',
    'TextEmbedder',
    'TextEmbeddingTable',
    'load_text_embeddings',
    'save_text_embeddings',
]

DEFAULT_TEXT_MODEL = 'openai/clip-vit-base-patch32'
_FORMAT = 1
FloatArray = npt.NDArray[np.float32]


def _normalise(x: FloatArray) -> FloatArray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(x)):
        raise ValueError('text embeddings must be finite and non-zero')
    out: FloatArray = (x / norm).astype(np.float32)
    return out


@dataclass(frozen=True)
class TextEmbeddingTable:
    """Labels and their unit-norm embeddings: labels (N,), embeddings (N, E) float32."""

    labels: tuple[str, ...]
    embeddings: FloatArray
    source: str = ''

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != len(self.labels):
            raise ValueError(
                f'embeddings must be ({len(self.labels)}, E), got {self.embeddings.shape}'
            )
        if len(set(self.labels)) != len(self.labels):
            raise ValueError('text embedding labels must be unique')

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def lookup(self, labels: Sequence[str]) -> tuple[FloatArray, list[str]]:
        """Embeddings (len(labels), E) of the labels found (zero rows elsewhere), and the
        labels not in the table."""
        index = {label: i for i, label in enumerate(self.labels)}
        out = np.zeros((len(labels), self.dim), np.float32)
        missing = []
        for row, label in enumerate(labels):
            i = index.get(label)
            if i is None:
                missing.append(label)
            else:
                out[row] = self.embeddings[i]
        return out, missing


def save_text_embeddings(
    path: str | os.PathLike[str],
    labels: Sequence[str],
    embeddings: npt.ArrayLike,
    source: str = '',
) -> Path:
    """Write labels (N,) and their embeddings (N, E) to a ``.npz`` file (normalised on save).

    source: where the embeddings came from (e.g. the text model id), kept for provenance.
    """
    table = TextEmbeddingTable(
        tuple(str(label) for label in labels),
        _normalise(np.asarray(embeddings, dtype=np.float32)),
        source,
    )
    path = Path(path)
    if path.suffix != '.npz':
        raise ValueError(f'text embeddings file must end in .npz, got {path}')
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        labels=np.asarray(table.labels, dtype=np.str_),
        embeddings=table.embeddings,
        source=np.asarray(source, dtype=np.str_),
        format=np.asarray(_FORMAT),
    )
    return path


def load_text_embeddings(path: str | os.PathLike[str]) -> TextEmbeddingTable:
    """Read a file written by :func:`save_text_embeddings` (never unpickles anything)."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            labels = tuple(str(s) for s in data['labels'].tolist())
            embeddings = np.asarray(data['embeddings'], dtype=np.float32)
            source = str(data['source']) if 'source' in data else ''
            fmt = int(data['format']) if 'format' in data else _FORMAT
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f'{path}: not a text embeddings file ({exc})') from None
    if fmt != _FORMAT:
        raise ValueError(f'{path}: text embeddings format {fmt}, expected {_FORMAT}')
    return TextEmbeddingTable(labels, _normalise(embeddings), source)


class ClipTextEncoder:
    """CLIP text tower (transformers ``CLIPTextModelWithProjection``) and its tokenizer.

    model: hub id (default ``openai/clip-vit-base-patch32``; downloaded by transformers on first
    use unless cached) or a local directory with config, weights and tokenizer files.
    encode(labels) -> (N, E) float32 unit-norm embeddings, in label order.
    """

    def __init__(self, model: str = DEFAULT_TEXT_MODEL, device: str = 'cpu',
                 batch_size: int = 256) -> None:
        import torch
        from transformers import AutoTokenizer, CLIPTextModelWithProjection

        self.name = model
        self._device = torch.device(device)
        self._batch_size = batch_size
        self._tokenizer: Any = AutoTokenizer.from_pretrained(model)
        loader: Any = CLIPTextModelWithProjection
        self.model: Any = loader.from_pretrained(model).to(self._device).eval()
        self.model.requires_grad_(False)
        self.dim = int(self.model.config.projection_dim)
        self._max_length = int(self.model.config.max_position_embeddings)

    def encode(self, labels: Sequence[str]) -> FloatArray:
        import torch

        if not labels:
            return np.zeros((0, self.dim), np.float32)
        rows = []
        with torch.inference_mode():
            for start in range(0, len(labels), self._batch_size):
                batch = list(labels[start : start + self._batch_size])
                tokens = self._tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=self._max_length,
                    return_tensors='pt',
                ).to(self._device)
                out = self.model(
                    input_ids=tokens['input_ids'], attention_mask=tokens['attention_mask']
                )
                rows.append(out.text_embeds.float().cpu().numpy())
        return _normalise(np.concatenate(rows))


class TextEmbedder:
    """Label -> embedding: the offline table first, the CLIP text tower for the rest.

    table: a loaded embeddings file or None; text_model: hub id / directory of the text tower,
    or None for table-only operation (then every label must be in the table). The tower is
    loaded on first need, so a robot whose labels are all in the table never loads it.
    """

    def __init__(
        self,
        table: TextEmbeddingTable | None,
        text_model: str | None,
        device: str = 'cpu',
    ) -> None:
        if table is None and text_model is None:
            raise ValueError('need a text embeddings file, a text model, or both')
        self.table = table
        self.text_model = text_model
        self._device = device
        self._encoder: ClipTextEncoder | None = None
        self._lock = threading.Lock()

    @property
    def encoder(self) -> ClipTextEncoder:
        with self._lock:
            if self._encoder is None:
                assert self.text_model is not None
                self._encoder = ClipTextEncoder(self.text_model, self._device)
            return self._encoder

    def embed(self, labels: Sequence[str]) -> FloatArray:
        """(len(labels), E) unit-norm float32 embeddings in label order."""
        labels = list(labels)
        if self.table is None:
            return self.encoder.encode(labels)
        out, missing = self.table.lookup(labels)
        if missing:
            if self.text_model is None:
                shown = ', '.join(repr(m) for m in missing[:5])
                more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
                raise ValueError(
                    f'labels {shown}{more} are not in the text embeddings file and no text model '
                    "is configured; add them with 'negas-ros text-embeddings' or set "
                    "'text_model' in the model card"
                )
            encoded = self.encoder.encode(missing)
            if encoded.shape[1] != out.shape[1]:
                raise ValueError(
                    f'text model width {encoded.shape[1]} != embeddings file width {out.shape[1]}'
                )
            rows = {label: i for i, label in enumerate(missing)}
            for row, label in enumerate(labels):
                if label in rows:
                    out[row] = encoded[rows[label]]
        return out
