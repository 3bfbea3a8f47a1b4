"""`negas-ros text-embeddings`: the offline vocabulary file of a yolo_world parameter set."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ['register']


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        'text-embeddings', help='write the CLIP embeddings of the labels to a .npz (yolo_world)',
        description='Encode the ID and negative prompts of a node parameters file (plus any '
                    "extra label files) with the model card's CLIP text tower and write them to "
                    'a .npz. Put it in the card as text_embeddings (and text_model: null) so '
                    'that the robot runs without the text tower.')
    parser.add_argument('--params', type=Path, required=True, metavar='YAML',
                        help='node parameters file with backend: yolo_world')
    parser.add_argument('--out', type=Path, required=True, metavar='FILE.npz')
    parser.add_argument('--labels-file', type=Path, action='append', default=[], metavar='YAML',
                        help='more label files to include (repeatable), e.g. other label sets '
                             'the robot may switch to at run time')
    parser.add_argument('--text-model', metavar='ID_OR_DIR',
                        help="text tower (default: the model card's text_model)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negas_ros.backends.yolo_world import load_model_card, save_text_embeddings
    from negas_ros.backends.yolo_world.text import ClipTextEncoder
    from negas_ros.config import config_from_values, load_params_file
    from negas_ros.labels import load_labels
    from negas_ros.package_paths import share_dir

    share = share_dir()
    config = config_from_values(load_params_file(args.params, share_dir=share), share_dir=share)
    if config.backend != 'yolo_world':
        raise ValueError(f"{args.params}: backend is '{config.backend}', not 'yolo_world'")
    text_model = args.text_model or load_model_card(config.model).text_model
    if not text_model:
        raise ValueError('the model card has no text_model; pass --text-model')
    prompts = list(config.labels.id_prompts()) + list(config.labels.negative_prompts())
    for path in args.labels_file:
        extra = load_labels(path)
        prompts += list(extra.id_prompts()) + list(extra.negative_prompts())
    prompts = list(dict.fromkeys(prompts))
    vectors = ClipTextEncoder(text_model).encode(prompts)
    out = save_text_embeddings(args.out, prompts, vectors, source=text_model)
    print(f'wrote {out}: {len(prompts)} labels, {vectors.shape[1]}-d, from {text_model}')
    return 0
