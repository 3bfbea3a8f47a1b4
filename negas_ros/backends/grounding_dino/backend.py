"""The Grounding DINO backend: transformers ``GroundingDinoForObjectDetection`` with NegA passes.

The design rules are in the package docstring (:mod:`negas_ros.backends.grounding_dino`).
Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import logging
import math
import threading
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from negas_ros.backends.base import (
    BackendSpec,
    LabelSwapping,
    NonFiniteOutputError,
    StageTimer,
    check_batch,
    check_image,
)
from negas_ros.backends.device import check_device, resolve_device
from negas_ros.backends.grounding_dino.aggregation import (
    DEFAULT_FLOOR_LOGIT,
    DEFAULT_ID_MERGE,
    DEFAULT_MATCH_IOU,
    ID_MERGES,
    aggregate_passes,
)
from negas_ros.backends.grounding_dino.groups import (
    _Group,
    _LabelState,
    make_group,
    pass_outputs,
)
from negas_ros.backends.grounding_dino.patches import _torch_modules, keep_sampling_in_fp32
from negas_ros.backends.grounding_dino.processor import GroundingDinoImageProcessor
from negas_ros.backends.grounding_dino.prompts import (
    build_prompt,
    label_token_spans,
    normalize_label,
    plan_passes,
)
from negas_ros.detection import RawDetections

if TYPE_CHECKING:
    import torch

__all__ = ['DEFAULT_PASSES_PER_FORWARD', 'SPEC_OPTIONS', 'GroundingDinoBackend']

DEFAULT_PASSES_PER_FORWARD = 4

# Constructor keywords that BackendSpec.options may set.
SPEC_OPTIONS = ('max_text_tokens', 'passes_per_forward', 'match_iou', 'floor_logit', 'id_merge')
_LOG = logging.getLogger('negas_ros.backends.grounding_dino')


class GroundingDinoBackend(LabelSwapping):
    """Grounding DINO through transformers, answering for ID and negative labels.

    Args:
        model: hub id (e.g. ``IDEA-Research/grounding-dino-tiny``) or local checkpoint directory
            holding config, weights, tokenizer and preprocessor_config.json.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        half: fp16 weights and activations; CUDA only.
        max_text_tokens: prompt limit per pass, [CLS] and [SEP] included; default and maximum
            the model's ``max_text_len`` (256). Smaller values force more passes (tests).
        passes_per_forward: passes batched into one forward.
        match_iou / floor_logit / id_merge: the pass-merge rule of the package docstring.

    Thread-safe: infer calls serialise on an internal lock; set_labels encodes the texts
    outside it and then swaps the whole label set in at once, between two frames.
    ``last_timings`` holds the seconds of the last :meth:`infer`: 'preprocess', 'model',
    'postprocess' and 'total'.
    """

    def __init__(
        self,
        model: str,
        device: str = 'cpu',
        half: bool = False,
        *,
        max_text_tokens: int | None = None,
        passes_per_forward: int = DEFAULT_PASSES_PER_FORWARD,
        match_iou: float = DEFAULT_MATCH_IOU,
        floor_logit: float = DEFAULT_FLOOR_LOGIT,
        id_merge: str = DEFAULT_ID_MERGE,
    ) -> None:
        check_device(device, half)
        if passes_per_forward < 1:
            raise ValueError(f'passes_per_forward must be >= 1, got {passes_per_forward}')
        if not 0.0 < match_iou <= 1.0:
            raise ValueError(f'match_iou must be in (0, 1], got {match_iou}')
        if id_merge not in ID_MERGES:
            raise ValueError(f'id_merge must be one of {", ".join(ID_MERGES)}, got {id_merge!r}')
        if not math.isfinite(floor_logit):
            raise ValueError(f'floor_logit must be finite, got {floor_logit}')

        import torch
        from transformers import AutoTokenizer, GroundingDinoForObjectDetection

        self._device = resolve_device(device, half)
        self._dtype = torch.float16 if half else torch.float32
        self._tokenizer: Any = AutoTokenizer.from_pretrained(model)
        # Pixel values for the model: (1, 3, h, w) on its device, in its dtype.
        self.processor = GroundingDinoImageProcessor.from_pretrained(
            model, self._device, self._dtype
        )
        loader: Any = GroundingDinoForObjectDetection  # its decorated classmethods confuse mypy
        net: Any = loader.from_pretrained(model)
        net.to(device=self._device, dtype=self._dtype)
        net.eval()
        net.requires_grad_(False)
        # The transformers module, for analysis (e.g. attention maps). Its text backbone and image
        # encoder are wrapped below, which renames their state-dict keys: do not save it.
        self.model: Any = net

        limit = int(net.config.max_text_len)
        if max_text_tokens is None:
            max_text_tokens = limit
        if not 4 <= max_text_tokens <= limit:
            raise ValueError(f'max_text_tokens must be in [4, {limit}], got {max_text_tokens}')
        self._max_text_tokens = max_text_tokens
        self._passes_per_forward = passes_per_forward
        self._match_iou = match_iou
        self._id_merge = id_merge
        self._floor_logit = floor_logit

        tok = cast(Any, self._tokenizer)
        self._cls_id = int(tok.cls_token_id)
        self._sep_id = int(tok.sep_token_id)
        self._dot_id = int(tok.convert_tokens_to_ids('.'))
        self._pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else 0)
        self._special_ids = frozenset(int(i) for i in net.model.special_tokens.tolist())
        missing = {self._cls_id, self._sep_id, self._dot_id} - self._special_ids
        if missing:
            # The model splits phrases at these ids only; other ids would merge all labels.
            raise ValueError(
                f'tokenizer ids {sorted(missing)} for [CLS]/[SEP]/. are not the delimiter ids '
                f'{sorted(self._special_ids)} of the model'
            )

        cached_text_cls, shared_image_cls, _ = _torch_modules()
        if half and keep_sampling_in_fp32(net) == 0:
            raise ValueError('half=True: no deformable-attention sampler found to keep in fp32 '
                             '(unexpected transformers Grounding DINO layout)')
        self.text_encoder: torch.nn.Module = net.model.text_backbone  # BERT, for hooks/tests
        self._text_cache = cached_text_cls(self.text_encoder)
        net.model.text_backbone = self._text_cache
        backbone = net.model.backbone
        self._image_encoder = shared_image_cls(backbone.conv_encoder)
        backbone.conv_encoder = self._image_encoder

        self._lock = threading.Lock()
        self._state: _LabelState | None = None
        self.last_timings: Mapping[str, float] = {}

    @classmethod
    def from_spec(cls, spec: BackendSpec) -> GroundingDinoBackend:
        """Registry factory: the spec's model, device and half, and its options.

        Options are the keyword arguments of the constructor (``max_text_tokens``,
        ``passes_per_forward``, ``match_iou``, ``floor_logit``, ``id_merge``); keys meant for
        other backends are ignored with a warning, as BackendSpec promises.
        """
        options = dict(spec.options or {})
        unknown = sorted(set(options) - set(SPEC_OPTIONS))
        if unknown:
            _LOG.warning('grounding_dino ignores backend options it does not know: %s',
                         ', '.join(unknown))
        known = {key: options[key] for key in SPEC_OPTIONS if key in options}
        return cls(spec.model, device=spec.device, half=spec.half, **known)

    # ----------------------------------------------------------------------- labels

    @property
    def prompts(self) -> tuple[str, ...]:
        """Prompt text of each pass for the current label set (empty before set_labels)."""
        return () if self._state is None else self._state.prompts

    @property
    def pass_labels(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """Per pass: (ID label indices, negative label indices)."""
        if self._state is None:
            return ()
        return tuple(zip(self._state.pass_ids, self._state.pass_negs, strict=True))

    def _label_tokens(self, label: str) -> list[int]:
        ids = [int(i) for i in self._tokenizer(label, add_special_tokens=False)['input_ids']]
        if not ids:
            raise ValueError(f'label {label!r} has no tokens')
        if self._special_ids.intersection(ids) or self._pad_id in ids:
            raise ValueError(f'label {label!r} tokenises to a delimiter or padding token')
        return ids

    def _install_labels(self, prepared: _LabelState) -> None:
        # The cached BERT outputs belong to the label state: both change together.
        self._state = prepared
        self._text_cache.entries = prepared.text_cache

    def prepare_labels(
        self, id_labels: Sequence[str], negative_labels: Sequence[str], nega: bool
    ) -> _LabelState:
        """Plan the passes and encode their texts once (BERT runs here, never in infer).

        id_labels: K >= 1 labels; negative_labels: M >= 0 labels. Logits of infer come in this
        order. nega: negatives share the prompt with the ID labels (NegA) or live in separate
        passes so that the ID outputs equal those of an ID-only prompt. Raises ValueError for an
        empty ID list, a bad label or labels that do not fit the prompt limit. Changes nothing
        in use (see use_labels); may run while another thread detects.
        """
        import torch
        from transformers.models.grounding_dino.modeling_grounding_dino import (
            generate_masks_with_special_tokens_and_transfer_map,
        )

        ids = tuple(normalize_label(label) for label in id_labels)
        negs = tuple(normalize_label(label) for label in negative_labels)
        if not ids:
            raise ValueError('at least one ID label is needed')
        id_tokens = [self._label_tokens(label) for label in ids]
        neg_tokens = [self._label_tokens(label) for label in negs]
        plan = plan_passes(
            [len(t) + 1 for t in id_tokens],
            [len(t) + 1 for t in neg_tokens],
            self._max_text_tokens,
            bool(nega),
        )

        prompts: list[str] = []
        pass_inputs: list[list[int]] = []
        pass_spans: list[list[tuple[int, int]]] = []
        for id_idx, neg_idx in plan:
            labels = [ids[i] for i in id_idx] + [negs[i] for i in neg_idx]
            tokens = [id_tokens[i] for i in id_idx] + [neg_tokens[i] for i in neg_idx]
            prompt_ids, spans = label_token_spans(tokens, self._cls_id, self._sep_id, self._dot_id)
            prompt = build_prompt(labels)
            # Guards the span bookkeeping: per-label tokenisation must equal the whole prompt's.
            full = [int(i) for i in self._tokenizer(prompt)['input_ids']]
            if full != prompt_ids:
                raise ValueError(f'tokenizer splits the prompt {prompt!r} differently per label')
            prompts.append(prompt)
            pass_inputs.append(prompt_ids)
            pass_spans.append(spans)

        # Forward groups: the ID-only pass of NegA off runs alone, exactly as an ID-only backend.
        order = list(range(len(plan)))
        step = self._passes_per_forward
        if nega:
            chunks = [order[i : i + step] for i in range(0, len(order), step)]
        else:
            rest = order[1:]
            chunks = [[0]] + [rest[i : i + step] for i in range(0, len(rest), step)]

        groups: list[_Group] = []
        cache: list[tuple[torch.Tensor, torch.Tensor]] = []
        dev = self._device
        with torch.inference_mode():
            for chunk in chunks:
                group = make_group(tuple(chunk), pass_inputs, pass_spans, self._pad_id, dev)
                groups.append(group)
                input_ids, token_type_ids = group.input_ids, group.token_type_ids
                # The same inputs the model's forward hands to its text backbone.
                masks, position_ids = generate_masks_with_special_tokens_and_transfer_map(
                    cast(Any, input_ids), self.model.model.special_tokens
                )
                hidden = self.text_encoder(
                    input_ids, masks[:, None, :, :], token_type_ids, position_ids, return_dict=True
                ).last_hidden_state
                cache.append((input_ids, hidden))

        state = _LabelState(
            id_labels=ids,
            neg_labels=negs,
            nega=bool(nega),
            prompts=tuple(prompts),
            pass_ids=tuple(tuple(i) for i, _ in plan),
            pass_negs=tuple(tuple(n) for _, n in plan),
            groups=tuple(groups),
            text_cache=tuple(cache),
            owner=self,
        )
        return state

    # ----------------------------------------------------------------------- inference

    def _forward(
        self, state: _LabelState, pixel_values: torch.Tensor
    ) -> list[tuple[_Group, torch.Tensor, torch.Tensor]]:
        """Per group: (group, label logits (B*P, Q, n_max) float32, boxes cxcywh (B*P, Q, 4)).

        pixel_values (B, 3, h, w): B images of one size, already handed to the shared image
        encoder (begin_frame). Rows are image-major: image i's P passes are rows i*P..i*P+P-1.
        """
        import torch

        images = pixel_values.shape[0]
        results = []
        for group in state.groups:
            batch = len(group.passes) * images
            tiles = (images, 1)
            out = self.model(
                # Not read while a frame is open (the encoder has the images): a view suffices.
                pixel_values=pixel_values[:1].expand(batch, -1, -1, -1),
                input_ids=group.input_ids.repeat(tiles),
                attention_mask=group.attention_mask.repeat(tiles),
                token_type_ids=group.token_type_ids.repeat(tiles),
            )
            logits = out.logits.float()  # (B, Q, max_text_len)
            queries = logits.shape[1]
            pos = group.token_pos.repeat(tiles)[:, None, :].expand(batch, queries, -1)
            lab = group.token_label.repeat(tiles)[:, None, :].expand(batch, queries, -1)
            per_label = torch.full(
                (batch, queries, group.n_max + 1), float('-inf'), device=logits.device
            )
            label_logits = logits.gather(2, pos)
            boxes = out.pred_boxes.float()
            # A NaN fails every threshold test, so without this check a broken model or an
            # fp16 overflow would look like "nothing detected".
            if not (torch.isfinite(label_logits).all() and torch.isfinite(boxes).all()):
                raise NonFiniteOutputError(
                    f'Grounding DINO produced NaN/inf logits or boxes (passes {group.passes}, '
                    f'dtype {self._dtype}); the model or its precision is broken')
            # Max over each label's tokens; the extra slot n_max swallows the padding.
            per_label.scatter_reduce_(2, lab, label_logits, reduce='amax')
            results.append((group, per_label[..., : group.n_max], boxes))
        return results

    def infer(self, image_rgb: npt.NDArray[np.uint8], box_threshold: float) -> RawDetections:
        """Detect on one image.

        image_rgb: (H, W, 3) uint8 RGB, H, W >= 1. box_threshold in [0, 1].
        Returns RawDetections: boxes (N, 4) float32 source-image pixel xyxy clipped to
        [0, W] x [0, H]; id_logits (N, K) and neg_logits (N, M) float32 pre-sigmoid, in the
        label order of set_labels; only queries whose best ID sigmoid >= box_threshold.
        Raises ValueError for a bad image or threshold, RuntimeError before set_labels.
        """
        check_image(image_rgb, box_threshold)
        with self._lock:
            raws, timings = self._detect([image_rgb], box_threshold)
            self.last_timings = timings
        return raws[0]

    def infer_batch(
        self, images_rgb: Sequence[npt.NDArray[np.uint8]], box_threshold: float
    ) -> list[RawDetections]:
        """Detect on several images (of any sizes), one result per image, in order.

        Images whose network input has the same size run as one batch through every forward
        group (the backbone once per image, the passes of all images side by side); images of
        another size run as a batch of their own. We do not pad mixed sizes into one tensor:
        padding changes a DETR's outputs (the backbone, the position embeddings and the
        encoder see the padded canvas: on the tiny random-weight model, padding a 240x320
        input to 240x427 with a pixel mask moved the logits by 2.4 at the median and changed
        6 of the 10 best queries), so a camera's detections would depend on which other
        cameras share its batch. Without padding each result equals :meth:`infer` on that
        image up to float rounding. ``last_timings`` holds the whole batch's stages plus
        'batch' = B. Raises ValueError naming the index of a bad image; on error no result
        is returned. An empty sequence returns [].
        """
        images = list(images_rgb)
        check_batch(images, box_threshold)
        if not images:
            return []
        with self._lock:
            raws, timings = self._detect(images, box_threshold)
            self.last_timings = {**timings, 'batch': float(len(images))}
        return raws

    def _detect(
        self, images: list[npt.NDArray[np.uint8]], box_threshold: float
    ) -> tuple[list[RawDetections], dict[str, float]]:
        """Preprocess, forwards per input size, merge per image (checked inputs; lock held)."""
        import torch

        state = self._state
        if state is None:
            raise RuntimeError('set_labels must be called before infer')
        timer = StageTimer.for_device(self._device)
        with torch.inference_mode():
            pixels = [self.processor(image) for image in images]
            sizes: dict[tuple[int, ...], list[int]] = {}
            for index, pixel in enumerate(pixels):
                sizes.setdefault(tuple(pixel.shape[-2:]), []).append(index)
            timer.mark('preprocess')
            batches = []
            for members in sizes.values():
                stacked = pixels[members[0]] if len(members) == 1 else torch.cat(
                    [pixels[i] for i in members])
                self._image_encoder.begin_frame(stacked)  # the backbone once per image
                try:
                    batches.append((members, self._forward(state, stacked)))
                finally:
                    self._image_encoder.end_frame()
            timer.mark('model')
            per_image: dict[int, list[Any]] = {}
            for members, forwards in batches:
                for position, index in enumerate(members):
                    height, width = images[index].shape[:2]
                    per_image[index] = pass_outputs(
                        state, forwards, int(height), int(width), image=position)
        raws = [
            aggregate_passes(
                per_image[index],
                len(state.id_labels),
                len(state.neg_labels),
                box_threshold,
                self._match_iou,
                self._floor_logit,
                self._id_merge,
            )
            for index in range(len(images))
        ]
        timer.mark('postprocess')
        return raws, dict(timer.timings)
