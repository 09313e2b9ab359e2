"""The `tai-lab` command: one module per group of commands, all registered here.

``lab`` holds the `tai-lab` group itself and the commands on scenarios and on a lab;
``interventions``, ``prep``, ``jury``, ``stations`` and ``virt`` add theirs below; ``common`` is what they share. ``main``
is the one place that turns library errors into one screen of text and an exit code
(the traceback only with --debug).
"""
from __future__ import annotations

import os
import sys

import click

from ..errors import PrerequisiteError, TaiLabError
from . import interventions, jury, prep, stations, virt
from .common import err
from .lab import cli

interventions.register(cli)
cli.add_command(prep.prep)
jury.register(cli)
cli.add_command(stations.stations)
virt.register(cli)

__all__ = ["cli", "main"]


def main() -> None:
    """Run the command; every way it can end is an exit code and, on error, one screen of text
    (the traceback only with --debug)."""
    debug = "--debug" in sys.argv
    try:
        rc = cli.main(standalone_mode=False)
        if isinstance(rc, int):   # ctx.exit(N) comes back as a return value without standalone mode
            sys.exit(rc)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        err.print("interrompu")
        sys.exit(130)
    except TaiLabError as exc:
        if debug:
            raise
        _fail(exc.message, exc.hint, exc.exit_code)
    except BrokenPipeError:   # the reader went away (| head): nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    except Exception as exc:  # a bug or an unforeseen state of the host: still one screen, no traceback
        if debug:
            raise
        _fail(*_unexpected(exc))


def _fail(message: str, hint: str | None, code: int) -> None:
    # soft_wrap: long paths and commands stay on one line (the terminal wraps, copy-paste works).
    err.print("[bold red]tai-lab:[/bold red] ", end="")
    err.print(message, highlight=False, markup=False, soft_wrap=True)
    if hint:
        err.print(f"  → {hint}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


def _unexpected(exc: Exception) -> tuple[str, str, int]:
    """What to say about an exception no layer turned into a TaiLabError, and the exit code."""
    if isinstance(exc, PermissionError):
        what = f"permission denied: {exc.filename}" if exc.filename else f"permission denied ({exc})"
        hint = ("run it as root, e.g. with sudo" if os.geteuid() != 0
                else "check the file's permissions and attributes (chattr), or a security module (AppArmor)")
        return what, hint, PrerequisiteError.exit_code
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return (f"{exc.strerror}{where}", "the host refused an operation; run again with --debug for the details",
                PrerequisiteError.exit_code)
    if isinstance(exc, ModuleNotFoundError):
        return (f"a Python module is missing: {exc.name}",
                "install tai-lab with its dependencies (pip install -e . in the project)", PrerequisiteError.exit_code)
    text = str(exc) if len(str(exc)) <= 800 else str(exc)[:800] + " …"
    return (f"unexpected error ({type(exc).__name__}): {text}",
            "this is a bug in tai-lab: run again with --debug for the traceback and report it", 70)
