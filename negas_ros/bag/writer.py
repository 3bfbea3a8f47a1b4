"""A rosbag2 writer that never leaves a half-written bag (pure: rosbags, no rclpy).

The bag is written into a hidden temporary folder next to the destination and renamed into
place only when it was closed without error; on any error (or Ctrl-C) the temporary folder is
removed, so the destination either holds a complete bag or is untouched. Inside the bag the
storage file is named after the destination (``out/out.mcap``), as ``ros2 bag record`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
from pathlib import Path
import shutil
import tempfile
from types import TracebackType
from typing import Any

from negas_ros.bag.messages import typestore

__all__ = ['STORAGE_IDS', 'BagWriter', 'TopicHandle', 'reliable_qos']

STORAGE_IDS = ('mcap', 'sqlite3')

_log = logging.getLogger(__name__)


def reliable_qos(depth: int = 10) -> Any:
    """Offered QoS recorded for every topic: reliable, volatile, keep last ``depth``.

    ``ros2 bag play`` publishes with the recorded profile; a reliable publisher serves both
    reliable and best-effort (sensor-data) subscriptions, so every subscriber matches.
    """
    from rosbags.interfaces import (
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )

    never = QosTime(sec=0, nsec=0)
    return Qos(history=QosHistory.KEEP_LAST, depth=depth,
               reliability=QosReliability.RELIABLE, durability=QosDurability.VOLATILE,
               deadline=never, lifespan=never, liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=never, avoid_ros_namespace_conventions=False)


@dataclass(frozen=True)
class TopicHandle:
    """A topic registered with :meth:`BagWriter.add_topic`."""

    name: str
    msgtype: str
    connection: Any


class BagWriter:
    """Context manager writing one rosbag2 (format version 9) at ``path``.

    path: the bag folder to create. storage: 'mcap' (default) or 'sqlite3'.
    overwrite: replace an existing bag at ``path`` (only once the new one is complete);
        otherwise an existing ``path`` is an error before anything is written.
    custom_data: string pairs stored in the bag's metadata (provenance).

    Messages are serialised with :func:`negas_ros.bag.messages.typestore`. Timestamps are ns
    since the epoch. After a clean exit ``counts`` holds the messages written per topic.
    """

    def __init__(self, path: Path, storage: str = 'mcap', *, overwrite: bool = False,
                 custom_data: dict[str, str] | None = None) -> None:
        if storage not in STORAGE_IDS:
            raise ValueError(f"storage must be one of {', '.join(STORAGE_IDS)}, got {storage!r}")
        self.path = Path(path)
        self.storage = storage
        self.overwrite = overwrite
        self.custom_data = dict(custom_data or {})
        self.counts: dict[str, int] = {}
        self._writer: Any = None
        self._tmp_dir: Path | None = None
        self._topics: dict[str, TopicHandle] = {}

    def __enter__(self) -> BagWriter:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if self.path.exists() and not self.overwrite:
            raise FileExistsError(f'{self.path} exists already; choose another --out or '
                                  'pass --overwrite')
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        self._tmp_dir = Path(tempfile.mkdtemp(prefix=f'.{self.path.name}.', suffix='.partial',
                                              dir=parent))
        plugin = StoragePlugin.MCAP if self.storage == 'mcap' else StoragePlugin.SQLITE3
        self._writer = Writer(self._tmp_dir / self.path.name, version=9, storage_plugin=plugin)
        for key, value in self.custom_data.items():
            self._writer.set_custom_data(key, value)
        self._writer.open()
        return self

    def add_topic(self, name: str, msgtype: str) -> TopicHandle:
        """Register ``name`` (an absolute topic name) with ``msgtype`` (e.g.
        ``sensor_msgs/msg/CompressedImage``)."""
        if not name.startswith('/'):
            raise ValueError(f"bag topic names are absolute: '/{name}', not '{name}'")
        if name in self._topics:
            raise ValueError(f'topic {name} registered twice')
        connection = self._writer.add_connection(name, msgtype, typestore=typestore(),
                                                 offered_qos_profiles=[reliable_qos()])
        handle = TopicHandle(name, msgtype, connection)
        self._topics[name] = handle
        self.counts[name] = 0
        return handle

    def write(self, topic: TopicHandle, log_ns: int, msg: Any) -> None:
        """Serialise ``msg`` (a rosbags message of the topic's type) and write it at ``log_ns``."""
        self._writer.write(topic.connection, int(log_ns),
                           typestore().serialize_cdr(msg, topic.msgtype))
        self.counts[topic.name] += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        tmp_dir, self._tmp_dir = self._tmp_dir, None
        writer, self._writer = self._writer, None
        assert tmp_dir is not None
        try:
            if exc_type is not None:
                if writer is not None:
                    try:
                        writer.abort()
                    except Exception:  # the original error matters, not the cleanup's
                        _log.debug('aborting the bag writer failed', exc_info=True)
                return
            writer.close()
            staged = tmp_dir / self.path.name
            if not self.path.exists():
                staged.rename(self.path)
                return
            # Keep the old bag until the new one is in place.
            old = tmp_dir / f'{self.path.name}.old'
            self.path.rename(old)
            try:
                staged.rename(self.path)
            except OSError:
                old.rename(self.path)
                raise
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
