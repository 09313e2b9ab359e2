"""LabContext (tai_lab/context.py): what the features receive of a lab, the phase hooks they
register, and Lab being one — on the shared fake backend (tests/unit/fakes.py)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tai_lab import context
from tai_lab.context import LabContext, SessionOpenError
from tai_lab.errors import LabStateError, NotFoundError
from tai_lab.lab import Lab
from tai_lab.lang import in_lang
from tai_lab.scenario import load_plan

from .fakes import FakeBackend, fake_context

ROOT = Path(__file__).resolve().parents[2]
STD = ROOT / "scenarios/tai-standard.yaml"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def plan():
    return load_plan(STD, pods=2)


def test_pods_are_checked_and_listed(home, plan):
    lab = fake_context(plan)
    assert lab.pods() == [1, 2] and lab.pods(2) == [2]
    with pytest.raises(NotFoundError) as err:
        lab.pods(3)
    assert "pas de pod 3" in err.value.message and err.value.hint == "pods : 1, 2"
    assert "no pod 3" in err.value.message.en and err.value.hint.en == "pods: 1, 2"
    with pytest.raises(NotFoundError, match="ajouter --pod N"):
        lab.default_pod(None)
    with pytest.raises(NotFoundError) as err:
        lab.check_node(1, "pc9")
    assert "pc1" in err.value.hint and "srv" in err.value.hint


def test_a_pod_with_a_machine_off_is_refused_naming_it(home, plan):
    lab = fake_context(plan)
    lab.require_pod_up(1)
    lab.backend.running.discard((1, "srv"))
    with pytest.raises(LabStateError) as err:
        lab.require_pod_up(1)
    assert "srv à l'arrêt" in err.value.message and "reset --pod 1" in err.value.hint
    assert "srv not running" in err.value.message.en
    lab.require_pod_up(2)                       # the other pod is not concerned


def test_phases_and_the_internet_rule_come_from_the_state(home, plan):
    lab = fake_context(plan)
    assert lab.phase_of(1) == "setup" and lab.internet_allowed(1)
    lab.state.pod(1).update(phase="jury", phase_pending={"to": "prep"})
    assert lab.pending_phase(1) == "prep" and not lab.internet_allowed(1), "a killed `phase prep` stays cut"
    lab.state.pod(2)["phase"] = "prep"
    assert not lab.internet_allowed(2)


def test_a_wipe_is_refused_while_a_candidates_session_is_open(home, plan):
    lab = fake_context(plan)
    lab.evidence(1).record("candidate", name="Camille Test")
    assert set(lab.open_sessions()) == {1}
    with pytest.raises(SessionOpenError, match="Camille Test"):
        lab.refuse_open_sessions([1, 2], "reset", confirmed=False)
    lab.refuse_open_sessions([2], "reset", confirmed=False)     # pod 2 has no session
    lab.refuse_open_sessions([1], "reset", confirmed=True)
    lab.clear_before_wipe(1, "reset", "baseline", "jury")
    last = lab.evidence(1).records()[-1]
    assert (last["kind"], last["command"], last["to"], last["cleared"]) == ("reset", "reset", "baseline", [])
    assert lab.open_sessions() == {}, "the reset ends the candidate's session"


def _lab_on(plan, backend_cls=FakeBackend) -> Lab:
    """A Lab (the API) on the fake backend, without a scenario on disk."""
    from tai_lab.state import LabState
    lab = Lab.__new__(Lab)
    state = LabState(plan.lab)
    backend = backend_cls(state, plan)
    for p in plan.pods:
        backend.create_pod(p)
    LabContext.__init__(lab, plan.lab, plan, state, backend)
    return lab


def test_phase_hooks_run_before_the_change_and_can_refuse_it(home, plan, monkeypatch):
    seen: list[tuple] = []

    def hook(lab, pods, phase, *, override_seal=False):
        seen.append((phase, tuple(pods), override_seal, dict(lab.backend.upstream)))
        if phase == "jury" and not override_seal:
            raise LabStateError("refused by the hook")

    monkeypatch.setattr(context, "_PHASE_HOOKS", [])
    assert context.on_phase_change(hook) is hook and context.on_phase_change(hook) is hook
    assert context.phase_hooks() == (hook,), "registered once"
    lab = _lab_on(plan)
    lab.set_phase("prep", 1)
    assert seen == [("prep", (1,), False, {1: False, 2: False})]
    assert lab.phase_of(1) == "prep" and lab.phase_of(2) == "setup"
    calls_before = list(lab.backend.calls)
    with pytest.raises(LabStateError, match="refused by the hook"):
        lab.set_phase("jury")
    assert lab.backend.calls == calls_before and lab.phase_of(1) == "prep", "nothing changed"
    lab.set_phase("jury", override_seal=True)
    assert seen[-1][:3] == ("jury", (1, 2), True) and lab.backend.upstream == {1: True, 2: True}


def test_the_prep_phase_registers_its_hook_when_the_api_is_imported():
    code = ("import tai_lab.context as c; assert c.phase_hooks() == (), c.phase_hooks(); "
            "import tai_lab.lab; from tai_lab.prep.hooks import before_phase; "
            "assert c.phase_hooks() == (before_phase,), c.phase_hooks()")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_features_never_import_the_api():
    """The features are typed against LabContext: not even a type-checking import of tai_lab.lab."""
    features = [*(ROOT / "tai_lab/prep").glob("*.py"), *(ROOT / "tai_lab/interventions").glob("*.py"),
                ROOT / "tai_lab/stations/node.py", ROOT / "tai_lab/context.py"]
    offenders = []
    for f in features:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "lab" and node.level:
                offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "tai_lab.lab":
                offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"features that import tai_lab.lab: {offenders}"


def test_a_reset_killed_half_way_leaves_the_pod_refusing_until_it_is_run_again(home, plan, monkeypatch):
    lab = _lab_on(plan)
    lab.backend.snapshot(plan.pod(1), "baseline")
    monkeypatch.setattr(Lab, "verify", lambda self, pod=None: [])

    def killed(pod, name):
        lab.backend.running.discard((1, "srv"))
        raise KeyboardInterrupt           # the console's process stopped in the middle

    monkeypatch.setattr(lab.backend, "revert", killed)
    with pytest.raises(KeyboardInterrupt):
        lab.reset(1)
    lab.backend.running.add((1, "srv"))           # every machine runs: still refused
    with pytest.raises(LabStateError) as err:
        lab.require_pod_up(1)
    assert "interrompue" in err.value.message and "reset --pod 1 --to baseline" in err.value.hint
    assert "interrupted" in in_lang(err.value.message, "en")
    assert [s.reset_pending for s in lab.status()] == ["baseline", None]
    monkeypatch.undo()
    monkeypatch.setenv("TAI_LAB_HOME", str(home))
    monkeypatch.setattr(Lab, "verify", lambda self, pod=None: [])
    lab.reset(1)
    lab.require_pod_up(1)
    assert lab.status()[0].reset_pending is None
