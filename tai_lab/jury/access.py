"""The jury's access to the web console, kept in the lab's directory so that it survives a
restart of ``tai-lab serve``: the login key (the secret of the login link) and the key that
signs the jury's session cookies (a browser already signed in stays signed in).

``<lab state dir>/jury-access.json``, mode 0600, owned by root like the rest of the lab's
state: a candidate (root in their own pod, never on the host) cannot read it. ``tai-lab serve
--show-link`` prints the link again; ``--new-key`` makes a new one, which signs every jury
browser out (for a link shown to the wrong person).
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

FILE = "jury-access.json"


@dataclass(frozen=True)
class Access:
    key: str                     # the login link's secret
    cookie_secret: bytes         # signs the session cookies
    address: str | None = None   # where the last `serve` listened: "http://host:port"

    def link(self, address: str | None = None) -> str | None:
        base = address or self.address
        return f"{base}/login?key={self.key}" if base else None


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(state_dir: Path, *, renew: bool = False) -> Access:
    """The lab's jury access, made on first use (or anew with ``renew``)."""
    path = Path(state_dir) / FILE
    data: dict = {}
    if path.is_file() and not renew:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
    if not (isinstance(data.get("key"), str) and len(data["key"]) >= 24
            and isinstance(data.get("cookie_secret"), str) and len(data["cookie_secret"]) >= 64):
        data = {"key": secrets.token_urlsafe(24), "cookie_secret": secrets.token_hex(32),
                "address": data.get("address") if isinstance(data.get("address"), str) else None}
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, data)
    return Access(data["key"], bytes.fromhex(data["cookie_secret"]), data.get("address"))


def remember_address(state_dir: Path, address: str) -> None:
    """Where `serve` listens now, for ``--show-link``."""
    path = Path(state_dir) / FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["address"] = address
    _write(path, data)
