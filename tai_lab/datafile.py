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

from tai_lab.errors import NotFoundError, ScenarioError
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
        and, when there is one, an indented hint line."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.line is not None and self.column is not None:
            where += f":{self.column}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return text if not self.hint else f"{text}\n  hint: {self.hint}"


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
    try:
        text = read_text(file, what)      # bounded: size, encoding, characters
    except FileNotFoundError:
        raise NotFoundError(f"{what} not found: {file}", hint=hint) from None
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
        raise ScenarioError([smap.problem((), f"the {what} must be a YAML mapping", hint)], file, what)
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
        raise ScenarioError([Problem(file, None, None, "", f"YAML error: {exc}",
                                     "check the file's syntax")], file, what) from None


def _rejected(file: str, what: str, exc: InputRejected) -> ScenarioError:
    return ScenarioError([Problem(file, exc.line, exc.column, "", exc.message, exc.hint)], file, what)


def _yaml_problem(file: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    hint = "check indentation, colons and quotes on this line and the one above"
    if exc.context:
        started = f" started on line {exc.context_mark.line + 1}" if exc.context_mark else ""
        hint = f"{exc.context}{started}; {hint}"
    if "duplicate key" in str(exc.problem):
        hint = "each key may appear only once in a mapping"
    elif "cannot read this value" in str(exc.problem):
        hint = "put the value in quotes to keep it as text"
    elif "undefined alias" in str(exc.problem):
        hint = "an alias *name repeats a node marked &name earlier in the file: define the anchor first"
    return Problem(file, line, column, "", f"YAML syntax error: {exc.problem}", hint)


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


# What a constrained name is, and how to write a valid one; keyed by the field holding it.
_NAME_HINTS: dict[str, tuple[str, str]] = {
    "lab": (
        "lab name",
        "a lowercase letter then up to 5 lowercase letters or digits (it is part of Linux interface names)",
    ),
    "nodes": (
        "node name",
        "a lowercase letter then up to 7 lowercase letters or digits (Linux interface names are max 15 chars)",
    ),
    "name": (
        "interface name",
        "a lowercase letter then up to 5 lowercase letters or digits, e.g. eth0, wlan0",
    ),
    "vlans": ("vlan name", "a lowercase letter then up to 7 lowercase letters or digits"),
    "aliases": ("DNS name", "lowercase letters, digits and '-', e.g. intranet"),
}

# The same for a scenario's directory (pod.directory), keyed by the field: (what it is, how to write it).
_DIRECTORY_HINTS: dict[str, tuple[str, str]] = {
    "name": ("account or share name", "lowercase letters, digits, '.', '_' or '-', up to 20, {pod} allowed, "
                                      "e.g. alice (a share: a DNS label, e.g. compta)"),
    "groups": ("group name", "the name of one of directory.groups, e.g. compta"),
    "group": ("group name", "the name of one of directory.groups, e.g. compta"),
    "incident_user": ("user name", "the name of one of directory.users, e.g. alice"),
    "control_user": ("user name", "the name of one of directory.users, e.g. chloe"),
    "ou": ("OU name", "letters, digits, spaces, '_' or '-', e.g. Utilisateurs"),
    "ous": ("OU name", "letters, digits, spaces, '_' or '-', e.g. Utilisateurs"),
    "login_ou": ("OU name", "one of directory.ous, e.g. Utilisateurs"),
    "netbios": ("NetBIOS name", "uppercase, up to 15 characters, {pod} allowed, e.g. POD{pod}"),
    "path": ("share path", "a directory right under /srv, e.g. /srv/compta"),
    "uid": ("unix id", "a whole number from 10000 to 19999 (a node maps 65536 ids; Samba keeps 20000-59999)"),
    "gid": ("unix id", "a whole number from 10000 to 19999 (a node maps 65536 ids; Samba keeps 20000-59999)"),
    "password": ("password", "1 to 64 characters, no quote, backslash or line break; {pod} allowed"),
    "admin_password": ("password", "1 to 64 characters, no quote, backslash or line break; {pod} allowed"),
    "new_password": ("password", "1 to 64 characters, no quote, backslash or line break; {pod} allowed"),
}

_TYPE_HINTS: dict[str, str] = {
    "interface_segment": "give exactly one of `vlan: <name>`, `wireless: <ap node>` or `upstream: true`",
    "interface_address": "give `host: <number>` for a static address or `dhcp: true`, not both",
    "interface_upstream_address": "the WAN address comes from upstream.wan; remove host/dhcp",
    "ip_v4_address": "write an IPv4 address, e.g. 198.51.100.53",
    "int_type": "write a whole number without quotes, e.g. 4",
    "float_type": "write a number without quotes, e.g. 100 or 2.5",
    "string_type": "put the value in quotes, e.g. \"1234\" (unquoted, YAML reads 1234, true or 2024-01-01 "
                   "as a number, a boolean or a date)",
    "missing": "add this key (see scenarios/tai-standard.yaml)",
    "check_fields": "see the prep requirements of scenarios/tai-standard.yaml for each kind of check",
}

def _pydantic_problem(err: Any, smap: SourceMap, root: type[BaseModel],
                      loc_hints: dict[Loc, str] | None = None) -> Problem:
    # Drop pydantic's own markers ("[key]", "function-after[…]") from the location.
    raw: Loc = tuple(err["loc"])
    loc: Loc = tuple(p for p in raw if not (isinstance(p, str) and re.fullmatch(r"[\w-]*\[.*\]", p)))
    kind, message = err["type"], err["msg"]
    hint = (loc_hints or {}).get(loc) or _TYPE_HINTS.get(kind)
    field = next((p for p in reversed(loc) if isinstance(p, str)), "value")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], root)
        close = get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        message = f"unknown key '{loc[-1]}'"
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys here: {', '.join(allowed)}"
    elif kind == "missing":
        message = f"missing required key '{field}'"
    elif kind == "string_pattern_mismatch":
        # A dict key (node, vlan name) is reported as (…, "nodes", key, "[key]").
        holder = raw[-3] if raw[-1] == "[key]" and len(raw) >= 3 else field
        names = _DIRECTORY_HINTS if "directory" in loc else _NAME_HINTS
        what, hint = names.get(str(holder), ("value", None))
        message = f"invalid {what} '{err['input']}'"
    elif kind == "literal_error":
        message = f"'{err['input']}' is not a valid {field}"
        hint = f"use one of {err['ctx']['expected']}"
    elif kind in ("int_type", "float_type"):
        message = f"expected a {'whole ' if kind == 'int_type' else ''}number, got {_as_yaml(err['input'])}"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if hint is None and "directory" in loc and field in _DIRECTORY_HINTS:
        hint = _DIRECTORY_HINTS[field][1]
    return smap.problem(loc, message[:1].lower() + message[1:], hint)


def _as_yaml(value: Any) -> str:
    """A value as the trainer wrote it (``true``, not Python's ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (an empty value)"
    if isinstance(value, str):
        return f'the text "{value}"'
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return str(value)


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
