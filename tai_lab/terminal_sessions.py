"""A candidate's terminal sessions as the jury sees them (the console's list and replay, the report).

Which sessions belong to a candidate comes from the pod's evidence log: the portal writes a
``station`` record ``session-start`` (node, recording) and ``session-end`` (account, seconds,
reason, recording) for each terminal (:mod:`tai_lab.stations.web`). The recording's path is
made from that record (a bare file name) and the evidence directory — never from a request:
a console asks for "the candidate's session number N", nothing else.

The commands typed are extracted from the recorded *output* only: keystrokes are not recorded
(they include passwords typed without echo), and what a shell echoed after its prompt is what
the candidate ran. Lines are rebuilt as a terminal would show them (ANSI sequences, carriage
returns, backspaces and the line editor's cursor moves applied), then a line that starts with
a shell prompt (``root@pc1:~# cmd``, ``[root@pc1 ~]# cmd``) and was ended by Enter gives one
command; a ``> `` continuation line after it belongs to the same command.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .evidence import EvidenceLog, Session

MAX_COMMANDS = 200            # per session, in the report and the console
MAX_COMMAND_CHARS = 300
MAX_CAST_BYTES = 64 << 20     # a recording larger than this is not read for commands

# CSI (ESC [ … final), OSC (ESC ] … BEL or ST), two-byte escapes (charset, keypad modes…).
_CSI = re.compile(r"\x1b\[([0-9;?>=!]*)([ -/]*)([@-~])")
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_ESC2 = re.compile(r"\x1b[()*+#%][0-9A-Za-z]?|\x1b[=>78cDEHMNOZ\\]")
PROMPT = re.compile(r"(?:^|(?<=\s))(?:\([^)]{1,40}\)\s*)?"
                    r"(?:[A-Za-z0-9_.-]{1,32}@[A-Za-z0-9_.-]{1,64}:[^\s#$]{0,200}"
                    r"|\[[A-Za-z0-9_.-]{1,32}@[A-Za-z0-9_.-]{1,64} [^\]]{0,200}\])[#$] ")
CONTINUATION = "> "
_CANCELLED = ("^C", "^D")

# Why a session ended (the portal's reasons), as the jury reads them.
END_REASONS = {
    "logout": ("déconnexion", "logged out"),
    "browser-closed": ("navigateur fermé", "browser closed"),
    "new-code": ("nouveau code d'accès", "new access code"),
    "portal-stopped": ("arrêt du portail", "portal stopped"),
    "closed": ("accès fermé", "access closed"),
    # No end recorded and the portal that relayed it is gone (killed, crashed, host rebooted):
    # decided by whoever reads it, recorded by the next portal at its start (never a clean end).
    "interrupted": ("interrompue (portail arrêté)", "interrupted (portal stopped)"),
}
INTERRUPTED = "interrupted"


def end_reason(reason: str | None, lang: str = "fr") -> str:
    if not reason:
        return "—"
    pair = END_REASONS.get(reason.split(":", 1)[0])
    return (pair[1] if lang == "en" else pair[0]) if pair else reason


def strip_ansi(text: str) -> str:
    """Text without escape sequences (cursor moves are dropped too: see :func:`screen_lines`)."""
    text = _OSC.sub("", text)
    text = _CSI.sub("", text)
    return _ESC2.sub("", text)


def _apply_line(line: str) -> str:
    """One output line as the terminal shows it: \\r, \\b and the line editor's CSI applied."""
    buf: list[str] = []
    col = 0
    i = 0
    line = _ESC2.sub("", _OSC.sub("", line))
    while i < len(line):
        ch = line[i]
        if ch == "\x1b":
            m = _CSI.match(line, i)
            if m is None:
                i += 1
                continue
            params, final = m.group(1), m.group(3)
            n = int(params) if params.isdigit() else 1
            if final == "K":                       # erase in line
                if params in ("", "0"):
                    del buf[col:]
                elif params == "2":
                    buf = [" "] * len(buf)
            elif final == "D":
                col = max(0, col - n)
            elif final == "C":
                col += n
            elif final == "G":
                col = max(0, n - 1)
            elif final == "P":                     # delete characters
                del buf[col:col + n]
            elif final == "@":                     # insert blanks
                buf[col:col] = [" "] * n
            i = m.end()
            continue
        if ch == "\r":
            col = 0
        elif ch == "\b":
            col = max(0, col - 1)
        elif ch == "\x07" or (ord(ch) < 32 and ch != "\t"):
            pass
        else:
            if col > len(buf):
                buf += [" "] * (col - len(buf))
            if col == len(buf):
                buf.append(ch)
            else:
                buf[col] = ch
            col += 1
        i += 1
    return "".join(buf).rstrip()


