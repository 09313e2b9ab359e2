"""tai-lab: the plateau technique of the TAI exam, as code.

The importable API lives in :mod:`tai_lab.lab`; the CLI and the web console only call it.
"""
from __future__ import annotations

__version__ = "0.1.0"
