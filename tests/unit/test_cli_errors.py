"""The CLI never ends in a traceback: root is asked for in one line before anything happens,
and any exception ends as one screen of text with an exit code (the traceback with --debug)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tai_lab import cli as cli_module
from tai_lab.cli import cli
from tai_lab.errors import PrerequisiteError

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "scenarios" / "tai-standard.yaml"

# Every command that enters the lab's machines or namespaces, with valid arguments.
ROOT_COMMANDS = [
    ["exec", "1", "pc1", "--", "true"], ["phase", "prep"], ["verify"], ["snapshot", "s1"], ["reset"],
    ["rebuild", "--pod", "1"], ["inject", "dns-failure"], ["check"], ["restore", "--all"],
    ["prep", "start"], ["prep", "check"], ["prep", "seal"], ["prep", "verify-seal", "--pod", "1"],
    ["jury"], ["serve"],
]


@pytest.fixture
def not_root(monkeypatch, tmp_path):
    home = tmp_path / "home"
    monkeypatch.setenv("TAI_LAB_HOME", str(home))
    monkeypatch.setattr("os.geteuid", lambda: 1000)

    class NoLab:
        def __init__(self, *args, **kwargs):
            raise AssertionError("the lab was opened before the root check")

        up = down = classmethod(__init__)
    monkeypatch.setattr("tai_lab.lab.Lab", NoLab)
    return home


@pytest.mark.parametrize("args", ROOT_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_commands_that_need_root_say_so_before_anything(not_root, args):
    r = CliRunner().invoke(cli, args)
    assert isinstance(r.exception, PrerequisiteError), r.output
    message = r.exception.message
    command = "tai-lab " + " ".join(a for a in args[:2] if not a[0].isdigit() and a not in ("--", "--pod", "--all"))
    assert message.startswith(f"{command} demande les droits root") or \
        message.startswith(f"tai-lab {args[0]} demande les droits root")
    assert message.en.startswith(f"{command} needs root") or message.en.startswith(f"tai-lab {args[0]} needs root")
    assert "sudo" in message and "\n" not in message
    assert not not_root.exists()          # nothing written, not even the lab's home


@pytest.mark.parametrize("args", [["up", str(STANDARD)], ["down"]])
def test_up_and_down_need_root_too(not_root, monkeypatch, args):
    monkeypatch.undo()                    # the real Lab: its own check comes first
    monkeypatch.setenv("TAI_LAB_HOME", str(not_root))
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    r = CliRunner().invoke(cli, args)
    assert isinstance(r.exception, PrerequisiteError) and "demande les droits root" in str(r.exception)
    assert "sudo" in str(r.exception) and "\n" not in str(r.exception)
    assert not not_root.exists()


@pytest.mark.parametrize("args", [["validate", str(STANDARD)], ["interventions"], ["schema"], ["--help"],
                                  ["export", str(STANDARD)], ["image", "list"]])
def test_commands_without_root_still_work(not_root, monkeypatch, args):
    monkeypatch.setenv("TAI_LAB_IMAGES", str(not_root / "images"))
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output


def _main(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["tai-lab", *argv])
    with pytest.raises(SystemExit) as exited:
        cli_module.main()
    return exited.value.code, capsys.readouterr().err


def test_main_prints_the_root_refusal_in_one_line(not_root, monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, "verify")
    assert code == 3 and "Traceback" not in err
    assert err.strip().splitlines() == [err.strip()] and "lancer en root" in err and "sudo" in err


@pytest.mark.parametrize("exc, code, says", [
    (RuntimeError("boom"), 70, "erreur inattendue (RuntimeError) : boom"),
    (PermissionError(13, "Permission denied", "/var/lib/tai-lab/labs/std/journal.jsonl"), 3,
     "permission refusée : /var/lib/tai-lab/labs/std/journal.jsonl"),
    (OSError(28, "No space left on device", "/var/lib/tai-lab"), 3, "No space left on device: /var/lib/tai-lab"),
    (ModuleNotFoundError("No module named 'weasyprint'", name="weasyprint"), 3, "manque : weasyprint"),
    (KeyError("pods"), 70, "erreur inattendue (KeyError)"),
])
def test_unexpected_exceptions_end_in_one_screen(monkeypatch, capsys, exc, code, says):
    def fail(*args, **kwargs):
        raise exc
    monkeypatch.setattr("tai_lab.scenario.load_plan", fail)
    got, err = _main(monkeypatch, capsys, "validate", str(STANDARD))
    assert got == code and says in err and "Traceback" not in err
    assert "→" in err and len(err.splitlines()) <= 4


def test_debug_shows_the_traceback(monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr("tai_lab.scenario.load_plan", fail)
    monkeypatch.setattr(sys, "argv", ["tai-lab", "--debug", "validate", str(STANDARD)])
    with pytest.raises(RuntimeError, match="boom"):
        cli_module.main()


def test_interrupt_is_exit_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("tai_lab.scenario.load_plan", interrupted)
    code, err = _main(monkeypatch, capsys, "validate", str(STANDARD))
    assert code == 130 and "interrompu" in err and "Traceback" not in err


def test_a_permission_error_as_non_root_says_run_as_root(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)

    def fail(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/var/lib/tai-lab/labs/std/state.json")
    monkeypatch.setattr("tai_lab.scenario.load_plan", fail)
    code, err = _main(monkeypatch, capsys, "validate", str(STANDARD))
    assert code == 3 and "lancer en root" in err


# --- for real: a child process under another user ------------------------------------------------


def _unprivileged_prefix() -> list[str]:
    """setpriv to nobody; with CAP_DAC_READ_SEARCH (read and search only) when nobody cannot reach
    this interpreter (here it lives under /root, mode 0700). The root checks look at the
    effective uid, which is nobody's either way; nothing can be written without ownership."""
    base = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*base, sys.executable, "-c", "import click, pydantic, rich, ruamel.yaml"],
                           capture_output=True, cwd="/")
    if probe.returncode == 0:
        return base
    return [*base, "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


needs_setpriv = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                   reason="needs root and setpriv to run a command as another user")


