"""Publish a rosbag2 into the live ROS graph with rclpy (``ros2 bag play`` without rosbag2).

Messages are published as the serialised CDR bytes stored in the bag (rclpy publishes raw
bytes as they are), so nothing is converted and every message arrives exactly as recorded;
rclpy only needs the message class to create the publisher (imported from the type name, so
the type's package must be importable: vision_msgs and negas_ros after ``scripts/env.sh``).

Timing: message i goes out at ``wall_start + (t_i - t_0) / rate``, t = bag time. Header stamps
are not rewritten (as ``ros2 bag play``). With a clock rate, ``/clock`` carries the bag time at
that rate and right before each message, for nodes with ``use_sim_time``; on ``loop`` the
clock jumps back to the start, as ``ros2 bag play --loop --clock`` does.

QoS: the profile recorded in the bag for the topic (reliability, durability, depth) when
there is one, else reliable, volatile, keep last 10 (``ros2 bag play``'s default). A reliable
publisher serves reliable and best-effort (sensor-data) subscriptions alike, so the detector's
camera subscription matches. Camera-sized messages between processes need Fast DDS's
shared-memory profile (``config/fastdds_shm.xml``, set by scripts/env.sh and the launch file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
import importlib
import logging
from pathlib import Path
import time
from typing import Any

from negas_ros.bag.reader import open_bag

__all__ = ['PlayOptions', 'message_class', 'play_bag']

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlayOptions:
    """rate: time factor (> 0; 2 plays twice as fast). clock_hz: publish /clock at this rate
    (None: no clock). loop: start over at the end until interrupted. remap: bag topic ->
    published topic. topics: only these bag topics (empty: all). start_offset_s: skip the first
    seconds of the bag. wait_for_subscribers_s: before playing, wait up to this long until some
    publisher has a subscriber and every publisher has matched the subscriptions the graph
    shows on its topic (0: do not wait). reliability: 'auto' (recorded, else reliable),
    'reliable' or 'best_effort'. max_loops: stop after this many passes with loop (None: no
    limit)."""

    rate: float = 1.0
    clock_hz: float | None = None
    loop: bool = False
    remap: Mapping[str, str] = field(default_factory=dict)
    topics: Sequence[str] = ()
    start_offset_s: float = 0.0
    wait_for_subscribers_s: float = 0.0
    reliability: str = 'auto'
    max_loops: int | None = None

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f'rate must be > 0, got {self.rate}')
        if self.clock_hz is not None and not self.clock_hz > 0:
            raise ValueError(f'clock rate must be > 0 Hz, got {self.clock_hz}')
        if self.start_offset_s < 0:
            raise ValueError('start offset must be >= 0')
        if self.reliability not in ('auto', 'reliable', 'best_effort'):
            raise ValueError("reliability must be 'auto', 'reliable' or 'best_effort'")


def message_class(msgtype: str) -> Any:
    """The rclpy message class of ``pkg/msg/Name`` (ValueError when it is not importable)."""
    package, _, name = msgtype.partition('/msg/')
    try:
        return getattr(importlib.import_module(f'{package}.msg'), name)
    except (ImportError, AttributeError):
        raise ValueError(f'message type {msgtype} is not available to rclpy: build and source '
                         f'the package {package} (scripts/env.sh)') from None


def _qos(connection: Any, reliability: str) -> Any:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rosbags.interfaces import QosDurability, QosReliability

    profiles = list(getattr(connection.ext, 'offered_qos_profiles', []) or [])
    recorded = profiles[0] if profiles else None
    depth = recorded.depth if recorded is not None and recorded.depth > 0 else 10
    best_effort = (reliability == 'best_effort' or (
        reliability == 'auto' and recorded is not None
        and recorded.reliability == QosReliability.BEST_EFFORT))
    latched = recorded is not None and recorded.durability == QosDurability.TRANSIENT_LOCAL
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth,
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def _wait_for_subscribers(node: Any, publishers: Sequence[Any], timeout_s: float,
                          should_stop: Callable[[], bool]) -> bool:
    """Wait until some publisher has a subscriber and every publisher is matched with all the
    subscriptions the graph shows on its topic; False when nothing matched in time."""
    deadline = time.monotonic() + timeout_s

    def settled() -> bool:
        matched = [p.get_subscription_count() for p in publishers]
        in_graph = [node.count_subscribers(p.topic_name) for p in publishers]
        return any(matched) and all(m >= g for m, g in zip(matched, in_graph, strict=True))

    while not settled() and time.monotonic() < deadline and not should_stop():
        time.sleep(0.05)
    if not any(p.get_subscription_count() for p in publishers):
        return False
    # Matching is two-sided: a best-effort reader drops samples of a writer it has not matched
    # yet, even when the writer already counts it. Give the reader side a moment.
    time.sleep(0.5)
    return True


def _drain(publishers: Iterable[Any], timeout_s: float = 2.0) -> None:
    """Let the last messages leave before the publishers are destroyed (DDS sends
    asynchronously: destroying a writer right after publishing can lose the last sample)."""
    from rclpy.duration import Duration

    deadline = time.monotonic() + timeout_s
    for publisher in publishers:
        left = max(deadline - time.monotonic(), 0.0)
        publisher.wait_for_all_acked(Duration(nanoseconds=round(left * 1e9)))
    time.sleep(0.3)  # best-effort readers send no acknowledgements to wait for


def play_bag(bag: Path, options: PlayOptions, progress: bool = True,
             should_stop: Callable[[], bool] = lambda: False) -> int:
    """Play ``bag`` (see the module doc); returns the number of messages published.

    rclpy must be initialised by the caller. Raises InputError for an unreadable bag and
    ValueError for unknown topics or message types.
    """
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from tqdm import tqdm

    reader = open_bag(bag)
    node = rclpy.create_node('negas_bag_player')
    try:
        available = {c.topic for c in reader.connections}
        missing = sorted(set(options.topics) - available)
        if missing:
            raise ValueError(f'{bag}: no topic(s) {", ".join(missing)}; the bag has '
                             f'{", ".join(sorted(available))}')
        unknown_remaps = sorted(set(options.remap) - available)
        if unknown_remaps:
            _log.warning('remapped topic(s) not in the bag: %s', ', '.join(unknown_remaps))
        connections = [c for c in reader.connections
                       if not options.topics or c.topic in options.topics]
        publishers: dict[int, Any] = {}
        by_topic: dict[tuple[str, str], Any] = {}
        for conn in connections:
            topic = options.remap.get(conn.topic, conn.topic)
            key = (topic, conn.msgtype)
            if key not in by_topic:
                by_topic[key] = node.create_publisher(message_class(conn.msgtype), topic,
                                                      _qos(conn, options.reliability))
                _log.info('%s -> %s (%s)', conn.topic, topic, conn.msgtype)
            publishers[conn.id] = by_topic[key]
        clock_pub = (node.create_publisher(Clock, '/clock', QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE))
            if options.clock_hz is not None else None)

        if options.wait_for_subscribers_s > 0:
            everything = [*by_topic.values(), *([clock_pub] if clock_pub else [])]
            if not _wait_for_subscribers(node, everything, options.wait_for_subscribers_s,
                                         should_stop):
                _log.warning('no subscriber matched after %.1f s; playing anyway',
                             options.wait_for_subscribers_s)

        first_ns = reader.start_time + round(options.start_offset_s * 1e9)
        total = sum(c.msgcount for c in connections)
        published = 0
        passes = 0
        clock_period = 1.0 / options.clock_hz if options.clock_hz else None

        def publish_clock(bag_ns: int) -> None:
            if clock_pub is not None:
                msg = Clock()
                msg.clock.sec, msg.clock.nanosec = divmod(int(bag_ns), 1_000_000_000)
                clock_pub.publish(msg)

        with tqdm(total=total, desc=f'playing {Path(bag).name}', unit='msg',
                  disable=not progress, dynamic_ncols=True) as bar:
            while True:
                passes += 1
                bar.reset(total=total)
                wall_start = time.monotonic()
                next_clock = wall_start
                for conn, log_ns, raw in reader.messages(connections=connections,
                                                         start=first_ns):
                    due = wall_start + (log_ns - first_ns) / 1e9 / options.rate
                    while True:
                        if should_stop():
                            return published
                        now = time.monotonic()
                        if clock_period is not None and now >= next_clock:
                            elapsed_bag = (now - wall_start) * options.rate
                            # Never ahead of the message about to go out: time only grows.
                            publish_clock(min(first_ns + round(elapsed_bag * 1e9), log_ns))
                            next_clock = now + clock_period
                        if now >= due:
                            break
                        wake = due if clock_period is None else min(due, next_clock)
                        time.sleep(min(max(wake - now, 0.0), 0.1))
                    publish_clock(log_ns)
                    publishers[conn.id].publish(bytes(raw))
                    published += 1
                    bar.update(1)
                if not options.loop or (options.max_loops is not None
                                        and passes >= options.max_loops):
                    _drain(by_topic.values())
                    return published
    finally:
        node.destroy_node()
        reader.close()
