"""Transports of the libvirt backend (guest agent, SSH, WinRM) against fakes: one result type."""
from __future__ import annotations

import base64
import json

import pytest

from tai_lab.transports.base import CommandResult
from tai_lab.transports.qga import AgentError, QgaTransport


class FakeAgent:
    """A guest agent: runs nothing, answers like qemu-ga (guest-exec then exec-status)."""

    def __init__(self, *, exitcode=0, out="", err="", polls=2, fail_exec=None, signal=None):
        self.calls: list[dict] = []
        self.exitcode, self.out, self.err, self.polls = exitcode, out, err, polls
        self.fail_exec, self.signal = fail_exec, signal

    def __call__(self, domain, payload: str, timeout: int) -> str:
        req = json.loads(payload)
        self.calls.append(req)
        if req["execute"] == "guest-exec":
            if self.fail_exec:
                return json.dumps({"error": {"class": "GenericError", "desc": self.fail_exec}})
            return json.dumps({"return": {"pid": 42}})
        if req["execute"] == "guest-exec-status":
            self.polls -= 1
            if self.polls > 0:
                return json.dumps({"return": {"exited": False}})
            ret = {"exited": True,
                   "out-data": base64.b64encode(self.out.encode()).decode(),
                   "err-data": base64.b64encode(self.err.encode()).decode()}
            if self.signal is not None:
                ret["signal"] = self.signal
            else:
                ret["exitcode"] = self.exitcode
            return json.dumps({"return": ret})
        if req["execute"] == "guest-ping":
            return json.dumps({"return": {}})
        raise AssertionError(req)


def test_exec_returns_a_command_result():
    agent = FakeAgent(exitcode=3, out="hello\n", err="warn\n")
    t = QgaTransport("pc1", object(), call=agent, poll=0)
    res = t.run(["sh", "-c", "echo hello"], input="data")
    assert isinstance(res, CommandResult)
    assert (res.exit_status, res.stdout, res.stderr) == (3, "hello\n", "warn\n")
    assert res.command == ("sh", "-c", "echo hello")
    first = agent.calls[0]["arguments"]
    assert first["path"] == "sh" and first["arg"] == ["-c", "echo hello"]
    assert base64.b64decode(first["input-data"]) == b"data" and first["capture-output"] is True
    assert [c["execute"] for c in agent.calls] == ["guest-exec", "guest-exec-status", "guest-exec-status"]


def test_signal_and_missing_binary():
    res = QgaTransport("pc1", object(), call=FakeAgent(signal=9, polls=1), poll=0).run(["sleep", "9"])
    assert res.exit_status == 137
    res = QgaTransport("pc1", object(), call=FakeAgent(fail_exec="No such file or directory"), poll=0).run(["nope"])
    assert res.exit_status == 127 and "guest agent of pc1" in res.stderr


def test_timeout_gives_124():
    res = QgaTransport("pc1", object(), call=FakeAgent(polls=10 ** 6), poll=0).run(["sleep", "99"], timeout=0.05)
    assert res.exit_status == 124 and "timed out" in res.stderr


def test_agent_errors_raise_for_direct_calls():
    t = QgaTransport("pc1", object(), call=FakeAgent(fail_exec="boom"), poll=0)
    with pytest.raises(AgentError):
        t.agent("guest-exec", {"path": "x"})
    assert t.ping()


# ------------------------------------------------------------------ SSH and WinRM with fakes
class _Chan:
    def __init__(self, status):
        self.status = status
        self.shut = False

    def shutdown_write(self):
        self.shut = True

    def recv_exit_status(self):
        return self.status


class _Stream:
    def __init__(self, data=b"", chan=None):
        self.data, self.channel, self.written = data, chan, ""

    def read(self):
        return self.data

    def write(self, s):
        self.written += s


class FakeSsh:
    def __init__(self, status=0, fail=None):
        self.status, self.fail, self.commands, self.connected = status, fail, [], None

    def connect(self, host, **kw):
        if self.fail:
            raise OSError(self.fail)
        self.connected = (host, kw["username"], kw["port"])

    def exec_command(self, cmd, timeout):
        self.commands.append(cmd)
        chan = _Chan(self.status)
        self.stdin = _Stream(chan=chan)
        return self.stdin, _Stream(b"out", chan), _Stream(b"err", chan)

    def close(self):
        pass


def test_ssh_quotes_argv_and_returns_the_status():
    from tai_lab.transports.ssh import SshTransport
    fake = FakeSsh(status=2)
    t = SshTransport("srv", "192.0.2.10", client_factory=lambda: fake)
    res = t.run(["echo", "a b", "$HOME"], input="x")
    assert (res.exit_status, res.stdout, res.stderr) == (2, "out", "err")
    assert fake.commands == ["echo 'a b' '$HOME'"] and fake.stdin.written == "x"
    assert fake.connected == ("192.0.2.10", "root", 22)


def test_ssh_unreachable_is_a_result_not_an_exception():
    from tai_lab.transports.ssh import SshTransport
    res = SshTransport("srv", "192.0.2.10", client_factory=lambda: FakeSsh(fail="refused")).run(["true"])
    assert res.exit_status == 255 and "refused" in res.stderr


class _WinResp:
    def __init__(self, code, out, err=b""):
        self.status_code, self.std_out, self.std_err = code, out, err


class FakeWinrm:
    def __init__(self):
        self.calls = []

    def run_cmd(self, cmd, args):
        self.calls.append(("cmd", cmd, list(args)))
        return _WinResp(0, b"Windows IP Configuration")

    def run_ps(self, script):
        self.calls.append(("ps", script))
        return _WinResp(1, b"", b"denied")


def test_winrm_cmd_and_powershell():
    from tai_lab.transports.winrm import WinRmTransport
    fake = FakeWinrm()
    made = []
    t = WinRmTransport("dc", "192.0.2.20", user="Administrateur", password="x",
                       session_factory=lambda *a: made.append(a) or fake)
    res = t.run(["ipconfig", "/all"])
    assert res.ok and "Windows IP" in res.stdout and fake.calls[0] == ("cmd", "ipconfig", ["/all"])
    res = t.run(["powershell", "Get-Service", "WinRM"], input="abc")
    assert res.exit_status == 1 and res.stderr == "denied"
    assert fake.calls[1][1].endswith("Get-Service WinRM") and "abc" in fake.calls[1][1]
    assert made[0][0] == "https://192.0.2.20:5986/wsman" and len(made) == 1
