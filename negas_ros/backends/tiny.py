"""Tiny random-weight Grounding DINO checkpoint, written offline for tests and benchmarks.

(``make demo`` does not use it: the demo runs the embedded ``negas_mini`` YOLO-World model,
config/demo.yaml.) The tests, ``negas-ros bench`` and scripts/bench_*.py write one.

The checkpoint loads with ``GroundingDinoForObjectDetection.from_pretrained`` and
``AutoTokenizer.from_pretrained`` like a hub checkpoint, but its weights are random: its boxes and
scores mean nothing. It exists so that the whole pipeline runs without downloading anything.
torch and transformers are imported inside :func:`write_tiny_grounding_dino`, not at import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from negas_ros.backends.model_dir import finish_model_dir, start_model_dir

__all__ = ['TINY_IMAGE_SIZE', 'write_tiny_grounding_dino']

# Resize rule of the tiny checkpoint's preprocessor: a 320x240 frame keeps its size.
TINY_IMAGE_SIZE = {'shortest_edge': 240, 'longest_edge': 400}

_FORMAT = 2  # bump when the checkpoint layout or config changes, so old directories are rebuilt

# transformers' Grounding DINO hard-codes BERT-base-uncased ids for its phrase delimiters
# ([CLS] 101, [SEP] 102, '.' 1012, '?' 1029 in modeling_grounding_dino.SPECIAL_TOKENS), so the
# vocabulary puts these tokens at exactly those ids; [PAD] 0, [UNK] 100, [MASK] 103 as in BERT.
_FIXED_IDS = {
    '[PAD]': 0,
    '[UNK]': 100,
    '[CLS]': 101,
    '[SEP]': 102,
    '[MASK]': 103,
    '.': 1012,
    '?': 1029,
}

# Class names of COCO (80), PASCAL VOC (20) and BDD100K (10), split into words, then nouns that
# negative-label lists are likely to hold, so real labels map to real word ids, not [UNK].
_WORDS = """
person bicycle car motorcycle airplane bus train truck boat traffic light fire hydrant stop sign
parking meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella
handbag tie suitcase frisbee skis snowboard sports ball kite baseball bat glove skateboard
surfboard tennis racket bottle wine glass cup fork knife spoon bowl banana apple sandwich orange
broccoli carrot hot pizza donut cake chair couch potted plant bed dining table toilet tv laptop
mouse remote keyboard cell phone microwave oven toaster sink refrigerator book clock vase
scissors teddy hair drier toothbrush aeroplane diningtable motorbike pottedplant sofa tvmonitor
monitor pedestrian rider road street sidewalk crosswalk lane curb building house tree bush pole
sky cloud wall fence grass lamp lamppost streetlight post billboard poster mannequin statue
sculpture scooter wheelchair stroller cart trailer van tractor ambulance taxi tram trolley
subway vehicle wagon carriage bulldozer excavator crane forklift helicopter drone balloon ship
yacht canoe kayak deer fox wolf lion tiger leopard monkey rabbit squirrel goat pig chicken duck
goose swan owl eagle pigeon crow camel donkey mule kangaroo panda moose rat frog turtle snake
lizard fish shark whale dolphin insect butterfly spider box bag barrel cone trash can bin
container crate pallet tire wheel door window roof bridge tunnel tower chimney gate stairs
ladder rock stone log branch leaf flower bucket basket shopping luggage briefcase purse wallet
hat helmet cap jacket coat shirt shoe boot sock dress child baby man woman boy girl people crowd
worker police officer soldier cyclist skier runner doll toy robot puppet scarecrow shadow
reflection mirror screen display signal barrier bollard hydrant manhole pothole puddle snow ice
mud sand water river lake sea mountain hill field advertisement banner flag sticker graffiti
painting picture photo frame kiosk booth tent umbrella bench stand table desk shelf cabinet
drawer pillow blanket curtain carpet rug towel paper newspaper magazine pen pencil cable wire
rope chain pipe hose tank tube guitar drum piano bicycle motorbike moped unicycle tricycle
skateboarder surfer animal object thing vehicle sign board pole post light bulb lantern candle
fire smoke steam fog rain a an the of with on in at and or small large big little red green
yellow blue white black gray grey brown orange pink purple left right front back top bottom old
new open closed parked moving standing sitting walking
"""

# Words of the label sets shipped in config/labels/. Appended after the characters so that
# earlier ids stay put; they take [unusedN] slots, so the vocabulary size and with it the
# random weights of a seed do not change.
_MORE_WORDS = """
air basketball bulletin camera cardboard concrete conditioner construction cutout dish dumpster
farm food guardrail hoop horse-drawn lawn machine mailbox mower mural portable roller safety
satellite security shipping snowmobile utility vending wheelbarrow bagel bathtub bread burrito
calculator club coffee cookie cutting dishwasher frying golf hockey jar kettle lemon llama maker
pan pear pineapple pitcher plate soda stick teapot tomato tray washing wristwatch bookshelf
extinguisher stool whiteboard drawn cauliflower
"""

_SINGLE_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789'
_PUNCTUATION = '!"#$%&\'()*+,-/:;<=>@[\\]^_`{|}~'


def _vocabulary() -> list[str]:
    """The token list; index == token id."""
    words: list[str] = []
    seen = set(_FIXED_IDS)
    extra = (
        _WORDS.split()
        + list(_SINGLE_CHARS)
        + ['##' + c for c in _SINGLE_CHARS]
        + list(_PUNCTUATION)
        + _MORE_WORDS.split()
    )
    for token in extra:
        if token not in seen:
            seen.add(token)
            words.append(token)
    # Words fill the ids around the fixed ones; [unusedN] pads up to '?' (1029) if they run out.
    size = max(max(_FIXED_IDS.values()) + 1, len(words) + len(_FIXED_IDS))
    by_id = {index: token for token, index in _FIXED_IDS.items()}
    free = iter(words)
    vocab: list[str] = []
    for index in range(size):
        fixed = by_id.get(index)
        vocab.append(fixed if fixed is not None else next(free, f'[unused{index}]'))
    return vocab


def write_tiny_grounding_dino(directory: Path, seed: int = 0) -> Path:
    """Write a tiny random-weight Grounding DINO checkpoint into ``directory`` and return it.

    Writes config.json + model.safetensors (save_pretrained), tokenizer.json / vocab.txt (a BERT
    WordPiece tokenizer over our own vocabulary), preprocessor_config.json (resize rule
    ``TINY_IMAGE_SIZE``, ImageNet mean/std), a README.md saying the weights are random and a
    marker file. Idempotent: when the marker says the directory already holds this seed and
    format, nothing is written. Deterministic for a given seed. About 2 MB; building takes well
    under a second once transformers is imported.
    """
    directory = Path(directory)
    wanted = {'seed': seed, 'format': _FORMAT}
    if start_model_dir(directory, wanted):
        return directory

    import torch
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        SwinConfig,
    )

    vocab = _vocabulary()
    (directory / 'vocab.txt').write_text('\n'.join(vocab) + '\n', encoding='utf-8')
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(vocab)})
    tokenizer.save_pretrained(str(directory))

    swin: dict[str, Any] = {
        'image_size': 224,
        'patch_size': 4,
        'embed_dim': 16,
        'depths': [1, 1, 1, 1],
        'num_heads': [1, 1, 2, 2],
        'window_size': 7,
        'out_features': ['stage2', 'stage3', 'stage4'],  # the three levels Grounding DINO reads
    }
    backbone = SwinConfig(**swin)
    text = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config=text,
        d_model=32,  # GroupNorm(32, d_model) in the input projections needs a multiple of 32
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_n_points=2,
        decoder_n_points=2,
        num_queries=50,
    )
    # Seed a private generator state so the weights do not depend on earlier torch use.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model: Any = GroundingDinoForObjectDetection(config)
    model.save_pretrained(str(directory))

    preprocessor = {
        'image_processor_type': 'GroundingDinoImageProcessor',
        'processor_class': 'GroundingDinoProcessor',
        'do_resize': True,
        'size': TINY_IMAGE_SIZE,
        'resample': 2,  # bilinear, as the real checkpoints
        'do_rescale': True,
        'rescale_factor': 1 / 255,
        'do_normalize': True,
        'image_mean': [0.485, 0.456, 0.406],
        'image_std': [0.229, 0.224, 0.225],
        'do_pad': True,
        'format': 'coco_detection',
    }
    (directory / 'preprocessor_config.json').write_text(json.dumps(preprocessor, indent=2) + '\n')
    (directory / 'README.md').write_text(
        '# Tiny random-weight Grounding DINO\n\n'
        f'Written by negas_ros.backends.tiny.write_tiny_grounding_dino (seed {seed}).\n'
        'The weights are RANDOM: boxes and scores are meaningless. It exists so that tests and\n'
        'the demo run offline. Swin backbone (embed 16, depths 1-1-1-1), 1-layer BERT (hidden\n'
        '32), d_model 32, 1 encoder and 2 decoder layers, 50 queries, max_text_len 256.\n'
        'The vocabulary puts [CLS] [SEP] . ? at the BERT ids (101 102 1012 1029) that\n'
        "transformers' Grounding DINO uses as phrase delimiters.\n"
    )
    finish_model_dir(directory, wanted)
    return directory