def screen_lines(output: str) -> tuple[list[str], str]:
    """The output's finished lines (each ended by a newline) and the unfinished last one."""
    parts = output.split("\n")
    return [_apply_line(p) for p in parts[:-1]], _apply_line(parts[-1])


def extract_commands(output: str, limit: int = MAX_COMMANDS) -> tuple[list[str], int]:
    """The commands a shell echoed after its prompt, in order, and how many more were left out.

    Only finished lines count (the Enter was echoed): a command typed but never run, or
    cancelled with Ctrl+C, is not one."""
    lines, _ = screen_lines(output)
    commands: list[str] = []
    extra = 0
    current: str | None = None

    def done(cmd: str | None) -> None:
        nonlocal extra
        if cmd is None:
            return
        cmd = cmd.strip()
        if not cmd or cmd.endswith(_CANCELLED):
            return
        if len(cmd) > MAX_COMMAND_CHARS:
            cmd = cmd[:MAX_COMMAND_CHARS] + "…"
        if len(commands) < limit:
            commands.append(cmd)
        else:
            extra += 1

    for line in lines:
        m = PROMPT.search(line)
        if m is not None:
            done(current)
            current = line[m.end():]
        elif current is not None and line.startswith(CONTINUATION) and _continues(current):
            current += "\n" + line[len(CONTINUATION):]
        else:
            done(current)
            current = None
    done(current)
    return commands, extra


def _continues(cmd: str) -> bool:
    """Whether the shell asked for more (a trailing backslash, an open quote, a pipe, &&, ||)."""
    s = cmd.rstrip()
    if s.endswith(("\\", "|", "&&", "||")):
        return True
    return s.count("'") % 2 == 1 or s.count('"') % 2 == 1


# ---------------------------------------------------------------------------------- recordings
def read_cast(path: Path) -> tuple[dict, list[list]]:
    """A recording's header and its output, resize and marker events (input never: there is
    none, and any ``i`` event a file might hold is dropped)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = json.loads(lines[0]) if lines else {}
    events = []
    for line in lines[1:]:
        try:
            ev = json.loads(line)
            t, code, data = float(ev[0]), ev[1], ev[2]
        except (json.JSONDecodeError, ValueError, TypeError, IndexError, KeyError):
            continue                  # a torn last line (a killed portal)
        if code in ("o", "r", "m") and isinstance(data, str):
            events.append([t, code, data])
    return (header if isinstance(header, dict) else {}), events


def read_cast_from(path: Path, offset: int, limit: int = 1 << 20) -> tuple[dict | None, list[list], int, bool]:
    """What a growing recording holds from byte ``offset`` on, for a live view: the header when
    ``offset`` is 0, the output, resize and marker events of the complete lines (a line the
    portal is still writing waits for the next call), and the offset to ask next. At most about
    ``limit`` bytes are read at once: the last value says whether more is there already."""
    with open(path, "rb") as f:
        f.seek(max(0, offset))
        data = f.read(limit)
    more = len(data) >= limit
    end = data.rfind(b"\n")
    if end < 0:
        if more:                              # one line longer than the limit: skipped whole
            return None, [], offset + len(data), True
        return None, [], offset, False
    data = data[:end + 1]
    header: dict | None = None
    events: list[list] = []
    for i, line in enumerate(data.decode("utf-8", "replace").splitlines()):
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue
        if offset == 0 and i == 0:
            header = ev if isinstance(ev, dict) else {}
            continue
        try:
            t, code, text = float(ev[0]), ev[1], ev[2]
        except (ValueError, TypeError, IndexError, KeyError):
            continue
        if code in ("o", "r", "m") and isinstance(text, str):
            events.append([t, code, text])
    return header, events, offset + end + 1, more


def marker_reason(text: str) -> str | None:
    """The reason in a recording's end marker (``fin : logout (compte : root)`` → ``logout``)."""
    if not text.startswith("fin : "):
        return None
    return text[6:].split(" (", 1)[0].strip() or None


