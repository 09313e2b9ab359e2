"""A failed action as the jury reads it: a French sentence (English when the console is), the
tools' words (Ansible's task names, a trainer's command line) only behind "Détails".

Real parts where they exist without a lab: a real playbook run by ansible-runner on this
host (a task that fails), the real lab lock held by another holder; the console over the
fake lab of test_console.py."""
from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from tai_lab import provision
from tai_lab.errors import CommandFailed, LockBusyError
from tai_lab.evidence import LabHook
from tai_lab.interventions.catalogue import load_catalogue
from tai_lab.interventions.engine import Engine
from tai_lab.jury.service import jury_words
from tai_lab.state import lab_lock

from .test_console import FakeLab, post, signed_in, wait_job

TASK = "Stop the intranet web server (tai-lab fault)"


def _failing_playbook(directory: Path) -> Path:
    book = directory / "fails.yml"
    book.write_text(f"- hosts: tai_target\n  gather_facts: false\n  tasks:\n    - name: {TASK}\n"
                    "      ansible.builtin.command: sh -c 'echo nginx.service not loaded >&2; exit 3'\n")
    return book


@pytest.fixture
def engine_on_this_host(tmp_path: Path):
    """The engine's playbook step with its lab replaced by this host (a local connection)."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    book = _failing_playbook(tmp_path)
    fake = SimpleNamespace(
        lab=SimpleNamespace(state=SimpleNamespace(dir=tmp_path), backend=SimpleNamespace(
            ansible_host_vars=lambda pod, node: local)),
        catalogue=SimpleNamespace(playbook=lambda iid: book))
    item = load_catalogue().get("intranet-down")
    ctx = {"pod": 1, "target_node": "srv", "user_node": "pc1", "target_is_port": False}
    return lambda action: Engine._playbook(fake, item, item.variants[0], ctx, action)  # type: ignore[arg-type]


def test_a_failed_inject_is_a_sentence_naming_the_machine(engine_on_this_host, monkeypatch) -> None:
    monkeypatch.setenv("TAI_LAB_LANG", "fr")
    with pytest.raises(CommandFailed) as caught:
        engine_on_this_host("inject")
    exc = caught.value
    assert exc.message == "la panne n'a pas pu être appliquée sur srv"
    assert exc.message.en == "the fault could not be applied on srv"
    assert TASK not in exc.message + (exc.hint or "") and "ansible" not in (exc.hint or "").lower()
    assert TASK in exc.details and "nginx.service not loaded" in exc.details     # on demand
    assert isinstance(exc.__cause__, provision.PlaybookFailed) and exc.__cause__.hosts == ["target"]
    with pytest.raises(CommandFailed) as caught:
        engine_on_this_host("restore")
    assert caught.value.message == "srv n'a pas pu être remis en état" and TASK in caught.value.details


def test_the_jury_reads_a_lock_held_by_another_command_in_words(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path))
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lab_lock("jx", "tai-lab reset --pod 1 --yes"):
            held.set()
            release.wait(10)
    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(10)
        with pytest.raises(LockBusyError) as caught:
            with lab_lock("jx", "tai-lab inject dns-failure", timeout=0.3, notify=lambda _m: None):
                pass
    finally:
        release.set()
        t.join()
    exc = caught.value
    assert "tai-lab reset --pod 1 --yes" in exc.message            # the trainer's command line says who
    assert exc.since is not None and re.fullmatch(r"\d\d:\d\d", exc.since)
    message, hint, details = jury_words(exc)
    assert message == f"une autre commande du formateur travaille sur ce pod (depuis {exc.since})"
    assert message.en == f"another of the trainer's commands is working on this pod (since {exc.since})"
    assert "tai-lab" not in message + (hint or "") and "pid" not in message
    assert details is not None and "tai-lab reset --pod 1 --yes" in details


# ------------------------------------------------------------------ the console
class _FailingLab(FakeLab):
    """Its inject fails as the engine's does (after the record of the attempt); its restore
    finds the lab locked by a trainer's command."""

    def inject(self, iid, pod=None, *, variant=None, seed=None, randomise=False, actor=None):
        hook = LabHook(self.evidence(pod))
        hook.before_inject(iid, variant, randomise, seed, actor)
        exc = CommandFailed(_tr("la panne n'a pas pu être appliquée sur srv", "the fault could not be applied on srv"),
                            _tr("choisir une autre variante", "choose another variant"),
                            details=f"target: {TASK}: non-zero return code: nginx.service not loaded")
        hook.inject_failed(iid, variant, exc, actor)
        raise exc

    def restore(self, pod=None, iid=None, *, actor=None):
        who = "pid 4242 (tai-lab reset --pod 1) since 10:07:31"
        raise LockBusyError(f"le lab 'fake' est occupé : {who}", "attendre", holder=who, since="10:07")


