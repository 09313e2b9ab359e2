"""Every terminal session recorded, as asciicast v2, with the pod's evidence.

``labs/<lab>/evidence/terminals/pod-<N>/<YYYYmmdd-HHMMSS>-<node>-<id>.cast``: a JSON
header (``version: 2``, size, start time, and ours under ``tai_lab``: lab, pod, node,
account as typed at the login prompt, code generation), then one ``[seconds, "o",
text]`` line per output chunk, ``[seconds, "r", "COLSxROWS"]`` per resize, and a last
``[seconds, "m", "fin : …"]`` marker with the reason the session ended. Output only: the keys a candidate types are not recorded,
since they include passwords typed without echo (su, smbpasswd, the login itself);
what the terminal echoed is in the output. ``asciinema play FILE`` replays it.

Files are appended and flushed as the session goes (a killed portal leaves a valid
file up to its last line) and archived with the evidence by ``down``.
"""
from __future__ import annotations

import codecs
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

LOGIN_PROMPT = re.compile(rb"login: $")


def recordings_dir(lab_dir: Path, pod: int) -> Path:
    return Path(lab_dir) / "evidence" / "terminals" / f"pod-{pod}"


class Recorder:
    """One session's asciicast file."""

    def __init__(self, lab_dir: Path, lab: str, pod: int, node: str, *, cols: int, rows: int,
                 generation: int, client: str) -> None:
        self.started = time.time()
        self._t0 = time.monotonic()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.started))
        self.id = secrets.token_hex(3)
        d = recordings_dir(lab_dir, pod)
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = d / f"{stamp}-{node}-{self.id}.cast"
        self.node, self.pod = node, pod
        self.account: str | None = None
        self.bytes_out = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = b""              # the end of the output, to see a login prompt
        self._typed = bytearray()     # what is typed after a login prompt, until Enter
        self._at_prompt = False
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        self._f = os.fdopen(fd, "w", encoding="utf-8")
        header = {"version": 2, "width": cols, "height": rows, "timestamp": int(self.started),
                  "env": {"TERM": "xterm-256color"},
                  "title": f"pod {pod} — {node}",
                  "tai_lab": {"lab": lab, "pod": pod, "node": node, "generation": generation,
                              "client": client, "input": "not recorded (passwords)"}}
        self._write(header)

    def _write(self, obj: object) -> None:
        self._f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._f.flush()

    def _event(self, code: str, data: str) -> None:
        self._write([round(time.monotonic() - self._t0, 6), code, data])

    def output(self, data: bytes) -> None:
        self.bytes_out += len(data)
        text = self._decoder.decode(data)
        if text:
            self._event("o", text)
        self._tail = (self._tail + data)[-64:]
        if LOGIN_PROMPT.search(self._tail):
            self._at_prompt, self._typed = True, bytearray()

    def input(self, data: bytes) -> None:
        """Not recorded: only the name typed at a ``login:`` prompt is kept (the account)."""
        if not self._at_prompt:
            return
        for b in data:
            if b in (13, 10):
                name = self._typed.decode(errors="replace").strip()
                if name and len(name) <= 32 and name.isprintable():
                    self.account = name
                self._at_prompt = False
                return
            if b in (8, 127):
                del self._typed[-1:]
            elif len(self._typed) < 64:
                self._typed.append(b)

    def resize(self, cols: int, rows: int) -> None:
        self._event("r", f"{cols}x{rows}")

    def close(self, reason: str) -> None:
        if self._f.closed:
            return
        rest = self._decoder.decode(b"", final=True)
        if rest:
            self._event("o", rest)
        self._event("m", f"fin : {reason}" + (f" (compte : {self.account})" if self.account else ""))
        self._f.close()

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self._t0, 1)


@dataclass(frozen=True)
class RecordingInfo:
    path: Path
    pod: int
    node: str
    started: float
    seconds: float
    bytes: int
    end: str | None

    def as_dict(self) -> dict:
        return {"file": str(self.path), "pod": self.pod, "node": self.node,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
                "seconds": self.seconds, "bytes": self.bytes, "end": self.end}


def list_recordings(lab_dir: Path, pod: int) -> list[RecordingInfo]:
    """The pod's recordings, oldest first, read from their files; one with no end whose portal
    was killed says so (its end recorded by a later portal, or its portal no longer running)."""
    from ..evidence import EvidenceLog
    from .liveness import alive
    portals: dict[str, object] = {}
    interrupted: set[str] = set()
    for r in EvidenceLog(lab_dir, pod).records():
        if r.get("kind") != "station" or not isinstance(r.get("recording"), str):
            continue
        if r.get("event") == "session-start":
            portals[r["recording"]] = r.get("portal")
        elif r.get("event") == "session-end" and r.get("reason") == "interrupted":
            interrupted.add(r["recording"])
    out = []
    for f in sorted(recordings_dir(lab_dir, pod).glob("*.cast")):
        try:
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
            head = json.loads(lines[0])
        except (OSError, IndexError, json.JSONDecodeError):
            continue
        last, end = 0.0, None
        for line in reversed(lines[1:]):
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            last = max(last, float(ev[0]))
            if ev[1] == "m" and end is None:
                end = ev[2]
            break
        if end is None and (f.name in interrupted or alive(portals.get(f.name)) is False):
            end = "fin : interrompue (portail arrêté)"
        meta = head.get("tai_lab", {})
        out.append(RecordingInfo(f, pod, meta.get("node", "?"), float(head.get("timestamp", 0)),
                                 round(last, 1), f.stat().st_size, end))
    return out
