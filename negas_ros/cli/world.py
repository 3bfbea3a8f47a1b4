"""`negas-ros world`: the procedural street world (export splits, contact sheet, info, speed)."""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ['parse_size', 'register']


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (W, H)."""
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must look like 320x320, got {text!r}') from None
    return width, height


def _add_export_options(parser: argparse.ArgumentParser, items: str, item: str) -> None:
    """The options `export` and `export-video` share."""
    parser.add_argument('--split', required=True, help='split name (see `negas-ros world info`)')
    parser.add_argument('--count', type=int, required=True, metavar='N', help=f'{items} to write')
    parser.add_argument('--out', required=True, metavar='DIR', help='output folder')
    parser.add_argument('--size', type=parse_size, default=(320, 320), metavar='WxH',
                        help='image size (default: 320x320)')
    parser.add_argument('--seed', type=int, default=0, help='world seed (default: 0)')
    parser.add_argument('--start', type=int, default=0, metavar='I',
                        help=f'first {item} index (default: 0); shards use disjoint ranges')
    parser.add_argument('--jpeg-quality', type=int, default=95, metavar='Q',
                        help='JPEG quality (default: 95)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the outputs in a non-empty DIR')


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        'world', help='procedural street world: export splits, preview sheet',
        description='A seeded procedural street world (negas_ros.world): 23 object categories '
                    '(BDD100K-like ID classes, near-OOD twins, far-OOD, held-out), images with '
                    'det_20 labels and instance masks. `info` lists categories and splits.')
    actions = parser.add_subparsers(dest='world_action', metavar='ACTION')
    actions.required = True

    export = actions.add_parser(
        'export', help='render a split to JPEGs + det_20 labels.json + PNG instance maps',
        description='Write DIR/images/*.jpg, DIR/masks/*.png (uint16 instance maps), '
                    'DIR/labels.json (det_20) and DIR/world.json; DIR/images and '
                    'DIR/labels.json are what `negas-ros bdd100k-to-bag --images --labels` '
                    'reads.')
    _add_export_options(export, 'images', 'image')
    export.set_defaults(func=_export)

    videos = actions.add_parser(
        'export-video', help='render videos of a split: AVI + JPEG frames + tracking labels',
        description='Write videos of a split (moving camera and objects, track ids stable over '
                    "frames) as BDD100K's tracking set is laid out: DIR/videos/*.avi, "
                    'DIR/labels/<video>.json, DIR/images/*.jpg and DIR/labels.json. '
                    '`negas-ros bdd100k-to-bag --videos DIR/videos --labels DIR/labels` makes '
                    'a bag of them; `negas-ros evaluate --track` scores tracks on it.')
    _add_export_options(videos, 'videos', 'video')
    videos.add_argument('--frames', type=int, default=60, metavar='N',
                        help='frames per video (default: 60)')
    videos.add_argument('--fps', type=float, default=30.0, help='frame rate (default: 30)')
    videos.set_defaults(func=_export_videos)

    preview = actions.add_parser(
        'preview', help='contact sheet: one instance per category and scenes per split',
        description='Write a PNG contact sheet: every category (ID categories next to their '
                    'near-OOD twins) and a few scenes per split, with boxes and names.')
    preview.add_argument('--out', required=True, metavar='FILE.png', help='PNG to write')
    preview.add_argument('--seed', type=int, default=0, help='world seed (default: 0)')
    preview.add_argument('--cell', type=int, default=160, metavar='PX',
                         help='category cell size; the sheet is 6 cells wide (default: 160)')
    preview.add_argument('--scenes', type=int, default=2, metavar='K',
                         help='scenes per split (default: 2), 4 to a row')
    preview.add_argument('--splits', metavar='A,B,...', help='splits to show (default: all)')
    preview.add_argument('--full-colour', action='store_true',
                         help='24-bit PNG (default: 256-colour palette, 3-4x smaller)')
    preview.set_defaults(func=_preview)

    info = actions.add_parser('info', help='list categories, roles, twins and splits')
    info.add_argument('--similarity', action='store_true',
                      help='also measure each near-OOD twin distance against far-OOD (~2 s)')
    info.set_defaults(func=_info)

    bench = actions.add_parser('bench', help='measure rendering speed on one core')
    bench.add_argument('--count', type=int, default=200, metavar='N',
                       help='images per split (default: 200)')
    bench.add_argument('--size', type=parse_size, default=(320, 320), metavar='WxH',
                       help='image size (default: 320x320)')
    bench.add_argument('--splits', default='pretrain,id_test,ood_near,ood_far,mixed_test',
                       metavar='A,B,...', help='splits to time')
    bench.set_defaults(func=_bench)


def _export(args: argparse.Namespace) -> int:
    from negas_ros.world import export_split

    result = export_split(args.split, args.count, args.out, seed=args.seed, size=args.size,
                          start=args.start, jpeg_quality=args.jpeg_quality,
                          overwrite=args.overwrite)
    print(f"wrote {result['images']} images ({result['objects']} objects) and "
          f"{result['labels']} in {result['seconds']:.1f} s", file=sys.stderr)
    return 0


def _export_videos(args: argparse.Namespace) -> int:
    from negas_ros.world import export_videos

    result = export_videos(args.split, args.count, args.out, frames=args.frames, seed=args.seed,
                           size=args.size, fps=args.fps, start=args.start,
                           jpeg_quality=args.jpeg_quality, overwrite=args.overwrite)
    print(f"wrote {result['videos']} videos ({result['images']} frames, {result['tracks']} "
          f"tracks, {result['objects']} labels) and {result['labels']} in "
          f"{result['seconds']:.1f} s", file=sys.stderr)
    return 0


def _preview(args: argparse.Namespace) -> int:
    from negas_ros.world import World, preview_sheet
    from negas_ros.world.export import write_png

    if args.cell < 64 or args.scenes < 1:
        raise ValueError('--cell must be >= 64 and --scenes >= 1')
    splits = None if args.splits is None else [s.strip() for s in args.splits.split(',')]
    sheet = preview_sheet(World(args.seed), cell=args.cell, scenes_per_split=args.scenes,
                          splits=splits)
    write_png(args.out, sheet, palette=not args.full_colour)
    print(f'wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})', file=sys.stderr)
    return 0


def _info(args: argparse.Namespace) -> int:
    from negas_ros.world import CATEGORIES, SPLITS

    print(f'{"category":14s} {"role":5s} {"seen":5s} {"twin":14s} look')
    for c in CATEGORIES:
        print(f'{c.name:14s} {c.role:5s} {"yes" if c.seen else "no":5s} {c.twin or "-":14s} '
              f'{c.look}')
    print()
    for spec in SPLITS.values():
        print(f'{spec.name:16s} {spec.min_objects}-{spec.max_objects} objects from '
              f'{len(spec.categories)} categories: {spec.purpose}')
    if args.similarity:
        from negas_ros.world.similarity import category_distances, twin_margins

        names, distances = category_distances()
        print(f'\n{"near-OOD":12s} {"ID twin":14s} {"to twin":>8s} {"nearest far-OOD":>24s}')
        for m in twin_margins(names, distances):
            print(f'{m.category:12s} {m.twin:14s} {m.to_twin:8.2f} '
                  f'{m.nearest_far_category:>15s} {m.nearest_far:8.2f}')
    return 0


def _bench(args: argparse.Namespace) -> int:
    import cv2

    from negas_ros.world import World

    cv2.setNumThreads(1)  # one core, as the speed target is stated
    world = World(0)
    for split in args.splits.split(','):
        world.render(split, 10**6, args.size)  # warm-up outside the timing
        wall, cpu = time.perf_counter(), time.process_time()
        for index in range(args.count):
            world.render(split, index, args.size)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        # CPU time is what one core spends; wall time also counts waits for a busy machine.
        print(f'{split:16s} {args.count / cpu:7.1f} images/s per core (CPU time), '
              f'{args.count / wall:7.1f} wall, at {args.size[0]}x{args.size[1]}')
    return 0
