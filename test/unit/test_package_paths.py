"""Unit tests of negas_ros.package_paths: ``package://negas_ros/...`` resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from negas_ros import config
from negas_ros.package_paths import PACKAGE_URI_PREFIX, resolve_package_uri

SHARE = os.path.join(os.sep, 'opt', 'ros', 'share', 'negas_ros')


def test_prefix_names_this_package() -> None:
    assert PACKAGE_URI_PREFIX == 'package://negas_ros/'


def test_package_uri_is_taken_from_the_share_directory() -> None:
    resolved = resolve_package_uri('package://negas_ros/config/labels/bdd100k.yaml', SHARE)
    assert resolved == os.path.join(SHARE, 'config', 'labels', 'bdd100k.yaml')


def test_redundant_separators_and_dots_are_dropped() -> None:
    resolved = resolve_package_uri('package://negas_ros//config/./labels/voc.yaml', SHARE)
    assert resolved == os.path.join(SHARE, 'config', 'labels', 'voc.yaml')


@pytest.mark.parametrize('path', [
    '/abs/labels.yaml',
    'relative/labels.yaml',
    'labels.yaml',
    '~/labels.yaml',
    '$HOME/labels.yaml',
    '',
    'negas_ros/config/labels/voc.yaml',
    'file://negas_ros/config/labels/voc.yaml',
])
def test_other_paths_are_returned_unchanged(path: str) -> None:
    assert resolve_package_uri(path, SHARE) == path
    assert resolve_package_uri(path, '') == path  # the share directory is not needed


def test_another_package_is_rejected_with_its_name() -> None:
    with pytest.raises(ValueError, match=r"package 'other_pkg'.*absolute path"):
        resolve_package_uri('package://other_pkg/config/x.yaml', SHARE)


def test_prefix_without_the_slash_is_another_package() -> None:
    # 'package://negas_ros_extras/...' must not be read as this package.
    with pytest.raises(ValueError, match="'negas_ros_extras'"):
        resolve_package_uri('package://negas_ros_extras/x.yaml', SHARE)


@pytest.mark.parametrize('path', ['package://negas_ros/', 'package://negas_ros//./'])
def test_no_file_after_the_prefix_is_rejected(path: str) -> None:
    with pytest.raises(ValueError, match='no file after'):
        resolve_package_uri(path, SHARE)


@pytest.mark.parametrize('path', [
    'package://negas_ros/../secrets.yaml',
    'package://negas_ros/config/../../x.yaml',
])
def test_leaving_the_share_directory_is_rejected(path: str) -> None:
    with pytest.raises(ValueError, match=r"'\.\.'"):
        resolve_package_uri(path, SHARE)


def test_unknown_share_directory_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r'share directory is unknown.*absolute path'):
        resolve_package_uri('package://negas_ros/config/labels/voc.yaml', '')


def test_agrees_with_config_resolve_path(tmp_path: Path) -> None:
    """negas_ros.config resolves file parameters through this helper."""
    uri = 'package://negas_ros/config/labels/coco.yaml'
    assert Path(resolve_package_uri(uri, str(tmp_path))) == config.resolve_path(
        uri, share_dir=str(tmp_path))


def test_share_dir_falls_back_to_the_source_tree_only_when_asked() -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != 'AMENT_PREFIX_PATH'}
    script = ('from negas_ros.package_paths import share_dir\n'
              'print(share_dir(), share_dir(source_tree_fallback=False))\n')
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                         cwd=repo, env={**env, 'PYTHONPATH': str(repo)}, check=True).stdout
    assert out.split() == [str(repo), 'None']
