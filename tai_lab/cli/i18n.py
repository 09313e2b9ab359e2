"""The command line in the trainer's language: French by default, English with ``--lang en``
or ``TAI_LAB_LANG=en`` (the switch the consoles use too).

The help texts are written in English beside the code (``help=`` and docstrings, read by the
developers); :data:`help_fr.HELP_FR` gives each its French, keyed by the English text, and
:func:`localize` sets the whole command tree to one language before click reads it (a unit
test checks that every help text has its French). Click's own words (« Usage: »,
« Options », its error messages) come through gettext: :func:`localize` hands click's modules
a French catalogue in the same way.
"""
from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence

import click

from .. import lang as lang_mod
from .help_fr import CLICK_FR, CLICK_FR_PLURAL, HELP_FR

_ORIGINAL = "_tai_help_en"


def lang_from_argv(argv: Sequence[str]) -> str | None:
    """The value of ``--lang`` anywhere on the command line (before a ``--``), if valid."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        value = None
        if arg == "--lang" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
        if value is not None and value in lang_mod.LANGS:
            return value
    return None


def walk(cmd: click.Command, path: tuple[str, ...] = ()):
    """Every command of the tree with its path (the root's is empty)."""
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from walk(sub, (*path, name))


def help_texts(cmd: click.Command):
    """Every (object, attribute) holding a help text in the tree (commands and options)."""
    for _path, c in walk(cmd):
        for attr in ("help", "short_help"):
            yield c, attr
        for p in c.params:
            if isinstance(p, click.Option):
                yield p, "help"


def key(text: str) -> str:
    return inspect.cleandoc(text).strip()


def localize(root: click.Command, lang: str) -> None:
    """Every help text of the tree, and click's own words, in ``lang`` (idempotent)."""
    for obj, attr in help_texts(root):
        originals = obj.__dict__.setdefault(_ORIGINAL, {})
        if attr not in originals:
            originals[attr] = getattr(obj, attr, None)
        english = originals[attr]
        if not english:
            continue
        setattr(obj, attr, HELP_FR.get(key(english), english) if lang == "fr" else english)
    _click_words(lang)


def _click_words(lang: str) -> None:
    import gettext
    french = lang == "fr"

    def singular(message: str) -> str:
        return CLICK_FR.get(message, message) if french else message

    def plural(one: str, many: str, n: int) -> str:
        if french and (one, many) in CLICK_FR_PLURAL:
            pair = CLICK_FR_PLURAL[(one, many)]
            return pair[0] if n == 1 else pair[1]
        return gettext.ngettext(one, many, n)

    for name in ("core", "decorators", "exceptions", "formatting", "parser", "types", "termui", "utils"):
        module = sys.modules.get(f"click.{name}")
        if module is None:
            continue
        for attr, fn in (("_", singular), ("ngettext", plural)):
            if hasattr(module, attr):          # click's gettext names, module by module
                setattr(module, attr, fn)


_LANG_HELP = "Language of the help and messages (fr by default; TAI_LAB_LANG too)."


def _apply(ctx: click.Context, _param, value):
    if value:
        lang_mod.set_current(value)
        localize(ctx.find_root().command, value)
    return value


def _option() -> click.Option:
    return click.Option(["--lang"], type=click.Choice(lang_mod.LANGS), expose_value=False, is_eager=True,
                        callback=_apply, help=_LANG_HELP)


def lang_option(f: Callable) -> Callable:
    """``--lang fr|en`` on the root group: sets the language for the run (and its children)."""
    return click.option("--lang", type=click.Choice(lang_mod.LANGS), expose_value=False, is_eager=True,
                        callback=_apply, help=_LANG_HELP)(f)


def lang_everywhere(root: click.Command) -> None:
    """``--lang`` accepted after any command too (tai-lab up --help --lang en), as ``--lab`` is."""
    for _path, cmd in walk(root):
        if not any(p.name == "lang" for p in cmd.params):
            cmd.params.append(_option())
