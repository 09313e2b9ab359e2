"""The candidate's session report, in French (or English): HTML, and PDF through WeasyPrint.

Built from the pod's evidence log only (what was injected, checked, restored, noted,
ticked — with times and who), so it can be printed after the lab is down too: ``down``
archives the logs (:mod:`tai_lab.archive`) and an :class:`~tai_lab.archive.Archive` reads
like a lab here.
"""
from __future__ import annotations

import calendar
import re
import time
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import referentiel
from ..errors import NotFoundError, PrerequisiteError
from ..evidence import EvidenceLog, Session
from .sentences import ticket_label

TEMPLATES = Path(__file__).parent / "templates"


# What became of an intervention (Attempt.outcome), as the report says it. "réparé" only
# from a check that ran on the intervention while it was applied.
VERDICTS = {"failed": "injection échouée", "interrupted": "injection interrompue — jamais réparée",
            "fixed": "réparé", "cleared": "effacée par remise à zéro — non réparée",
            "not-fixed": "non réparé", "bypassed": "contourné",
            "lost-at-reboot": "réparé, mais perdu au redémarrage"}
VERDICTS_EN = {"failed": "inject failed", "interrupted": "inject interrupted — never fixed",
               "fixed": "fixed", "cleared": "cleared by a reset — not fixed",
               "not-fixed": "not fixed", "bypassed": "worked around",
               "lost-at-reboot": "fixed, but lost at reboot"}

# The report's words (the terminal sessions' section has its own, below).
WORDS = {
    "fr": {"report": "Rapport", "h1": "Rapport de mise en situation — phase jury",
           "title_pro": "Titre professionnel Technicien d'assistance informatique", "candidate": "Candidat",
           "date": "Date", "plateau": "Plateau", "seal": "Scellé de la phase de préparation",
           "elapsed": "Durée chronométrée", "planned": "prévue :", "interventions": "Interventions",
           "counts": "{n} injectée(s), {fixed} réparée(s)", "summary": "Synthèse par compétence",
           "competency": "Compétence", "result": "Résultat", "ticked": "Critères cochés",
           "state_observe": "observé", "state_non-observe": "non observé", "state_non-evalue": "non évalué",
           "brief": "Interventions en bref", "number": "N°", "intervention": "Intervention",
           "time_to_fix": "Temps de réparation", "symptom": "Symptôme annoncé :", "cause": "Cause injectée",
           "competencies": "Compétences", "injected_at": "Injectée à",
           "asked": "{at} (demandée à {began} par {who})", "fixed_at": "à {at}, en {t}",
           "cleared_at": "Remise à zéro du pod à", "restored_at": "Restaurée à", "error": "Erreur",
           "last_check": "Dernière vérification", "ticket": "Ticket de l'utilisateur", "notes": "Notes du jury", "no_notes": "(aucune)",
           "criteria": "Critères observés", "none_ticked": "(aucun critère coché)",
           "details": "Détails techniques de la dernière vérification :",
           "no_items": "Aucune intervention n'a été injectée pour ce candidat.",
           "appendix": "Annexe — grille complète des critères", "juror": "Juré",
           "made": "Établi le {at} d'après le journal de preuves du pod (tai-lab).",
           "not_given": "(non renseigné)", "seal_intact": "intact",
           "seal_forced": "FORCÉ par {who} : {n} modification(s) ", "cli": "ligne de commande", "colon": " : "},
    "en": {"report": "Report", "h1": "Practical assessment report — jury phase",
           "title_pro": "Professional title IT support technician (TAI)", "candidate": "Candidate",
           "date": "Date", "plateau": "Plateau", "seal": "Seal of the preparation phase",
           "elapsed": "Time on the timer", "planned": "planned:", "interventions": "Interventions",
           "counts": "{n} injected, {fixed} fixed", "summary": "Summary by competency",
           "competency": "Competency", "result": "Result", "ticked": "Criteria ticked",
           "state_observe": "observed", "state_non-observe": "not observed", "state_non-evalue": "not evaluated",
           "brief": "Interventions at a glance", "number": "No.", "intervention": "Intervention",
           "time_to_fix": "Time to fix", "symptom": "Symptom read out:", "cause": "Cause injected",
           "competencies": "Competencies", "injected_at": "Injected at",
           "asked": "{at} (requested at {began} by {who})", "fixed_at": "at {at}, in {t}",
           "cleared_at": "Pod reset at", "restored_at": "Restored at", "error": "Error",
           "last_check": "Last check", "ticket": "The user's ticket", "notes": "Jury notes", "no_notes": "(none)",
           "criteria": "Criteria observed", "none_ticked": "(no criterion ticked)",
           "details": "Technical details of the last check:",
           "no_items": "No intervention was injected for this candidate.",
           "appendix": "Appendix — the full grid of criteria", "juror": "Jury member",
           "made": "Made on {at} from the pod's evidence log (tai-lab).",
           "not_given": "(not given)", "seal_intact": "intact",
           "seal_forced": "FORCED by {who}: {n} change(s) ", "cli": "command line", "colon": ": "},
}


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = round(seconds)
    return f"{s // 60} min {s % 60:02d} s"


