"""Backends by name, imported lazily: a missing optional dependency (libvirt-python) only
hurts the one who picks that backend. No backend imports this module."""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from ..errors import NotFoundError

if TYPE_CHECKING:
    from .base import Backend

# name → (module, class); the module is imported only when the backend is asked for.
BACKENDS: dict[str, tuple[str, str]] = {
    "nspawn": ("tai_lab.backends.nspawn", "NspawnBackend"),
    "libvirt": ("tai_lab.backends.libvirt", "LibvirtBackend"),
}
DEFAULT = "nspawn"


def names() -> list[str]:
    return list(BACKENDS)


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as ``name``; an unknown name lists the valid ones."""
    try:
        module, cls = BACKENDS[name]
    except KeyError:
        raise NotFoundError(f"unknown backend {name!r}", f"valid backends: {', '.join(BACKENDS)}") from None
    return getattr(import_module(module), cls)
