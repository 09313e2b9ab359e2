"""Data files of the project (scenarios, interventions…) read into pydantic models, with
every problem reported as ``file:line:column: path: message`` and a hint.

Four layers: the input's limits (:mod:`tai_lab.yaml_input`: size, encoding, nesting,
aliases), YAML syntax, then the model's shape (pydantic), then whatever rules the caller
checks with the :class:`SourceMap` (line and column of every key and list item). The safe
YAML loader reads the files; the round-trip one, which knows positions, runs only when a
problem has to be located.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from difflib import get_close_matches
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from tai_lab.errors import NotFoundError, ScenarioError, file_kind
from tai_lab.lang import tr
from tai_lab.validation_words import (DIRECTORY_HINTS, NAME_HINTS, TYPE_HINTS, hint_for, pydantic_message,
                                      yaml_context, yaml_problem)
from tai_lab.yaml_input import InputRejected, check_structure, loader, read_text

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a scenario file, where it is, and what to do about it."""

    file: str
    line: int | None           # 1-based; None when the file could not be located
    column: int | None         # 1-based
    path: str                  # e.g. pod.nodes.pc1.interfaces[0].vlan
    message: str
    hint: str | None = None

    def render(self) -> str:
        """``file:line:column: path: message`` (as compilers write it, so editors jump there)
        and, when there is one, an indented hint line (``conseil :`` in French)."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.line is not None and self.column is not None:
            where += f":{self.column}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return text if not self.hint else f"{text}\n  {tr('conseil :', 'hint:')} {self.hint}"


def format_path(loc: Loc) -> str:
    """``('pod', 'nodes', 'pc1', 'interfaces', 0)`` → ``pod.nodes.pc1.interfaces[0]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class SourceMap:
    """Line and column of every key and list item of a scenario file."""

    def __init__(self, file: str, positions: dict[Loc, tuple[int, int]]) -> None:
        self.file = file
        self.positions = positions

    @classmethod
    def from_yaml(cls, file: str, data: Any) -> SourceMap:
        """Walk a ruamel round-trip document and record 1-based positions."""
        positions: dict[Loc, tuple[int, int]] = {(): (1, 1)}

        def walk(node: Any, loc: Loc) -> None:
            if isinstance(node, CommentedMap):
                for key, value in node.items():
                    where = node.lc.key(key)   # None for a key merged in by `<<: *anchor`
                    if where is not None:
                        positions[loc + (key,)] = (where[0] + 1, where[1] + 1)
                    walk(value, loc + (key,))
            elif isinstance(node, CommentedSeq):
                for index, value in enumerate(node):
                    line, col = node.lc.item(index)
                    positions[loc + (index,)] = (line + 1, col + 1)
                    walk(value, loc + (index,))

        walk(data, ())
        return cls(file, positions)

    @classmethod
    def lazy(cls, file: str, text: str) -> SourceMap:
        """The positions of ``text``, parsed only when a problem has to be located (the
        round-trip parser that knows them is several times slower than the safe one)."""
        return _LazySourceMap(file, text)

    def position(self, loc: Loc) -> tuple[int, int]:
        """Position of ``loc``, or of its nearest enclosing part present in the file."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.positions:
                return self.positions[loc[:end]]
        return (1, 1)

    def problem(self, loc: Loc, message: str, hint: str | None = None) -> Problem:
        """A :class:`Problem` located at ``loc``."""
        line, column = self.position(loc)
        return Problem(self.file, line, column, format_path(loc), message, hint)


class _LazySourceMap(SourceMap):
    def __init__(self, file: str, text: str) -> None:  # noqa: D107 — see SourceMap.lazy
        self.file = file
        self._text = text
        self._positions: dict[Loc, tuple[int, int]] | None = None

    @property
    def positions(self) -> dict[Loc, tuple[int, int]]:  # type: ignore[override]
        if self._positions is None:
            self._positions = SourceMap.from_yaml(self.file, loader("rt").load(self._text)).positions
        return self._positions


def load_model(path: str | os.PathLike[str], model: type[M], *, what: str = "file",
               hint: str | None = None, loc_hints: dict[Loc, str] | None = None) -> tuple[M, SourceMap]:
    """Read a YAML file into a pydantic model; every problem with file:line and a hint.

    The same reporting for every data file of the project (scenarios, interventions…);
    ``hint`` is offered when the file is missing or not a mapping; ``loc_hints`` are hints
    for problems at given places of the file.
    """
    file = os.fspath(path)
    noun, the, _a = file_kind(what)
    try:
        text = read_text(file, what)      # bounded: size, encoding, characters
    except FileNotFoundError:
        raise NotFoundError(tr(f"{noun} introuvable : {file}", f"{what} not found: {file}"), hint=hint) from None
    except InputRejected as exc:
        raise _rejected(file, what, exc) from None
    # Every command reads the lab's scenario and the interventions: the safe loader (libyaml,
    # through ruamel.yaml.clib) reads them several times faster than the round-trip one, which
    # is needed only to say where a problem is, or what is wrong with the YAML itself.
    try:
        check_structure(text)             # bounded: nesting, aliases (libyaml's events, cheap)
        data = loader("safe").load(text)
        smap = SourceMap.lazy(file, text)
    except InputRejected as exc:
        raise _rejected(file, what, exc) from None
    except YAMLError:
        data = _load_round_trip(file, what, text)
        smap = SourceMap.from_yaml(file, data)
    if not isinstance(data, dict):
        raise ScenarioError([smap.problem((), tr(f"{the} doit être un dictionnaire YAML (des lignes clé: valeur)",
                                                 f"the {what} must be a YAML mapping"), hint)], file, what)
    try:
        return model.model_validate(_plain(data)), smap
    except ValidationError as exc:
        errors = _without_echoes(exc.errors())
        raise ScenarioError(sorted_problems([_pydantic_problem(e, smap, model, loc_hints) for e in errors]), file,
                            what) from None


def _without_echoes(errors: list[Any]) -> list[Any]:
    """Drop "should have at least 1 item" where an item was refused (pydantic then counts 0)."""
    def refused_inside(err: Any) -> bool:
        loc = tuple(err["loc"])
        return any(len(o["loc"]) > len(loc) and tuple(o["loc"][:len(loc)]) == loc for o in errors)
    return [e for e in errors if not (e["type"] == "too_short" and refused_inside(e))]


def _load_round_trip(file: str, what: str, text: str) -> Any:
    """The file through the round-trip parser, which locates what libyaml refused; it may read
    further than libyaml did, so the same limits are checked with its own events first."""
    try:
        check_structure(text, pure=True)
        return loader("rt").load(text)
    except InputRejected as exc:
        raise _rejected(file, what, exc) from None
    except MarkedYAMLError as exc:
        raise ScenarioError([_yaml_problem(file, exc)], file, what) from None
    except YAMLError as exc:   # no position (ruamel's reader errors are refused before)
        raise ScenarioError([Problem(file, None, None, "", tr(f"erreur YAML : {exc}", f"YAML error: {exc}"),
                                     tr("vérifier la syntaxe du fichier", "check the file's syntax"))],
                            file, what) from None


def _rejected(file: str, what: str, exc: InputRejected) -> ScenarioError:
    return ScenarioError([Problem(file, exc.line, exc.column, "", exc.message, exc.hint)], file, what)


def _yaml_problem(file: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    hint = tr("vérifier l'indentation, les deux-points et les guillemets sur cette ligne et celle du dessus",
              "check indentation, colons and quotes on this line and the one above")
    if exc.context:
        context = yaml_context(exc.context)
        n = exc.context_mark.line + 1 if exc.context_mark else None
        hint = tr(f"{context.fr}{f' commencé ligne {n}' if n else ''} ; {hint.fr}",
                  f"{context.en}{f' started on line {n}' if n else ''}; {hint.en}")
    if "duplicate key" in str(exc.problem):
        hint = tr("une clé ne peut apparaître qu'une fois dans un dictionnaire",
                  "each key may appear only once in a mapping")
    elif "cannot read this value" in str(exc.problem):
        hint = tr("mettre la valeur entre guillemets pour la garder comme texte",
                  "put the value in quotes to keep it as text")
    elif "undefined alias" in str(exc.problem):
        hint = tr("un alias *nom répète un nœud marqué &nom plus haut dans le fichier : définir l'ancre d'abord",
                  "an alias *name repeats a node marked &name earlier in the file: define the anchor first")
    return Problem(file, line, column, "", yaml_problem(str(exc.problem)), hint)


def _plain(node: Any) -> Any:
    """ruamel's round-trip types → plain Python, so pydantic sees ordinary data."""
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    for kind in (bool, int, float, str):  # bool before int: bool is an int
        if isinstance(node, kind):
            return kind(node)
    return node


