"""`negas-ros play`: publish a rosbag2 into the live ROS graph (``ros2 bag play`` without ROS)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import signal
import sys
import threading

__all__ = ['register']

_log = logging.getLogger('negas_ros.play')


def _remap(text: str) -> tuple[str, str]:
    source, sep, target = text.partition(':=')
    if not sep or not source.strip() or not target.strip():
        raise argparse.ArgumentTypeError(f"expected FROM:=TO, got '{text}'")
    return source.strip(), target.strip()


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        'play', help='publish a rosbag2 into the live ROS graph',
        description='Publish the messages of a rosbag2 with rclpy, with the recorded timing '
                    'scaled by --rate; the stored CDR bytes are sent unchanged. Works where '
                    '`ros2 bag play` is missing; in a full ROS install both work.')
    parser.add_argument('bag', type=Path, metavar='BAG', help='rosbag2 folder (or .mcap/.db3)')
    parser.add_argument('--rate', '-r', type=float, default=1.0, metavar='R',
                        help='time factor: 2 plays twice as fast (default: 1)')
    parser.add_argument('--clock', type=float, nargs='?', const=40.0, metavar='HZ',
                        help='publish the bag time on /clock at HZ (default 40 when given) for '
                             'nodes with use_sim_time')
    parser.add_argument('--loop', '-l', action='store_true', help='replay until interrupted')
    parser.add_argument('--remap', type=_remap, nargs='+', action='extend', default=[],
                        metavar='FROM:=TO',
                        help='publish bag topic FROM on TO, e.g. '
                             '/image/compressed:=/camera/image_raw/compressed')
    parser.add_argument('--topics', nargs='+', default=[], metavar='TOPIC',
                        help='play only these bag topics (default: all)')
    parser.add_argument('--start-offset', type=float, default=0.0, metavar='SEC',
                        help='skip the first SEC seconds of the bag')
    parser.add_argument('--wait-for-subscribers', type=float, nargs='?', const=30.0,
                        default=0.0, metavar='SEC',
                        help='wait up to SEC (default 30 when given) until subscribers have '
                             'matched before playing, so that the first frames are not lost')
    parser.add_argument('--reliability', choices=('auto', 'reliable', 'best_effort'),
                        default='auto',
                        help='publisher reliability: as recorded, else reliable (auto, default)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    from negas_ros.bag.convert import normalize_topic
    from negas_ros.bag.player import PlayOptions, play_bag

    remap = {normalize_topic(a): normalize_topic(b) for a, b in args.remap}
    options = PlayOptions(
        rate=args.rate, clock_hz=args.clock, loop=args.loop, remap=remap,
        topics=[normalize_topic(t) for t in args.topics], start_offset_s=args.start_offset,
        wait_for_subscribers_s=args.wait_for_subscribers, reliability=args.reliability)
    stop = threading.Event()
    # Ctrl-C ends playback between messages and shuts rclpy down cleanly.
    rclpy.init(args=['negas-ros'], signal_handler_options=SignalHandlerOptions.NO)
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        published = play_bag(args.bag, options, progress=not args.no_progress,
                             should_stop=stop.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
        rclpy.try_shutdown()
    print(f'published {published} messages from {args.bag}'
          + (' (interrupted)' if stop.is_set() else ''), file=sys.stderr)
    return 130 if stop.is_set() else 0
