"""Running probes on a pod's nodes: all of them in parallel, or until the first failure."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ..transports.base import CommandResult, Transport
from .model import Probe, ProbeResult

TransportFor = Callable[[int, str], Transport]


def _run_one(pod: int, p: Probe, transport_for: TransportFor) -> ProbeResult:
    try:
        t = transport_for(pod, p.node)
    except Exception as exc:  # node not running: the user would see nothing work
        res = CommandResult(p.command, 255, "", str(exc))
    else:
        res = t.run(p.command, timeout=p.timeout, input=p.stdin)
    return ProbeResult(pod, p, p.judge(res), res.brief(), res.seconds)


def run_probes(pod: int, probes: list[Probe], transport_for: TransportFor) -> list[ProbeResult]:
    """Run probes in parallel; a node that is down fails its probes with that as evidence."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda p: _run_one(pod, p, transport_for), probes))


def first_failure(pod: int, probes: list[Probe], transport_for: TransportFor) -> list[ProbeResult]:
    """Run probes in parallel until one fails: the results finished by then (the failure among
    them), or all of them when every probe passes.

    Proof that a fault shows needs one failing check, and the fastest failure is often a refusal
    while another check waits for a timeout. The probes still running are left to end by their
    own timeouts (a few seconds at most), in daemon threads: nobody waits for them.
    """
    results: dict[int, ProbeResult | BaseException] = {}
    changed = threading.Condition()

    def worker(i: int, p: Probe) -> None:
        try:
            r: ProbeResult | BaseException = _run_one(pod, p, transport_for)
        except BaseException as exc:       # raised to the caller, as run_probes would
            r = exc
        with changed:
            results[i] = r
            changed.notify()

    def settled() -> bool:
        return len(results) == len(probes) or any(
            isinstance(r, BaseException) or not r.passed for r in results.values())

    for i, p in enumerate(probes):
        threading.Thread(target=worker, args=(i, p), daemon=True, name=f"probe-{p.id}").start()
    with changed:
        while not settled():
            changed.wait()
        done = [results[i] for i in sorted(results)]
    for r in done:
        if isinstance(r, BaseException):
            raise r
    return done  # type: ignore[return-value]
