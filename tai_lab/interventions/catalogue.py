"""The catalogue of interventions (``scenarios/interventions/*.yaml``, shipped with tai-lab),
extended by a scenario's own directory (``interventions_dir``), and its coverage of the
référentiel's competencies.

An intervention of the scenario's directory is ``<id>.yaml`` with its playbook ``<id>.yml``
beside it (or ``playbook:``, relative to that directory); one whose id is in the catalogue
replaces it, and keeps the catalogue's playbook if it has none of its own."""
from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from functools import lru_cache
from pathlib import Path

from .. import paths, referentiel
from ..errors import NotFoundError, ScenarioError
from ..lang import tr
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
    playbooks: dict[str, Path] = field(default_factory=dict)   # id → its playbook (absolute)
    extra: Path | None = None                                  # the scenario's own directory

    def playbook(self, iid: str) -> Path:
        """The playbook that breaks and repairs intervention ``iid``."""
        return self.playbooks.get(iid) or paths.data_dir("playbooks") / self.get(iid).playbook_path

    def source(self, iid: str) -> Path:
        """The file intervention ``iid`` was read from."""
        self.get(iid)
        if self.extra is not None and (self.extra / f"{iid}.yaml").is_file():
            return self.extra / f"{iid}.yaml"
        return self.directory / f"{iid}.yaml"

    @property
    def ids(self) -> list[str]:
        return sorted(self.interventions)

    def get(self, iid: str) -> Intervention:
        if iid not in self.interventions:
            close = get_close_matches(iid, self.ids, n=1)
            ids = ", ".join(self.ids)
            hint = tr((f"vouliez-vous dire {close[0]!r} ? " if close else "") + "identifiants valides : " + ids,
                      (f"did you mean {close[0]!r}? " if close else "") + "valid ids: " + ids)
            raise NotFoundError(tr(f"intervention inconnue {iid!r}", f"unknown intervention {iid!r}"), hint)
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
        """Every competency of the référentiel with the interventions that evaluate it: those
        whose primary competency it is (the first an intervention lists: what the fault is
        about) and those that also evaluate it (the others, secondary)."""
        ref = referentiel.load()
        rows = []
        for c in ref.competencies:
            ids = [i.id for i in self.interventions.values() if c.id in i.competencies]
            primary = [i.id for i in self.interventions.values() if i.competencies[0] == c.id]
            reason = None if ids else NOT_ON_A_PLATEAU.get(c.modality, "aucune intervention pour l'instant")
            rows.append({"competency": c.id, "ccp": c.ccp, "title": c.title, "modality": c.modality,
                         "interventions": sorted(ids), "primary": sorted(primary),
                         "secondary": sorted(set(ids) - set(primary)), "not_covered_because": reason})
        return rows


@lru_cache(maxsize=4)
def load_catalogue(directory: str | None = None, extra: str | None = None) -> Catalogue:
    """Load and check every intervention file; all problems at once, with file:line.

    ``directory``: the catalogue (default: the one shipped with tai-lab); ``extra``: a
    scenario's own directory, whose files add to it or replace an entry of the same id."""
    root = Path(directory) if directory else paths.data_dir("scenarios") / "interventions"
    shipped = paths.data_dir("playbooks")
    found: dict[str, Intervention] = {}
    playbooks: dict[str, Path] = {}
    problems: list[Problem] = []

    def in_catalogue(item: Intervention) -> tuple[list[Path], str, str]:
        return ([shipped / item.playbook_path], item.playbook_path,
                tr(f"écrire playbooks/{item.playbook_path}", f"write playbooks/{item.playbook_path}"))
    _load_dir(root, found, playbooks, problems, in_catalogue)
    own = Path(extra) if extra is not None else None
    if own is not None:
        def in_own(item: Intervention) -> tuple[list[Path], str, str]:
            name = item.playbook or f"{item.id}.yml"
            # Without a playbook of its own, an entry that replaces one of the catalogue keeps its playbook.
            fallback = [shipped / item.playbook_path] if item.playbook is None and item.id in found else []
            return [own / name, *fallback], name, tr(f"écrire {own / name}", f"write {own / name}")
        _load_dir(own, found, playbooks, problems, in_own)
    if problems:
        raise ScenarioError(problems, str(Path(problems[0].file).parent), "intervention files")
    return Catalogue(found, root, playbooks, own)


def catalogue_of(plan) -> Catalogue:
    """The catalogue a lab's jury picks from: the shipped one and the scenario's own
    (``plan``: a LabPlan, or any stand-in with or without ``intervention_dir``)."""
    return load_catalogue(extra=getattr(plan, "intervention_dir", None))


def _load_dir(root: Path, found: dict[str, Intervention], playbooks: dict[str, Path],
              problems: list[Problem], where) -> None:
    """Read ``root/*.yaml`` into ``found`` (replacing entries of the same id); ``where(item)``
    gives the places its playbook may be, its name, and the hint when there is none."""
    ref_ids = set(referentiel.load().ids)
    for f in sorted(root.glob("*.yaml")):
        try:
            item, smap = load_model(f, Intervention, what="intervention file")
        except ScenarioError as exc:
            problems += exc.problems
            continue
        if item.id != f.stem:
            problems.append(smap.problem(("id",), tr(f"l'identifiant {item.id!r} diffère du nom du fichier",
                                                     f"id {item.id!r} differs from the file name"),
                                         tr(f"renommer le fichier {item.id}.yaml ou mettre id: {f.stem}",
                                            f"rename the file {item.id}.yaml or set id: {f.stem}")))
        for n, cid in enumerate(item.competencies):
            if cid not in ref_ids:
                close = get_close_matches(cid, sorted(ref_ids), n=1)
                ids_text = ", ".join(sorted(ref_ids))
                problems.append(smap.problem(("competencies", n), tr(f"compétence inconnue {cid!r}",
                                                                     f"unknown competency {cid!r}"),
                                             tr(f"vouliez-vous dire {close[0]!r} ? (identifiants du référentiel : "
                                                f"{ids_text})", f"did you mean {close[0]!r}? (ids of the "
                                                f"référentiel: {ids_text})") if close else
                                             tr(f"identifiants du référentiel : {ids_text}",
                                                f"ids of the référentiel: {ids_text}")))
        places, name, hint = where(item)
        playbook = next((p for p in places if p.is_file()), None)
        if playbook is None:
            problems.append(smap.problem(("playbook",) if item.playbook else ("id",),
                                         tr(f"pas de playbook {name}", f"no playbook {name}"), hint))
        else:
            playbooks[item.id] = playbook.resolve()
        ids = [v.id for v in item.variants]
        if len(set(ids)) != len(ids):
            problems.append(smap.problem(("variants",), tr("deux variantes ont le même identifiant",
                                                           "two variants share an id"),
                                         tr("donner à chacune le sien", "give each its own id")))
        found[item.id] = item