def _pydantic_problem(err: Any, smap: SourceMap, root: type[BaseModel],
                      loc_hints: dict[Loc, str] | None = None, at: Loc = ()) -> Problem:
    """``err`` located in the file (``root`` validated the part at ``at``), said in the trainer's language."""
    # Drop pydantic's own markers ("[key]", "function-after[…]") from the location.
    raw: Loc = tuple(err["loc"])
    loc: Loc = tuple(p for p in raw if not (isinstance(p, str) and re.fullmatch(r"[\w-]*\[.*\]", p)))
    kind = err["type"]
    hint = (loc_hints or {}).get(loc) or hint_for(TYPE_HINTS, kind)
    field = next((p for p in reversed(loc) if isinstance(p, str)), "value")
    message = pydantic_message(kind, err["msg"], str(field), err.get("input"), err.get("ctx"))
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], root)
        close = get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        message = tr(f"clé inconnue '{loc[-1]}'", f"unknown key '{loc[-1]}'")
        hint = (tr(f"vouliez-vous dire '{close[0]}' ?", f"did you mean '{close[0]}'?") if close
                else tr(f"clés permises ici : {', '.join(allowed)}", f"allowed keys here: {', '.join(allowed)}"))
    elif kind == "string_pattern_mismatch":
        # A dict key (node, vlan name) is reported as (…, "nodes", key, "[key]").
        holder = raw[-3] if raw[-1] == "[key]" and len(raw) >= 3 else field
        names = DIRECTORY_HINTS if "directory" in at + loc else NAME_HINTS
        (what_fr, what_en), how = names.get(str(holder), (("valeur", "value"), None))
        message = tr(f"{what_fr} invalide '{err['input']}'", f"invalid {what_en} '{err['input']}'")
        hint = tr(*how) if how else None
    elif kind == "literal_error":
        expected = err["ctx"]["expected"]
        hint = tr(f"utiliser une de ces valeurs : {re.sub(r' or (?=.)', ' ou ', expected)}",
                  f"use one of {expected}")
    if hint is None and "directory" in at + loc:
        hint = hint_for({k: v[1] for k, v in DIRECTORY_HINTS.items()}, str(field))
    return smap.problem(at + loc, message, hint)