def who(actor: str | None, lang: str = "fr") -> str:
    """Who acted, as the jury reads it: the name without the face's prefix (web:, tui:, cli:)."""
    if not actor:
        return "—"
    face, sep, name = actor.partition(":")
    if not sep:
        return actor
    return f"{name} ({WORDS.get(lang, WORDS['fr'])['cli']})" if face == "cli" else name


def mmss(seconds: float | None) -> str:
    """A time to fix as the consoles show it (the same whole seconds: Attempt.seconds_to_fix)."""
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def _clock(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else "—"


# The section of the candidate's terminal sessions, in the report's language.
TERMINAL_WORDS = {
    "fr": {"title": "Sessions de travail du candidat", "machine": "Machine", "account": "Compte",
           "start": "Début", "duration": "Durée", "end": "Fin", "live": "en cours (sans fin enregistrée)",
           "commands": "Commandes tapées", "left_out": "… et {n} autre(s) commande(s) non reproduite(s)",
           "no_commands": "(aucune commande relevée dans l'affichage)",
           "none": "Aucune session de terminal pour ce candidat.",
           "missing": "(enregistrement introuvable)",
           "note": "Commandes relevées dans ce que le terminal a affiché après l'invite du shell ; "
                   "les frappes au clavier ne sont pas enregistrées (elles contiennent des mots de passe)."},
    "en": {"title": "The candidate's working sessions", "machine": "Machine", "account": "Account",
           "start": "Start", "duration": "Duration", "end": "End", "live": "open (no end recorded)",
           "commands": "Commands typed", "left_out": "… and {n} more command(s) not shown",
           "no_commands": "(no command found in the output)",
           "none": "No terminal session for this candidate.",
           "missing": "(recording not found)",
           "note": "Commands read from what the terminal displayed after the shell's prompt; "
                   "keystrokes are not recorded (they include passwords)."},
}


def terminals(log: EvidenceLog, session: Session, lang: str = "fr") -> list[dict]:
    """The candidate's terminal sessions as the report shows them."""
    from ..terminal_sessions import end_reason, terminal_sessions
    out = []
    for ts in terminal_sessions(log, session):
        out.append({"node": ts.node, "account": ts.account or "—", "start": _clock(ts.started),
                    "duration": _hms(ts.seconds) if ts.seconds is not None else "—",
                    "end": end_reason(ts.reason, lang) if ts.ended else None, "commands": ts.commands,
                    "left_out": ts.commands_left_out, "missing": ts.path is None})
    return out


def context(lab_name: str, title: str, log: EvidenceLog, session: Session | None = None, *,
            intervention_dir: str | None = None, lang: str = "fr", full_grid: bool = False) -> dict:
    """``intervention_dir``: the scenario's own interventions (their titles, symptoms, competencies).

    ``lang``: the report's language (French by default; English: its words, the interventions'
    titles, verdicts and check sentences — the symptom read out, the référentiel's titles and
    the jury's notes stay as written).
    ``full_grid``: every criterion of every competency, ticked or not, in an appendix (by
    default each intervention lists only what the jury ticked)."""
    from . import sentences
    from ..interventions.catalogue import load_catalogue
    session = session or log.current()
    cat = load_catalogue(extra=intervention_dir)
    ref = referentiel.load()
    items = []
    for n, a in enumerate(session.attempts, 1):
        try:
            iv = cat.get(a.id)
            title_fr, symptom, comps = getattr(iv.title, lang, iv.title.fr), iv.symptom, list(iv.competencies)
            var_title = next((getattr(v.title, lang, v.title.fr) for v in iv.variants if v.id == a.variant),
                             a.variant)
        except Exception:  # noqa: BLE001 - an intervention since removed from the catalogue
            title_fr, symptom, comps, var_title = a.id, "", [], a.variant
        ticked = session.ticked(a.id)
        criteria = []
        for cid in comps:
            try:
                c = ref.competency(cid)
            except KeyError:
                continue
            lines = [{"text": t, "ticked": i in ticked.get(cid, [])} for i, t in enumerate(c.criteria_in(lang))]
            criteria.append({"id": cid, "title": c.title, "lines": lines,
                             "ticked": [x["text"] for x in lines if x["ticked"]]})
        verdict = (VERDICTS_EN if lang == "en" else VERDICTS)[a.outcome]
        if a.outcome in ("bypassed", "lost-at-reboot") and a.reason:
            verdict += f" — {a.reason.get(lang) or a.reason.get('fr', '')}"
        items.append({"n": n, "id": a.id, "title": title_fr, "symptom": symptom, "variant": a.variant,
                      "variant_title": var_title, "competencies": comps, "actor": a.actor,
                      "began": _clock(a.began), "applied": _clock(a.applied), "fixed_at": _clock(a.fixed_at),
                      "to_fix": mmss(a.seconds_to_fix), "restored": _clock(a.restored_at), "verdict": verdict,
                      "cleared": _clock(a.cleared_at) if a.cleared_at else None, "outcome": a.outcome,
                      "fixed": a.outcome == "fixed", "error": a.failed, "notes": session.notes.get(a.id, []),
                      "criteria": criteria, "evidence": a.last_evidence,
                      "ticket": ticket_label(a.ticket, lang), "ticket_history": ticket_history(a.ticket, lang),
                      "sentences": sentences.render(a.last_evidence, lang)})
    first = session.records[0]["t"] if session.records else time.time()
    last = session.records[-1]["t"] if session.records else time.time()
    # The prep seal, checked when the jury phase opened (before or after the candidate was named).
    seals = [r for r in log.records() if r.get("kind") == "seal" and r["t"] <= last]
    seal = None
    w = WORDS.get(lang, WORDS["fr"])
    if seals:
        r = seals[-1]
        seal = w["seal_intact"] if r.get("intact") else w["seal_forced"].format(who=r.get("actor"), n=r.get("count")) \
            + ", ".join(f"{c.get('node')} {c.get('path')}" for c in (r.get("changes") or [])[:5])
    return {"lab": lab_name, "title": title, "pod": log.pod, "candidate": session.candidate or w["not_given"],
            "lang": "en" if lang == "en" else "fr", "w": w,
            "date": time.strftime("%d/%m/%Y" if lang != "en" else "%Y-%m-%d", time.localtime(first)), "items": items,
            "elapsed": _hms(session.elapsed()), "minutes": ref.jury_phase_minutes(),
            "referentiel": f"{ref.id} — {ref.title}",
            "generated": time.strftime("%d/%m/%Y %H:%M" if lang != "en" else "%Y-%m-%d %H:%M", time.localtime()),
            "used": session.used(), "n_fixed": sum(1 for i in items if i["fixed"]), "seal": seal,
            "terminals": terminals(log, session, lang), "tw": TERMINAL_WORDS.get(lang, TERMINAL_WORDS["fr"]),
            "summary": summary(items, ref), "full_grid": full_grid}


# Request Tracker's transactions, as the report names them (French, English).
_TICKET_STEPS = {"Create": ("ticket ouvert", "ticket opened"), "Correspond": ("réponse", "reply"),
                 "Comment": ("commentaire interne", "internal comment"),
                 "Status": ("état : {old} → {new}", "status: {old} → {new}"),
                 "Take": ("pris en charge", "taken"), "Steal": ("repris", "stolen"), "Give": ("attribué", "given"),
                 "Untake": ("rendu", "released"), "AddLink": ("lien ajouté ({field})", "link added ({field})"),
                 "DeleteLink": ("lien retiré ({field})", "link removed ({field})"),
                 "CustomField": ("champ modifié", "field changed"),
                 "AddWatcher": ("intervenant ajouté", "watcher added"),
                 "DelWatcher": ("intervenant retiré", "watcher removed"),
                 "Set": ("{field} modifié", "{field} changed"), "SetWatcher": ("intervenants modifiés", "watchers changed")}
_TICKET_STATES = {"new": ("nouveau", "new"), "open": ("ouvert", "open"), "stalled": ("en attente", "stalled"),
                  "resolved": ("résolu", "resolved"), "rejected": ("rejeté", "rejected"),
                  "deleted": ("supprimé", "deleted")}
_TICKET_REPLIES = {"requestor": ("message du demandeur", "message from the requestor"),
                   "staff": ("réponse au demandeur", "reply to the requestor")}


def ticket_history(t: dict | None, lang: str = "fr") -> list[str]:
    """The ticket's history in the report's language, one line per step:
    "09:12:04 — alice : ticket ouvert" ("09:12:04 — alice: ticket opened")."""
    i = 1 if lang == "en" else 0
    colon = ": " if lang == "en" else " : "
    out = []
    requestors = set((t or {}).get("requestors") or [])
    for h in (t or {}).get("history") or []:
        kind = h.get("type", "")
        what = _TICKET_STEPS[kind][i] if kind in _TICKET_STEPS else kind
        if kind == "Correspond":
            what = _TICKET_REPLIES["requestor" if h.get("creator") in requestors else "staff"][i]

        def state(code: object) -> str:
            return _TICKET_STATES[code][i] if code in _TICKET_STATES else str(code or "")
        what = what.format(old=state(h.get("old", "")), new=state(h.get("new", "")), field=h.get("field", ""))
        when = str(h.get("created", ""))
        try:
            when = time.strftime("%H:%M:%S", time.localtime(calendar.timegm(time.strptime(when, "%Y-%m-%dT%H:%M:%SZ"))))
        except ValueError:
            pass
        out.append(f"{when} — {h.get('creator', '')}{colon}{what}")
    return out


def summary(items: list[dict], ref) -> list[dict]:
    """The first page: each competency the session's interventions evaluate, "observé" when
    the jury ticked at least one of its criteria, "non observé" when an intervention evaluated
    it and none was ticked; the référentiel's other competencies are "non évalué" (as the
    codes ``observe``, ``non-observe``, ``non-evalue``; the template says them in its language)."""
    seen: dict[str, dict] = {}
    for i in items:
        if i["outcome"] in ("failed", "interrupted"):
            continue           # never on the candidate's machines: evaluates nothing
        for c in i["criteria"]:
            row = seen.setdefault(c["id"], {"id": c["id"], "title": c["title"], "ticked": 0, "by": []})
            row["ticked"] += len(c["ticked"])
            row["by"].append(i["n"])
    out = []
    for c in ref.competencies:
        found = seen.get(c.id)
        if found is None:
            out.append({"id": c.id, "title": c.title, "state": "non-evalue", "ticked": 0, "by": []})
        else:
            out.append({**found, "state": "observe" if found["ticked"] else "non-observe"})
    return out


def pick_session(log: EvidenceLog, number: int | None) -> Session:
    """The pod's session ``number`` (1 = its first candidate; None = the current one)."""
    if number is None:
        return log.current()
    sessions = log.sessions()
    if not 1 <= number <= len(sessions):
        from ..lang import tr
        raise NotFoundError(tr(f"le pod {log.pod} n'a pas de session {number}", f"pod {log.pod} has no session {number}"),
                            tr(f"sessions : 1 à {len(sessions)}", f"sessions: 1 to {len(sessions)}") if sessions
                            else tr("rien n'est encore enregistré sur ce pod", "nothing recorded on this pod yet"))
    return sessions[number - 1]


def render_html(lab, pod: int, session: int | None = None, *, lang: str = "fr", full_grid: bool = False) -> str:
    """The report of a candidate of the pod (default: the current one).

    ``lab``: a Lab, or anything with name, plan and evidence(pod)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    env.filters["who"] = lambda actor: who(actor, lang)
    title = getattr(lab.plan, "title", lab.name)
    log = lab.evidence(pod)
    return env.get_template("report.html").render(**context(
        lab.name, title, log, pick_session(log, session),
        intervention_dir=getattr(lab.plan, "intervention_dir", None), lang=lang, full_grid=full_grid))


def filename(lab, pod: int, session: int | None = None) -> str:
    s = pick_session(lab.evidence(pod), session)
    who = re.sub(r"[^A-Za-z0-9]+", "-", (s.candidate or "candidat")).strip("-") or "candidat"
    return f"rapport-{lab.name}-pod{pod}-{who}"


def html_to_pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:     # OSError: pango missing
        from ..lang import tr
        raise PrerequisiteError(tr(f"PDF impossible : WeasyPrint indisponible ({exc})",
                                   f"no PDF: WeasyPrint is not available ({exc})"),
                                tr("installez les dépendances : scripts/install-host-deps.sh puis pip install -e .",
                                   "install the dependencies: scripts/install-host-deps.sh, then pip install -e .")) from exc
    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
