"""The `negas-ros` command: one subcommand per module in this package.

Each subcommand module defines ``register(subparsers) -> None``, which adds its parser and sets
``func`` (called with the parsed namespace, returning an exit code) via ``set_defaults``. Heavy
imports (torch, rclpy) stay inside ``func`` so that ``negas-ros --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

__all__ = ['build_parser', 'main']


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='negas-ros',
        description='Tools of negas_ros: open-vocabulary detection with NegAS OOD flags.')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    subparsers.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith('_'):
            continue
        module = importlib.import_module(f'{__name__}.{info.name}')
        register = getattr(module, 'register', None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        # User errors (bad file, bad option value) get one clear line, not a traceback.
        print(f'negas-ros {args.command}: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
