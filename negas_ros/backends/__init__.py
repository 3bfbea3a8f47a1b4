"""Detector backends behind one interface (:class:`DetectorBackend`), built by name."""

from negas_ros.backends.base import (
    BACKEND_MODULES,
    BackendSpec,
    DetectorBackend,
    available_backends,
    create_backend,
)

__all__ = [
    'BACKEND_MODULES',
    'BackendSpec',
    'DetectorBackend',
    'available_backends',
    'create_backend',
]
