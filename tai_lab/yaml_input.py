"""A YAML data file read as untrusted input: bounded before anything is built from it.

A scenario or intervention file comes from a trainer's editor, a USB stick, a mail…; a
bad one must end in a located message, never in a hang, a memory blow-up or a crash.
Before the YAML loader constructs anything, :func:`read_text` and :func:`check_structure`
refuse what no real file needs:

* more than :data:`MAX_BYTES` bytes, or something that is not a regular file (a FIFO or
  ``/dev/zero`` would block or never end);
* text that is not UTF-8, or characters YAML forbids (NUL, other control characters);
* nesting deeper than :data:`MAX_DEPTH` (libyaml's composer recurses in C: at a depth of
  100 000 it overflows the stack and the interpreter dies);
* aliases that expand to more than :data:`MAX_NODES` nodes (the "billion laughs": a few
  hundred bytes whose aliases stand for millions of nodes once the data is walked), and
  an alias inside the node it names (a structure that contains itself).

The structure check is one pass over libyaml's parse events (about 0.5 ms for the standard
scenario, an eighth of its safe load); it stops at the first limit crossed, so a hostile
file costs no more than the part of it that is read.

The problems are raised as :class:`InputRejected` with a 1-based line and column; the
caller (``tai_lab.datafile``) turns them into its located problems.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor, SafeConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (AliasEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                                SequenceEndEvent, SequenceStartEvent)

from tai_lab.errors import file_kind
from tai_lab.lang import tr

try:
    from _ruamel_yaml import CParser  # ruamel.yaml.clib: libyaml
except ImportError:  # pragma: no cover — a pure-Python install of ruamel.yaml
    CParser = None

# The standard scenario is 8 KB, nests 6 levels and holds about 500 nodes, with no alias; the
# largest intervention file is 3.3 KB, 5 levels, 180 nodes. The limits are far above any real
# file and far below what hurts: Python's recursion limit (the loaders walk the data
# recursively, a few frames per level) and the memory of the models built from the nodes.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
MAX_NODES = 100_000

# What YAML 1.2 allows in a stream (the same set libyaml and ruamel's reader check).
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")

_CHARACTER_NAMES = {0: "NUL", 0x1B: "ESC", 0x7F: "DEL"}


class InputRejected(Exception):
    """The file is refused before it is parsed; ``line``/``column`` are 1-based (None: no place)."""

    def __init__(self, line: int | None, column: int | None, message: str, hint: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message, self.hint = line, column, message, hint


def read_text(file: str, what: str = "file") -> str:
    """The text of ``file``, at most :data:`MAX_BYTES`, valid UTF-8 with YAML's characters only.

    Raises :class:`FileNotFoundError` as ``open`` does (the caller words it), and
    :class:`InputRejected` for everything else.
    """
    try:
        info = os.stat(file)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputRejected(None, None, _unreadable(exc), _access_hint(exc)) from None
    _noun, _the, a = file_kind(what)
    if not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            kind = tr(f"un répertoire, pas {a}", f"a directory, not a {what}")
        else:
            kind = tr(f"pas un fichier ordinaire (un périphérique, un tube ou une socket), pas {a}",
                      f"not a regular file (a device, a pipe or a socket), not a {what}")
        raise InputRejected(None, None, kind, tr(f"donner le chemin d'{a} (.yaml)", f"give the path of a {what} (.yaml)"))
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputRejected(None, None, _unreadable(exc), _access_hint(exc)) from None
    if len(data) > MAX_BYTES:
        line, column = _byte_position(data, MAX_BYTES)
        mib = MAX_BYTES // 2**20
        raise InputRejected(line, column, tr(f"le fichier dépasse {mib} Mio, la limite pour {a}",
                                             f"the file is larger than {mib} MiB, the limit for a {what}"),
                            tr(f"{a[:1].upper()}{a[1:]} réel fait quelques Ko : est-ce le bon fichier ?",
                               f"a real {what} is a few KB: is it the right file?"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(data, exc.start)
        bad = data[exc.start:exc.start + 1].hex().upper()
        fr = "enregistrer le fichier en UTF-8 (menu d'encodage de l'éditeur, ou : iconv -f latin1 -t utf-8 FICHIER)"
        en = "save the file as UTF-8 (your editor's encoding menu, or: iconv -f latin1 -t utf-8 FILE)"
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            fr = "le fichier est en UTF-16 (il commence par une marque d'ordre des octets UTF-16) : " + fr
            en = "the file is UTF-16 (it starts with a UTF-16 byte order mark): " + en
        raise InputRejected(line, column, tr(f"le fichier n'est pas du texte UTF-8 : l'octet 0x{bad} n'est pas "
                                             "de l'UTF-8 valide ici",
                                             f"the file is not UTF-8 text: byte 0x{bad} is not valid UTF-8 here"),
                            tr(fr, en)) from None
    bad_char = _NOT_PRINTABLE.search(text)
    if bad_char is not None:
        line, column = _text_position(text, bad_char.start())
        code = ord(bad_char.group())
        name = _CHARACTER_NAMES.get(code)
        raise InputRejected(line, column,
                            tr(f"le caractère U+{code:04X} ({name or 'un caractère de contrôle'}) est interdit dans "
                               "un fichier YAML",
                               f"character U+{code:04X} ({name or 'a control character'}) is not allowed in a "
                               "YAML file"),
                            tr("le fichier n'est pas du texte brut (un octet NUL signale souvent un fichier UTF-16 "
                               "ou binaire) : l'enregistrer en texte UTF-8 depuis un éditeur de texte",
                               "the file is not plain text (a NUL byte often means a UTF-16 or binary file): "
                               "save it as UTF-8 text from a text editor"))
    return text


def check_structure(text: str, *, pure: bool = False) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, aliases expanding past :data:`MAX_NODES`
    nodes and aliases inside their own anchor, from the parse events alone.

    ``pure`` uses ruamel's Python parser (the one the round-trip loader uses) instead of
    libyaml's. YAML syntax errors are raised as ruamel raises them, for the caller to
    locate; a limit crossed before the first syntax error is raised first.
    """
    # Each open collection: [expanded nodes so far, its anchor]; the bottom one is the stream.
    stack: list[list] = [[0, None]]
    sizes: dict[str, int] = {}          # anchor → expanded nodes of the node it names
    expanded = 0
    for event in _events(text, pure):
        kind = type(event)
        if kind is ScalarEvent or kind is AliasEvent:
            if kind is AliasEvent:
                if any(frame[1] == event.anchor for frame in stack):
                    a = event.anchor
                    raise _at(event, tr(f"l'alias *{a} est à l'intérieur du nœud &{a} qu'il désigne "
                                        "(une structure qui se contient elle-même)",
                                        f"alias *{a} is inside the node &{a} it names "
                                        "(a structure that contains itself)"),
                              tr("un alias ne peut répéter qu'un nœud complet avant lui",
                                 "an alias may only repeat a node that is complete before it"))
                size = sizes.get(event.anchor, 1)   # an unknown anchor: the loader says where
            else:
                size = 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            stack[-1][0] += size
            expanded += size
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            expanded += 1
            if len(stack) > MAX_DEPTH:
                raise _at(event, tr(f"les données s'imbriquent sur plus de {MAX_DEPTH} niveaux",
                                    f"the data nests deeper than {MAX_DEPTH} levels"),
                          tr("un scénario s'imbrique sur environ 6 niveaux : chercher une indentation qui "
                             "dérive, ou un '[' ou '{' non fermé avant cet endroit",
                             "a scenario nests about 6 levels: look for runaway indentation, "
                             "or an unclosed '[' or '{' before this place"))
            stack.append([1, event.anchor])
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            size, anchor = stack.pop()
            stack[-1][0] += size
            if anchor is not None:
                sizes[anchor] = size
            continue
        else:
            continue
        if expanded > MAX_NODES:
            if kind is AliasEvent:
                raise _at(event, tr(f"les alias se développent en plus de {MAX_NODES} valeurs (ancres et "
                                    "alias imbriqués : le motif « billion laughs »)",
                                    f"the aliases expand to more than {MAX_NODES} values "
                                    "(nested anchors and aliases: the 'billion laughs' pattern)"),
                          tr("écrire les parties répétées en entier, ou réserver les alias aux petits blocs "
                             "(&nom marque un bloc, *nom le recopie en entier)",
                             "write the repeated parts out, or use aliases only for small blocks "
                             "(&name marks a block, *name copies all of it)"))
            raise _at(event, tr(f"le fichier contient plus de {MAX_NODES} valeurs",
                                f"the file holds more than {MAX_NODES} values"),
                      tr("un scénario en contient environ 500 : est-ce le bon fichier ?",
                         "a scenario holds about 500: is it the right file?"))


