"""One way to run a command on a node, whatever the node is.

Every transport returns the same :class:`CommandResult`, so probes, interventions
and the CLI never care whether the node is a container, a VM or a physical box.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True)
class CommandResult:
    command: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def text(self) -> str:
        return self.stdout.strip()

    def brief(self, limit: int = 200) -> str:
        """One line of evidence for a report: the command and what it said."""
        out = (self.stdout.strip() or self.stderr.strip()).replace("\n", " ⏎ ")
        if len(out) > limit:
            out = out[: limit - 1] + "…"
        return f"$ {shlex.join(self.command)} → {self.exit_status}: {out}"


class Transport(Protocol):
    """Runs commands on one node, out of band (never over the lab network)."""

    node: str

    def run(self, command: Sequence[str], *, timeout: float = 30.0,
            input: str | None = None) -> CommandResult: ...
