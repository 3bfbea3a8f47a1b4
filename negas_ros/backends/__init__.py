"""Detector backends behind one interface (:class:`DetectorBackend`), built by name."""

from negas_ros.backends.base import (
    BackendSpec,
    DetectorBackend,
    available_backends,
    create_backend,
    register_backend,
)

__all__ = [
    'BackendSpec',
    'DetectorBackend',
    'available_backends',
    'create_backend',
    'register_backend',
]
