"""Idempotent writing of generated model directories (tiny test models) (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ['MARKER_NAME', 'finish_model_dir', 'start_model_dir']

MARKER_NAME = 'negas_tiny.json'


def start_model_dir(directory: Path, wanted: dict[str, Any]) -> bool:
    """True when ``directory`` already holds a complete model written with ``wanted``.

    Otherwise the directory is created and its marker removed, so that a half-written
    directory never looks complete; write the files, then call :func:`finish_model_dir`.
    """
    marker = directory / MARKER_NAME
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == wanted:
                return True
        except (OSError, ValueError):
            pass  # unreadable marker: rebuild
    directory.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    return False


def finish_model_dir(directory: Path, wanted: dict[str, Any]) -> None:
    """Mark ``directory`` complete (the last write)."""
    (directory / MARKER_NAME).write_text(json.dumps(wanted) + '\n')
