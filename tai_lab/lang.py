"""The trainer's language: French by default, English when asked (``TAI_LAB_LANG=en`` or the
CLI's ``--lang en``, which sets it for the whole run and the processes it starts).

A message the library raises or reports may carry both languages: :func:`tr` gives a
:class:`Text`, a ``str`` in the current language that keeps the other one, so that a face
serving several people (the jury's web console: one language per jury member) shows each
one theirs with :func:`in_lang`.
"""
from __future__ import annotations

import os

LANGS = ("fr", "en")
ENV = "TAI_LAB_LANG"


def current() -> str:
    """``fr`` unless ``TAI_LAB_LANG`` says ``en`` (anything else: French)."""
    value = os.environ.get(ENV, "").strip().lower()[:2]
    return value if value in LANGS else "fr"


def set_current(lang: str) -> None:
    """For this process and the ones it starts."""
    if lang not in LANGS:
        raise ValueError(lang)
    os.environ[ENV] = lang


class Text(str):
    """A string in the current language that keeps both (``.fr``, ``.en``)."""

    fr: str
    en: str

    def __new__(cls, fr: str, en: str) -> "Text":
        obj = super().__new__(cls, en if current() == "en" else fr)
        obj.fr, obj.en = fr, en
        return obj

    def __reduce__(self):  # pickled (a job's error) as itself, both languages
        return (Text, (self.fr, self.en))


def tr(fr: str, en: str) -> Text:
    """The French and English of one message; the value is the current language's."""
    return Text(fr, en)


def in_lang(text: str | None, lang: str) -> str | None:
    """``text`` in ``lang`` when it carries both languages, else as it is."""
    if isinstance(text, Text):
        return text.en if lang == "en" else text.fr
    return text
