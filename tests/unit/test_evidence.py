"""The evidence log: append-only, folded into sessions, safe with concurrent writers."""
from __future__ import annotations

import json
import multiprocessing
from types import SimpleNamespace

import pytest

from tai_lab.evidence import EvidenceLog, LabHook


def _writer(path: str, n: int, tag: str) -> None:
    log = EvidenceLog(path, 1)
    for i in range(n):
        log.record("note", actor=tag, id="dns-failure", text=f"{tag}-{i}" + "x" * 3000)


def test_records_are_timestamped_and_append_only(tmp_path):
    log = EvidenceLog(tmp_path, 2)
    r = log.record("candidate", actor="jury:A", name="Camille Martin")
    assert r["pod"] == 2 and r["actor"] == "jury:A" and r["t"] > 0 and "T" in r["at"]
    log.record("note", actor="jury:A", id="dns-failure", text="première")
    before = log.path.read_bytes()
    log.record("note", actor="jury:B", id="dns-failure", text="seconde")
    assert log.path.read_bytes().startswith(before)          # nothing rewritten
    assert [r["kind"] for r in log.records()] == ["candidate", "note", "note"]
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError):
        EvidenceLog(tmp_path, 1).record("bogus")
    assert not EvidenceLog(tmp_path, 1).path.exists()


def test_default_actor_is_the_unix_user(tmp_path):
    assert EvidenceLog(tmp_path, 1).record("timer", action="start")["actor"].startswith("cli")


def test_session_folding(tmp_path, monkeypatch):
    log = EvidenceLog(tmp_path, 1)
    clock = iter(range(1000, 2000, 10))
    monkeypatch.setattr("tai_lab.evidence.time.time", lambda: float(next(clock)))
    log.record("candidate", name="Old")
    log.record("note", id="x", text="old note")
    log.record("candidate", name="Camille")                  # t=1020: a new session
    log.record("timer", action="start")                      # 1030
    log.record("inject-begin", id="dns-failure", variant=None)   # 1040
    log.record("inject", id="dns-failure", variant="service-stopped", seconds=3, evidence=[])  # 1050
    log.record("check", id="dns-failure", variant="service-stopped", fixed=False, evidence=[])  # 1060
    log.record("timer", action="pause")                      # 1070
    log.record("check", id="dns-failure", variant="service-stopped", fixed=True, evidence=[])  # 1080
    log.record("check", id="dns-failure", variant="service-stopped", fixed=True, evidence=[])  # 1090
    log.record("note", id="dns-failure", text="a relancé named")
    log.record("criterion", id="dns-failure", competency="c7", index=0, text="…", checked=True)
    log.record("criterion", id="dns-failure", competency="c7", index=1, text="…", checked=True)
    log.record("criterion", id="dns-failure", competency="c7", index=1, text="…", checked=False)
    log.record("restore", id="dns-failure", restored=["dns-failure"])
    log.record("inject-begin", id="intranet-down", variant="page-missing")
    log.record("inject-failed", id="intranet-down", variant="page-missing", error="boom")
    sessions = log.sessions()
    assert [s.candidate for s in sessions] == ["Old", "Camille"]
    s = log.current()
    assert s.candidate == "Camille"
    assert s.elapsed(now=5000) == 40                          # 1030 → 1070, paused since
    assert not s.timer_running
    a, b = s.attempts
    assert (a.id, a.variant, a.fixed, a.fixed_at, a.seconds_to_fix) == \
        ("dns-failure", "service-stopped", True, 1080, 30)
    assert a.restored_at is not None and not a.open
    assert b.failed == "boom" and not b.open
    assert s.used() == ["dns-failure"]
    assert s.ticked("dns-failure") == {"c7": [0]}
    assert [n["text"] for n in s.notes["dns-failure"]] == ["a relancé named"]
    assert "x" not in s.notes                                  # the old candidate's note stays there


