"""``tai-lab jury``: the jury's console in a terminal (questionary menus, rich tables).

The same service as the web console (tai_lab.jury.service), so the same evidence log:
a jury member may switch between the browser and the terminal mid-session.
"""
from __future__ import annotations

import getpass
import time
from typing import Any

import questionary
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from .. import lang as lang_mod
from ..errors import TaiLabError
from ..lang import in_lang, tr
from .i18n import translate
from .service import JuryService

# The state's colour; its words come from the service (status_label), as in the web console.
STYLE = {"broken": "bold red", "fixed": "bold green", "injecting": "blue", "interrupted": "yellow",
         "aborted": "dim", "failed": "yellow", "restored": "dim", "gone": "dim", "cleared": "yellow",
         "bypassed": "bold yellow", "lost-at-reboot": "bold yellow", "rebooting": "blue"}
# questionary's own hints are English: the jury reads these instead (in the trainer's language:
# French, or English with --lang en / TAI_LAB_LANG=en, as the rest of the command line).
def select_hint() -> str:
    return tr("(flèches pour choisir, tapez pour filtrer, Entrée pour valider)",
              "(arrows to choose, type to filter, Enter to confirm)")


def check_hint() -> str:
    return tr("(flèches pour aller, espace pour cocher, Entrée pour valider)",
              "(arrows to move, space to tick, Enter to confirm)")


def menu() -> list[tuple[str, str]]:
    return [("inject", tr("Injecter une intervention", "Inject an intervention")),
            ("watch", tr("Suivre en direct (Ctrl-C pour revenir)", "Watch live (Ctrl-C to come back)")),
            ("note", tr("Ajouter une note", "Add a note")),
            ("criteria", tr("Cocher les critères observés", "Tick the criteria observed")),
            ("restore", tr("Restaurer une intervention", "Restore an intervention")),
            ("timer", tr("Chronomètre : démarrer / pause", "Timer: start / pause")),
            ("candidate", tr("Nouveau candidat", "New candidate")), ("report", tr("Rapport PDF", "PDF report")),
            ("reboot", tr("Survit au redémarrage ? (redémarre et vérifie)", "Survives a reboot? (restarts and checks)")),
            ("quit", tr("Quitter", "Quit")),
            ("details", tr("Détails techniques (vérifications, échecs)", "Technical details (checks, failures)"))]


