"""From a finished training run to a shipped model: files, metrics, model card.

:func:`release` writes the model directory (:mod:`negas_ros.train.export`) and the ablation
label file of the learned-embedding rule (:mod:`negas_ros.train.negatives`), then measures the
written model *through the backend* (loaded strictly from the directory, with its text model
and projection), so that the card's numbers are those of the files a user gets.
"""

from __future__ import annotations

from collections.abc import Callable
import hashlib
from pathlib import Path
import time
from typing import Any

from negas_ros.train.evaluate import MapResult, evaluate_backend
from negas_ros.train.export import (
    WEIGHTS_FILE,
    write_label_file,
    write_model_card_md,
    write_model_dir,
)
from negas_ros.train.negatives import choose_negatives
from negas_ros.train.trainer import TrainResult

__all__ = ['release', 'world_source_hash']


def world_source_hash() -> str:
    """sha256 (first 16 hex digits) of the world's source files, which define its scenes."""
    import negas_ros.world as world

    digest = hashlib.sha256()
    for path in sorted(Path(world.__file__).parent.glob('*.py')):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def release(
    result: TrainResult,
    out_dir: Path,
    labels_path: Path,
    eval_images: int = 300,
    per_label: int = 2,
    model_dir_name: str = 'negas_ros/models/negas_mini',
    world_hash: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write everything and return the facts written to the card (training.json).

    labels_path: where the learned-embedding-rule ablation list goes (per_label negatives per
    ID label). The card's metrics: pretrain_val with every category name, id_val and id_test
    with the ID labels (reported, never used for a choice).
    """
    import numpy as np
    import torch

    from negas_ros.backends.yolo_world import YoloWorldBackend, load_model_card
    from negas_ros.world import ID_LABELS, UNSEEN

    start = time.monotonic()
    cfg = result.config
    bank = result.bank
    projection = result.projection.matrix()
    phrases = bank.bare_phrases()
    index = {t: i for i, t in enumerate(bank.texts)}
    raw = bank.raw[[index[p] for p in phrases]]
    projected = raw @ projection.T
    table = projected / np.linalg.norm(projected, axis=1, keepdims=True)
    write_model_dir(out_dir, result.net, projection, phrases, table, cfg.imgsz, cfg.text_model,
                    source=f'{cfg.text_model} + learned projection of {model_dir_name} '
                           '(negas_ros.train)')
    words = bank.categories
    names = table[[phrases.index(w) for w in words]]
    choice = choose_negatives(words, names, ID_LABELS, per_label=per_label)
    write_label_file(labels_path, ID_LABELS, choice, model_dir_name)

    backend = YoloWorldBackend.from_card(load_model_card(str(out_dir)))
    rows = []
    runs: list[tuple[str, str, tuple[str, ...]]] = [
        ('pretrain_val', 'every category name', tuple(words)),
        ('id_val', 'ID labels', tuple(ID_LABELS)),
        ('id_test', 'ID labels', tuple(ID_LABELS)),
    ]
    for split, what, labels in runs:
        res: MapResult
        res, _ = evaluate_backend(backend, cfg.world_seed, split, range(eval_images), labels)
        rows.append({'set': split, 'labels': what, 'images': res.images, 'map50': res.map50,
                     'map': res.map, 'boxes': res.boxes, 'per_class_ap50': res.per_class_ap50})
        if log:
            log(f'{split} ({what}): mAP50 {res.map50:.3f}, mAP {res.map:.3f} on {res.images} '
                'images')
    net_cfg = result.net.config
    facts: dict[str, Any] = {
        'config': cfg.to_dict(),
        'network': {'widths': list(net_cfg.widths), 'neck_depth': net_cfg.neck_depth,
                    'backbone_depths': list(net_cfg.backbone_depths),
                    'attn_heads': list(net_cfg.attn_heads), 'embed_dim': net_cfg.embed_dim,
                    'params_m': sum(p.numel() for p in result.net.parameters()) / 1e6},
        'vocabulary': list(words),
        'unseen': list(UNSEEN),
        'text': bank.describe(),
        'world_hash': world_hash or world_source_hash(),
        'torch': result.machine.get('torch', torch.__version__),
        'trained_on': result.machine or {'device': 'cpu', 'device_name': 'cpu'},
        'steps_done': result.steps_done,
        'images_seen': result.steps_done * cfg.batch,
        'stopped_early': result.stopped_early,
        'train_minutes': result.seconds / 60,
        'eval_minutes': (time.monotonic() - start) / 60,
        'weights_mb': (out_dir / WEIGHTS_FILE).stat().st_size / 1e6,
        'metrics': rows,
        'validations': result.validations,
        'history': result.history,
        'learned_rule_negatives': {
            'file': str(labels_path.name), 'per_label': choice.per_label,
            'negatives': list(choice.negatives),
            'nearest': {w: [lab, c] for w, (lab, c) in choice.nearest.items()},
            'ranking': choice.ranking},
    }
    facts['eval_minutes'] = (time.monotonic() - start) / 60
    write_model_card_md(out_dir, facts)
    return facts
