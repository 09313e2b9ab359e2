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

from .. import lang
from ..errors import PrerequisiteError, TaiLabError
from . import interventions, jury, prep, stations, virt
from .common import err
from .i18n import lang_everywhere, lang_from_argv, localize
from .lab import cli

interventions.register(cli)
cli.add_command(prep.prep)
jury.register(cli)
cli.add_command(stations.stations)
virt.register(cli)
lang_everywhere(cli)

__all__ = ["cli", "main"]


def main() -> None:
    """Run the command; every way it can end is an exit code and, on error, one screen of text
    (the traceback only with --debug)."""
    debug = "--debug" in sys.argv
    chosen = lang_from_argv(sys.argv[1:])
    if chosen:
        lang.set_current(chosen)      # before any help is read, wherever --lang stands
    localize(cli, lang.current())
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
        err.print(lang.tr("interrompu", "interrupted"))
        sys.exit(130)
    except TaiLabError as exc:
        if debug:
            raise
        _fail(exc.message, exc.hint, exc.exit_code, exc.details)
    except BrokenPipeError:   # the reader went away (| head): nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    except Exception as exc:  # a bug or an unforeseen state of the host: still one screen, no traceback
        if debug:
            raise
        _fail(*_unexpected(exc))


def _fail(message: str, hint: str | None, code: int, details: str | None = None) -> None:
    # soft_wrap: long paths and commands stay on one line (the terminal wraps, copy-paste works).
    err.print("[bold red]tai-lab:[/bold red] ", end="")
    err.print(message, highlight=False, markup=False, soft_wrap=True)
    if hint:
        err.print(f"  → {hint}", highlight=False, markup=False, soft_wrap=True)
    if details and details not in message:
        # What the jury's consoles fold under "Détails": the trainer reads it at once.
        err.print(lang.tr("  détails :", "  details:"), style="dim", highlight=False)
        for line in details.splitlines():
            err.print(f"    {line}", style="dim", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


def _unexpected(exc: Exception) -> tuple[str, str, int]:
    """What to say about an exception no layer turned into a TaiLabError, and the exit code."""
    if isinstance(exc, PermissionError):
        what = (lang.tr(f"permission refusée : {exc.filename}", f"permission denied: {exc.filename}")
                if exc.filename else lang.tr(f"permission refusée ({exc})", f"permission denied ({exc})"))
        hint = (lang.tr("lancer en root, par exemple avec sudo", "run it as root, e.g. with sudo")
                if os.geteuid() != 0
                else lang.tr("vérifier les droits et attributs du fichier (chattr), ou un module de sécurité "
                             "(AppArmor)", "check the file's permissions and attributes (chattr), or a security "
                             "module (AppArmor)"))
        return what, hint, PrerequisiteError.exit_code
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return (f"{exc.strerror}{where}", lang.tr("l'hôte a refusé une opération ; relancer avec --debug pour le "
                                                  "détail", "the host refused an operation; run again with --debug "
                                                  "for the details"), PrerequisiteError.exit_code)
    if isinstance(exc, ModuleNotFoundError):
        return (lang.tr(f"un module Python manque : {exc.name}", f"a Python module is missing: {exc.name}"),
                lang.tr("installer tai-lab avec ses dépendances (pip install -e . dans le projet)",
                        "install tai-lab with its dependencies (pip install -e . in the project)"),
                PrerequisiteError.exit_code)
    text = str(exc) if len(str(exc)) <= 800 else str(exc)[:800] + " …"
    return (lang.tr(f"erreur inattendue ({type(exc).__name__}) : {text}",
                    f"unexpected error ({type(exc).__name__}): {text}"),
            lang.tr("c'est un défaut de tai-lab : relancer avec --debug pour la trace, et le signaler",
                    "this is a bug in tai-lab: run again with --debug for the traceback and report it"), 70)
