"""`negas-ros negatives`: generate negative labels (llm, wordnet, random) or check a label file.

    negas-ros negatives generate --method llm|wordnet|random --id-labels FILE --out FILE
        [--count N] [--seed S] [--explain] ...
    negas-ros negatives check FILE
    negas-ros negatives prune --labels FILE --out FILE --model MODEL
        (--images DIR | --world-split id_val) [--max-response R] ...

The LLM's API key is read from the environment only (OPENAI_API_KEY, or the variable named by
--llm-key-env), never from an option or a file. docs/negative-labels.md has the details.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
import shlex
import sys
from typing import Any

__all__ = ['register']

_LOG = logging.getLogger('negas_ros.negatives')


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        'negatives',
        help='generate or check negative labels',
        description='Negative labels for NegAS: visually similar, semantically different.',
    )
    commands = parser.add_subparsers(dest='negatives_command', metavar='ACTION')
    commands.required = True

    gen = commands.add_parser(
        'generate',
        help='write a labels YAML with generated negative labels',
        description='Generate negative labels and write a labels YAML the node loads.',
    )
    gen.add_argument('--method', required=True, choices=['llm', 'wordnet', 'random'])
    gen.add_argument(
        '--id-labels',
        required=True,
        metavar='FILE',
        help='labels YAML (its id_labels) or text file, one label per line',
    )
    gen.add_argument('--out', required=True, metavar='FILE', help='labels YAML to write')
    gen.add_argument(
        '--count',
        type=int,
        default=5,
        metavar='N',
        help='negatives per ID label (random: N x number of ID labels); default 5',
    )
    gen.add_argument('--seed', type=int, default=0, help='random method seed (default 0)')
    gen.add_argument(
        '--explain',
        action='store_true',
        help='print why each candidate was kept or dropped and write them to '
        'OUT.explain.tsv (or --explain-file)',
    )
    gen.add_argument('--explain-file', metavar='PATH', help='where --explain writes its TSV')
    filt = gen.add_argument_group('filter (all methods)')
    filt.add_argument(
        '--max-words', type=int, default=3, help='longest label in words (default 3)'
    )
    filt.add_argument(
        '--max-chars', type=int, default=32, help='longest label in characters (default 32)'
    )
    filt.add_argument(
        '--allow-shared-words',
        action='store_true',
        help="keep negatives sharing a word with an ID label ('toy car')",
    )
    filt.add_argument(
        '--drop-unknown',
        action='store_true',
        help='drop LLM candidates WordNet does not know (default: keep)',
    )
    filt.add_argument(
        '--wordnet-dir',
        metavar='DIR',
        help='WordNet 3.0 dict directory (default $NEGAS_WORDNET_DIR or /usr/share/wordnet)',
    )
    llm = gen.add_argument_group('llm method')
    llm.add_argument(
        '--llm-url',
        metavar='URL',
        help='OpenAI-compatible API base, e.g. https://api.openai.com/v1',
    )
    llm.add_argument('--llm-model', metavar='NAME', help='model name')
    llm.add_argument(
        '--llm-key-env',
        metavar='VAR',
        help='environment variable holding the API key (default OPENAI_API_KEY; '
        'unset: no Authorization header, for local servers)',
    )
    llm.add_argument(
        '--cache',
        metavar='DIR',
        help='answer cache; a rerun with it is reproducible without the server',
    )
    llm.add_argument(
        '--llm-ask',
        type=int,
        metavar='N',
        help='negatives to ask for per ID label (default 2 x --count)',
    )
    llm.add_argument(
        '--llm-timeout',
        type=float,
        default=60.0,
        metavar='S',
        help='seconds per request (default 60)',
    )
    llm.add_argument(
        '--llm-attempts',
        type=int,
        default=6,
        metavar='N',
        help='requests per ID label before giving up (default 6)',
    )
    mine = gen.add_argument_group('wordnet method')
    mine.add_argument(
        '--encoder',
        metavar='MODEL',
        help='rank with this text encoder: a hub id or directory (CLIP, Grounding DINO, BERT, '
        'all-MiniLM-L6-v2), or a yolo_world model (directory or embedded name such as '
        'negas_mini: its text model and learned projection); default: WordNet Wu-Palmer '
        'similarity, offline',
    )
    mine.add_argument('--device', default='cpu', help='torch device for --encoder')
    mine.add_argument(
        '--rank-text',
        choices=('name', 'gloss'),
        default='name',
        help="what --encoder reads: 'name' the label in the prompt template (default), "
        "'gloss' the label followed by its WordNet definition (ID labels: of their ranking "
        'sense)',
    )
    mine.add_argument(
        '--id-sense',
        action='append',
        default=[],
        metavar='LABEL=SYNSET',
        help='rank LABEL against this WordNet sense, e.g. mouse=mouse.n.04 (repeatable)',
    )
    mine.add_argument(
        '--band',
        nargs=2,
        type=float,
        default=(0.90, 0.9995),
        metavar=('QLOW', 'QHIGH'),
        help='similarity band as quantiles per ID label (default 0.90 0.9995)',
    )
    mine.add_argument('--floor', type=float, help='absolute similarity floor (overrides QLOW)')
    mine.add_argument(
        '--ceiling', type=float, help='absolute similarity ceiling (overrides QHIGH)'
    )
    mine.add_argument(
        '--pool-max-words', type=int, default=2, help='longest mined lemma in words (default 2)'
    )
    mine.add_argument(
        '--min-common-depth',
        type=int,
        default=6,
        help='Wu-Palmer ranking: least depth of the shared hypernym (default 6)',
    )
    gen.set_defaults(func=_generate)

    check = commands.add_parser(
        'check',
        help='run the negative-label filter over an existing labels YAML',
        description='Report negative labels that the filter would drop (exit 1 if any).',
    )
    check.add_argument('labels', metavar='FILE', help='labels YAML')
    check.add_argument('--allow-shared-words', action='store_true')
    check.add_argument('--wordnet-dir', metavar='DIR')
    check.set_defaults(func=_check)

    prune = commands.add_parser(
        'prune',
        help='drop negatives the detector answers on ID objects (no OOD image needed)',
        description='Run the detector on ID images with the ID labels and the negatives of a '
                    "label file, measure each negative's response on the ID detections (the "
                    '--quantile of its sigmoid) and keep the negatives whose response is at most '
                    '--max-response. Such negatives lower NegS on real ID objects. Rule and why: '
                    'negas_ros/negatives/prune.py.',
    )
    prune.add_argument('--labels', required=True, metavar='FILE', help='labels YAML to prune')
    prune.add_argument('--out', required=True, metavar='FILE', help='labels YAML to write')
    prune.add_argument('--backend', default='yolo_world', help='detector backend (default '
                       'yolo_world)')
    prune.add_argument('--model', default='negas_mini', help='model as the node takes it '
                       '(default: the embedded negas_mini)')
    prune.add_argument('--device', default='cpu')
    source = prune.add_mutually_exclusive_group(required=True)
    source.add_argument('--images', metavar='DIR', help='a folder of ID images (.png, .jpg): '
                        'frames of your own ID classes, no labels needed')
    source.add_argument('--world-split', metavar='SPLIT', help="a split of the procedural "
                        "world holding ID objects only (e.g. 'id_val'; never a test split)")
    prune.add_argument('--world-images', type=int, default=200, metavar='N',
                       help='world images to render (default 200)')
    prune.add_argument('--world-seed', type=int, default=0, metavar='S')
    prune.add_argument('--min-confidence', type=float, default=0.25, metavar='P',
                       help='detections with best ID sigmoid >= P are the ID samples '
                            '(default 0.25)')
    prune.add_argument('--quantile', type=float, default=0.95, metavar='Q',
                       help="response = this quantile of a negative's sigmoid over the ID "
                            'samples (default 0.95)')
    prune.add_argument('--max-response', type=float, default=0.1, metavar='R',
                       help='keep negatives whose response is <= R (default 0.1)')
    prune.set_defaults(func=_prune)


def _generate(args: argparse.Namespace) -> int:
    from negas_ros.negatives.filtering import NegativeFilter
    from negas_ros.negatives.generate import generate_llm, generate_random, generate_wordnet
    from negas_ros.negatives.output import (
        read_id_labels,
        write_explain,
        write_labels_yaml,
    )
    from negas_ros.negatives.wordnet import load_wordnet

    if args.count < 1:
        raise ValueError(f'--count must be >= 1, got {args.count}')
    if args.rank_text != 'name' and args.method != 'wordnet':
        raise ValueError(
            f'--rank-text ranks WordNet candidates; --method {args.method} ranks none'
        )
    ids = read_id_labels(args.id_labels)
    wordnet = load_wordnet(args.wordnet_dir)
    nfilter = NegativeFilter(
        ids.labels,
        wordnet,
        max_words=args.max_words,
        max_chars=args.max_chars,
        allow_shared_words=args.allow_shared_words,
        keep_unknown=not args.drop_unknown,
    )
    for label, head in nfilter.id_fallback.items():
        _LOG.info('ID label %r is not in WordNet; checked as its head noun %r', label, head)
    if args.method == 'llm':
        result = generate_llm(ids.labels, _llm_client(args), nfilter, args.count, args.llm_ask)
    elif args.method == 'wordnet':
        from negas_ros.negatives.mining import Band, WordNetSimilarity, ranking_senses

        if args.rank_text != 'name' and not args.encoder:
            raise ValueError('--rank-text gloss needs --encoder (Wu-Palmer ranking reads no text)')
        overrides = dict(_pair(text) for text in args.id_sense)
        senses = ranking_senses(nfilter, overrides)
        similarity: Any
        if args.encoder:
            from negas_ros.negatives.encoders import EncoderSimilarity, load_ranking_encoder

            encoder = load_ranking_encoder(args.encoder, device=args.device)
            similarity = EncoderSimilarity(
                encoder,
                ids.template or '{}',
                rank_text=args.rank_text,
                wordnet=wordnet,
                id_senses=senses,
            )
        else:
            similarity = WordNetSimilarity(wordnet, senses, args.min_common_depth)
        band = Band(args.band[0], args.band[1], args.floor, args.ceiling)
        result = generate_wordnet(
            ids.labels,
            nfilter,
            similarity,
            args.count,
            band=band,
            senses=senses if not args.encoder or args.rank_text == 'gloss' else None,
            max_words=args.pool_max_words,
        )
    else:
        result = generate_random(
            ids.labels, nfilter, args.count, args.seed, max_words=args.pool_max_words
        )
    command = _command_line(args)
    result.provenance['command'] = command
    header = (
        f'Generated by negas-ros negatives generate ({args.method}); do not edit by hand:\n'
        f'regenerate with\n  {command}\n'
        'Provenance at the end; filter rules and ranking in docs/negative-labels.md.'
    )
    write_labels_yaml(
        args.out,
        ids.labels,
        result.by_id_label,
        result.provenance,
        template=ids.template,
        header=header,
    )
    if args.explain:
        explain_path = args.explain_file or f'{args.out}.explain.tsv'
        write_explain(explain_path, result.decisions)
        _print_explain(result.decisions)
        print(f'explanations: {explain_path}')
    print(
        f'wrote {args.out}: {len(result.negatives)} negative labels for '
        f'{len(ids.labels)} ID labels ({args.method})'
    )
    return 0


def _llm_client(args: argparse.Namespace) -> Any:
    from negas_ros.negatives.llm import LLMClient

    if not args.llm_url or not args.llm_model:
        raise ValueError('--method llm needs --llm-url and --llm-model')
    key_env = args.llm_key_env or 'OPENAI_API_KEY'
    api_key = os.environ.get(key_env) or None
    if api_key is None:
        if args.llm_key_env:
            raise ValueError(f'--llm-key-env {key_env}: that environment variable is not set')
        _LOG.info('OPENAI_API_KEY is not set: sending no Authorization header')
    return LLMClient(
        args.llm_url,
        args.llm_model,
        api_key,
        timeout=args.llm_timeout,
        max_attempts=args.llm_attempts,
        cache_dir=args.cache,
    )


def _pair(text: str) -> tuple[str, str]:
    label, sep, synset = text.partition('=')
    if not sep or not label.strip() or not synset.strip():
        raise ValueError(f'--id-sense takes LABEL=SYNSET (e.g. mouse=mouse.n.04), got {text!r}')
    return label.strip(), synset.strip()


def _command_line(args: argparse.Namespace) -> str:
    """The command that remakes the output, with the options that matter (no secrets: the
    key is never an option; the URL is redacted)."""
    from negas_ros.negatives.llm import redact_url

    parts = [
        'negas-ros',
        'negatives',
        'generate',
        '--method',
        args.method,
        '--id-labels',
        args.id_labels,
        '--out',
        args.out,
        '--count',
        str(args.count),
    ]
    if args.method == 'random':
        parts += ['--seed', str(args.seed)]
    if args.method == 'llm':
        parts += ['--llm-url', redact_url(args.llm_url), '--llm-model', args.llm_model]
        if args.llm_key_env:
            parts += ['--llm-key-env', args.llm_key_env]
        if args.llm_ask:
            parts += ['--llm-ask', str(args.llm_ask)]
        if args.cache:
            parts += ['--cache', args.cache]
    if args.method == 'wordnet':
        if args.encoder:
            parts += ['--encoder', args.encoder]
            if args.rank_text != 'name':
                parts += ['--rank-text', args.rank_text]
        for pair in args.id_sense:
            parts += ['--id-sense', pair]
        if tuple(args.band) != (0.90, 0.9995):
            parts += ['--band', *(str(q) for q in args.band)]
        for name in ('floor', 'ceiling'):
            if getattr(args, name) is not None:
                parts += [f'--{name}', str(getattr(args, name))]
        if args.min_common_depth != 6:
            parts += ['--min-common-depth', str(args.min_common_depth)]
    if args.method != 'llm' and args.pool_max_words != 2:
        parts += ['--pool-max-words', str(args.pool_max_words)]
    if args.max_words != 3:
        parts += ['--max-words', str(args.max_words)]
    if args.max_chars != 32:
        parts += ['--max-chars', str(args.max_chars)]
    if args.allow_shared_words:
        parts.append('--allow-shared-words')
    if args.drop_unknown:
        parts.append('--drop-unknown')
    return ' '.join(shlex.quote(p) for p in parts)


def _print_explain(decisions: Any) -> None:
    width = max((len(d.label) for d in decisions), default=10)
    for d in decisions:
        score = '' if d.score is None else f' {d.score:.3f}'
        source = f' [{d.source}]' if d.source else ''
        mark = '+' if d.kept else '-'
        print(f'{mark} {d.label:<{width}} {d.reason:<13}{score}{source} {d.detail}')


def _check(args: argparse.Namespace) -> int:
    from negas_ros.labels import load_labels
    from negas_ros.negatives.filtering import NegativeFilter
    from negas_ros.negatives.wordnet import load_wordnet

    label_set = load_labels(args.labels)
    nfilter = NegativeFilter(
        label_set.id_labels,
        load_wordnet(args.wordnet_dir),
        allow_shared_words=args.allow_shared_words,
        max_words=99,
        max_chars=999,
    )
    _, decisions = nfilter.select((n, None, None) for n in label_set.negative_labels)
    dropped = [d for d in decisions if not d.kept]
    for d in dropped:
        print(f'{Path(args.labels).name}: {d.label!r}: {d.reason}: {d.detail}')
    print(
        f'{len(dropped)} of {len(decisions)} negative labels would be dropped',
        file=sys.stderr if dropped else sys.stdout,
    )
    return 1 if dropped else 0


def _id_images(args: argparse.Namespace) -> list[Any]:
    """The ID images of ``prune`` as RGB arrays."""
    import numpy as np

    if args.world_split is not None:
        from negas_ros.world import SPLITS, World

        spec = SPLITS.get(args.world_split)
        if spec is None:
            raise ValueError(f'--world-split {args.world_split!r} is not a world split')
        if args.world_split.endswith('_test') or 'test' in args.world_split:
            raise ValueError(f'--world-split {args.world_split}: never tune on a test split')
        world = World(args.world_seed)
        return [world.render(args.world_split, i).image for i in range(args.world_images)]
    import cv2

    folder = Path(args.images)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in ('.png', '.jpg',
                                                                        '.jpeg'))
    if not files:
        raise ValueError(f'--images {folder}: no .png or .jpg file there')
    images = []
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            _LOG.warning('%s: not a readable image, skipped', path)
            continue
        images.append(np.ascontiguousarray(bgr[:, :, ::-1]))
    return images


def _prune(args: argparse.Namespace) -> int:
    import hashlib

    import yaml

    from negas_ros.backends.base import BackendSpec, create_backend
    from negas_ros.labels import load_labels
    from negas_ros.models import resolve_model
    from negas_ros.negatives.output import (
        generation_date,
        read_negative_groups,
        write_labels_yaml,
    )
    from negas_ros.negatives.prune import id_responses, prune_negatives

    labels = load_labels(args.labels)
    if not labels.negative_labels:
        raise ValueError(f'{args.labels}: no negative_labels to prune')
    images = _id_images(args)
    backend = create_backend(args.backend, BackendSpec(resolve_model(args.model), args.device))
    ids, negs = labels.id_prompts(), labels.negative_prompts()
    backend.set_labels(list(ids), list(negs), nega=False)
    raws = [backend.infer(image, args.min_confidence) for image in images]
    values, samples = id_responses(raws, negs, args.min_confidence, args.quantile)
    result = prune_negatives(labels.negative_labels, values, args.max_response, samples)
    groups = read_negative_groups(args.labels)
    kept = set(result.kept)
    by_id = {key: [w for w in words if w in kept] for key, words in groups.items()}
    digest = hashlib.sha256(Path(args.labels).read_bytes()).hexdigest()[:16]
    with open(args.labels, encoding='utf-8') as stream:
        source_data = yaml.safe_load(stream)
    source_provenance = source_data.get('provenance') if isinstance(source_data, dict) else None
    command = ' '.join(shlex.quote(p) for p in _prune_command(args))
    provenance: dict[str, object] = {
        'method': "pruned by the detector's response on ID images",
        'tool': 'negas-ros negatives prune',
        'date': generation_date(),
        'notes': 'Negatives whose response on ID detections (the quantile of their sigmoid) '
                 'exceeds max_response were dropped: the detector answers them on ID objects, '
                 'so they would lower NegS on ID detections (negas_ros/negatives/prune.py).',
        'source': {'file': args.labels, 'sha256': digest,
                   'method': (source_provenance or {}).get('method')},
        'model': args.model,
        'images': (f'world {args.world_split} 0..{args.world_images - 1} (seed '
                   f'{args.world_seed})' if args.world_split else str(args.images)),
        'parameters': {'min_confidence': args.min_confidence, 'quantile': args.quantile,
                       'max_response': args.max_response, 'id_samples': samples},
        'dropped': {w: round(result.response[w], 4) for w in result.dropped},
        'kept_response': {w: round(result.response[w], 4) for w in result.kept},
        'command': command,
    }
    header = ('Pruned by negas-ros negatives prune; do not edit by hand: regenerate with\n'
              f'  {command}')
    write_labels_yaml(args.out, labels.id_labels, by_id, provenance,
                      template=labels.prompt_template if labels.prompt_template != '{}' else None,
                      header=header)
    print(f'wrote {args.out}: kept {len(result.kept)} of {len(labels.negative_labels)} '
          f'negatives (response on {samples} ID detections <= {args.max_response:g})')
    return 0


def _prune_command(args: argparse.Namespace) -> list[str]:
    parts = ['negas-ros', 'negatives', 'prune', '--labels', args.labels, '--out', args.out,
             '--backend', args.backend, '--model', args.model]
    if args.world_split:
        parts += ['--world-split', args.world_split, '--world-images', str(args.world_images),
                  '--world-seed', str(args.world_seed)]
    else:
        parts += ['--images', args.images]
    parts += ['--min-confidence', f'{args.min_confidence:g}', '--quantile',
              f'{args.quantile:g}', '--max-response', f'{args.max_response:g}']
    return parts