def _mmss(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(max(0, s))
    return f"{s // 60:02d}:{s % 60:02d}"


class JuryTUI:
    def __init__(self, service: JuryService, pod: int, actor: str, console: Console) -> None:
        self.svc, self.pod, self.actor, self.out = service, pod, actor, console
        self.lang = lang_mod.current()

    # ------------------------------------------------------------------ views
    def table(self, st: dict) -> Table:
        s = st["session"]
        t = Table(title=f"Pod {self.pod} — {s['candidate'] or tr('(candidat non renseigné)', '(candidate not named)')}"
                        f" — {translate('timer', self.lang).lower()} "
                        f"{_mmss(s['timer']['elapsed'])} / {st['minutes']}:00"
                        f"{' ▶' if s['timer']['running'] else ' ⏸'}")
        for col in ("intervention", tr("variante", "variant"), tr("état", "state"),
                    tr("depuis l'injection", "since the injection"), tr("ce qui a été vu", "what was seen")):
            t.add_column(col, overflow="fold")
        latest: dict[str, dict] = {}
        for a in st["attempts"]:
            latest[a["id"]] = a
        for a in latest.values():
            ev = "\n".join(("✓ " if e["passed"] else "✗ ") + escape(e["sentence"]) for e in a.get("sentences") or [])
            if a.get("ticket_label"):          # the user's ticket in the service desk, as last read
                ev = (ev + "\n" if ev else "") + escape(a["ticket_label"])
            style = STYLE.get(a["status"], "")
            label = a["status_label"]
            if a.get("reason") and a["status"] in ("bypassed", "lost-at-reboot"):
                label += " — " + (a["reason"].get(self.lang) or a["reason"].get("fr") or "")
            t.add_row(escape(a["title"]), escape(a["variant_title"] or "—"),
                      f"[{style}]{escape(label)}[/]" if style else escape(label),
                      _mmss(a["seconds_since_inject"]) if a["status"] == "broken" else "—", ev)
        if not latest:
            t.add_row("—", "", translate("nothing_yet", self.lang), "", "")
        if st.get("busy"):
            t.caption = st["busy"]
        return t

    def do_details(self) -> None:
        """The raw commands and outputs behind the sentences (for a jury member who asks)."""
        st = self.svc.state(self.pod, self.lang)
        for a in st["attempts"]:
            if a.get("sentences"):
                self.out.print(f"[bold]{escape(a['title'])}[/]")
                for e in a["sentences"]:
                    self.out.print(f"  {'✓' if e['passed'] else '✗'} {escape(e['sentence'])}\n    [dim]{escape(e['raw'])}[/]")
        for j in st["recent_jobs"]:          # what the tools said when an action failed
            if j["state"] == "failed" and j.get("details"):
                self.out.print(f"[bold]{escape(j['what'])}[/] : {escape(j['error'] or '')}\n"
                               f"[dim]{escape(j['details'])}[/]")

    def show(self) -> None:
        self.out.print(self.table(self.svc.state(self.pod, self.lang)))

    # ------------------------------------------------------------------ actions
    def wait_job(self, job) -> Any:
        with self.out.status(f"{job.what(self.lang)}…"):
            while job.state == "running":
                time.sleep(0.2)
        if job.state == "failed":
            hint = in_lang(job.hint, self.lang)
            self.out.print(f"[bold red]{tr('échec :', 'failed:')}[/] {escape(in_lang(job.error, self.lang) or '')}" +
                           (f"\n  → {escape(hint)}" if hint else ""))
            if job.details:
                self.out.print("[dim]" + escape(tr("(le détail technique : menu « Détails techniques »)",
                                                   "(the technical detail: menu “Technical details”)")) + "[/]")
            return None
        return job.result

    def pick_intervention(self, only: list[str] | None = None, title: str | None = None) -> str | None:
        title = title or tr("Intervention :", "Intervention:")
        items = self.svc.interventions(self.pod, self.lang)
        if only is not None:
            items = [i for i in items if i["id"] in only]
        else:
            items.sort(key=lambda i: (not i["useful"], i["used"]))
        if not items:
            self.out.print(f"[yellow]{translate('none', self.lang)}[/]")
            return None
        choices = [questionary.Choice(
            f"{i['title']} [{' '.join(i['competencies'])}] {'★' * i['difficulty']}"
            + (tr(" (déjà utilisée)", " (already used)") if i["used"] else "")
            + ("" if i["useful"] else tr(" (compétences déjà évaluées)", " (competencies already evaluated)")),
            value=i["id"]) for i in items]
        return questionary.select(title, choices=choices, use_search_filter=True, use_jk_keys=False,
                                  instruction=select_hint()).ask()

    def do_inject(self) -> None:
        iid = self.pick_intervention()
        if not iid:
            return
        item = next(i for i in self.svc.interventions(self.pod, self.lang) if i["id"] == iid)
        self.out.print(f"[bold]{translate('symptom', self.lang)}{tr(' :', ':')}[/] {escape(item['symptom'])}")
        choices = [questionary.Choice(v["title"], value=v["id"]) for v in item["variants"]]
        choices.append(questionary.Choice(translate("random", self.lang), value="random"))
        variant = questionary.select(tr("Variante :", "Variant:"), choices=choices, instruction=select_hint()).ask()
        if variant is None:
            return
        res = self.wait_job(self.svc.inject(self.pod, iid, variant, self.actor))
        if res:
            vt = next((v["title"] for v in item["variants"] if v["id"] == res["variant"]), "")
            self.out.print(f"[green]✓[/] {escape(item['title'])} ({escape(vt)}) "
                           + tr(f"injectée en {round(res['seconds'])} s", f"injected in {round(res['seconds'])} s")
                           + f" — [bold red]{translate('status_broken', self.lang)}[/]")
            read_out = tr("À lire à l'utilisateur :", "To read out to the user:")
            self.out.print(f"\n[bold]{read_out}[/]\n{escape(item['symptom'])}\n")

    def do_watch(self) -> None:
        try:
            with Live(self.table(self.svc.state(self.pod, self.lang)), console=self.out, refresh_per_second=2) as live:
                while True:
                    if any(a.step == "applied" for a in self.svc.lab.active_interventions(self.pod)):
                        self.svc.check_now(self.pod)
                    st = self.svc.state(self.pod, self.lang)
                    live.update(self.table(st))
                    open_ = [a for a in st["attempts"] if a["status"] in ("broken", "injecting")]
                    if not open_:
                        break
                    time.sleep(1.5)
        except KeyboardInterrupt:
            pass
        self.out.print(f"[dim]{tr('fin du suivi', 'end of the live view')}[/]")

    def _session_ids(self) -> list[str]:
        return list(dict.fromkeys(a["id"] for a in self.svc.state(self.pod)["attempts"]))

    def do_note(self) -> None:
        iid = self.pick_intervention(self._session_ids(), tr("Note sur :", "Note on:"))
        if not iid:
            return
        text = questionary.text(tr("Note :", "Note:")).ask()
        if text and text.strip():
            self.svc.note(self.pod, iid, text, self.actor)
            self.out.print("[green]✓[/] " + tr("note enregistrée", "note saved"))

    def do_criteria(self) -> None:
        iid = self.pick_intervention(self._session_ids(), tr("Critères de :", "Criteria of:"))
        if not iid:
            return
        item = next(i for i in self.svc.interventions(self.pod, self.lang) if i["id"] == iid)
        ticked = self.svc.session(self.pod).ticked(iid)
        choices = []
        for comp in item["criteria"]:
            for n, text in enumerate(comp["criteria"]):
                choices.append(questionary.Choice(f"{comp['id']} — {text}", value=(comp["id"], n),
                                                  checked=n in ticked.get(comp["id"], [])))
        picked = questionary.checkbox(tr("Critères observés :", "Criteria observed:"), choices=choices,
                                      instruction=check_hint()).ask()
        if picked is None:
            return
        picked_set = {tuple(p) for p in picked}
        for ch in choices:
            assert ch.value is not None             # every choice above has one
            comp, n = ch.value
            was = n in ticked.get(comp, [])
            now = (comp, n) in picked_set
            if was != now:
                self.svc.criterion(self.pod, iid, comp, n, now, self.actor)
        self.out.print("[green]✓[/] " + tr(f"critères cochés : {len(picked)}", f"criteria ticked: {len(picked)}"))

    def do_restore(self) -> None:
        active = [a.id for a in self.svc.lab.active_interventions(self.pod)]
        iid = self.pick_intervention(active, tr("Restaurer :", "Restore:"))
        if iid and self.wait_job(self.svc.restore(self.pod, iid, self.actor)) is not None:
            title = next((i["title"] for i in self.svc.interventions(self.pod, self.lang) if i["id"] == iid), iid)
            self.out.print(f"[green]✓[/] {escape(title)} : {translate('status_restored', self.lang)}")

    def do_reboot(self) -> None:
        active = [a.id for a in self.svc.lab.active_interventions(self.pod)]
        iid = self.pick_intervention(active, tr("Redémarrer les machines réparées et vérifier :",
                                                "Restart the repaired machines and check again:"))
        if not iid:
            return
        res = self.wait_job(self.svc.reboot_check(self.pod, iid, self.actor))
        if res:
            colour = {"fixed": "green", "broken": "red"}.get(res["verdict"], "yellow")
            machines = ", ".join(res.get("reboot") or []) or tr("aucune (rien à redémarrer)", "none (nothing to restart)")
            self.out.print(f"[bold {colour}]{escape(res['label'])}[/] — "
                           + tr("machines redémarrées : ", "machines restarted: ") + escape(machines))

    def do_timer(self) -> None:
        running = self.svc.session(self.pod).timer_running
        self.svc.timer(self.pod, "pause" if running else "start", self.actor)
        self.out.print(translate("timer", self.lang).lower() + " "
                       + translate("timer_pause" if running else "timer_start", self.lang))

    def do_candidate(self) -> None:
        name = questionary.text(tr("Nom du candidat :", "Candidate's name:")).ask()
        if name and name.strip():
            self.svc.set_candidate(self.pod, name, self.actor)
            self.out.print("[green]✓[/] " + tr("candidat : ", "candidate: ") + escape(" ".join(name.split())))

    def do_report(self) -> None:
        from pathlib import Path

        from . import report as rep
        path = Path(f"{rep.filename(self.svc.lab, self.pod)}.pdf")
        path.write_bytes(rep.html_to_pdf(rep.render_html(self.svc.lab, self.pod, lang=self.lang)))
        self.out.print("[green]✓[/] " + tr(f"rapport : {path.resolve()}", f"report: {path.resolve()}"))

    def loop(self) -> None:
        while True:
            self.show()
            action = questionary.select(tr("Action :", "Action:"),
                                        choices=[questionary.Choice(t, value=k) for k, t in menu()],
                                        use_shortcuts=True,
                                        instruction=tr("(chiffre ou flèches, puis Entrée)",
                                                       "(digit or arrows, then Enter)")).ask()
            if action in (None, "quit"):
                return
            try:
                getattr(self, f"do_{action}")()
            except TaiLabError as exc:
                hint = in_lang(exc.hint, self.lang)
                self.out.print(f"[bold red]{escape(in_lang(exc.message, self.lang) or '')}[/]"
                               + (f"\n  → {escape(hint)}" if hint else ""))


def run_service(service: JuryService, pod: int | None, actor: str | None, console: Console) -> None:
    if pod is None:
        if len(service.pods) == 1:
            pod = service.pods[0]
        else:
            pod = questionary.select(tr("Pod du candidat :", "The candidate's pod:"),
                                     choices=[str(p) for p in service.pods], instruction=select_hint()).ask()
            if pod is None:
                return
            pod = int(pod)
    elif pod not in service.pods:
        listed = ", ".join(map(str, service.pods))
        raise TaiLabError(tr(f"pas de pod {pod}", f"no pod {pod}"), tr("pods : " + listed, "pods: " + listed))
    if not actor:
        try:
            default = getpass.getuser()
        except Exception:  # noqa: BLE001
            default = "jury"
        actor = questionary.text(tr("Votre nom (juré) :", "Your name (jury member):"), default=default).ask() or default
    console.print(f"[bold]{tr('Console du jury', 'Jury console')}[/] — lab {service.name}, pod {pod}, "
                  + tr("juré ", "jury member ") + escape(actor))
    try:
        JuryTUI(service, pod, f"tui:{actor}", console).loop()
    finally:
        service.close()


def run(lab_name: str | None, pod: int | None, actor: str | None, *, console: Console, err: Console) -> None:
    from ..lab import Lab
    run_service(JuryService(lambda: Lab(lab_name)), pod, actor, console)
