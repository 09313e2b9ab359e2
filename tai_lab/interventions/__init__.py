"""Interventions: the jury's list of breakdowns — catalogue, inject, check, restore."""
from __future__ import annotations

from .catalogue import Catalogue, load_catalogue
from .model import Intervention, ProbeSpec, Variant

__all__ = ["Catalogue", "Intervention", "ProbeSpec", "Variant", "load_catalogue"]
