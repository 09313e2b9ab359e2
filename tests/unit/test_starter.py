"""A trainer's own files: `tai-lab init`, a scenario's own interventions (interventions_dir)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tai_lab import starter
from tai_lab.errors import LabStateError, ScenarioError
from tai_lab.interventions.catalogue import load_catalogue
from tai_lab.scenario import load_plan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_catalogue():
    load_catalogue.cache_clear()
    yield
    load_catalogue.cache_clear()


def test_the_starting_scenario_is_the_standard_plateau():
    """scenarios/modele/plateau.yaml is tai-standard commented in French: same data."""
    std = yaml.safe_load((ROOT / "scenarios/tai-standard.yaml").read_text())
    mine = yaml.safe_load((ROOT / "scenarios/modele/plateau.yaml").read_text())
    for key in ("lab", "title", "interventions_dir"):
        std.pop(key, None)
        mine.pop(key, None)
    assert mine == std


def test_init_writes_a_valid_scenario_and_never_overwrites(tmp_path):
    written = starter.init(tmp_path / "centre")
    assert tmp_path / "centre/plateau.yaml" in written
    assert (tmp_path / "centre/interventions").is_dir()
    plan = load_plan(tmp_path / "centre/plateau.yaml")
    assert plan.intervention_dir == str((tmp_path / "centre/interventions").resolve())
    before = (tmp_path / "centre/plateau.yaml").read_text()
    (tmp_path / "centre/plateau.yaml").write_text(before + "# mine\n")
    with pytest.raises(LabStateError, match="already exists"):
        starter.init(tmp_path / "centre")
    assert (tmp_path / "centre/plateau.yaml").read_text().endswith("# mine\n")


def _scenario(tmp_path: Path, ids: list[str]) -> Path:
    starter.init(tmp_path)
    path = tmp_path / "plateau.yaml"
    data = yaml.safe_load(path.read_text())
    data["interventions"] = ids
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


_OWN = """\
id: {id}
title: {{fr: "Panne du centre", en: "The centre's fault"}}
symptom: "Plus rien ne marche."
competencies: [{competency}]
difficulty: 1
category: poste
check:
  - {{probe: resolve, name: "intranet.{{domain}}"}}
variants:
  - id: v1
    title: {{fr: V1, en: V1}}
    target: {{node: user}}
jury: {{diagnostic: [a], fixes: [b]}}
"""


def test_own_interventions_extend_and_replace_the_catalogue(tmp_path):
    path = _scenario(tmp_path, ["dns-failure", "panne-maison"])
    own = tmp_path / "interventions"
    (own / "panne-maison.yaml").write_text(_OWN.format(id="panne-maison", competency="c10"))
    (own / "panne-maison.yml").write_text("- hosts: all\n  tasks: []\n")
    starter.export_intervention("dns-failure", own)
    text = (own / "dns-failure.yaml").read_text()
    (own / "dns-failure.yaml").write_text(text.replace("Résolution de noms en panne", "Panne DNS du centre"))

    plan = load_plan(path)
    cat = load_catalogue(extra=plan.intervention_dir)
    assert cat.get("panne-maison").title.fr == "Panne du centre"
    assert cat.playbook("panne-maison") == (own / "panne-maison.yml").resolve()
    # The replaced entry keeps the catalogue's playbook.
    assert cat.get("dns-failure").title.fr == "Panne DNS du centre"
    assert cat.playbook("dns-failure") == (ROOT / "playbooks/interventions/dns-failure.yml").resolve()
    assert cat.source("dns-failure") == own / "dns-failure.yaml"
    # The shipped catalogue alone is unchanged.
    assert "panne-maison" not in load_catalogue().ids


def test_problems_in_own_interventions_are_located(tmp_path):
    path = _scenario(tmp_path, ["dns-failure"])
    (tmp_path / "interventions/panne-maison.yaml").write_text(_OWN.format(id="panne-maison", competency="c99"))
    with pytest.raises(ScenarioError) as err:
        load_plan(path)
    found = {(Path(p.file).name, p.line, p.message) for p in err.value.problems}
    assert ("panne-maison.yaml", 1, "pas de playbook panne-maison.yml") in found
    assert ("panne-maison.yaml", 4, "compétence inconnue 'c99'") in found


def test_a_missing_interventions_dir_is_located(tmp_path):
    path = _scenario(tmp_path, ["dns-failure"])
    (tmp_path / "interventions/LISEZMOI.md").unlink()
    (tmp_path / "interventions").rmdir()
    with pytest.raises(ScenarioError) as err:
        load_plan(path)
    [p] = err.value.problems
    assert p.path == "interventions_dir" and p.line is not None and "pas de répertoire" in p.message


def test_the_lab_reads_own_interventions_where_the_trainer_keeps_them(tmp_path, monkeypatch):
    """A lab's plan comes from its scenario copy: relative paths still start at the original."""
    from tai_lab import lab as lab_mod
    from tai_lab.state import LabState
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path / "home"))
    path = _scenario(tmp_path / "centre", ["dns-failure"])
    state = LabState("tai")
    state.dir.mkdir(parents=True)
    (state.dir / "scenario.yaml").write_bytes(path.read_bytes())
    state.data = {"lab": "tai", "scenario": str(path.resolve()), "pod_count": 1, "pods": {}}
    plan = lab_mod.lab_plan(state)
    assert plan.intervention_dir == str((tmp_path / "centre/interventions").resolve())
