"""The journal and the lock: what `down` relies on after a crash."""
from __future__ import annotations

import multiprocessing
import time

import pytest

from tai_lab.errors import LockBusyError, NotFoundError
from tai_lab.state import Journal, LabState, Resource, lab_lock, resolve_lab


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path))
    return tmp_path


def test_journal_replays_created_minus_removed(tmp_path):
    j = Journal(tmp_path / "j.jsonl")
    a, b, c = Resource("netns", "tai-x-a", 1), Resource("mount", "/m", 1), Resource("netns", "tai-x-c", 2)
    for r in (a, b, c):
        j.will_create(r)
    j.removed(b)
    assert [r.name for r in j.live()] == ["tai-x-a", "tai-x-c"]


def test_journal_survives_a_torn_last_line(tmp_path):
    j = Journal(tmp_path / "j.jsonl")
    j.will_create(Resource("netns", "tai-x-a", 1))
    with (tmp_path / "j.jsonl").open("a") as f:
        f.write('{"op": "add", "kind": "netns", "na')   # power cut mid-write
    assert [r.name for r in j.live()] == ["tai-x-a"]


def test_recording_again_updates_the_resource(tmp_path):
    j = Journal(tmp_path / "j.jsonl")
    j.will_create(Resource("process", "1/pc1", 1, {"machine": "m"}))
    j.will_create(Resource("process", "1/pc1", 1, {"machine": "m", "pid": 42}))
    (only,) = j.live()
    assert only.data == {"machine": "m", "pid": 42}


def test_state_round_trip():
    s = LabState("lab1")
    s.data = {"pods": {}}
    s.pod(1)["phase"] = "prep"
    s.save()
    assert LabState("lab1").pod(1)["phase"] == "prep"


def test_resolve_lab_messages():
    with pytest.raises(NotFoundError, match="aucun lab n'est démarré"):
        resolve_lab(None)
    LabState("one").save()
    assert resolve_lab(None) == "one"
    LabState("two").save()
    with pytest.raises(NotFoundError, match="plusieurs labs"):
        resolve_lab(None)
    with pytest.raises(NotFoundError, match="aucun lab nommé 'three'"):
        resolve_lab("three")


def _hold(home: str, ready, release) -> None:
    import os
    os.environ["TAI_LAB_HOME"] = home
    with lab_lock("lk", "tai-lab up"):
        ready.set()
        release.wait(10)


def test_second_command_is_told_who_holds_the_lock(home):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(str(home), ready, release))
    p.start()
    try:
        assert ready.wait(10)
        told: list[str] = []
        with pytest.raises(LockBusyError, match=r"pid \d+ \(tai-lab up\)"):
            with lab_lock("lk", "tai-lab verify", timeout=0.5, notify=told.append):
                pass
        assert told and "tai-lab up" in told[0]
    finally:
        release.set()
        p.join(10)
    t = time.monotonic()
    with lab_lock("lk", "tai-lab verify", timeout=5):
        pass
    assert time.monotonic() - t < 5


def test_a_record_appended_after_a_torn_line_still_counts(tmp_path):
    j = Journal(tmp_path / "j.jsonl")
    j.will_create(Resource("netns", "tai-x-a", 1))
    with (tmp_path / "j.jsonl").open("a") as f:
        f.write('{"op": "add", "kind": "netns", "na')   # power cut mid-write
    j.will_create(Resource("netns", "tai-x-b", 1))      # the next command appends
    assert [r.name for r in Journal(tmp_path / "j.jsonl").live()] == ["tai-x-a", "tai-x-b"]


def test_journal_reads_what_another_process_appended(tmp_path):
    reader, writer = Journal(tmp_path / "j.jsonl"), Journal(tmp_path / "j.jsonl")
    writer.will_create(Resource("netns", "tai-x-a", 1))
    assert [r.name for r in reader.live()] == ["tai-x-a"]
    writer.removed(Resource("netns", "tai-x-a", 1))
    writer.will_create(Resource("netns", "tai-x-b", 1))
    assert [r.name for r in reader.live()] == ["tai-x-b"]
    # the lab was taken down and built again: a new file, read from its start
    (tmp_path / "j.jsonl").unlink()
    Journal(tmp_path / "j.jsonl").will_create(Resource("netns", "tai-x-c", 1))
    assert [r.name for r in reader.live()] == ["tai-x-c"]


