"""Out-of-band commands into a VM through the QEMU guest agent (libvirt).

``guest-exec`` starts the command inside the guest (as root, over a virtio serial
port: no network involved), ``guest-exec-status`` is polled until it ends. Output is
captured base64-encoded by the agent. The connection to libvirt is opened per
transport and may be shared (libvirt connections are thread-safe).
"""
from __future__ import annotations

import base64
import json
import time
from typing import Any, Callable, Sequence

from .base import CommandResult

# qemuAgentCommand(domain, json, timeout, flags) → json; injectable for unit tests.
AgentCall = Callable[[Any, str, int], str]

_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"]


class AgentError(Exception):
    """The guest agent did not answer (VM off, agent not started yet, or it failed)."""


def libvirt_agent_call(domain: Any, payload: str, timeout: int) -> str:
    import libvirt
    import libvirt_qemu
    try:
        return libvirt_qemu.qemuAgentCommand(domain, payload, timeout, 0)
    except libvirt.libvirtError as exc:
        raise AgentError(str(exc)) from exc


class QgaTransport:
    """Runs commands in a libvirt domain through its guest agent."""

    def __init__(self, node: str, domain: Any, *, call: AgentCall = libvirt_agent_call,
                 poll: float = 0.05) -> None:
        self.node = node
        self.domain = domain
        self._call = call
        self._poll = poll

    def agent(self, command: str, arguments: dict | None = None, timeout: int = 10) -> Any:
        payload: dict[str, Any] = {"execute": command}
        if arguments is not None:
            payload["arguments"] = arguments
        reply = json.loads(self._call(self.domain, json.dumps(payload), timeout))
        if "error" in reply:
            raise AgentError(f"{command}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def ping(self, timeout: int = 2) -> bool:
        try:
            self.agent("guest-ping", timeout=timeout)
            return True
        except Exception:  # noqa: BLE001 — any failure means "not reachable yet"
            return False

    def run(self, command: Sequence[str], *, timeout: float = 30.0,
            input: str | None = None) -> CommandResult:
        started = time.monotonic()
        command = list(command)
        args: dict = {"path": command[0], "arg": command[1:], "env": _ENV, "capture-output": True}
        if input is not None:
            args["input-data"] = base64.b64encode(input.encode()).decode()
        try:
            pid = self.agent("guest-exec", args, timeout=max(5, int(timeout)))["pid"]
        except AgentError as exc:
            return CommandResult(tuple(command), 127 if "No such file" in str(exc) else 255, "",
                                 f"guest agent of {self.node}: {exc}", round(time.monotonic() - started, 3))
        deadline = started + timeout
        poll = self._poll
        while True:
            try:
                st = self.agent("guest-exec-status", {"pid": pid}, timeout=10)
            except AgentError as exc:
                return CommandResult(tuple(command), 255, "", f"guest agent of {self.node}: {exc}",
                                     round(time.monotonic() - started, 3))
            if st.get("exited"):
                break
            if time.monotonic() > deadline:
                # Nothing in the agent protocol kills it; the guest's own timeout does.
                self._kill(pid)
                return CommandResult(tuple(command), 124, "", f"timed out after {timeout:g} s",
                                     round(time.monotonic() - started, 3))
            time.sleep(poll)
            poll = min(poll * 1.5, 0.5)
        out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
        if "exitcode" in st:
            status = int(st["exitcode"])
        else:                       # killed by a signal: the shell's convention
            status = 128 + int(st.get("signal", 0))
        return CommandResult(tuple(command), status, out, err, round(time.monotonic() - started, 3))

    def _kill(self, pid: int) -> None:
        try:
            self.agent("guest-exec", {"path": "/bin/kill", "arg": ["-KILL", str(pid)]}, timeout=5)
        except AgentError:
            pass

    def write_file(self, path: str, content: str) -> None:
        """Write a file in the guest (through a command: works on any agent version)."""
        res = self.run(["/bin/sh", "-c", 'cat > "$0"', path], input=content, timeout=30)
        if not res.ok:
            raise AgentError(f"cannot write {path} on {self.node}: {res.stderr.strip()}")
