"""``package://negas_ros/...`` paths in parameters (pure: no ROS imports).

A parameter such as ``labels_file`` may name a file shipped with the package as
``package://negas_ros/config/labels/bdd100k.yaml``: the part after the prefix is taken from the
package's share directory (``share/negas_ros`` of the install, where CMake installs ``config``,
``launch`` and ``rviz``). The file then resolves the same way from any working directory and in
any install prefix, and ``config/detector.yaml`` can point at a shipped label set without an
absolute path. The share directory is found by the caller (the node uses
``ament_index_python.packages.get_package_share_directory('negas_ros')``; tests and tools
running from the source tree pass the repository root, whose layout matches the share
directory's).

Only this package's own prefix is understood: resolving another package would need the ament
index, which a pure helper must not import. Any other path is returned unchanged, so ``~``,
environment variables and relative paths stay the caller's business.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ['PACKAGE_NAME', 'PACKAGE_URI_PREFIX', 'resolve_package_uri', 'share_dir']

PACKAGE_NAME = 'negas_ros'
PACKAGE_URI_PREFIX = f'package://{PACKAGE_NAME}/'
_SCHEME = 'package://'


def share_dir(source_tree_fallback: bool = True) -> str | None:
    """The package's share directory (``share/negas_ros`` of the ament install).

    Without an ament install (``pip install .``, a plain checkout) the source tree, laid out the
    same way, when ``source_tree_fallback`` and it has ``config/``; else None, and
    ``package://`` paths cannot resolve. ament_index_python is imported here only, lazily.
    """
    try:
        from ament_index_python.packages import get_package_share_directory

        return str(get_package_share_directory(PACKAGE_NAME))
    except Exception:  # no ament index, or negas_ros not installed through it
        if not source_tree_fallback:
            return None
        root = Path(__file__).resolve().parents[1]
        return str(root) if (root / 'config').is_dir() else None


def resolve_package_uri(path: str, share_dir: str) -> str:
    """Return ``path`` with a leading ``package://negas_ros/`` replaced by ``share_dir``.

    ``resolve_package_uri('package://negas_ros/config/labels/voc.yaml', '/opt/share/negas_ros')``
    gives ``'/opt/share/negas_ros/config/labels/voc.yaml'``. A path without the ``package://``
    scheme (absolute, relative, ``~/...``) is returned unchanged and ``share_dir`` is ignored.

    Raises ValueError when ``path`` uses ``package://`` for another package, names no file
    after the prefix, or climbs out of the share directory with ``..``; and when ``share_dir``
    is empty for a path that needs it.
    """
    if not path.startswith(_SCHEME):
        return path
    if not path.startswith(PACKAGE_URI_PREFIX):
        package = path[len(_SCHEME):].split('/', 1)[0]
        raise ValueError(
            f"cannot resolve '{path}': only {PACKAGE_URI_PREFIX}... is supported, not package "
            f"'{package}'; give an absolute path to that file instead")
    relative = path[len(PACKAGE_URI_PREFIX):]
    parts = [part for part in relative.split('/') if part not in ('', '.')]
    if not parts:
        raise ValueError(
            f"cannot resolve '{path}': no file after '{PACKAGE_URI_PREFIX}'; e.g. "
            f"'{PACKAGE_URI_PREFIX}config/labels/bdd100k.yaml'")
    if '..' in parts:
        raise ValueError(
            f"cannot resolve '{path}': '..' would leave the package's share directory")
    if not share_dir:
        raise ValueError(
            f"cannot resolve '{path}': the {PACKAGE_NAME} share directory is unknown (is the "
            'package installed and sourced?); give an absolute path instead')
    return os.path.join(share_dir, *parts)
