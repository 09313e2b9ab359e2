"""Probes judge what the user would see; the plateau's health list follows the plan."""
from __future__ import annotations

from pathlib import Path

from tai_lab.probes import Probe, health_probes, run_probes
from tai_lab.scenario import load_plan
from tai_lab.transports.base import CommandResult

STD = Path(__file__).resolve().parents[2] / "scenarios/tai-standard.yaml"


def _res(status: int, out: str = "") -> CommandResult:
    return CommandResult(("x",), status, out, "")


def test_judge_reachable_and_unreachable():
    p = Probe("internet", "t", "pc1", ("curl",), must_contain="TAI-INTERNET-OK")
    assert p.judge(_res(0, "<h1>TAI-INTERNET-OK</h1>"))
    assert not p.judge(_res(0, "captive portal"))       # a page, but not the right one
    assert not p.judge(_res(7))
    cut = Probe("internet", "t", "pc1", ("curl",), expect_ok=False, must_contain="TAI-INTERNET-OK")
    assert cut.judge(_res(7)) and not cut.judge(_res(0, "TAI-INTERNET-OK"))


def test_lease_probe_checks_the_subnet():
    p = Probe("lease:pc1", "t", "pc1", ("ip",), in_subnet="10.1.10.0/24")
    assert p.judge(_res(0, "2: eth0    inet 10.1.10.100/24 brd 10.1.10.255 scope global eth0"))
    assert not p.judge(_res(0, "2: eth0    inet 169.254.3.4/16 scope link eth0"))
    assert not p.judge(_res(0, "2: eth0    inet 10.2.10.100/24 scope global eth0"))


def test_health_probes_follow_phase_and_pods():
    plan = load_plan(STD, pods=2)
    jury = {p.id: p for p in health_probes(plan, plan.pod(1), internet=True)}
    prep = {p.id: p for p in health_probes(plan, plan.pod(1), internet=False)}
    assert {"lease:pc1", "lease:pc2", "dns:srv", "intranet", "fileshare", "printer", "internet",
            "isolation:pod2"} <= set(jury)
    assert jury["internet"].expect_ok and not prep["internet"].expect_ok
    assert not jury["isolation:pod2"].expect_ok
    assert "10.2." in " ".join(jury["isolation:pod2"].command)
    solo = load_plan(STD, pods=1)
    assert not any(p.id.startswith("isolation") for p in health_probes(solo, solo.pod(1), internet=True))


def test_a_node_that_is_down_fails_its_probes():
    class Down(Exception):
        pass

    def transport_for(pod, node):
        raise Down("pc1 of pod 1 is not running")

    (r,) = run_probes(1, [Probe("intranet", "t", "pc1", ("curl",))], transport_for)
    assert not r.passed and "not running" in r.evidence


def test_verify_tries_a_failed_probe_once_more_patiently():
    from tai_lab.lab import _with_second_try
    from tai_lab.probes import FAST_DNS, ProbeResult
    from tai_lab.transports.base import CommandResult

    slow = Probe("dns:srv", "srv se résout", "pc1", (*FAST_DNS, "getent", "ahostsv4", "srv"), must_contain="10.")
    leak = Probe("internet", "Internet injoignable", "pc1", ("curl", "x"), expect_ok=False)
    broken = Probe("intranet", "page", "pc1", ("curl", "y"), must_contain="OK")
    seen: list[tuple] = []

    class T:
        def run(self, argv, timeout=10, input=None):
            seen.append((tuple(argv), timeout))
            out = {"getent": "10.1.20.10 STREAM srv", "curl": "nothing"}[argv[0]]
            return CommandResult(tuple(argv), 0, out, "")

    first = [ProbeResult(1, slow, False, "timeout"), ProbeResult(1, leak, False, "reached"),
             ProbeResult(1, broken, False, "nothing")]
    out = {r.probe.id: r for r in _with_second_try(1, first, lambda pod, node: T())}
    assert out["dns:srv"].passed and out["dns:srv"].evidence.startswith("(2e essai)")
    assert not out["internet"].passed          # reaching what must be cut is never retried away
    assert not out["intranet"].passed          # still broken the second time
    assert {a[0] for a, _ in seen} == {"getent", "curl"} and len(seen) == 2
    assert all(a[: len(FAST_DNS)] != FAST_DNS for a, _ in seen)   # the resolver's own patience


class _GatedTransport:
    """A fake node: "slow" commands block until the test opens the gate; others answer at once."""

    def __init__(self, gate):
        self.gate = gate
        self.node = "pc1"

    def run(self, command, *, timeout=30.0, input=None):
        from tai_lab.transports.base import CommandResult
        if command[0] == "slow":
            self.gate.wait(timeout=10)
            return CommandResult(tuple(command), 0, "ok", "")
        return CommandResult(tuple(command), 0 if command[0] == "good" else 1, "", "refused")


def test_first_failure_returns_without_waiting_for_slower_probes():
    import threading
    from tai_lab.probes import Probe, first_failure
    gate = threading.Event()
    t = _GatedTransport(gate)
    probes = [Probe("slow", "lent", "pc1", ("slow",)), Probe("bad", "refusé", "pc1", ("bad",)),
              Probe("good", "bon", "pc1", ("good",))]
    try:
        results = first_failure(1, probes, lambda pod, node: t)
        # the slow probe is still blocked on the gate: it cannot be among the results
        assert "slow" not in [r.probe.id for r in results]
        assert [r.probe.id for r in results if not r.passed] == ["bad"]
    finally:
        gate.set()


def test_first_failure_waits_for_every_probe_when_all_pass():
    import threading
    from tai_lab.probes import Probe, first_failure
    gate = threading.Event()
    gate.set()
    t = _GatedTransport(gate)
    probes = [Probe("slow", "lent", "pc1", ("slow",)), Probe("good", "bon", "pc1", ("good",))]
    results = first_failure(1, probes, lambda pod, node: t)
    assert [(r.probe.id, r.passed) for r in results] == [("slow", True), ("good", True)]


def test_first_failure_raises_what_a_probe_raised():
    import pytest
    from tai_lab.probes import Probe, first_failure

    class Broken:
        node = "pc1"

        def run(self, command, *, timeout=30.0, input=None):
            raise RuntimeError("guest agent gone")

    with pytest.raises(RuntimeError, match="guest agent gone"):
        first_failure(1, [Probe("x", "x", "pc1", ("x",))], lambda pod, node: Broken())
