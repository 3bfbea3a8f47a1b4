"""`negas-ros bdd100k-to-bag`: BDD100K images or videos (+ det_20 labels) to a rosbag2."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import sys
import time

__all__ = ['register']

_log = logging.getLogger('negas_ros.bdd100k_to_bag')


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        'bdd100k-to-bag', help='convert BDD100K images or videos (+ labels) to a rosbag2',
        description='Convert BDD100K images (JPEG bytes passed through) or videos (read with '
                    'OpenCV) and optional det_20 labels into a rosbag2: frames on '
                    '/image/compressed (or /image with --raw), ground truth as '
                    'vision_msgs/Detection2DArray on /ground_truth. Every input problem is '
                    'reported with its file and frame before anything is written; the bag '
                    'appears only when complete.')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--images', type=Path, metavar='DIR',
                        help='folder of .jpg/.png frames')
    source.add_argument('--videos', type=Path, metavar='DIR',
                        help='folder of .mov/.mp4/.avi/.mkv videos')
    parser.add_argument('--labels', type=Path, metavar='JSON',
                        help='det_20 label JSON (with --images; frames follow its order), or '
                             'for --videos a box_track_20 folder of <video>.json or one JSON '
                             '(frames matched by videoName + frameIndex at --fps)')
    parser.add_argument('--out', type=Path, required=True, metavar='BAG',
                        help='rosbag2 folder to create')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                        help='storage plugin (default: mcap)')
    parser.add_argument('--raw', action='store_true',
                        help='write decoded sensor_msgs/Image (bgr8) instead of CompressedImage')
    parser.add_argument('--image-topic', metavar='TOPIC',
                        help='frame topic (default: /image/compressed, or /image with --raw)')
    parser.add_argument('--gt-topic', default='/ground_truth', metavar='TOPIC',
                        help='ground-truth topic (default: /ground_truth)')
    parser.add_argument('--frame-id', default='camera', help='header frame_id (default: camera)')
    parser.add_argument('--rate', type=float, default=10.0, metavar='HZ',
                        help='frame rate for --images when the labels have no increasing '
                             'timestamps (default: 10)')
    parser.add_argument('--fps', type=float, metavar='HZ',
                        help='for --videos: keep the frames nearest to this rate (default: all)')
    parser.add_argument('--start-time', type=float, metavar='SEC',
                        help='stamp of the first frame, seconds since the epoch (default: now)')
    parser.add_argument('--jpeg-quality', type=int, default=95, metavar='Q',
                        help='JPEG quality for video frames (default: 95)')
    parser.add_argument('--on-bad-box', choices=('error', 'clip', 'skip'), default='error',
                        help='a box outside the image: stop with an error (default), clip it '
                             'to the image, or leave it out')
    parser.add_argument('--limit', type=int, metavar='N', help='convert the first N frames only')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing bag at --out (once the new one is complete)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negas_ros.bag.bdd100k import ImageFolderSequence, VideoFolderSequence
    from negas_ros.bag.convert import convert_to_bag

    if args.fps is not None and args.images is not None:
        raise ValueError('--fps applies to --videos; for --images use --rate')
    start_ns = round((time.time() if args.start_time is None else args.start_time) * 1e9)
    if start_ns < 0:
        raise ValueError('--start-time must be >= 0')
    sequence: ImageFolderSequence | VideoFolderSequence
    if args.images is not None:
        sequence = ImageFolderSequence(
            args.images, args.labels, rate_hz=args.rate, start_ns=start_ns,
            frame_id=args.frame_id, bad_box=args.on_bad_box, limit=args.limit)
    else:
        sequence = VideoFolderSequence(
            args.videos, args.labels, fps=args.fps, start_ns=start_ns, frame_id=args.frame_id,
            bad_box=args.on_bad_box, limit=args.limit)
    report = convert_to_bag(
        sequence, args.out, storage=args.storage, raw=args.raw, image_topic=args.image_topic,
        gt_topic=args.gt_topic, jpeg_quality=args.jpeg_quality, overwrite=args.overwrite,
        progress=not args.no_progress)
    print(f'wrote {report.path}: {report.frames} frames, {report.ground_truth} ground-truth '
          f'messages ({report.boxes} boxes) in {report.seconds:.1f} s', file=sys.stderr)
    return 0
