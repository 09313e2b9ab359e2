"""The jury watches a candidate's desktop live: noVNC on the jury's page, through the portal.

The jury's console (Flask under waitress) has no WebSocket; the candidates' portal (aiohttp)
has. So the portal offers one more WebSocket, ``/jury/vnc/<pod>/<node>``, which is not a
candidate's: it opens only with a **one-time token** the console hands to a signed-in jury
member (:func:`issue`), and only from the page that asked for it (the token names the
console's origin; the handshake's ``Origin`` must be that one). A token is good for one
connection, for 30 seconds, for that pod's machine only. Tokens are files in the lab's
``stations/jury-tokens/`` (root only, mode 0600), named by the token's SHA-256 (the token
itself is never written): the console writes one, the portal claims it by deleting it, so a
second use finds nothing.

What goes through is **view-only**, decided by the portal, not by the browser: the jury's
messages to the VNC server are read one by one (:class:`ViewOnlyFilter`) and only those that
ask for pictures pass (pixel format, encodings, update requests, continuous updates, fences);
keys, pointer, clipboard and screen-size requests are dropped, anything unknown ends the
connection, and the connection is always a shared one (the candidate's stays). The jury
member who plays the user types with « Prendre le clavier » (the console's own keys and clicks,
recorded in the evidence log).

The portal says where it listens in ``stations/portal.json`` (with who it is: a killed
portal's address is not handed out).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
import time
from pathlib import Path

from .liveness import alive

TOKEN_TTL = 30.0
TOKEN_DIR = "jury-tokens"
PORTAL_FILE = "portal.json"


def _dir(lab_dir: Path) -> Path:
    return Path(lab_dir) / "stations"


def _token_path(lab_dir: Path, token: str) -> Path:
    return _dir(lab_dir) / TOKEN_DIR / hashlib.sha256(token.encode()).hexdigest()


def _sweep(d: Path, now: float) -> None:
    """Tokens never used go when they expire (their use would be refused anyway)."""
    for f in d.glob("*"):
        try:
            if json.loads(f.read_text()).get("expires", 0) < now:
                f.unlink()
        except (OSError, ValueError, AttributeError):
            continue


def issue(lab_dir: Path, pod: int, node: str, origin: str, actor: str, *, ttl: float = TOKEN_TTL) -> str:
    """A token for one view-only connection to ``node``'s desktop of ``pod``, from ``origin``."""
    d = _dir(lab_dir) / TOKEN_DIR
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = time.time()
    _sweep(d, now)
    token = secrets.token_urlsafe(32)
    data = {"pod": pod, "node": node, "origin": origin, "actor": actor, "expires": now + ttl}
    fd = os.open(_token_path(lab_dir, token), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return token


def claim(lab_dir: Path, token: str) -> dict | None:
    """The token's grant if it is a good one, used now (deleted: one connection only); None if
    unknown, already used or expired. The caller compares pod, node and origin."""
    if not token or len(token) > 200:
        return None
    path = _token_path(lab_dir, token)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        path.unlink()                 # whoever deletes it first has it
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or float(data.get("expires", 0)) < time.time():
        return None
    return data


def write_portal(lab_dir: Path, address: str, ident: dict) -> None:
    d = _dir(lab_dir)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = d / (PORTAL_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"address": address, "portal": ident}, f)
    os.replace(tmp, d / PORTAL_FILE)


def portal_address(lab_dir: Path) -> str | None:
    """Where the running portal listens ("http://host:port"); None when none runs."""
    try:
        data = json.loads((_dir(lab_dir) / PORTAL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or alive(data.get("portal")) is not True:
        return None
    address = data.get("address")
    return address if isinstance(address, str) and address.startswith("http://") else None


class ViewOnly(ValueError):
    """A message of the jury's browser this relay does not know: the connection ends."""


class ViewOnlyFilter:
    """The client's side of RFB 3.8 (browser → VNC server), keeping what only asks to see.

    :meth:`feed` takes bytes as they come (messages may be cut anywhere) and returns the bytes
    to forward. The handshake passes (version, security type), the ClientInit is made shared."""

    # message type → (what to do, its fixed size, or a function of the buffer giving the size)
    PASS = {0: 20, 3: 10, 150: 10}                    # pixel format, update request, continuous updates
    DROP = {4: 8, 5: 6}                               # key, pointer
    MAX = 1 << 20                                     # no message of a viewer is larger

    def __init__(self) -> None:
        self.buf = b""
        self.stage = 0                                # 0: version, 1: security type, 2: ClientInit, 3: messages
        self.dropped: dict[str, int] = {}

    def _size(self, buf: bytes) -> tuple[int | None, bool, str]:
        """(size of the first message or None if more bytes are needed, forward?, its name)."""
        kind = buf[0]
        if kind in self.PASS:
            return self.PASS[kind], True, "view"
        if kind in self.DROP:
            return self.DROP[kind], False, {4: "key", 5: "pointer"}[kind]
        if kind == 2:                                 # SetEncodings: 4 + 4 × count
            return (4 + 4 * struct.unpack(">H", buf[2:4])[0] if len(buf) >= 4 else None), True, "view"
        if kind == 6:                                 # ClientCutText (negative length: extended clipboard)
            if len(buf) < 8:
                return None, False, "clipboard"
            return 8 + abs(struct.unpack(">i", buf[4:8])[0]), False, "clipboard"
        if kind == 248:                               # Fence: 9 + payload
            return (9 + buf[8] if len(buf) >= 9 else None), True, "view"
        if kind == 251:                               # SetDesktopSize: 8 + 16 × screens
            return (8 + 16 * buf[6] if len(buf) >= 8 else None), False, "resize"
        if kind == 250:                               # XVP (shutdown, reboot…)
            return 4, False, "xvp"
        if kind == 255:                               # QEMU: extended key event only
            if len(buf) < 2:
                return None, False, "key"
            if buf[1] == 0:
                return 12, False, "key"
        raise ViewOnly(f"unknown VNC message {kind}")

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while self.buf:
            if self.stage == 0:
                if len(self.buf) < 12:
                    break
                out += self.buf[:12]
                self.buf, self.stage = self.buf[12:], 1
            elif self.stage == 1:
                out += self.buf[:1]
                self.buf, self.stage = self.buf[1:], 2
            elif self.stage == 2:
                out += b"\x01"                        # shared, whatever was asked
                self.buf, self.stage = self.buf[1:], 3
            else:
                size, forward, name = self._size(self.buf)
                if size is not None and size > self.MAX:
                    raise ViewOnly(f"VNC message too large ({name}, {size} bytes)")
                if size is None or len(self.buf) < size:
                    break
                if forward:
                    out += self.buf[:size]
                else:
                    self.dropped[name] = self.dropped.get(name, 0) + 1
                self.buf = self.buf[size:]
        return bytes(out)
