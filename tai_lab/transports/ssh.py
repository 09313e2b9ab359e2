"""Commands over SSH (paramiko): physical machines, or VMs without a guest agent.

Unlike the guest agent this goes over a network — the management network of the
plateau, never the pod's own (the candidate may break that one on purpose).
"""
from __future__ import annotations

import shlex
import time
from typing import Any, Callable, Sequence

from .base import CommandResult

ClientFactory = Callable[[], Any]


def _paramiko_client():
    import paramiko
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    return client


class SshTransport:
    def __init__(self, node: str, host: str, *, user: str = "root", port: int = 22,
                 key_filename: str | None = None, password: str | None = None,
                 client_factory: ClientFactory = _paramiko_client) -> None:
        self.node = node
        self.host, self.user, self.port = host, user, port
        self.key_filename, self.password = key_filename, password
        self._factory = client_factory
        self._client = None

    def _connect(self, timeout: float):
        if self._client is None:
            c = self._factory()
            c.connect(self.host, port=self.port, username=self.user, key_filename=self.key_filename,
                      password=self.password, timeout=timeout, allow_agent=False,
                      look_for_keys=self.key_filename is None and self.password is None)
            self._client = c
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, command: Sequence[str], *, timeout: float = 30.0,
            input: str | None = None) -> CommandResult:
        started = time.monotonic()
        command = list(command)
        try:
            client = self._connect(min(timeout, 15.0))
            stdin, stdout, stderr = client.exec_command(shlex.join(command), timeout=timeout)
            if input is not None:
                stdin.write(input)
            stdin.channel.shutdown_write()
            out = stdout.read().decode(errors="replace")
            err = stderr.read().decode(errors="replace")
            status = stdout.channel.recv_exit_status()
        except TimeoutError:
            return CommandResult(tuple(command), 124, "", f"timed out after {timeout:g} s",
                                 round(time.monotonic() - started, 3))
        except Exception as exc:  # noqa: BLE001 — unreachable, refused, auth: one result
            self.close()
            return CommandResult(tuple(command), 255, "", f"ssh {self.user}@{self.host}: {exc}",
                                 round(time.monotonic() - started, 3))
        return CommandResult(tuple(command), status, out, err, round(time.monotonic() - started, 3))
