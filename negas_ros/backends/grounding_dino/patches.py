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
                # A batch of several images tiles the group's rows once per image.
                tiles, rest = divmod(input_ids.shape[0], ids.shape[0])
                if (tiles > 1 and not rest and ids.shape[1:] == input_ids.shape[1:]
                        and torch.equal(ids.repeat(tiles, 1), input_ids)):
                    hidden = hidden.repeat(tiles, 1, 1)
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

        The backend's batches hold B images, each repeated over consecutive rows (one row per
        prompt pass), so the backbone needs to see each image once. Between
        :meth:`begin_frame` and :meth:`end_frame` (the backend's infer) it runs on the B
        images given to ``begin_frame`` (the rows of ``pixel_values`` are then not read: the
        caller may pass a cheap expanded view), its output is kept, and every forward group of
        the frame gets it with each image's features repeated over its rows. Outside a frame
        (direct calls of the model) it runs on row 0 and nothing is cached.
        """

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner
            self._frame_open = False
            self._images: torch.Tensor | None = None
            self._cached: Any = None

        def begin_frame(self, images: torch.Tensor | None = None) -> None:
            """Open a frame; images (B, 3, h, w) are its images, None: row 0 of each call."""
            self._frame_open, self._images, self._cached = True, images, None

        def end_frame(self) -> None:
            self._frame_open, self._images, self._cached = False, None, None

        def forward(self, pixel_values: torch.Tensor, pixel_mask: torch.Tensor) -> Any:
            rows = pixel_values.shape[0]
            if self._frame_open and self._cached is not None:
                out = self._cached
            else:
                images = pixel_values[:1] if self._images is None else self._images
                mask = pixel_mask.new_ones((images.shape[0], *images.shape[2:]))
                out = self.inner(images, mask)
                if self._frame_open:
                    self._cached = out
            count = out[0][0].shape[0]
            if rows == count:
                return out
            if rows % count:
                raise ValueError(f'{rows} batch rows cannot share the features of {count} images')
            if count == 1:  # a view: no copy of the features per pass
                return [(fmap.expand(rows, *fmap.shape[1:]), mask.expand(rows, *mask.shape[1:]))
                        for fmap, mask in out]
            per_image = rows // count
            return [(fmap.repeat_interleave(per_image, dim=0),
                     mask.repeat_interleave(per_image, dim=0)) for fmap, mask in out]

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