def test_journal_read_from_many_threads_loses_no_record(tmp_path):
    # One Journal object is shared by the threads that boot pods in parallel: readers racing
    # each other must never skip the records between two offsets (a lost "process" record
    # made a running container look as if it had never started).
    import sys
    import threading
    journal = Journal(tmp_path / "j.jsonl")
    names = [f"tai-x-{i}" for i in range(150)]
    done = threading.Event()

    def write():
        for n in names:
            journal.will_create(Resource("netns", n, 1))
        done.set()

    def read():
        while not done.is_set():
            journal.live()

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(6)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # switch threads as often as possible: make the race show
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert [r.name for r in journal.live()] == names
    assert [r.name for r in Journal(tmp_path / "j.jsonl").live()] == names


def test_a_labs_plan_is_derived_once_then_read_from_its_cache(tmp_path, monkeypatch):
    """Every command needs the lab's plan: derived from the scenario copy once, then cached;
    a changed scenario copy (or pod count) derives it again, a broken cache is ignored."""
    import shutil
    from pathlib import Path

    import tai_lab.scenario as scenario_pkg
    from tai_lab.lab import lab_plan
    from tai_lab.state import LabState

    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path / "home"))
    root = Path(__file__).resolve().parents[2]
    state = LabState("std")
    state.data.update(pod_count=2)
    state.save()
    shutil.copyfile(root / "scenarios/tai-standard.yaml", state.dir / "scenario.yaml")
    derived = []
    real = scenario_pkg.load_plan
    monkeypatch.setattr(scenario_pkg, "load_plan", lambda *a, **k: derived.append(1) or real(*a, **k))

    first = lab_plan(state)
    assert len(first.pods) == 2 and derived == [1]
    again = lab_plan(LabState("std"))
    assert again == first and derived == [1]                    # from the cache
    state.data["pod_count"] = 1
    assert len(lab_plan(state).pods) == 1 and derived == [1, 1]  # another pod count
    (state.dir / "scenario.yaml").write_text(
        (state.dir / "scenario.yaml").read_text().replace("example.net", "example.org"))
    assert "www.example.org" in {s.name for s in lab_plan(state).upstream.sites} and len(derived) == 3
    (state.dir / "plan.pickle").write_bytes(b"not a pickle")
    assert lab_plan(state) == lab_plan(state) and len(derived) == 4


def _hold_shared(home: str, ready, release) -> None:
    import os
    os.environ["TAI_LAB_HOME"] = home
    with lab_lock("lk", "tai-lab check", shared=True):
        ready.set()
        release.wait(10)


def test_checks_share_the_lock_but_never_with_a_change(home):
    """`check` holds the lab's lock shared: checks run together; an inject/reset waits for
    them, and a check waits for (or, bounded, refuses during) an inject/reset."""
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_shared, args=(str(home), ready, release))
    p.start()
    try:
        assert ready.wait(10)
        with lab_lock("lk", "tai-lab check", shared=True, timeout=0.5):   # a second check: at once
            pass
        with pytest.raises(LockBusyError):
            with lab_lock("lk", "tai-lab reset", timeout=0.5, notify=lambda m: None):
                pass
    finally:
        release.set()
        p.join(10)
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(str(home), ready, release))       # an exclusive holder
    p.start()
    try:
        assert ready.wait(10)
        with pytest.raises(RuntimeError, match=r"reset in progress: pid \d+ \(tai-lab up\)"):
            with lab_lock("lk", "tai-lab check", shared=True, timeout=0.3, notify=lambda m: None,
                          busy=lambda who: RuntimeError(f"reset in progress: {who}")):
                pass
    finally:
        release.set()
        p.join(10)


def test_a_waiting_change_goes_before_new_checks(home):
    """Writer first: while an inject waits for running checks, a new check waits behind it
    (a console polling every second cannot starve an inject)."""
    import threading
    order: list[str] = []
    first_in = threading.Event()
    release_first = threading.Event()

    def check1():
        with lab_lock("lk", "check 1", shared=True):
            first_in.set()
            release_first.wait(5)
            order.append("check 1 out")

    def inject():
        with lab_lock("lk", "inject", notify=lambda m: None):
            order.append("inject")
            time.sleep(0.2)

    def check2():
        with lab_lock("lk", "check 2", shared=True, notify=lambda m: None):
            order.append("check 2")

    t1 = threading.Thread(target=check1)
    t1.start()
    assert first_in.wait(5)
    t2 = threading.Thread(target=inject)
    t2.start()
    time.sleep(0.5)                                   # the inject now waits at the gate
    t3 = threading.Thread(target=check2)
    t3.start()
    time.sleep(0.5)
    assert order == []                               # check 2 did not pass the waiting inject
    release_first.set()
    for t in (t1, t2, t3):
        t.join(10)
    assert order == ["check 1 out", "inject", "check 2"]