def last_event_time(path: Path) -> float | None:
    """The time (seconds from the recording's start) of its last complete event: when the last
    byte of a session that never ended was recorded."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(max(0, size - 65536))
            tail = f.read()
    except OSError:
        return None
    lines = tail.split(b"\n")
    for line in reversed(lines[1:] if size > 65536 else lines):    # a cut first line is no event
        try:
            ev = json.loads(line)
            return float(ev[0])
        except (json.JSONDecodeError, ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError):
            continue
    return None


def recordings_dir(log: EvidenceLog) -> Path:
    """Where the portal writes the pod's recordings: beside the evidence log (archived with it)."""
    return log.path.parent / "terminals" / f"pod-{log.pod}"


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.cast$")


def recording_path(log: EvidenceLog, name: object) -> Path | None:
    """The recording named in an evidence record, if it is a plain name of the pod's directory."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        return None
    d = recordings_dir(log)
    p = d / name
    try:
        if p.resolve().parent != d.resolve() or not p.is_file():
            return None
    except OSError:
        return None
    return p


@dataclass
class TerminalSession:
    """One terminal a candidate opened, from the evidence log and its recording."""

    number: int                       # 1, 2… in the candidate's session, the console's id
    node: str
    started: float
    recording: str
    path: Path | None = None
    account: str | None = None
    seconds: float | None = None
    reason: str | None = None
    ended: bool = False
    portal: object = None             # the relaying portal, as its session-start named it
    commands: list[str] = field(default_factory=list)
    commands_left_out: int = 0

    @property
    def live(self) -> bool:
        """No end in the log nor in the recording: the terminal is open (or the portal was killed)."""
        return not self.ended

    def duration(self, now: float | None = None) -> float:
        if self.seconds is not None:
            return self.seconds
        if self.live:
            return max(0.0, (time.time() if now is None else now) - self.started)
        return 0.0

    def as_dict(self, lang: str = "fr") -> dict:
        return {"number": self.number, "node": self.node, "started": self.started,
                "account": self.account, "seconds": round(self.duration(), 1), "live": self.live,
                "end": end_reason(self.reason, lang) if self.ended else None,
                "replayable": self.path is not None, "commands": self.commands,
                "commands_left_out": self.commands_left_out}


def terminal_sessions(log: EvidenceLog, session: Session, *, commands: bool = True,
                      files: bool = True) -> list[TerminalSession]:
    """The candidate's terminal sessions, oldest first, numbered from 1.

    A session with no end whose portal is no longer running is ended, ``interrupted``, at the
    last byte its recording holds (the end a later portal recorded, or decided here when none
    has yet). ``files=False``: the evidence log only (no recording read whole: a live view's poll;
    an interrupted session's last line is still read, for its duration)."""
    from .stations.liveness import alive
    by_name: dict[str, TerminalSession] = {}
    out: list[TerminalSession] = []
    started_here = {r.get("recording") for r in session.records
                    if r.get("kind") == "station" and r.get("event") == "session-start"}
    for r in session.records:
        if r.get("kind") != "station" or r.get("event") not in ("session-start", "session-end"):
            continue
        name = r.get("recording")
        if not isinstance(name, str):
            continue
        if r.get("reason") == INTERRUPTED and name not in started_here:
            continue                  # a later portal's finding about an earlier candidate's terminal
        ts = by_name.get(name)
        if ts is None:
            ts = TerminalSession(len(out) + 1, str(r.get("node") or "?"), float(r["t"]), name,
                                 path=recording_path(log, name))
            by_name[name] = ts
            out.append(ts)
        if r["event"] == "session-start":
            ts.portal = r.get("portal")
        if r["event"] == "session-end":
            ts.ended = True
            ts.account = r.get("account") or None
            ts.reason = r.get("reason")
            try:
                ts.seconds = float(r["seconds"])
            except (KeyError, TypeError, ValueError):
                ts.seconds = None
            if ts.seconds is not None and not any(
                    x.get("event") == "session-start" and x.get("recording") == name for x in session.records
                    if x.get("kind") == "station"):
                ts.started = float(r["t"]) - ts.seconds     # its start was recorded before this session
    open_ = [ts for ts in out if not ts.ended]
    if open_:
        # Ended after this candidate's records (the next portal's start): read the whole log.
        later = {r.get("recording"): r for r in log.records() if r.get("kind") == "station"
                 and r.get("event") == "session-end" and r.get("reason") == INTERRUPTED}
        for ts in open_:
            found = later.get(ts.recording)
            if found is not None:
                ts.ended, ts.reason = True, INTERRUPTED
                seconds = found.get("seconds")
                ts.seconds = float(seconds) if isinstance(seconds, int | float) else None
            elif alive(ts.portal) is False:
                ts.ended, ts.reason = True, INTERRUPTED
                if ts.path is not None:                      # its last line only (a bounded read)
                    last = last_event_time(ts.path)
                    ts.seconds = round(last, 1) if last is not None else None
    for ts in out:
        if ts.path is None or not files:
            continue
        try:
            if ts.path.stat().st_size > MAX_CAST_BYTES:
                continue
            header, events = read_cast(ts.path)
        except (OSError, json.JSONDecodeError):
            continue
        if events and events[-1][1] == "m":
            ts.ended = True                                  # the portal ended it but no record says so
            if ts.reason in (None, INTERRUPTED):
                ts.reason = marker_reason(events[-1][2]) or ts.reason
                ts.seconds = round(events[-1][0], 1)
            if ts.seconds is None:
                ts.seconds = round(events[-1][0], 1)
        if header.get("timestamp") and not any(
                r.get("event") == "session-start" and r.get("recording") == ts.recording
                for r in session.records if r.get("kind") == "station"):
            ts.started = float(header["timestamp"])
        if commands:
            ts.commands, ts.commands_left_out = extract_commands("".join(e[2] for e in events if e[1] == "o"))
    return out


def record_interrupted(log: EvidenceLog, *, actor: str = "portal") -> list[dict]:
    """Record the end of every terminal session of the pod that has none and whose portal is no
    longer running: ``session-end`` with reason ``interrupted``, ``seconds`` up to the last byte
    its recording holds and ``last_output`` (that byte's time). Appended to the evidence log;
    the recording itself is left as it is. A session whose recording ends with the portal's own
    end marker (the portal died between closing the file and writing its record) gets that
    marker's reason. Sessions whose record names no portal (older portals) are left open."""
    from .stations.liveness import alive
    records = [r for r in log.records() if r.get("kind") == "station"]
    ended = {r.get("recording") for r in records if r.get("event") == "session-end"}
    added = []
    for r in records:
        name = r.get("recording")
        if r.get("event") != "session-start" or not isinstance(name, str) or name in ended:
            continue
        if alive(r.get("portal")) is not False:
            continue
        path = recording_path(log, name)
        reason, last = INTERRUPTED, None
        if path is not None:
            last = last_event_time(path)
            try:
                _header, events = read_cast(path) if path.stat().st_size <= MAX_CAST_BYTES else ({}, [])
            except (OSError, json.JSONDecodeError):
                events = []
            if events and events[-1][1] == "m":
                reason = marker_reason(events[-1][2]) or INTERRUPTED
        data: dict = {"node": r.get("node"), "recording": name, "reason": reason,
                      "seconds": round(last, 1) if last is not None else None, "found_at": "portal-start"}
        if last is not None:
            at = float(r["t"]) + last
            data["last_output"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(at))
        added.append(log.record("station", actor=actor, event="session-end", **data))
        ended.add(name)
    return added
