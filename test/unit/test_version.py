"""One version: package.xml holds it; negas_ros.__version__ and pyproject.toml follow it."""

from __future__ import annotations

from pathlib import Path
import re
import xml.etree.ElementTree as ET

import negas_ros

REPO = Path(__file__).resolve().parents[2]


def test_package_version_matches_package_xml() -> None:
    version = ET.parse(REPO / 'package.xml').getroot().findtext('version')
    assert version and re.fullmatch(r'\d+\.\d+\.\d+', version)
    assert negas_ros.__version__ == version, 'bump negas_ros/__init__.py with package.xml'


def test_pyproject_reads_the_version_from_the_package() -> None:
    text = (REPO / 'pyproject.toml').read_text()
    project = text.split('[project]', 1)[1].split('\n[', 1)[0]
    assert not re.search(r'^version\s*=', project, re.M), 'pyproject.toml: no static version'
    assert re.search(r"^dynamic = \[.*'version'.*\]$", project, re.M)
    assert "version = {attr = 'negas_ros.__version__'}" in text
