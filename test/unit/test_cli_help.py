"""Every `negas-ros` subcommand's --help works, and parsing imports no torch or rclpy.

`pip install .[tools]` promises the tools (scripts/check_clean_install.sh checks that in a clean
venv); here the same --help walk runs in the development environment, in seconds.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_WALK = textwrap.dedent("""
    import argparse, contextlib, io, sys
    from negas_ros.cli import build_parser, main

    def paths(parser, prefix):
        yield prefix
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from paths(sub, [*prefix, name])

    heavy = ('torch', 'transformers', 'rclpy', 'onnxruntime')
    for path in paths(build_parser(), []):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main([*path, '--help'])
            except SystemExit as exc:
                assert exc.code == 0, (path, exc.code)
        assert out.getvalue().startswith('usage: negas-ros'), path
        print(' '.join(path) or '-')
    loaded = sorted(m for m in heavy if m in sys.modules)
    assert not loaded, f'--help imported {loaded}'
""")


def test_every_subcommand_help_runs_without_heavy_imports() -> None:
    result = subprocess.run([sys.executable, '-c', _WALK], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split('\n')
    for name in ('-', 'evaluate', 'bdd100k-to-bag', 'negatives', 'negatives generate', 'world',
                 'export', 'play', 'train-world', 'ood-benchmark', 'bench'):
        assert name in commands, f'{name!r} missing from {commands}'


def test_module_entry_point_help() -> None:
    result = subprocess.run([sys.executable, '-m', 'negas_ros.cli', '--help'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: negas-ros')