def _tr(fr: str, en: str):
    from tai_lab.lang import tr
    return tr(fr, en)


@pytest.fixture
def failing(tmp_path):
    yield from signed_in(_FailingLab(tmp_path))


def test_the_console_shows_a_failed_inject_in_words_and_the_details_on_demand(failing) -> None:
    job = wait_job(failing, post(failing, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    assert job["state"] == "failed"
    assert job["error"] == "la panne n'a pas pu être appliquée sur srv"
    assert TASK not in job["error"] + job["hint"] and TASK in job["details"]
    st = failing.get("/api/pod/1/state").get_json()
    failed = [j for j in st["recent_jobs"] if j["state"] == "failed"]
    assert failed and failed[0]["details"] and failed[0]["what"].startswith("Injection : ")
    (a,) = st["attempts"]
    assert a["status"] == "failed" and a["failed"].startswith("la panne n'a pas pu être appliquée sur srv")
    assert TASK not in a["failed"]
    # the record keeps what the tools said, beside the sentence
    rec = [r for r in failing.lab.evidence(1).records() if r["kind"] == "inject-failed"][0]
    assert TASK in rec["details"] and rec["error"].startswith("la panne n'a pas pu")
    # the page has the place for it, and the word for "Détails"
    page = failing.get("/pod/1").get_data(as_text=True)
    assert 'id="failures"' in page and '"more": "Détails"' in page
    # in English when the console is
    failing.get("/lang/en")
    job = wait_job(failing, post(failing, "/api/pod/1/inject", {"id": "dns-failure"}).get_json())
    assert job["error"] == "the fault could not be applied on srv" and job["hint"] == "choose another variant"
    assert '"more": "Details"' in failing.get("/pod/1").get_data(as_text=True)


def test_the_console_never_shows_the_lock_holders_command_line(failing) -> None:
    job = wait_job(failing, post(failing, "/api/pod/1/restore", {"id": "intranet-down"}).get_json())
    assert job["state"] == "failed"
    assert job["error"] == "une autre commande du formateur travaille sur ce pod (depuis 10:07)"
    assert "tai-lab" not in job["error"] + job["hint"] and "4242" not in job["error"]
    assert "tai-lab reset --pod 1" in job["details"]
    failing.get("/lang/en")
    job = wait_job(failing, post(failing, "/api/pod/1/restore", {"id": "intranet-down"}).get_json())
    assert job["error"] == "another of the trainer's commands is working on this pod (since 10:07)"


def test_the_terminal_console_keeps_details_for_the_details_menu(tmp_path, monkeypatch) -> None:
    from rich.console import Console

    from tai_lab.jury.service import JuryService
    from tai_lab.jury.tui import JuryTUI
    monkeypatch.setenv("TAI_LAB_LANG", "fr")
    lab = _FailingLab(tmp_path)
    service = JuryService(lambda: lab, check_interval=0.1)
    out = Console(record=True, width=200)
    try:
        tui = JuryTUI(service, 1, "tui:test", out)
        tui.wait_job(service.inject(1, "intranet-down", None, "tui:test"))
        shown = out.export_text(clear=False)
        assert "la panne n'a pas pu être appliquée sur srv" in shown and TASK not in shown
        assert "Détails techniques" in shown                   # where to ask
        tui.do_details()
        assert TASK in out.export_text()                       # asked for: there
    finally:
        service.close()


def test_the_trainers_command_line_prints_the_details_under_the_message(capsys, monkeypatch) -> None:
    from tai_lab import cli as cli_module
    monkeypatch.setenv("TAI_LAB_LANG", "fr")
    with pytest.raises(SystemExit) as exited:
        cli_module._fail("la panne n'a pas pu être appliquée sur srv", "choisir une autre variante", 7,
                         f"target: {TASK}: non-zero return code\nsortie complète : /x/artifacts")
    err = capsys.readouterr().err
    assert exited.value.code == 7
    lines = err.splitlines()
    assert lines[0].endswith("la panne n'a pas pu être appliquée sur srv") and "→ choisir" in lines[1]
    assert lines[2].strip() == "détails :" and TASK in lines[3] and "sortie complète" in lines[4]
