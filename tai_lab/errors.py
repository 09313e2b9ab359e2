"""Exceptions a trainer can read: what went wrong, where, and what to do next.

Every error the library raises for a user mistake or a missing prerequisite is a
:class:`TaiLabError`; the CLI turns it into one screen of text and an exit code.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .lang import tr

if TYPE_CHECKING:
    from .datafile import Problem


class TaiLabError(Exception):
    """Base of every error meant for the user (not a bug)."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, *, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # The technical detail behind the message (a tool's output, a command line): the trainer's
        # command line prints it under the message, the jury's consoles only on demand ("Détails").
        self.details = details

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  → {self.hint}"


class ScenarioError(TaiLabError):
    """The scenario file is malformed; carries every problem found."""

    exit_code = 2

    def __init__(self, problems: list["Problem"], path: str, what: str = "scenario") -> None:
        self.problems = problems
        self.path = path
        lines = [p.render() for p in problems]
        n = len(problems)
        _noun, the, _a = file_kind(what)
        header = tr(f"{path} : {n} problème{'s' if n > 1 else ''} dans {the}",
                    f"{path}: {n} problem(s) in the {what}")
        super().__init__(header + "\n" + "\n".join(lines), None)


class PrerequisiteError(TaiLabError):
    """The host lacks something (root, a tool, an image)."""

    exit_code = 3


class NotFoundError(TaiLabError):
    """An unknown lab, pod, node, snapshot…"""

    exit_code = 4


class LabStateError(TaiLabError):
    """The lab is not in a state that allows the command (not up, already up…)."""

    exit_code = 5


class LockBusyError(TaiLabError):
    """Another command holds the lab's lock: ``holder`` is what its lock file says (its pid and
    command line), ``since`` when it took the lock (HH:MM), for the jury's words."""

    exit_code = 6

    def __init__(self, message: str, hint: str | None = None, *, holder: str | None = None,
                 since: str | None = None) -> None:
        super().__init__(message, hint, details=holder)
        self.holder = holder
        self.since = since


class CommandFailed(TaiLabError):
    """A host command the lab needed failed; carries its output."""

    exit_code = 7


def leftover_hint(lab: str) -> str:
    """What to do when ``up`` finds an object of the lab's name already there."""
    return (f"a previous lab {lab!r} was not cleaned: `tai-lab down --lab {lab}`, or, if it has no record "
            f"here any more, `tai-lab down --lab {lab} --orphans`")


# What a data file is called in French: its noun, with the definite and the indefinite article.
_FILE_KINDS: dict[str, tuple[str, str, str]] = {
    "scenario": ("scénario", "le scénario", "un scénario"),
    "intervention file": ("fichier d'intervention", "le fichier d'intervention", "un fichier d'intervention"),
    "intervention files": ("fichiers d'intervention", "les fichiers d'intervention", "des fichiers d'intervention"),
    "inventory": ("inventaire", "l'inventaire", "un inventaire"),
    "image recipe": ("recette d'image", "la recette d'image", "une recette d'image"),
    "file": ("fichier", "le fichier", "un fichier"),
}


def file_kind(what: str) -> tuple[str, str, str]:
    """The French of a kind of data file (``scenario``…): noun, ``le …``, ``un …``."""
    return _FILE_KINDS.get(what, (what, f"le {what}", f"un {what}"))
