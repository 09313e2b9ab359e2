"""The exam's référentiel (competencies, criteria, phases, timings), as data.

A copy of the référentiel lives in ``scenarios/referentiel/``; every intervention
names the competencies it evaluates by their ids there (c1…c14, t1…t3).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import yaml

from . import paths
from .errors import TaiLabError
from .lang import tr

DEFAULT = "tai-tp00476-v06"


@dataclass(frozen=True)
class Competency:
    id: str
    title: str
    ccp: str | None            # None for transversal competencies
    modality: str              # situation, interview, questionnaire, transversal
    criteria: tuple[str, ...]               # English paraphrases (the référentiel file)
    criteria_fr: tuple[str, ...] = ()       # the same, in French, for the jury

    def criteria_in(self, lang: str) -> tuple[str, ...]:
        """The criteria in the jury's language (French first; English where no translation)."""
        return self.criteria_fr if lang == "fr" and self.criteria_fr else self.criteria


@dataclass(frozen=True)
class Referentiel:
    id: str
    title: str
    competencies: tuple[Competency, ...]
    session: dict

    def competency(self, cid: str) -> Competency:
        for c in self.competencies:
            if c.id == cid:
                return c
        raise KeyError(cid)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.competencies]

    def jury_phase_minutes(self) -> int:
        return int(self.session["titre"]["jury_phase"]["minutes"])


@lru_cache(maxsize=4)
def load(name: str = DEFAULT) -> Referentiel:
    path = paths.data_dir("scenarios") / "referentiel" / f"{name}.yaml"
    data = yaml.safe_load(Path(path).read_text())
    comps: list[Competency] = []
    for ccp in data["ccps"]:
        for c in ccp["competencies"]:
            comps.append(Competency(c["id"], c["title"], ccp["id"], c.get("modality", "situation"),
                                    tuple(c.get("criteria", []))))
    for t in data.get("transversal", []):
        comps.append(Competency(t["id"], t["title"], None, "transversal", tuple(t.get("criteria", []))))
    french = Path(path).with_name("criteres-fr.yaml")
    if french.is_file():
        fr = yaml.safe_load(french.read_text()) or {}
        for i, c in enumerate(comps):
            texts = tuple(fr.get(c.id, ()))
            if texts and len(texts) != len(c.criteria):
                raise TaiLabError(tr(f"{french} : {c.id} a {len(texts)} critères, le référentiel {len(c.criteria)}",
                                     f"{french}: {c.id} has {len(texts)} criteria, the référentiel {len(c.criteria)}"),
                                  tr("un texte français par critère du référentiel, dans le même ordre",
                                     "one French text per criterion of the référentiel, in the same order"))
            comps[i] = replace(c, criteria_fr=texts)
    return Referentiel(data["id"], data["title"], tuple(comps), data.get("session", {}))