def test_torn_last_line_is_ignored(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    log.record("candidate", name="A")
    with open(log.path, "ab") as f:
        f.write(b'{"t": 1, "kind": "no')
    assert len(log.records()) == 1


def test_concurrent_writers_never_interleave(tmp_path):
    procs = [multiprocessing.Process(target=_writer, args=(str(tmp_path), 60, f"w{i}")) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = EvidenceLog(tmp_path, 1).path.read_text().splitlines()
    assert len(lines) == 240
    assert all(json.loads(line)["kind"] == "note" for line in lines)


class _Probe:
    title = "intranet s'affiche"


class _Res:
    def __init__(self, passed):
        self.probe, self.passed, self.evidence = _Probe(), passed, "HTTP 200" if passed else "refused"


class _Check:
    def __init__(self, fixed):
        self.id, self.variant, self.fixed, self.results = "intranet-down", "service-stopped", fixed, (_Res(fixed),)


def test_hook_records_only_changes_when_asked(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    hook = LabHook(log)
    log.record("inject-begin", id="intranet-down", variant=None)
    log.record("inject", id="intranet-down", variant="service-stopped", seconds=2, evidence=[])
    for fixed in (False, False, True, True):
        hook.after_check([_Check(fixed)], "web:A", "changes")
    checks = [r for r in log.records() if r["kind"] == "check"]
    assert [c["fixed"] for c in checks] == [True]            # False equals the state after inject
    hook.after_check([_Check(True)], None, "all")
    hook.after_check([_Check(True)], None, "none")
    assert len([r for r in log.records() if r["kind"] == "check"]) == 2
    assert checks[0]["evidence"] == [{"title": "intranet s'affiche", "passed": True, "evidence": "HTTP 200"}]


def test_the_report_says_how_the_prep_seal_was_found(tmp_path):
    from tai_lab.jury.report import context
    log = EvidenceLog(tmp_path, 1)
    log.record("seal", actor="cli:root", intact=False, override=True, count=1,
               changes=[{"node": "srv", "path": "/etc/dhcp/dhcpd.conf", "change": "changed"}])
    log.record("candidate", actor="web:jury", name="Camille Dupont")
    ctx = context("std", "Plateau", log)
    assert ctx["seal"].startswith("FORCÉ") and "srv /etc/dhcp/dhcpd.conf" in ctx["seal"]
    log2 = EvidenceLog(tmp_path, 2)
    log2.record("candidate", actor="web:jury", name="Alex Martin")
    assert context("std", "Plateau", log2)["seal"] is None


def _clocked(monkeypatch):
    clock = iter(range(1000, 5000, 10))
    monkeypatch.setattr("tai_lab.evidence.time.time", lambda: float(next(clock)))


def test_a_reset_clears_what_it_undoes_as_not_repaired_and_ends_the_session(tmp_path, monkeypatch):
    from tai_lab.jury.report import context
    _clocked(monkeypatch)
    log = EvidenceLog(tmp_path, 1)
    hook = LabHook(log)
    log.record("candidate", name="Camille")
    assert log.current().is_open
    for iid in ("intranet-down", "dns-failure"):
        log.record("inject-begin", id=iid, variant=None)
        log.record("inject", id=iid, variant="service-stopped", seconds=2, evidence=[])
    hook.after_check([_Check(True)], "web:A", "changes")                 # really fixed while applied
    hook.before_reset("reset", "baseline", ["intranet-down", "dns-failure"], "cli:root")
    # a check after the reset (the pod at its baseline) must not make anything "fixed"
    log.record("check", id="dns-failure", variant="service-stopped", fixed=True, evidence=[])
    s = log.current()
    a, b = s.attempts
    assert (a.outcome, b.outcome) == ("fixed", "cleared")
    assert b.fixed_at is None and not b.open and b.cleared_at is not None
    assert not s.is_open and s.ended is not None
    items = {i["id"]: i for i in context("std", "Plateau", log)["items"]}
    assert items["dns-failure"]["verdict"] == "effacée par remise à zéro — non réparée"
    assert items["intranet-down"]["verdict"] == "réparé" and items["intranet-down"]["cleared"]
    assert context("std", "Plateau", log)["n_fixed"] == 1
    log.record("timer", action="start")                                  # the jury goes on with them
    assert log.current().is_open


def test_an_unnamed_pod_has_no_open_session_and_an_interrupted_check_counts_for_nothing(tmp_path, monkeypatch):
    from tai_lab.jury.report import context
    _clocked(monkeypatch)
    log = EvidenceLog(tmp_path, 1)
    log.record("inject-begin", id="dns-failure", variant="forwarder-wrong")   # killed: no "inject"
    assert not log.current().is_open
    LabHook(log).after_check([SimpleNamespace(id="dns-failure", variant="forwarder-wrong", fixed=False,
                                              interrupted=True, results=())], None, "changes")
    assert [r["kind"] for r in log.records()] == ["inject-begin"]       # a console's poll: nothing new
    LabHook(log).after_check([SimpleNamespace(id="dns-failure", variant="forwarder-wrong", fixed=False,
                                              interrupted=True, results=())], None, "all")
    assert log.records()[-1]["interrupted"] is True
    (a,) = log.current().attempts
    assert a.outcome == "interrupted" and a.fixed is None
    assert context("std", "P", log)["items"][0]["verdict"] == "injection interrompue — jamais réparée"
