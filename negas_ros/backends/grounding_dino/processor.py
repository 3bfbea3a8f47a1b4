"""Image preprocessing of Grounding DINO, applied with torch on the model's device.

The checkpoint's ``preprocessor_config.json`` is read (resize rule, rescale, mean/std) and
applied as the transformers image processor does; see "Preprocessing" in the package docstring.
Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch

__all__ = ['GroundingDinoImageProcessor']


class GroundingDinoImageProcessor:
    """The parts of a Grounding DINO preprocessor_config.json that we apply, and their use.

    Args:
        config: the preprocessor_config dict (``size``, ``resample``, ``do_rescale``, ...).
        device: where :meth:`preprocess` puts the pixel values (the model's device).
        dtype: their dtype (the model's); None keeps float32.

    Raises ValueError for a size rule or resample mode it does not support.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        device: str | torch.device = 'cpu',
        dtype: torch.dtype | None = None,
    ) -> None:
        cfg = config
        size = cfg.get('size') or {'shortest_edge': 800, 'longest_edge': 1333}
        if isinstance(size, int):  # legacy: shortest edge as an int, plus max_size
            size = {'shortest_edge': size, 'longest_edge': cfg.get('max_size')}
        shortest = size.get('shortest_edge')
        longest = size.get('longest_edge', cfg.get('max_size'))
        fixed = None
        if shortest is None:
            if 'height' in size and 'width' in size:
                fixed = (int(size['height']), int(size['width']))
            else:
                raise ValueError(f'unsupported preprocessor size {size!r}')
        modes = {0: 'nearest', 2: 'bilinear', 3: 'bicubic'}  # PIL resample codes
        resample = int(cfg.get('resample', 2))
        if resample not in modes:
            raise ValueError(f'unsupported preprocessor resample {resample}')
        mean = cfg.get('image_mean', [0.485, 0.456, 0.406])
        std = cfg.get('image_std', [0.229, 0.224, 0.225])
        self.do_resize = bool(cfg.get('do_resize', True))
        self.shortest_edge: int | None = None if shortest is None else int(shortest)
        self.longest_edge: int | None = None if longest is None else int(longest)
        self.fixed_hw: tuple[int, int] | None = fixed
        self.mode: str = modes[resample]
        self.do_rescale = bool(cfg.get('do_rescale', True))
        self.rescale_factor = float(cfg.get('rescale_factor', 1 / 255))
        self.do_normalize = bool(cfg.get('do_normalize', True))
        self.mean = (float(mean[0]), float(mean[1]), float(mean[2]))
        self.std = (float(std[0]), float(std[1]), float(std[2]))
        self.device = device
        self.dtype = dtype

    @classmethod
    def from_pretrained(
        cls,
        model: str,
        device: str | torch.device = 'cpu',
        dtype: torch.dtype | None = None,
    ) -> GroundingDinoImageProcessor:
        """From a hub id or checkpoint directory (its preprocessor_config.json)."""
        local = Path(model) / 'preprocessor_config.json'
        if local.is_file():
            # A checkpoint directory: read it directly, since transformers' image-processor
            # mixin needs Pillow, which a bare torch + transformers machine may lack.
            config = json.loads(local.read_text(encoding='utf-8'))
            return cls(config, device, dtype)
        from transformers import ImageProcessingMixin

        config, _ = ImageProcessingMixin.get_image_processor_dict(model)
        return cls(config, device, dtype)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Network-input (height, width) for a source image, as the transformers processor."""
        if not self.do_resize:
            return height, width
        if self.fixed_hw is not None:
            return self.fixed_hw
        from transformers.image_transforms import get_size_with_aspect_ratio

        assert self.shortest_edge is not None
        return get_size_with_aspect_ratio((height, width), self.shortest_edge, self.longest_edge)

    def preprocess(self, image_rgb: npt.NDArray[np.uint8]) -> torch.Tensor:
        """(1, 3, h, w) normalised pixel values on :attr:`device` in :attr:`dtype`.

        image_rgb: (H, W, 3) uint8 RGB. Antialiased resize as torchvision does in the
        transformers image processor, rounded to integer levels as its uint8 path, then rescale
        and normalise; no padding.
        """
        import torch
        import torch.nn.functional as nnf

        height, width = image_rgb.shape[:2]
        x = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(self.device)
        x = x.permute(2, 0, 1)[None].float()
        out_h, out_w = self.output_size(height, width)
        if (out_h, out_w) != (height, width):
            if self.mode == 'nearest':
                x = nnf.interpolate(x, size=(out_h, out_w), mode='nearest')
            else:
                x = nnf.interpolate(
                    x, size=(out_h, out_w), mode=self.mode, align_corners=False, antialias=True
                )
            x = x.round_().clamp_(0, 255)  # the processor resizes uint8 images
        if self.do_rescale:
            x = x * self.rescale_factor
        if self.do_normalize:
            mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
            std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
            x = (x - mean) / std
        return x if self.dtype is None else x.to(self.dtype)

    __call__ = preprocess
