"""Models shipped inside the package, addressable by name in the ``model`` parameter.

``model: negas_mini`` (with ``backend: yolo_world``) is the mini NegAS detector trained on the
procedural world (``negas_ros/models/negas_mini/MODEL_CARD.md``); it works offline. A local
directory or file of the same name still wins, so a user's own ``negas_mini`` folder is used.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ['EMBEDDED_MODELS', 'embedded_model_dir', 'resolve_model']

# name -> the backend it is built for
EMBEDDED_MODELS: dict[str, str] = {'negas_mini': 'yolo_world'}


def embedded_model_dir(name: str) -> Path:
    """The directory of an embedded model; ValueError naming the known ones."""
    if name not in EMBEDDED_MODELS:
        raise ValueError(
            f"no embedded model '{name}'; embedded: {', '.join(sorted(EMBEDDED_MODELS))}")
    return Path(__file__).resolve().parent / name


def resolve_model(model: str) -> str:
    """Map an embedded model name to its directory; anything else is returned unchanged."""
    if model in EMBEDDED_MODELS and not Path(model).exists():
        return str(embedded_model_dir(model))
    return model
