"""Writing a trained mini detector as a model directory the ``yolo_world`` backend loads.

Layout (stable: tools and the demo depend on it)::

    <dir>/yolo_world.yaml       model card for the backend (offline: text_model null)
    <dir>/weights.safetensors   the network, architecture in the metadata
    <dir>/vocabulary.npz        the learned text table (labels + unit-norm embeddings)
    <dir>/MODEL_CARD.md         data, architecture, recipe, metrics, limits (for people)
    <dir>/training.json         the same facts, machine-readable

and the world's label file (``config/labels/world.yaml``): ID labels and the negatives of
:mod:`negas_ros.train.negatives`, with their provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from negas_ros.backends.yolo_world.checkpoint import save_safetensors
from negas_ros.backends.yolo_world.network import YoloWorldNet
from negas_ros.backends.yolo_world.text import save_text_embeddings
from negas_ros.train.negatives import NegativeChoice

__all__ = [
    'CARD_FILE',
    'TRAINING_FILE',
    'VOCABULARY_FILE',
    'WEIGHTS_FILE',
    'write_label_file',
    'write_model_card_md',
    'write_model_dir',
]

WEIGHTS_FILE = 'weights.safetensors'
VOCABULARY_FILE = 'vocabulary.npz'
CARD_FILE = 'MODEL_CARD.md'
TRAINING_FILE = 'training.json'


def write_model_dir(directory: Path, net: YoloWorldNet, words: Sequence[str],
                    table: np.ndarray, imgsz: int, source: str) -> Path:
    """Write weights, vocabulary and the backend's card (``yolo_world.yaml``) to directory.

    net: unfused network; words (V,) and table (V, E) the learned vocabulary; imgsz: network
    input side the model was trained at; source: provenance line stored in the .npz.
    """
    directory.mkdir(parents=True, exist_ok=True)
    save_safetensors(net, directory / WEIGHTS_FILE)
    (directory / WEIGHTS_FILE).chmod(0o644)  # safetensors writes 0600; the file is shipped
    save_text_embeddings(directory / VOCABULARY_FILE, list(words), table, source=source)
    card = (
        '# negas_mini: YOLO-World v2 pretrained on the procedural world (see MODEL_CARD.md).\n'
        '# Offline: the text encoder is the learned vocabulary table; only its words are known.\n'
        f'weights: {WEIGHTS_FILE}\n'
        'text_model: null\n'
        f'text_embeddings: {VOCABULARY_FILE}\n'
        f'imgsz: {imgsz}\n'
        'nega_fusion: max\n'
        'nega_weight: 0.5\n'
        'iou_threshold: 0.7\n'
        'max_det: 300\n'
        'fuse: true\n'
    )
    (directory / 'yolo_world.yaml').write_text(card, encoding='utf-8')
    return directory


def write_label_file(path: Path, id_labels: Sequence[str], choice: NegativeChoice,
                     model_dir: str, date: str | None = None) -> Path:
    """Write the world's label set with the negatives and how they were chosen."""
    from negas_ros.labels import load_labels

    date = date or datetime.date.today().isoformat()
    header = (
        '# The procedural world (negas_ros.world): ID labels in class-index order\n'
        '# (negas_ros.world.ID_LABELS) and NegAS negative labels chosen from the learned\n'
        '# text embeddings of the shipped mini detector (negas_ros/models/negas_mini), without\n'
        '# looking at any OOD test image: for each ID label, the non-ID vocabulary words with\n'
        '# the most similar learned embedding (negas_ros.train.negatives). Written by\n'
        '# `negas-ros train-world`; do not edit by hand, retrain or rerun the selection.\n'
        '# Known near-OOD categories CAN be negatives here (they are in the pretraining\n'
        '# vocabulary, like "van" in an LLM list for "car"); the held-out categories of the\n'
        '# ood_*_unseen splits never can. Report both benchmarks.\n'
    )
    data = {
        'id_labels': list(id_labels),
        'negative_labels': list(choice.negatives),
        'provenance': {
            'method': 'learned text-embedding similarity (negas_ros.train.negatives)',
            'date': date,
            'model': model_dir,
            'rule': f'per ID label, the {choice.per_label} most similar (cosine of learned '
                    'embeddings) vocabulary words that are not ID labels; union, most '
                    'similar first',
            'nearest_id_label': {w: {'label': lab, 'cosine': round(c, 4)}
                                 for w, (lab, c) in choice.nearest.items()},
            'ranking': {lab: [[w, round(c, 4)] for w, c in row]
                        for lab, row in choice.ranking.items()},
            'notes': 'Visually similar = close learned text embeddings: the embeddings were '
                     'trained on images, so words whose objects look alike end up close. '
                     'Candidates are the pretraining vocabulary only (PRETRAIN_VOCAB minus '
                     'ID_LABELS); the world vocabulary has no synonym of an ID label.',
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=99)
    path.write_text(text, encoding='utf-8')
    load_labels(path)  # the label rules of negas_ros.labels must hold
    return path


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def write_model_card_md(directory: Path, facts: Mapping[str, Any]) -> Path:
    """Write MODEL_CARD.md and training.json from the facts of a run (see
    :func:`negas_ros.cli.train_world.run` for the keys)."""
    cfg = facts['config']
    net = facts['network']
    metrics = facts['metrics']
    lines = [
        '# negas_mini: a mini YOLO-World v2 pretrained on the procedural world',
        '',
        'A small open-vocabulary detector trained from scratch by `negas-ros train-world` on '
        'the procedural street world of `negas_ros.world`, shipped so that the package has a '
        'detector that really detects, offline, with no downloaded weights. It knows exactly '
        f'the {len(facts["vocabulary"])} words of its pretraining vocabulary and nothing else.',
        '',
        '## Files',
        '',
        '| file | what |',
        '|---|---|',
        '| `yolo_world.yaml` | model card for the `yolo_world` backend (`model:` = this '
        'directory); offline, `text_model: null` |',
        f'| `weights.safetensors` | network weights, fp32, {facts["weights_mb"]:.1f} MB, '
        'architecture in the metadata |',
        '| `vocabulary.npz` | the learned text embeddings of the vocabulary (unit norm) |',
        '| `training.json` | config, loss history, validations and metrics of the run |',
        '',
        '## Data',
        '',
        f'- World `negas_ros.world.World(seed={cfg["world_seed"]})`, split `pretrain`, scenes '
        f'0..{facts["images_seen"] - 1} (every scene seen once, rendered on the fly at '
        f'320 x 320, letterboxed to {cfg["imgsz"]} x {cfg["imgsz"]}).',
        '- Vocabulary (`PRETRAIN_VOCAB`): ' + ', '.join(f'`{w}`' for w in facts['vocabulary'])
        + '. The held-out categories (' + ', '.join(f'`{w}`' for w in facts['unseen'])
        + ') never appear in pretraining, not even unlabelled.',
        f'- Augmentation: horizontal flip (p 0.5), HSV jitter (gains +-{cfg["hsv"][0]}, '
        f'+-{cfg["hsv"][1]}, +-{cfg["hsv"][2]}).',
        f'- World sources at training time: `{facts["world_hash"]}` (sha256 of '
        '`negas_ros/world/*.py`); a different world renders different scenes.',
        '',
        '## Architecture',
        '',
        f'- YOLO-World v2 (`negas_ros.backends.yolo_world`) at depth {cfg["depth"]}, width '
        f'{cfg["width"]}: backbone widths {net["widths"]}, neck depth {net["neck_depth"]}, '
        f'attention heads {net["attn_heads"]} (32 channels each), {net["params_m"]:.2f} M '
        'parameters, BN contrastive head, DFL with 16 bins.',
        f'- Text encoder: a learned {cfg["embed_dim"]}-d embedding per vocabulary word, '
        'L2-normalised (the offline vocabulary file); no text tower.',
        '',
        '## Training recipe',
        '',
        f'- {facts["steps_done"]} steps x batch {cfg["batch"]} = {facts["images_seen"]} images, '
        f'seed {cfg["seed"]}, torch {facts["torch"]}; {cfg["threads"]} torch thread(s) train '
        f'while {cfg["workers"]} worker process(es) render the scenes (2 CPU cores in all).',
        '- Text set per batch (YOLO-World style): half the batches all categories present plus '
        'a random number of absent vocabulary words as negative texts (detection-style); half a '
        'random subset of the vocabulary, objects of other categories being background '
        '(grounding-style). One forward with that text set through the text-guided neck.',
        f'- Task-aligned assigner: top-{cfg["topk"]} anchors whose centre lies inside the box by '
        f'alignment s^{cfg["alpha"]} * IoU^{cfg["beta"]}; one box per anchor (highest IoU); '
        'targets = normalised alignment. Ours: a box with fewer than '
        f'{cfg["min_candidates"]} anchor centres inside (thin poles at stride 8) also takes its '
        f'{cfg["min_candidates"]} anchors nearest to its centre as candidates.',
        '- Contrastive-head biases start at the per-level prior of a positive '
        f'({cfg["objects_per_image"]:g} objects per image over the vocabulary and the cells of '
        'the level, as YOLOv8 initialises its class biases), logit scale 1.',
        f'- Loss: {cfg["loss_cls"]} BCE (region-text, soft targets) + {cfg["loss_box"]} CIoU + '
        f'{cfg["loss_dfl"]} DFL. AdamW lr {cfg["lr"]}, weight decay {cfg["weight_decay"]}, '
        f'{cfg["warmup"]} warm-up steps, cosine to {cfg["final_lr_fraction"]} x lr, gradient '
        f'clip {cfg["clip"]}, EMA {cfg["ema_decay"]} (exported).',
        f'- Wall time: {facts["train_minutes"]:.1f} min training + '
        f'{facts["eval_minutes"]:.1f} min final evaluation on this project\'s 2-core CPU '
        f'machine (shared with other jobs). Stopped early by the time guard: '
        f'{"yes" if facts["stopped_early"] else "no"}.',
        '- Reproduce: `negas-ros train-world` (defaults = this recipe).',
        '',
        '## Metrics (through the backend, as a user runs it; COCO box mAP, pycocotools)',
        '',
        '| set | labels | images | mAP@.5 | mAP@[.5:.95] |',
        '|---|---|---|---|---|',
    ]
    for row in metrics:
        lines.append(f'| {row["set"]} | {row["labels"]} | {row["images"]} | '
                     f'{_fmt(row["map50"])} | {_fmt(row["map"])} |')
    lines += ['', 'AP@.5 per class:', '']
    for row in metrics:
        per = ', '.join(f'{k} {_fmt(v, 2)}' for k, v in row['per_class_ap50'].items())
        lines.append(f'- {row["set"]} ({row["labels"]}): {per}')
    choice = facts['negatives']
    lines += [
        '',
        '## Negative labels (`config/labels/world.yaml`)',
        '',
        f'Rule (fixed before training): for each ID label, the {choice["per_label"]} non-ID '
        'vocabulary words whose learned text embeddings have the highest cosine similarity; '
        'their union. The embeddings were learned from images, so close embeddings mean objects '
        'that look alike ("visually similar"); ID labels are excluded and the vocabulary has no '
        'synonym of one ("semantically different"). No OOD test image was used.',
        '',
        '| negative | nearest ID label | cosine |',
        '|---|---|---|',
    ]
    for word, (label, cos) in choice['nearest'].items():
        lines.append(f'| {word} | {label} | {cos:.3f} |')
    lines += [
        '',
        'Honest caveat: the known near-OOD categories are in the vocabulary and can be (and '
        'some are) negatives, as in reality an LLM\'s negatives for "car" include "van", which '
        'COCO-OOD images contain. The held-out categories (`ood_near_unseen`, `ood_far_unseen`) '
        'can never be negatives; benchmarks report both.',
        '',
        '## Limits',
        '',
        '- Trained only on a random procedural world: flat-shaded sprites on synthetic streets. '
        'It will not detect anything useful in real camera images.',
        '- Closed vocabulary: any label outside the vocabulary file is an error (no text tower).',
        f'- Small and briefly trained ({facts["train_minutes"]:.0f} minutes on 2 CPU cores, '
        f'{facts["images_seen"]} images): recall on small, thin, occluded or truncated objects '
        'is limited; see the per-class APs above.',
        f'- Input {cfg["imgsz"]} px: larger images are downscaled by the letterbox.',
        '',
    ]
    path = directory / CARD_FILE
    path.write_text('\n'.join(lines), encoding='utf-8')
    (directory / TRAINING_FILE).write_text(json.dumps(facts, indent=1, default=_json) + '\n',
                                           encoding='utf-8')
    return path


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f'not JSON serialisable: {type(value).__name__}')
