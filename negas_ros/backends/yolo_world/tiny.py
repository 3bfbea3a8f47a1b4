"""A tiny random-weight YOLO-World directory, written offline for tests and demos.

:func:`write_tiny_yolo_world` writes a model card, the tiny network's weights (safetensors with
the architecture in its metadata) and a tiny CLIP text tower with a byte-level BPE tokenizer of
our own (vocab.json + merges.txt). The weights are random: boxes and scores mean nothing; it
exists so that the whole pipeline, node included, runs without downloading anything.
torch and transformers are imported inside the function, not at import.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

from negas_ros.backends.model_dir import finish_model_dir, start_model_dir

__all__ = ['TINY_IMAGE_SIZE', 'write_tiny_yolo_world']

TINY_IMAGE_SIZE = 320  # network input of the tiny card: fast on a CPU, 3 x 2100 anchors

_FORMAT = 1  # bump when the layout changes, so that old directories are rebuilt
# A few merges so that the BPE path is exercised; every other word falls back to characters.
_MERGES = [('c', 'a'), ('ca', 'r</w>'), ('b', 'u'), ('bu', 's</w>'), ('p', 'e'), ('r', 's'),
           ('o', 'n</w>')]


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins of byte-level BPE (GPT-2/CLIP convention): printable
    Latin-1 bytes map to themselves, the others to code points from 256 upwards."""
    printable = set(range(ord('!'), ord('~') + 1)) | set(range(0xA1, 0xAD)) | set(
        range(0xAE, 0x100)
    )
    symbols = []
    shifted = 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + shifted))
            shifted += 1
    return symbols


def _write_tokenizer_files(directory: Path) -> None:
    symbols = _byte_symbols()
    vocab: dict[str, int] = {}
    for symbol in symbols:
        vocab[symbol] = len(vocab)
    for symbol in symbols:
        vocab[symbol + '</w>'] = len(vocab)
    for left, right in _MERGES:
        vocab.setdefault(left + right, len(vocab))
    vocab['<|startoftext|>'] = len(vocab)
    vocab['<|endoftext|>'] = len(vocab)
    (directory / 'vocab.json').write_text(json.dumps(vocab), encoding='utf-8')
    merges = '#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in _MERGES)
    (directory / 'merges.txt').write_text(merges, encoding='utf-8')


def write_tiny_yolo_world(directory: Path, seed: int = 0) -> Path:
    """Write a tiny random-weight YOLO-World model directory and return it.

    Layout: ``yolo_world.yaml`` (model card: imgsz 320, NegA fusion 'max'),
    ``yolo_world_tiny.safetensors`` (variant 'tiny', 64-d text), ``text_model/`` (a 1-layer
    CLIPTextModelWithProjection, 64-d projection, tokenizer from our vocab.json + merges.txt),
    README.md and a marker file. Idempotent for the same seed and format; deterministic for a
    seed. About 6 MB; a second or two once torch and transformers are imported.
    """
    directory = Path(directory)
    wanted = {'seed': seed, 'format': _FORMAT}
    if start_model_dir(directory, wanted):
        return directory

    import torch
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    from negas_ros.backends.yolo_world.checkpoint import save_safetensors
    from negas_ros.backends.yolo_world.config import config_for_variant
    from negas_ros.backends.yolo_world.network import YoloWorldNet

    cfg = config_for_variant('tiny')
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = YoloWorldNet(cfg).eval()
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    # Non-trivial statistics, so that BatchNorm folding is really tested.
                    assert module.running_mean is not None and module.running_var is not None
                    module.running_mean.normal_(0.0, 0.1)
                    module.running_var.uniform_(0.5, 1.5)
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.normal_(0.0, 0.1)
            for name, param in net.named_parameters():
                if name.endswith('attn.bias'):
                    param.normal_(0.0, 1.0)
                elif re.fullmatch(r'model\.22\.cv4\.\d+\.(bias|logit_scale)', name):
                    # Scores spread around 0.5 instead of the training init's sigmoid(-10).
                    param.fill_(0.0)
        save_safetensors(net, directory / 'yolo_world_tiny.safetensors')

        text_dir = directory / 'text_model'
        text_dir.mkdir(exist_ok=True)
        _write_tokenizer_files(text_dir)
        tokenizer: Any = CLIPTokenizer(
            vocab=str(text_dir / 'vocab.json'), merges=str(text_dir / 'merges.txt')
        )
        tokenizer.save_pretrained(str(text_dir))
        text_cfg = CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=77,
            projection_dim=cfg.embed_dim,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        torch.manual_seed(seed + 1)
        text_model: Any = CLIPTextModelWithProjection(text_cfg)
        text_model.save_pretrained(str(text_dir))

    card = (
        '# Tiny random-weight YOLO-World (negas_ros.backends.yolo_world.tiny). Not for real use.\n'
        'weights: yolo_world_tiny.safetensors\n'
        'text_model: text_model\n'
        f'imgsz: {TINY_IMAGE_SIZE}\n'
        'nega_fusion: max\n'
        'iou_threshold: 0.7\n'
        'max_det: 300\n'
    )
    (directory / 'yolo_world.yaml').write_text(card, encoding='utf-8')
    (directory / 'README.md').write_text(
        '# Tiny random-weight YOLO-World\n\n'
        f'Written by negas_ros.backends.yolo_world.tiny.write_tiny_yolo_world (seed {seed}).\n'
        'The weights are RANDOM: boxes and scores are meaningless. It exists so that tests and\n'
        'demos run offline. Network: variant tiny (widths 8-128, 64-d text), input 320 px.\n'
        'Text tower: 1-layer CLIP text model, 64-d projection, byte-level BPE tokenizer with a\n'
        'handful of merges (most words are spelled out in characters).\n',
        encoding='utf-8',
    )
    finish_model_dir(directory, wanted)
    return directory
