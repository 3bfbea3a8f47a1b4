"""The YOLO-World v2 detector backend (``backend: yolo_world``); see the package docstring."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
import os
from pathlib import Path
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import yaml

from negas_ros.backends.base import (
    BackendSpec,
    LabelSwapping,
    NonFiniteOutputError,
    StageTimer,
    check_batch,
    check_image,
)
from negas_ros.backends.device import resolve_device
from negas_ros.backends.yolo_world.config import NEGA_FUSIONS
from negas_ros.backends.yolo_world.text import (
    DEFAULT_TEXT_MODEL,
    TextEmbedder,
    load_text_embeddings,
)
from negas_ros.detection import RawDetections

if TYPE_CHECKING:
    import torch

    from negas_ros.backends.yolo_world.letterbox import Letterbox
    from negas_ros.backends.yolo_world.network import (
        AttentionMaps,
        HeadOutput,
        PreparedText,
        YoloWorldNet,
    )

__all__ = ['MODEL_CARD_NAME', 'ModelCard', 'YoloWorldBackend', 'load_model_card']

MODEL_CARD_NAME = 'yolo_world.yaml'
_WEIGHT_SUFFIXES = ('.pt', '.pth', '.safetensors')


@dataclass(frozen=True)
class ModelCard:
    """How to run one YOLO-World checkpoint (the ``model`` parameter resolves to one).

    weights: checkpoint file (.pt / .pth / .safetensors).
    text_model: text tower (hub id, directory, or a packaged name such as
        ``all-MiniLM-L6-v2``; CLIP or a sentence encoder, see
        :func:`~negas_ros.backends.yolo_world.text.load_text_encoder`), or None to run from
        text_embeddings only.
    text_embeddings: ``.npz`` offline vocabulary (labels + embeddings), or None.
    text_projection: ``.npz`` learned projection applied after a sentence encoder (the mini
        detector's), or None.
    imgsz: network input (height, width), multiples of 32.
    nega_fusion / nega_weight: the NegA rule used when NegA is on (one of
        :data:`~negas_ros.backends.yolo_world.config.NEGA_FUSIONS`) and its w.
    iou_threshold: NMS IoU; max_det: at most this many boxes per image after NMS.
    fuse: fold BatchNorm into the convolutions (faster; same results up to rounding).
    tensorrt_engine: a serialized engine from ``negas-ros export --engine`` to run instead of
        PyTorch (CUDA only; its labels are baked in).
    """

    weights: Path
    text_model: str | None = DEFAULT_TEXT_MODEL
    text_embeddings: Path | None = None
    text_projection: Path | None = None
    imgsz: tuple[int, int] = (640, 640)
    nega_fusion: str = 'max'
    nega_weight: float = 0.5
    iou_threshold: float = 0.7
    max_det: int = 300
    fuse: bool = True
    tensorrt_engine: Path | None = None

    def __post_init__(self) -> None:
        h, w = self.imgsz
        if h < 32 or w < 32 or h % 32 or w % 32:
            raise ValueError(f'imgsz must be multiples of 32 (>= 32), got {self.imgsz}')
        if self.nega_fusion not in NEGA_FUSIONS:
            raise ValueError(f'nega_fusion must be one of {NEGA_FUSIONS}, got '
                             f'{self.nega_fusion!r}')
        if not 0.0 <= self.nega_weight <= 1.0:
            raise ValueError(f'nega_weight must be in [0, 1], got {self.nega_weight}')
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError(f'iou_threshold must be in (0, 1], got {self.iou_threshold}')
        if self.max_det < 1:
            raise ValueError(f'max_det must be >= 1, got {self.max_det}')
        if self.text_model is None and self.text_embeddings is None:
            raise ValueError('set text_model, text_embeddings or both')

    def with_options(self, options: Mapping[str, Any], base: Path | None = None) -> ModelCard:
        """A copy with card keys replaced (paths relative to base); unknown keys raise."""
        return _card_from_mapping(options, base or Path.cwd(), start=self)


def _imgsz(value: Any) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    raise ValueError(f'imgsz must be an int or [height, width], got {value!r}')


def _text_model(value: Any, base: Path) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    local = (base / os.path.expanduser(text))
    # A relative directory next to the card wins over a hub id of the same spelling.
    return str(local) if local.is_dir() else text


def _card_from_mapping(data: Mapping[str, Any], base: Path, start: ModelCard | None = None
                       ) -> ModelCard:
    names = {f.name for f in fields(ModelCard)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f'unknown model card keys: {", ".join(unknown)}; known: '
                         f'{", ".join(sorted(names))}')

    def path(value: Any) -> Path | None:
        if value is None or str(value).strip() == '':
            return None
        p = Path(os.path.expandvars(os.path.expanduser(str(value))))
        return p if p.is_absolute() else base / p

    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in ('weights', 'text_embeddings', 'text_projection', 'tensorrt_engine'):
            values[key] = path(value)
        elif key == 'text_model':
            values[key] = _text_model(value, base)
        elif key == 'imgsz':
            values[key] = _imgsz(value)
        elif key in ('nega_weight', 'iou_threshold'):
            values[key] = float(value)
        elif key == 'max_det':
            values[key] = int(value)
        elif key == 'fuse':
            values[key] = bool(value)
        else:
            values[key] = str(value)
    if start is not None:
        return replace(start, **values)
    if values.get('weights') is None:
        raise ValueError("the model card needs 'weights' (a checkpoint file)")
    if 'text_model' not in values and values.get('text_embeddings') is not None:
        values['text_model'] = None  # an offline vocabulary alone: never load the text tower
    return ModelCard(**values)


def load_model_card(model: str) -> ModelCard:
    """Resolve the ``model`` parameter of the yolo_world backend.

    model: a directory holding ``yolo_world.yaml``, a model card ``.yaml`` file, or a
    checkpoint file (.pt / .pth / .safetensors, run with the card defaults).
    """
    path = Path(os.path.expandvars(os.path.expanduser(model.strip())))
    if path.is_dir():
        card = path / MODEL_CARD_NAME
        if not card.is_file():
            raise ValueError(f'{path}: directory has no {MODEL_CARD_NAME}')
        path = card
    if path.suffix in ('.yaml', '.yml'):
        try:
            data = yaml.safe_load(path.read_text(encoding='utf-8'))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f'{path}: cannot read the model card: {exc}') from None
        if not isinstance(data, Mapping):
            raise ValueError(f'{path}: a model card is a mapping of keys to values')
        try:
            return _card_from_mapping(data, path.parent)
        except (ValueError, TypeError) as exc:
            raise ValueError(f'{path}: {exc}') from None
    if path.suffix in _WEIGHT_SUFFIXES:
        return ModelCard(weights=path)
    raise ValueError(
        f'model {model!r} for the yolo_world backend must be a checkpoint file '
        f'({", ".join(_WEIGHT_SUFFIXES)}), a model card (.yaml) or a directory holding '
        f'{MODEL_CARD_NAME}'
    )


@dataclass(frozen=True)
class _LabelState:
    id_labels: tuple[str, ...]
    neg_labels: tuple[str, ...]
    nega: bool
    text: PreparedText
    owner: object = field(repr=False, compare=False)  # the backend whose prepare_labels made it


class YoloWorldBackend(LabelSwapping):
    """YOLO-World v2 with NegA, answering for ID and negative labels.

    Build it with :meth:`from_card` / :meth:`from_spec` (the registry), or :meth:`from_network`
    for a network in memory (benchmarks, tests). ``last_timings`` holds the seconds of the last
    :meth:`infer` ('preprocess', 'model', 'postprocess', 'total'; :meth:`infer_batch` adds
    'batch') and ``last_letterbox`` how its image was placed in the network input
    (``last_letterboxes``: every image of the last call). ``set_labels``, ``infer`` and
    ``infer_batch`` serialise on a lock.
    """

    def __init__(
        self,
        net: YoloWorldNet,
        embedder: TextEmbedder,
        card: ModelCard,
        device: str = 'cpu',
        half: bool = False,
        source: str = 'network in memory',
    ) -> None:
        import torch

        self._device = resolve_device(device, half)
        self.card = card
        self.source = source
        self._dtype = torch.float16 if half else torch.float32
        net = net.eval().requires_grad_(False)
        if card.fuse and not net.fused:
            net.fuse()
        self.net: YoloWorldNet = net.to(self._device, self._dtype)
        self.embedder = embedder
        self._engine: Any = None
        if card.tensorrt_engine is not None:
            from negas_ros.backends.yolo_world.tensorrt import TensorRTRunner

            if self._device.type != 'cuda':
                raise ValueError('tensorrt_engine needs a CUDA device')
            self._engine = TensorRTRunner(card.tensorrt_engine, self._device)
        self._embedding_cache: dict[str, npt.NDArray[np.float32]] = {}
        self._lock = threading.Lock()
        self._state: _LabelState | None = None
        self.last_timings: dict[str, float] = {}
        self.last_letterbox: Letterbox | None = None
        self.last_letterboxes: tuple[Letterbox, ...] = ()  # every image of the last batch

    # ----------------------------------------------------------------------- construction

    @classmethod
    def from_card(cls, card: ModelCard, device: str = 'cpu', half: bool = False
                  ) -> YoloWorldBackend:
        from negas_ros.backends.yolo_world.checkpoint import load_network

        net, loaded = load_network(card.weights)
        table = load_text_embeddings(card.text_embeddings) if card.text_embeddings else None
        if table is not None and table.dim != net.config.embed_dim:
            raise ValueError(f'{card.text_embeddings}: embeddings are {table.dim}-d, the network '
                             f'expects {net.config.embed_dim}-d')
        embedder = TextEmbedder(table, card.text_model, device, card.text_projection)
        return cls(net, embedder, card, device, half, source=loaded.source)

    @classmethod
    def from_spec(cls, spec: BackendSpec) -> YoloWorldBackend:
        """Registry factory: ``spec.model`` resolved by :func:`load_model_card`.

        Forward-compatible: a spec with an ``options`` mapping (card keys such as nega_fusion,
        imgsz, iou_threshold, text_embeddings) overrides the card's values.
        """
        card = load_model_card(spec.model)
        options = getattr(spec, 'options', None)
        if options:
            card = card.with_options(options)
        return cls.from_card(card, spec.device, spec.half)

    @classmethod
    def from_network(
        cls,
        net: YoloWorldNet,
        embedder: TextEmbedder,
        device: str = 'cpu',
        half: bool = False,
        **card_options: Any,
    ) -> YoloWorldBackend:
        """A backend around a network in memory (card_options: ModelCard fields)."""
        base: dict[str, Any] = {'weights': '<memory>', 'text_model': embedder.text_model}
        if embedder.table is not None:
            base['text_embeddings'] = '<memory>'
        card = _card_from_mapping({**base, **card_options}, Path('/'))
        return cls(net, embedder, card, device, half)

    # ----------------------------------------------------------------------- labels

    @property
    def labels(self) -> tuple[tuple[str, ...], tuple[str, ...], bool] | None:
        state = self._state
        return None if state is None else (state.id_labels, state.neg_labels, state.nega)

    def _embed(self, labels: Sequence[str]) -> npt.NDArray[np.float32]:
        missing = [label for label in dict.fromkeys(labels) if label not in self._embedding_cache]
        if missing:
            for label, row in zip(missing, self.embedder.embed(missing), strict=True):
                self._embedding_cache[label] = row
        if len(self._embedding_cache) > 50_000:  # a runaway label stream must not grow forever
            keep = set(labels)
            self._embedding_cache = {k: v for k, v in self._embedding_cache.items() if k in keep}
        dim = self.net.config.embed_dim
        if not labels:
            return np.zeros((0, dim), np.float32)
        out = np.stack([self._embedding_cache[label] for label in labels])
        if out.shape[1] != dim:
            raise ValueError(f'text embeddings are {out.shape[1]}-d, the network expects {dim}')
        return out

    def _install_labels(self, prepared: _LabelState) -> None:
        self._state = prepared

    def prepare_labels(
        self, id_labels: Sequence[str], negative_labels: Sequence[str], nega: bool
    ) -> _LabelState:
        """Encode the labels once (text tower or offline table) and prepare the guides.

        id_labels: K >= 1 prompts; negative_labels: M >= 0 prompts. nega: negatives take part
        in the neck's attention with the card's fusion rule; off: the ID outputs equal those
        of the ID labels alone, bit for bit. Changes nothing in use (see use_labels).
        """
        import torch

        ids = tuple(str(label) for label in id_labels)
        negs = tuple(str(label) for label in negative_labels)
        if not ids:
            raise ValueError('at least one ID label is needed')
        if any(not label.strip() for label in ids + negs):
            raise ValueError('labels must be non-empty strings')
        fusion = self.card.nega_fusion if nega else 'off'
        if self._engine is not None:
            self._engine.check_labels(ids, negs, fusion)
        id_emb = torch.from_numpy(self._embed(ids))
        neg_emb = torch.from_numpy(self._embed(negs)) if negs else None
        text = self.net.prepare_text(id_emb, neg_emb, fusion, self.card.nega_weight)
        return _LabelState(ids, negs, bool(nega), text, self)

    # ----------------------------------------------------------------------- inference

    def preprocess(self, image_rgb: npt.NDArray[np.uint8]) -> tuple[torch.Tensor, Letterbox]:
        """(H, W, 3) uint8 RGB -> ((1, 3, h, w) network input in [0, 1], letterbox plan)."""
        import torch

        from negas_ros.backends.yolo_world.letterbox import letterbox

        boxed, plan = letterbox(image_rgb, self.card.imgsz)
        x = torch.from_numpy(boxed).to(self._device).permute(2, 0, 1)[None].float() / 255.0
        return x.to(self._dtype).contiguous(), plan

    def _check_image(self, image_rgb: Any, box_threshold: float) -> None:
        check_image(image_rgb, box_threshold)

    def infer(self, image_rgb: npt.NDArray[np.uint8], box_threshold: float) -> RawDetections:
        """Detect on one image.

        image_rgb: (H, W, 3) uint8 RGB. box_threshold in [0, 1].
        Returns RawDetections, best ID score first: boxes (N, 4) float32 source-pixel xyxy
        clipped to [0, W] x [0, H], never empty (boxes wholly in the letterbox padding are
        dropped); id_logits (N, K), neg_logits (N, M) float32 pre-sigmoid in set_labels order;
        N <= max_det boxes whose best ID sigmoid >= box_threshold, after class-aware NMS on the
        ID labels. Raises ValueError for a bad image or threshold,
        RuntimeError before set_labels.
        """
        self._check_image(image_rgb, box_threshold)
        with self._lock:
            raws, plans, timings = self._detect([image_rgb], box_threshold)
            self.last_timings = timings
            self.last_letterbox = plans[0]
            self.last_letterboxes = (plans[0],)
        return raws[0]

    def infer_batch(
        self, images_rgb: Sequence[npt.NDArray[np.uint8]], box_threshold: float
    ) -> list[RawDetections]:
        """Detect on several images (of any sizes) with one forward of the network.

        Each image is letterboxed to the network input on its own, the B inputs run as one
        (B, 3, h, w) batch with the labels in use (the prepared text guides broadcast over the
        batch; nothing is re-encoded), and each image gets the post-processing of
        :meth:`infer`. Returns one RawDetections per image, in order, each as :meth:`infer`
        would return it up to float rounding (batched convolutions may round differently); a
        batch of one is bit-identical to :meth:`infer`. An empty sequence returns [].

        ``last_timings`` holds the whole batch's stages plus 'batch' = B; ``last_letterbox``
        the last image's plan and ``last_letterboxes`` every image's. With a TensorRT engine
        (``tensorrt_engine``: static batch of 1) the images run through the engine one by
        one, under one lock and one timing. Raises ValueError naming the index of a bad image
        (or for a bad threshold), RuntimeError before set_labels, NonFiniteOutputError as
        :meth:`infer`; on error no image's result is returned.
        """
        images = list(images_rgb)
        check_batch(images, box_threshold, self._check_image)
        if not images:
            return []
        with self._lock:
            raws, plans, timings = self._detect(images, box_threshold)
            self.last_timings = {**timings, 'batch': float(len(images))}
            self.last_letterbox = plans[-1]
            self.last_letterboxes = tuple(plans)
        return raws

    def _detect(
        self, images: list[npt.NDArray[np.uint8]], box_threshold: float
    ) -> tuple[list[RawDetections], list[Letterbox], dict[str, float]]:
        """Preprocess, one forward, per-image post-processing (checked inputs; lock held)."""
        import torch

        state = self._state
        if state is None:
            raise RuntimeError('set_labels must be called before infer')
        timer = StageTimer.for_device(self._device)
        with torch.inference_mode():
            inputs = [self.preprocess(image) for image in images]
            plans = [plan for _, plan in inputs]
            timer.mark('preprocess')
            per_image: list[tuple[torch.Tensor, torch.Tensor, Callable[[torch.Tensor],
                                                                       torch.Tensor]]] = []
            if self._engine is not None:
                for x, _ in inputs:  # the engine's batch is static at 1
                    boxes_all, id_all, neg_all = self._engine.run(x)
                    if len(inputs) > 1:  # the engine reuses its output buffers
                        boxes_all, id_all = boxes_all.clone(), id_all.clone()
                        neg_all = None if neg_all is None else neg_all.clone()
                    per_image.append((boxes_all[0], id_all[0],
                                      _engine_negs(neg_all)))
            else:
                x = inputs[0][0] if len(inputs) == 1 else torch.cat([x for x, _ in inputs])
                out = self.net(x, state.text)
                per_image.extend((out.boxes[i], out.id_logits[i], _network_negs(out, i))
                                 for i in range(len(inputs)))
            timer.mark('model')
            raws = [self._postprocess(boxes, id_logits, negs, plan, state, box_threshold)
                    for (boxes, id_logits, negs), plan in zip(per_image, plans, strict=True)]
        timer.mark('postprocess')
        return raws, plans, timer.timings

    def _postprocess(
        self,
        boxes: torch.Tensor,
        id_logits: torch.Tensor,
        negs: Callable[[torch.Tensor], torch.Tensor],
        plan: Letterbox,
        state: _LabelState,
        box_threshold: float,
    ) -> RawDetections:
        """One image's outputs (A, 4) boxes, (A, K) ID logits, negs(keep) -> RawDetections."""
        import torch

        from negas_ros.backends.yolo_world.postprocess import select_detections

        # NaN fails every threshold test: without this a broken model or an fp16
        # overflow would look like "nothing detected".
        if not (torch.isfinite(id_logits).all() and torch.isfinite(boxes).all()):
            raise NonFiniteOutputError(
                f'YOLO-World produced NaN/inf logits or boxes (dtype {id_logits.dtype}); '
                'the model or its precision is broken')
        keep = select_detections(boxes.float(), id_logits.float(), box_threshold,
                                 self.card.iou_threshold, self.card.max_det)
        num_neg = len(state.neg_labels)
        if num_neg == 0 or keep.numel() == 0:
            neg = torch.zeros((keep.numel(), num_neg))
        else:
            neg = negs(keep)
        if not torch.isfinite(neg).all():
            raise NonFiniteOutputError('YOLO-World produced NaN/inf negative logits')
        raw = RawDetections(
            plan.to_source(boxes[keep].float().cpu().numpy()),
            id_logits[keep].float().cpu().numpy(),
            neg.float().cpu().numpy(),
        )
        # A box lying wholly in the letterbox padding clips to nothing: not an object.
        b = raw.boxes_xyxy
        inside = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        if not inside.all():
            raw = raw.select(inside)
        return raw

    @contextmanager
    def capture_attention(self) -> Iterator[list[AttentionMaps]]:
        """Attention maps of every :meth:`infer` inside the block (PyTorch path only).

        Each forward appends four AttentionMaps (layers 12, 15, 18, 21), maps (1, heads, h, w)
        over the network input; ``last_letterbox`` maps them back to the source image. An
        :meth:`infer_batch` forward gives (B, heads, h, w) maps, ``last_letterboxes[i]`` for
        image i.
        """
        with self.net.capture_attention() as maps:
            yield maps


def _network_negs(out: HeadOutput, index: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Negative logits of the kept anchors of image ``index``, computed on demand."""
    return lambda keep: out.neg_logits(index, keep)


def _engine_negs(neg_all: torch.Tensor | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """Negative logits of the kept anchors from an engine output (1, A, M)."""
    def negs(keep: torch.Tensor) -> torch.Tensor:
        assert neg_all is not None  # the engine emits negative logits when M > 0
        return neg_all[0][keep]
    return negs