def pydantic_problems(exc: ValidationError, smap: SourceMap, root: type[BaseModel], at: Loc = ()) -> list[Problem]:
    """Each error of ``exc`` (a part of a file, validated at ``at``) as a located problem."""
    return [_pydantic_problem(e, smap, root, at=at) for e in _without_echoes(exc.errors())]


def _allowed_keys(loc: Loc, root: type[BaseModel]) -> list[str]:
    """Field names of the model found at ``loc`` (for "did you mean" hints)."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _model_in(annotation)
    return list(model.model_fields) if model else []


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation found one level down ``part`` (a field, a dict value, a list item)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field else None
    origin = get_origin(annotation)
    if origin is dict and isinstance(part, str):
        return get_args(annotation)[1]
    if origin in (list, tuple) and isinstance(part, int):
        return get_args(annotation)[0]
    for arg in get_args(annotation):  # X | None, Annotated[X, …]
        found = _step(arg, part)
        if found is not None:
            return found
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in ``annotation`` (``Model`` or ``Model | None``)."""
    unions = (Union, UnionType)
    for arg in (annotation, *(get_args(annotation) if get_origin(annotation) in unions else ())):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    # One file's problems together (a scenario and its own intervention files), in line order.
    first_seen = {f: n for n, f in reversed(list(enumerate(p.file for p in problems)))}
    return sorted(problems, key=lambda p: (first_seen[p.file], p.line or 0, p.column or 0))
