"""`report --lang en`: every section of the candidate's report in English (issue #13, item 4).

A session with everything a report can hold — an intervention fixed, one worked around, one
whose inject failed, the user's ticket and its history, checks' sentences, notes, ticked
criteria, the full grid, a forced seal, terminal sessions ended, live and interrupted — is
rendered in English, and none of the report's own French words may be left in it. What stays
as written is the data: the symptom read out (French, said to the candidate), the référentiel's
official competency titles, a state check's title (the intervention file's French sentence),
the jury's notes and the raw technical details."""
from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

from tai_lab.evidence import EvidenceLog
from tai_lab.jury import report, sentences
from tai_lab.jury.i18n import WORDS as CONSOLE_WORDS
from tai_lab.stations import liveness
from tai_lab.terminal_sessions import END_REASONS

from .test_terminal_sessions import LOGIN, write_cast


def _full_session(tmp_path) -> SimpleNamespace:
    log = EvidenceLog(tmp_path, 1)
    log.record("seal", intact=False, actor="cli:formateur", count=2,
               changes=[{"node": "pc1", "path": "/etc/hosts"}, {"node": "srv", "path": "/etc/passwd"}])
    log.record("candidate", name="Camille Dupont", actor="web:Mme Martin")
    ticket = {"id": 12, "status": "resolved", "owner": "technicien", "assets": ["pc1"], "requestors": ["alice"],
              "history": [{"type": "Create", "creator": "alice", "created": "2026-12-01T09:00:00Z"},
                          {"type": "Correspond", "creator": "technicien", "created": "2026-12-01T09:01:00Z"},
                          {"type": "Correspond", "creator": "alice", "created": "2026-12-01T09:02:00Z"},
                          {"type": "Status", "creator": "technicien", "old": "open", "new": "resolved",
                           "created": "2026-12-01T09:03:00Z"},
                          {"type": "Take", "creator": "technicien", "created": "2026-12-01T09:03:10Z"},
                          {"type": "Set", "creator": "technicien", "field": "Queue", "created": "2026-12-01T09:04:00Z"}]}
    fetch = {"passed": False, "title": "page", "about": {"kind": "fetch", "url": "http://intranet.tai.lan/",
                                                         "node": "pc1"}, "evidence": "curl: (7) refused"}
    state = {"passed": True, "title": "aucun compte local", "about": {"kind": "state", "node": "pc1",
                                                                        "title": "aucun compte local"}}
    log.record("inject-begin", id="intranet-down", variant="service-stopped", actor="web:Mme Martin")
    log.record("inject", id="intranet-down", variant="service-stopped", evidence=[fetch], ticket=ticket)
    log.record("note", id="intranet-down", text="a relancé apache2", actor="web:Mme Martin")
    log.record("criterion", id="intranet-down", competency="c10", index=0, checked=True)
    log.record("check", id="intranet-down", fixed=True, verdict="fixed",
               evidence=[{**fetch, "passed": True}, state])
    log.record("restore", restored=["intranet-down"])
    log.record("inject-begin", id="dns-failure", variant=None, actor="cli:formateur")
    log.record("inject", id="dns-failure", variant=None, evidence=[])
    log.record("check", id="dns-failure", fixed=False, verdict="bypassed",
               reason={"fr": "résolveur contourné", "en": "resolver worked around"}, evidence=[fetch])
    log.record("inject-begin", id="disk-full", variant=None, actor="web:Mme Martin")
    log.record("inject-failed", id="disk-full", error="srv à l'arrêt")
    write_cast(log, "a.cast", [[0.5, "o", LOGIN + "root@pc1:~# systemctl restart apache2\r\n"]])
    write_cast(log, "b.cast", [[0.5, "o", "root@srv:~# "]], marker=None)
    write_cast(log, "c.cast", [[0.5, "o", "root@pc2:~# ip a\r\n"]], marker=None)
    log.record("station", event="session-start", node="pc1", recording="a.cast")
    log.record("station", event="session-end", node="pc1", account="root", seconds=61, reason="closed:seal",
               recording="a.cast")
    log.record("station", event="session-start", node="srv", recording="b.cast", portal=liveness.identity())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    ident = liveness.identity(gone.pid)
    gone.wait()
    log.record("station", event="session-start", node="pc2", recording="c.cast", portal=ident)
    return SimpleNamespace(name="std", plan=SimpleNamespace(title="Plateau TAI", intervention_dir=None),
                           evidence=lambda pod=None: log)


def _french_words() -> set[str]:
    """The report's own French words: fixed fragments of each of its templates and labels."""
    texts = list(report.WORDS["fr"].values()) + list(report.VERDICTS.values())
    texts += list(report.TERMINAL_WORDS["fr"].values()) + [fr for fr, _en in END_REASONS.values()]
    texts += [fr for fr, _en in report._TICKET_STEPS.values()] + [fr for fr, _en in report._TICKET_STATES.values()]
    texts += [fr for fr, _en in report._TICKET_REPLIES.values()]
    texts += [pair["fr"][0] for pair in sentences.SENTENCES.values()] + [pair["fr"][1] for pair in sentences.SENTENCES.values()]
    texts += [fr for k, (fr, _en) in CONSOLE_WORDS.items() if k.startswith("ticket")]
    english = " ".join(list(report.WORDS["en"].values()) + list(report.TERMINAL_WORDS["en"].values()))
    out = set()
    for text in texts:
        for frag in re.split(r"\{[^}]*\}|[():,.…—\n]", text):
            frag = frag.strip()
            if len(frag) >= 5 and frag not in english and frag not in ("Interventions", "Plateau"):
                out.add(frag)
    return out


def test_every_section_of_the_report_in_english(tmp_path):
    lab = _full_session(tmp_path)
    en = report.render_html(lab, 1, lang="en", full_grid=True)
    text = re.sub(r"<[^>]+>", " ", en).replace("&#39;", "'")
    for words in ("Practical assessment report", "Summary by competency", "Interventions at a glance",
                  "FORCED by", "Intranet web site down", "worked around — resolver worked around",
                  "inject failed", "Ticket #12: resolved", "owner: technicien", "ticket opened",
                  "reply to the requestor", "message from the requestor", "status: open → resolved",
                  "Queue changed", "The page http://intranet.tai.lan/ loads on pc1", "Checked on pc1: aucun compte local",
                  "Mme Martin: a relancé apache2", "The candidate's working sessions", "systemctl restart apache2",
                  "access closed", "interrupted (portal stopped)", "open (no end recorded)",
                  "Appendix — the full grid of criteria", "Jury member 1", "Made on"):
        assert words in text, words
    # the data stays as written; the report's own words are all English
    left = sorted(w for w in _french_words() if re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", text))
    assert left == [], left
    ours = re.sub(r"<[^>]+>", " ", re.sub(r'<p class="symptom">.*?</p>', "", en, flags=re.S))
    assert " : " not in ours, ours[ours.index(" : ") - 80:ours.index(" : ") + 20]   # English punctuation


def test_the_same_report_in_french_still(tmp_path):
    fr = report.render_html(_full_session(tmp_path), 1, full_grid=True)
    text = re.sub(r"<[^>]+>", " ", fr)
    for words in ("Rapport de mise en situation", "Ticket n°12 : résolu", "ticket ouvert", "état : ouvert → résolu",
                  "interrompue (portail arrêté)", "en cours (sans fin enregistrée)", "Mme Martin : a relancé apache2"):
        assert words in text, words
