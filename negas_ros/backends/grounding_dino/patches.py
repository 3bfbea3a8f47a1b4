"""torch.nn wrappers that patch transformers' Grounding DINO internals.

Defined lazily (:func:`_torch_modules`) so that importing this module imports neither torch
nor transformers.
"""

from __future__ import annotations

from typing import Any, cast

__all__ = ['keep_sampling_in_fp32']


def _torch_modules() -> tuple[type[Any], type[Any], type[Any]]:
    """nn.Module wrappers, defined lazily so that importing this module does not import torch."""
    global _MODULES
    if _MODULES is not None:
        return _MODULES
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    class CachedTextBackbone(torch.nn.Module):
        """Stands in for the BERT text backbone: returns cached outputs for known input_ids.

        The cache is filled by set_labels; an unknown input falls through to BERT, so direct
        calls of the model stay correct.
        """

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self.entries: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor | None = None,
            token_type_ids: torch.Tensor | None = None,
            position_ids: torch.Tensor | None = None,
            return_dict: bool | None = True,
            **kwargs: Any,
        ) -> Any:
            for ids, hidden in self.entries:
                if ids is input_ids or (
                    ids.shape == input_ids.shape and torch.equal(ids, input_ids)
                ):
                    return BaseModelOutput(last_hidden_state=hidden) if return_dict else (hidden,)
            return self.inner(
                input_ids,
                attention_mask,
                token_type_ids,
                position_ids,
                return_dict=return_dict,
                **kwargs,
            )

    class SharedImageEncoder(torch.nn.Module):
        """Runs the image backbone once per frame and shares its features with every pass.

        Every row of our batches holds the same image (one row per prompt pass), so the backbone
        runs on row 0 only. Between :meth:`begin_frame` and :meth:`end_frame` (the backend's
        infer) its output is kept and reused by every forward group of that frame; outside a
        frame (direct calls of the model) nothing is cached.
        """

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self._frame_open = False
            self._cached: Any = None

        def begin_frame(self) -> None:
            self._frame_open, self._cached = True, None

        def end_frame(self) -> None:
            self._frame_open, self._cached = False, None

        def forward(self, pixel_values: torch.Tensor, pixel_mask: torch.Tensor) -> Any:
            batch = pixel_values.shape[0]
            if self._frame_open and self._cached is not None:
                out = self._cached
            else:
                out = self.inner(pixel_values[:1], pixel_mask[:1])
                if self._frame_open:
                    self._cached = out
            if batch == 1:
                return out
            return [
                (fmap.expand(batch, *fmap.shape[1:]), mask.expand(batch, *mask.shape[1:]))
                for fmap, mask in out
            ]

    class Fp32Sampling(torch.nn.Module):
        """Runs multi-scale deformable sampling (grid_sample) in fp32 inside an fp16 model.

        grid_sample in half precision loses the sub-pixel sampling positions and gave NaN on
        CPU; the sampling is a small part of the cost, so it runs in fp32 and casts back.
        """

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, value: torch.Tensor, spatial_shapes: torch.Tensor,
                    spatial_shapes_list: Any, level_start_index: torch.Tensor,
                    sampling_locations: torch.Tensor, attention_weights: torch.Tensor,
                    im2col_step: int) -> torch.Tensor:
            out = self.inner(value.float(), spatial_shapes, spatial_shapes_list,
                             level_start_index, sampling_locations.float(),
                             attention_weights.float(), im2col_step)
            return cast(torch.Tensor, out).to(value.dtype)

    _MODULES = (CachedTextBackbone, SharedImageEncoder, Fp32Sampling)
    return _MODULES


_MODULES: tuple[type[Any], type[Any], type[Any]] | None = None


def keep_sampling_in_fp32(net: Any) -> int:
    """Wrap every deformable-attention sampler of a transformers Grounding DINO in fp32.

    Used for ``half=True``; returns how many samplers were wrapped (idempotent).
    """
    fp32_cls = _torch_modules()[2]
    wrapped = 0
    for module in net.modules():
        inner = getattr(module, 'attn', None)
        if type(module).__name__ == 'GroundingDinoMultiscaleDeformableAttention' and inner:
            if not isinstance(inner, fp32_cls):
                module.attn = fp32_cls(inner)
            wrapped += 1
    return wrapped