def _events(text: str, pure: bool) -> Iterator[Any]:
    if pure or CParser is None:
        yield from YAML(typ="safe", pure=True).parse(text)
        return
    parser = CParser(text)     # libyaml's parser alone: a fifth cheaper than through YAML.parse
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def loader(typ: str) -> YAML:
    """ruamel's ``safe`` or ``rt`` loader, whose constructor says where a value it cannot build
    is (``title: 2024-13-45`` is a timestamp with month 13: a bare ValueError otherwise)."""
    yaml = YAML(typ=typ)
    yaml.Constructor = _LOCATING[typ]
    return yaml


def _locating(base: type) -> type:
    class Locating(base):  # type: ignore[misc, valid-type]
        def construct_object(self, node, deep=False):  # type: ignore[no-untyped-def]
            try:
                return super().construct_object(node, deep=deep)
            except YAMLError:
                raise
            except (ValueError, TypeError, OverflowError) as exc:
                raise ConstructorError(None, None, f"cannot read this value ({exc})", node.start_mark) from None
                # (worded in English as ruamel's own problems are: tai_lab.datafile translates them)
    Locating.__name__ = f"Locating{base.__name__}"
    return Locating


_LOCATING = {"safe": _locating(SafeConstructor), "rt": _locating(RoundTripConstructor)}


def _at(event: object, message: str, hint: str) -> InputRejected:
    mark = event.start_mark  # type: ignore[attr-defined]
    return InputRejected(mark.line + 1, mark.column + 1, message, hint)


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset`` of UTF-8 ``data``."""
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _text_position(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _unreadable(exc: OSError) -> str:
    return tr(f"impossible de lire le fichier : {exc.strerror}", f"cannot read the file: {exc.strerror}")


def _access_hint(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return tr("vérifier les droits du fichier, ou lancer la commande en root (sudo)",
                  "check the file's permissions, or run the command as root (sudo)")
    return tr("vérifier le chemin", "check the path")
