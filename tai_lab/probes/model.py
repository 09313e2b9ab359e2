"""A probe: one command on one node, and how to judge what the user would see from its output.

What a kind of probe runs is built in :mod:`tai_lab.probes.kinds`; this module only judges.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ..transports.base import CommandResult

# Ask the user's resolver with a one-second timeout, once: a probe of a broken DNS fails
# in a second instead of glibc's default 5 s × 2 tries (the answer is the same).
FAST_DNS = ("env", "RES_OPTIONS=timeout:1 attempts:1")


@dataclass(frozen=True)
class Probe:
    """One behavioural check. ``expect_ok`` False means the user must NOT get through."""

    id: str
    title: str                  # French, for the jury and the trainer
    node: str
    command: tuple[str, ...]
    expect_ok: bool = True
    must_contain: str | None = None
    in_subnet: str | None = None   # output must show an ``inet`` address inside this subnet
    in_range: tuple[str, str] | None = None   # … or between these two addresses (a DHCP pool)
    must_not_contain: str | None = None
    max_rtt_ms: float | None = None     # ping statistics: average round trip …
    max_loss_pct: float | None = None   # … and packet loss
    max_skew_s: float | None = None     # clock: output "<local wall time> " vs the plateau's zone
    timezone: str = "Europe/Paris"
    timeout: float = 10.0
    stdin: str | None = None            # fed to the command (a script too long to show as evidence)
    # What the check is about, for the sentence a jury member reads (tai_lab/jury/sentences.py):
    # ("kind", …) and the values the sentence names (name, url, share…), as pairs (hashable).
    about: tuple[tuple[str, str], ...] = ()

    def judge(self, res: CommandResult) -> bool:
        got = res.ok and (self.must_contain is None or self.must_contain in res.stdout)
        if got and self.must_not_contain and self.must_not_contain in res.stdout + res.stderr:
            got = False
        if got and self.in_subnet:
            net = ipaddress.ip_network(self.in_subnet)
            found = re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", res.stdout)
            got = any(ipaddress.ip_address(a) in net for a in found)
        if got and self.in_range:
            first, last = (ipaddress.IPv4Address(a) for a in self.in_range)
            found = re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", res.stdout)
            got = any(first <= ipaddress.IPv4Address(a) <= last for a in found)
        if self.max_loss_pct is not None or self.max_rtt_ms is not None:
            got = _ping_ok(res.stdout, self.max_loss_pct, self.max_rtt_ms)
        if got and self.max_skew_s is not None:
            got = _clock_ok(res.stdout, self.timezone, self.max_skew_s)
        return got if self.expect_ok else not got


def _ping_ok(out: str, max_loss: float | None, max_rtt: float | None) -> bool:
    loss = re.search(r"([\d.]+)% packet loss", out)
    if not loss:
        return False
    if max_loss is not None and float(loss.group(1)) > max_loss:
        return False
    rtt = re.search(r"= [\d.]+/([\d.]+)/", out)
    if max_rtt is not None and (not rtt or float(rtt.group(1)) > max_rtt):
        return False
    return True


def _clock_ok(out: str, zone: str, max_skew: float) -> bool:
    """The node's wall clock (as its user reads it) against the plateau's time zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    try:
        shown = datetime.strptime(out.strip()[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    now = datetime.now(ZoneInfo(zone)).replace(tzinfo=None)
    return abs((shown - now).total_seconds()) <= max_skew


@dataclass(frozen=True)
class ProbeResult:
    pod: int
    probe: Probe
    passed: bool
    evidence: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"pod": self.pod, "probe": self.probe.id, "title": self.probe.title,
                "node": self.probe.node, "expect": "reachable" if self.probe.expect_ok else "unreachable",
                "passed": self.passed, "evidence": self.evidence, "seconds": self.seconds}
