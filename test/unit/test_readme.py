"""The README documents the public contract: every parameter and topic the node has."""

from __future__ import annotations

from pathlib import Path
import re

from negas_ros.config import PARAMETERS

README = (Path(__file__).resolve().parents[2] / 'README.md').read_text()


def test_every_parameter_is_in_the_readme_table() -> None:
    rows = set(re.findall(r'^\| `([a-z_]+)` \|', README, flags=re.MULTILINE))
    assert {spec.name for spec in PARAMETERS} <= rows


def test_topics_and_the_two_commands_are_documented() -> None:
    for topic in ('`image`', '`image/compressed`', '`detections`', '`ood_detections`',
                  '`label_info`', '`debug_image`'):
        assert topic in README
    assert 'make demo' in README and 'make test' in README
    assert 'results[0]' in README and 'results[1]' in README
