"""Where a face (the jury's console, the candidates' portal) may listen: loopback unless asked."""
from __future__ import annotations

import ipaddress

from .errors import TaiLabError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_check(host: str, allow_remote: bool, *, refusal: str, hint: str, warning: str) -> str | None:
    """Refuse a non-loopback address without the flag (``refusal``, ``hint``); with it, return the
    warning to print (``{host}`` and ``{{port}}`` in it are filled here and by the caller)."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise TaiLabError(refusal.format(host=host), hint)
    return warning.format(host=host)