def _as_nobody(*args: str, home: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAI_LAB_HOME": home, "TAI_LAB_IMAGES": f"{home}/images",
           "COLUMNS": "80"}
    return subprocess.run([*_unprivileged_prefix(), sys.executable, "-m", "tai_lab.cli", *args],
                          capture_output=True, text=True, env=env, cwd="/", stdin=subprocess.DEVNULL, timeout=120)


@pytest.fixture
def shared_dir():
    """A directory nobody may write in (pytest's tmp_path is private to root)."""
    path = tempfile.mkdtemp(prefix="tai-lab-nobody-")
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@needs_setpriv
@pytest.mark.parametrize("args", [["verify"], ["exec", "1", "pc1", "--", "true"], ["prep", "start"],
                                  ["inject", "dns-failure"], ["serve"], ["jury"], ["up", str(STANDARD)], ["down"]],
                         ids=lambda a: " ".join(a[:2]))
def test_as_nobody_commands_that_need_root_refuse_in_one_line(shared_dir, args):
    home = f"{shared_dir}/home"
    r = _as_nobody(*args, home=home)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "demande les droits root" in lines[0] and "sudo" in lines[0], r.stderr
    assert not os.path.exists(home)


@needs_setpriv
def test_as_nobody_the_unprivileged_commands_work(shared_dir):
    home = f"{shared_dir}/home"
    for args in (["validate", str(STANDARD)], ["interventions", "--json"], ["schema"], ["--help"],
                 ["prep", "document", "--scenario", str(STANDARD), "--pod", "1", "--format", "html",
                  "-o", f"{shared_dir}/cahier.html"]):
        r = _as_nobody(*args, home=home)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)
    assert os.stat(f"{shared_dir}/cahier.html").st_uid == 65534


@needs_setpriv
def test_as_nobody_a_bad_scenario_is_still_reported(shared_dir):
    bad = Path(shared_dir) / "bad.yaml"
    bad.write_bytes(b"lab: std\ntitle: a\x00b\n")
    os.chmod(bad, 0o644)
    r = _as_nobody("validate", str(bad), home=f"{shared_dir}/home")
    assert r.returncode == 2 and f"{bad}:2:9:" in r.stderr and "Traceback" not in r.stderr
