"""The catalogue of interventions (``scenarios/interventions/*.yaml``) and its coverage
of the référentiel's competencies."""
from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from functools import lru_cache
from pathlib import Path

from .. import paths, referentiel
from ..errors import NotFoundError, ScenarioError
from ..datafile import Problem, load_model
from .model import Intervention

# Competencies the plateau cannot evaluate in the jury phase, and why (shown by --coverage).
NOT_ON_A_PLATEAU = {
    "questionnaire": "évaluée par le questionnaire professionnel écrit",
    "interview": "évaluée en entretien technique",
}


@dataclass(frozen=True)
class Catalogue:
    interventions: dict[str, Intervention]
    directory: Path

    @property
    def ids(self) -> list[str]:
        return sorted(self.interventions)

    def get(self, iid: str) -> Intervention:
        if iid not in self.interventions:
            close = get_close_matches(iid, self.ids, n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + "valid ids: " + ", ".join(self.ids)
            raise NotFoundError(f"unknown intervention {iid!r}", hint)
        return self.interventions[iid]

    def select(self, *, ccp: str | None = None, competency: str | None = None,
               allowed: list[str] | None = None) -> list[Intervention]:
        ref = referentiel.load()
        out = []
        for i in sorted(self.interventions.values(), key=lambda x: (x.category, x.id)):
            if allowed is not None and i.id not in allowed:
                continue
            if competency and competency not in i.competencies:
                continue
            if ccp and not any(ref.competency(c).ccp == ccp for c in i.competencies):
                continue
            out.append(i)
        return out

    def coverage(self) -> list[dict]:
        """Every competency of the référentiel with the interventions that evaluate it."""
        ref = referentiel.load()
        rows = []
        for c in ref.competencies:
            ids = [i.id for i in self.interventions.values() if c.id in i.competencies]
            reason = None if ids else NOT_ON_A_PLATEAU.get(c.modality, "aucune intervention pour l'instant")
            rows.append({"competency": c.id, "ccp": c.ccp, "title": c.title, "modality": c.modality,
                         "interventions": sorted(ids), "not_covered_because": reason})
        return rows


@lru_cache(maxsize=2)
def load_catalogue(directory: str | None = None) -> Catalogue:
    """Load and check every intervention file; all problems at once, with file:line."""
    root = Path(directory) if directory else paths.data_dir("scenarios") / "interventions"
    ref_ids = set(referentiel.load().ids)
    playbooks = paths.data_dir("playbooks")
    found: dict[str, Intervention] = {}
    problems: list[Problem] = []
    for f in sorted(root.glob("*.yaml")):
        try:
            item, smap = load_model(f, Intervention, what="intervention file")
        except ScenarioError as exc:
            problems += exc.problems
            continue
        if item.id != f.stem:
            problems.append(smap.problem(("id",), f"id {item.id!r} differs from the file name",
                                         f"rename the file {item.id}.yaml or set id: {f.stem}"))
        for n, cid in enumerate(item.competencies):
            if cid not in ref_ids:
                problems.append(smap.problem(("competencies", n), f"unknown competency {cid!r}",
                                             f"ids of the référentiel: {', '.join(sorted(ref_ids))}"))
        if not (playbooks / item.playbook_path).is_file():
            problems.append(smap.problem(("playbook",) if item.playbook else ("id",),
                                         f"no playbook {item.playbook_path}",
                                         f"write playbooks/{item.playbook_path}"))
        ids = [v.id for v in item.variants]
        if len(set(ids)) != len(ids):
            problems.append(smap.problem(("variants",), "two variants share an id", "give each its own id"))
        found[item.id] = item
    if problems:
        raise ScenarioError(problems, str(root), "intervention files")
    return Catalogue(found, root)
