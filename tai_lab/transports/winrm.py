"""Commands on Windows machines over WinRM (pywinrm), same result type as the others.

``command`` is an argv like everywhere else: ``["ipconfig", "/all"]`` runs a program;
``["powershell", "<script>"]`` runs PowerShell (encoded by pywinrm, no quoting issues).
``input`` is not supported by WinRM's command shell: it is passed to PowerShell scripts
as ``$input`` through a here-string.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from .base import CommandResult

SessionFactory = Callable[..., Any]


def _pywinrm_session(url: str, auth: tuple[str, str], transport: str, verify: bool):
    import winrm
    return winrm.Session(url, auth=auth, transport=transport,
                         server_cert_validation="validate" if verify else "ignore")


class WinRmTransport:
    def __init__(self, node: str, host: str, *, user: str, password: str, port: int = 5986,
                 https: bool = True, transport: str = "ntlm", verify_cert: bool = False,
                 session_factory: SessionFactory = _pywinrm_session) -> None:
        self.node = node
        scheme = "https" if https else "http"
        self.url = f"{scheme}://{host}:{port}/wsman"
        self._session = None
        self._args = (self.url, (user, password), transport, verify_cert)
        self._factory = session_factory

    def _s(self):
        if self._session is None:
            self._session = self._factory(*self._args)
        return self._session

    def run(self, command: Sequence[str], *, timeout: float = 30.0,
            input: str | None = None) -> CommandResult:
        started = time.monotonic()
        command = list(command)
        try:
            if command and command[0].lower() in ("powershell", "powershell.exe", "pwsh"):
                script = " ".join(command[1:])
                if input is not None:
                    script = f"$input = @'\n{input}\n'@\n{script}"
                r = self._s().run_ps(script)
            else:
                r = self._s().run_cmd(command[0], command[1:])
        except Exception as exc:  # noqa: BLE001 — unreachable, refused, auth: one result
            self._session = None
            return CommandResult(tuple(command), 255, "", f"winrm {self.url}: {exc}",
                                 round(time.monotonic() - started, 3))
        seconds = round(time.monotonic() - started, 3)
        if seconds > timeout:
            return CommandResult(tuple(command), 124, "", f"timed out after {timeout:g} s", seconds)
        return CommandResult(tuple(command), r.status_code, r.std_out.decode(errors="replace"),
                             r.std_err.decode(errors="replace"), seconds)
