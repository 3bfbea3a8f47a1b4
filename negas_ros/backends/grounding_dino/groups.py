"""Forward groups: prompt passes batched into one forward, and their outputs read back per pass.

Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from negas_ros.backends.grounding_dino.aggregation import PassOutput

if TYPE_CHECKING:
    import torch

__all__ = ['make_group', 'pass_outputs']


@dataclass(frozen=True)
class _Group:
    """Passes run in one forward (one batch row each) and the tensors that feed it."""

    passes: tuple[int, ...]
    input_ids: torch.Tensor  # (B, L) long, padded
    attention_mask: torch.Tensor  # (B, L) long
    token_type_ids: torch.Tensor  # (B, L) long
    token_pos: torch.Tensor  # (B, T) long: label-token positions, padded with 0
    token_label: torch.Tensor  # (B, T) long: label slot of each, padding -> slot n_max
    n_labels: tuple[int, ...]  # labels per row (ID first, then negatives)
    n_max: int


@dataclass(frozen=True)
class _LabelState:
    id_labels: tuple[str, ...]
    neg_labels: tuple[str, ...]
    nega: bool
    prompts: tuple[str, ...]  # per pass
    pass_ids: tuple[tuple[int, ...], ...]  # per pass: ID label indices
    pass_negs: tuple[tuple[int, ...], ...]  # per pass: negative label indices
    groups: tuple[_Group, ...]
    text_cache: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # (input_ids, BERT hidden states)
    owner: object = field(repr=False, compare=False)  # the backend whose prepare_labels made it


def make_group(
    chunk: tuple[int, ...],
    pass_inputs: Sequence[list[int]],
    pass_spans: Sequence[list[tuple[int, int]]],
    pad_id: int,
    dev: torch.device,
) -> _Group:
    """The tensors of one forward: the passes of chunk, one batch row each, padded."""
    import torch

    length = max(len(pass_inputs[p]) for p in chunk)
    rows = [pass_inputs[p] + [pad_id] * (length - len(pass_inputs[p])) for p in chunk]
    input_ids = torch.tensor(rows, dtype=torch.long, device=dev)
    attention_mask = torch.tensor(
        [
            [1] * len(pass_inputs[p]) + [0] * (length - len(pass_inputs[p]))
            for p in chunk
        ],
        dtype=torch.long,
        device=dev,
    )
    token_type_ids = torch.zeros_like(input_ids)
    n_labels = tuple(len(pass_spans[p]) for p in chunk)
    n_max = max(n_labels)
    pos_rows = [[t for s, e in pass_spans[p] for t in range(s, e)] for p in chunk]
    lab_rows = [
        [j for j, (s, e) in enumerate(pass_spans[p]) for _ in range(s, e)] for p in chunk
    ]
    width = max(len(r) for r in pos_rows)
    token_pos = torch.tensor(
        [r + [0] * (width - len(r)) for r in pos_rows], dtype=torch.long, device=dev
    )
    token_label = torch.tensor(
        [r + [n_max] * (width - len(r)) for r in lab_rows],
        dtype=torch.long,
        device=dev,
    )
    return _Group(
        tuple(chunk),
        input_ids,
        attention_mask,
        token_type_ids,
        token_pos,
        token_label,
        n_labels,
        n_max,
    )


def pass_outputs(
    state: _LabelState,
    forwards: list[tuple[_Group, torch.Tensor, torch.Tensor]],
    height: int,
    width: int,
    image: int = 0,
) -> list[PassOutput]:
    """Per pass, in pass order: its boxes in source pixels and its label logits.

    image: which image of a batched forward (its rows follow each other, one per pass).
    """
    outputs: dict[int, PassOutput] = {}
    scale = np.array([width, height, width, height], np.float32)
    for group, per_label, boxes in forwards:
        first = image * len(group.passes)
        rows = slice(first, first + len(group.passes))
        per_label_np = per_label[rows].cpu().numpy()
        boxes_np = boxes[rows].cpu().numpy()
        for row, p in enumerate(group.passes):
            cx, cy, w, h = np.moveaxis(boxes_np[row], -1, 0)
            xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1) * scale
            xyxy = np.clip(xyxy, 0, scale).astype(np.float32)
            k = len(state.pass_ids[p])
            n = group.n_labels[row]
            outputs[p] = PassOutput(
                boxes_xyxy=xyxy,
                id_logits=per_label_np[row, :, :k] if k else None,
                neg_logits=per_label_np[row, :, k:n],
                neg_indices=state.pass_negs[p],
            )
    return [outputs[p] for p in range(len(state.prompts))]
