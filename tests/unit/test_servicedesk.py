"""The service desk without a running desk: the scenario's rules, the ticket the user writes,
what the jury reads of a ticket, the record's folding, and the desk checks' judgement over
REST 2 answers (the real desk: tests/integration/test_servicedesk.py)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tai_lab.errors import ScenarioError
from tai_lab.evidence import EvidenceLog, LabHook
from tai_lab.interventions.catalogue import load_catalogue
from tai_lab.interventions.engine import ticket_text
from tai_lab.jury.report import ticket_history
from tai_lab.jury.sentences import ticket_label
from tai_lab.scenario import load_plan, load_scenario
from tai_lab.servicedesk import desk_of, ticket_summary

ROOT = Path(__file__).resolve().parents[2]
DESK = ROOT / "scenarios" / "tai-servicedesk.yaml"


def _script():
    spec = importlib.util.spec_from_file_location("rt_desk", ROOT / "playbooks" / "files" / "rt-desk.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ the scenario
def test_the_service_desk_scenario_expands_with_its_desk_per_pod():
    plan = load_plan(DESK, pods=2)
    desk = desk_of(plan.pod(2))
    assert desk is not None and desk.node == "desk" and desk.url == "http://support.pod2.tai.lan/"
    assert desk.user_of("pc1")["login"] == "alice" and desk.user_of("pc1")["password"] == "Alice-2-rt"
    assert desk.asset_data("pc2")["serial"] == "TAI2-PC2-7305"
    assert desk_of(load_plan(ROOT / "scenarios" / "tai-standard.yaml", pods=1).pod(1)) is None


def _broken(tmp_path: Path, edit) -> ScenarioError:
    path = tmp_path / "desk.yaml"
    path.write_text(edit(DESK.read_text()))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value


def test_desk_settings_are_checked_with_their_place_and_a_hint(tmp_path):
    err = str(_broken(tmp_path, lambda t: t.replace("name: support\n", "name: helpdesk\n")
                      .replace("machine: pc1,", "machine: pc9,").replace('password: "Bruno-{pod}-rt"', 'password: "x"')))
    assert re.search(r"desk\.yaml:\d+:\d+: pod\.services\.servicedesk\.name: 'helpdesk' n'est pas un nom DNS de desk",
                     err) and "aliases: [helpdesk]" in err
    assert "users[0].machine: 'pc9' n'est pas un poste client du pod" in err and "postes clients : pc1, pc2" in err
    assert "users[1].password: texte trop court : au moins 8 caractères" in err


def test_a_desk_role_without_settings_and_settings_without_a_desk(tmp_path):
    no_settings = str(_broken(tmp_path, lambda t: re.sub(r"    servicedesk:\n(      .*\n|        .*\n)*", "", t)))
    assert "le rôle service-desk demande ses réglages" in no_settings
    no_role = str(_broken(tmp_path, lambda t: t.replace("roles: [service-desk]", "roles: []")))
    assert "des réglages de centre de services mais aucune machine n'a le rôle service-desk" in no_role
    assert "desk-ticket-link est une intervention sur le centre de services, et le pod n'en a pas" in no_role


# ------------------------------------------------------------------ the ticket the user writes
def test_the_ticket_is_the_symptom_in_the_users_words_with_their_machine():
    item = load_catalogue().get("intranet-down")
    subject, body = ticket_text(item, None, {"asset_name": "pc1", "desk_user_name": "Alice Martin"})
    assert subject == "L'intranet ne s'affiche plus : j'ai une page d'erreur"     # no greeting, no « »
    assert body.startswith("Bonjour, l'intranet ne s'affiche plus") and "«" not in body
    assert "Mon poste : pc1" in body and body.rstrip().endswith("Alice Martin")
    # no diagnosis in what the user writes: not the intervention's title
    assert item.title.fr not in subject + body


def test_each_c8_intervention_has_c8_first_two_variants_and_needs_the_desk():
    cat = load_catalogue()
    c8 = [i for i in cat.interventions.values() if i.competencies[0] == "c8"]
    assert len(c8) >= 4 and all(len(i.variants) >= 2 and i.desk for i in c8)


# ------------------------------------------------------------------ what the jury reads
TICKET = {"id": 12, "subject": "x", "status": "resolved", "owner": "technicien", "requestors": ["alice"],
          "creator": "alice", "links": [{"ref": "refers-to", "type": "asset", "id": 1, "name": "pc1"}],
          "history": [{"type": "Create", "creator": "alice", "created": "2026-12-01T07:46:37Z"},
                      {"type": "EmailRecord", "creator": "RT_System", "created": "2026-12-01T07:46:37Z"},
                      {"type": "Correspond", "creator": "technicien", "created": "2026-12-01T07:50:00Z"},
                      {"type": "Correspond", "creator": "alice", "created": "2026-12-01T07:51:00Z"},
                      {"type": "Status", "creator": "technicien", "created": "2026-12-01T07:52:00Z",
                       "field": "Status", "old": "open", "new": "resolved"}]}


def test_the_ticket_in_words_french_first_from_what_was_read():
    s = ticket_summary(TICKET)
    assert [h["type"] for h in s["history"]] == ["Create", "Correspond", "Correspond", "Status"]   # no e-mail copies
    assert ticket_label(s) == ("Ticket n°12 : résolu — responsable : technicien — poste lié : pc1 — "
                               "1 réponse(s) au demandeur")
    assert ticket_label(s, "en").startswith("Ticket #12: resolved — owner: technicien")   # English punctuation
    assert ticket_history(s, "en")[3].endswith("technicien: status: open → resolved")
    assert ticket_label({"id": 12, "error": "no answer"}).startswith("Ticket n°12 : le centre de services n'a pas")
    assert ticket_label({"id": None, "error": "no answer"}).startswith("Ticket non ouvert")
    assert ticket_label(None) is None
    lines = ticket_history(s)
    assert lines[0].endswith("alice : ticket ouvert") and lines[1].endswith("technicien : réponse au demandeur")
    assert lines[2].endswith("alice : message du demandeur") and lines[3].endswith("état : ouvert → résolu")


def test_the_record_keeps_each_new_state_of_the_ticket_once(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    log.record("inject-begin", id="intranet-down", variant="service-stopped")
    log.record("inject", id="intranet-down", variant="service-stopped", evidence=[],
               ticket=ticket_summary({**TICKET, "status": "new", "owner": "Nobody", "history": TICKET["history"][:1]}))
    assert log.current().attempts[0].ticket["status"] == "new"
    hook = LabHook(log)
    read = ticket_summary(TICKET)
    hook.tickets([("intranet-down", "service-stopped", read)], "console")
    hook.tickets([("intranet-down", "service-stopped", read)], "console")        # unchanged: not twice
    assert sum(r["kind"] == "ticket" for r in log.records()) == 1
    assert log.current().attempts[0].ticket["status"] == "resolved"


# ------------------------------------------------------------------ the checks' judgement (rt-desk.py)
def test_an_asset_check_accepts_any_correct_record_and_refuses_duplicates(monkeypatch):
    rt = _script()
    record = {"id": 1, "name": "PC1 ", "status": "in-use", "description": "", "held_by": ["alice"], "contact": [],
              "fields": {"Adresse MAC": "02-7A-D0-FB-36-79", "Numéro de série": "TAI1-PC1-4821"}}
    want = {"name": "pc1", "mac": "02:7a:d0:fb:36:79", "serial": "TAI1-PC1-4821", "held_by": "alice"}
    monkeypatch.setattr(rt, "live", lambda name: [record])
    assert rt.check_asset(want)[0]                                 # written another way: same MAC
    monkeypatch.setattr(rt, "live", lambda name: [{**record, "held_by": ["bruno"]}])
    ok, why = rt.check_asset(want)
    assert not ok and "attribuée à « bruno »" in why[0]
    monkeypatch.setattr(rt, "live", lambda name: [record, {**record, "id": 3}])
    ok, why = rt.check_asset(want)
    assert not ok and "2 fiches" in why[0]
    monkeypatch.setattr(rt, "live", lambda name: [])
    assert not rt.check_asset(want)[0]


def test_a_ticket_check_wants_an_answer_to_the_user_and_the_right_link(monkeypatch):
    rt = _script()
    t = {"id": 5, "status": "resolved", "owner": "technicien", "requestors": ["alice"],
         "links": [{"type": "asset", "id": 1, "name": "pc1"}],
         "history": [{"type": "Create", "creator": "alice"}, {"type": "Comment", "creator": "technicien"},
                     {"type": "Correspond", "creator": "alice"}]}
    monkeypatch.setattr(rt, "ticket", lambda number: t)
    want = {"id": 5, "owner": True, "reply": True, "status": ["resolved"]}
    ok, why = rt.check_ticket(want)
    assert not ok and why == ["aucune réponse au demandeur dans le ticket n°5"]   # a comment, the user's own mail
    t["history"].append({"type": "Correspond", "creator": "technicien"})
    assert rt.check_ticket(want)[0]
    t["status"] = "rejected"
    ok, why = rt.check_ticket(want)
    assert not ok and "« rejeté » (attendu : résolu)" in why[0]
    t["links"].append({"type": "asset", "id": 2, "name": "pc2"})
    assert rt.check_ticket({"id": 5, "asset": "pc1"})[0]
    ok, why = rt.check_ticket({"id": 5, "asset": "pc1", "only_asset": True})
    assert not ok and "autre fiche : pc2" in why[0]
