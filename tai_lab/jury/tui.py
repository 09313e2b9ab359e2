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

from ..errors import TaiLabError
from .i18n import translate
from .service import JuryService

# The state's colour; its words come from the service (status_label), as in the web console.
STYLE = {"broken": "bold red", "fixed": "bold green", "injecting": "blue", "interrupted": "yellow",
         "aborted": "dim", "failed": "yellow", "restored": "dim", "gone": "dim", "cleared": "yellow",
         "bypassed": "bold yellow", "lost-at-reboot": "bold yellow", "rebooting": "blue"}
# questionary's own hints are English: the jury reads these instead.
SELECT_HINT = "(flèches pour choisir, tapez pour filtrer, Entrée pour valider)"
CHECK_HINT = "(flèches pour aller, espace pour cocher, Entrée pour valider)"

MENU = [("inject", "Injecter une intervention"), ("watch", "Suivre en direct (Ctrl-C pour revenir)"),
        ("note", "Ajouter une note"), ("criteria", "Cocher les critères observés"),
        ("restore", "Restaurer une intervention"), ("timer", "Chronomètre : démarrer / pause"),
        ("candidate", "Nouveau candidat"), ("report", "Rapport PDF"),
        ("reboot", "Survit au redémarrage ? (redémarre et vérifie)"), ("quit", "Quitter"),
        ("details", "Détails techniques des vérifications")]


def _mmss(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(max(0, s))
    return f"{s // 60:02d}:{s % 60:02d}"


class JuryTUI:
    def __init__(self, service: JuryService, pod: int, actor: str, console: Console) -> None:
        self.svc, self.pod, self.actor, self.out = service, pod, actor, console

    # ------------------------------------------------------------------ views
    def table(self, st: dict) -> Table:
        s = st["session"]
        t = Table(title=f"Pod {self.pod} — {s['candidate'] or '(candidat non renseigné)'} — chronomètre "
                        f"{_mmss(s['timer']['elapsed'])} / {st['minutes']}:00"
                        f"{' ▶' if s['timer']['running'] else ' ⏸'}")
        for col in ("intervention", "variante", "état", "depuis l'injection", "ce qui a été vu"):
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
                label += " — " + (a["reason"].get("fr") or "")
            t.add_row(escape(a["title"]), escape(a["variant_title"] or "—"),
                      f"[{style}]{escape(label)}[/]" if style else escape(label),
                      _mmss(a["seconds_since_inject"]) if a["status"] == "broken" else "—", ev)
        if not latest:
            t.add_row("—", "", translate("nothing_yet"), "", "")
        if st.get("busy"):
            t.caption = st["busy"]
        return t

    def do_details(self) -> None:
        """The raw commands and outputs behind the sentences (for a jury member who asks)."""
        st = self.svc.state(self.pod)
        for a in st["attempts"]:
            if a.get("sentences"):
                self.out.print(f"[bold]{escape(a['title'])}[/]")
                for e in a["sentences"]:
                    self.out.print(f"  {'✓' if e['passed'] else '✗'} {escape(e['sentence'])}\n    [dim]{escape(e['raw'])}[/]")

    def show(self) -> None:
        self.out.print(self.table(self.svc.state(self.pod)))

    # ------------------------------------------------------------------ actions
    def wait_job(self, job) -> Any:
        with self.out.status(f"{job.what()}…"):
            while job.state == "running":
                time.sleep(0.2)
        if job.state == "failed":
            self.out.print(f"[bold red]échec :[/] {escape(job.error or '')}" +
                           (f"\n  → {escape(job.hint)}" if job.hint else ""))
            return None
        return job.result

    def pick_intervention(self, only: list[str] | None = None, title: str = "Intervention :") -> str | None:
        items = self.svc.interventions(self.pod)
        if only is not None:
            items = [i for i in items if i["id"] in only]
        else:
            items.sort(key=lambda i: (not i["useful"], i["used"]))
        if not items:
            self.out.print("[yellow]aucune[/]")
            return None
        choices = [questionary.Choice(
            f"{i['title']} [{' '.join(i['competencies'])}] {'★' * i['difficulty']}"
            + (" (déjà utilisée)" if i["used"] else "") + ("" if i["useful"] else " (compétences déjà évaluées)"),
            value=i["id"]) for i in items]
        return questionary.select(title, choices=choices, use_search_filter=True, use_jk_keys=False,
                                  instruction=SELECT_HINT).ask()

    def do_inject(self) -> None:
        iid = self.pick_intervention()
        if not iid:
            return
        item = next(i for i in self.svc.interventions(self.pod) if i["id"] == iid)
        self.out.print(f"[bold]Symptôme à lire :[/] {escape(item['symptom'])}")
        choices = [questionary.Choice(v["title"], value=v["id"]) for v in item["variants"]]
        choices.append(questionary.Choice("au hasard", value="random"))
        variant = questionary.select("Variante :", choices=choices, instruction=SELECT_HINT).ask()
        if variant is None:
            return
        res = self.wait_job(self.svc.inject(self.pod, iid, variant, self.actor))
        if res:
            vt = next((v["title"] for v in item["variants"] if v["id"] == res["variant"]), "")
            self.out.print(f"[green]✓[/] {escape(item['title'])} ({escape(vt)}) injectée en "
                           f"{round(res['seconds'])} s — [bold red]{translate('status_broken')}[/]")
            self.out.print(f"\n[bold]À lire à l'utilisateur :[/]\n{escape(item['symptom'])}\n")

    def do_watch(self) -> None:
        try:
            with Live(self.table(self.svc.state(self.pod)), console=self.out, refresh_per_second=2) as live:
                while True:
                    if any(a.step == "applied" for a in self.svc.lab.active_interventions(self.pod)):
                        self.svc.check_now(self.pod)
                    st = self.svc.state(self.pod)
                    live.update(self.table(st))
                    open_ = [a for a in st["attempts"] if a["status"] in ("broken", "injecting")]
                    if not open_:
                        break
                    time.sleep(1.5)
        except KeyboardInterrupt:
            pass
        self.out.print("[dim]fin du suivi[/]")

    def _session_ids(self) -> list[str]:
        return list(dict.fromkeys(a["id"] for a in self.svc.state(self.pod)["attempts"]))

    def do_note(self) -> None:
        iid = self.pick_intervention(self._session_ids(), "Note sur :")
        if not iid:
            return
        text = questionary.text("Note :").ask()
        if text and text.strip():
            self.svc.note(self.pod, iid, text, self.actor)
            self.out.print("[green]✓[/] note enregistrée")

    def do_criteria(self) -> None:
        iid = self.pick_intervention(self._session_ids(), "Critères de :")
        if not iid:
            return
        item = next(i for i in self.svc.interventions(self.pod) if i["id"] == iid)
        ticked = self.svc.session(self.pod).ticked(iid)
        choices = []
        for comp in item["criteria"]:
            for n, text in enumerate(comp["criteria"]):
                choices.append(questionary.Choice(f"{comp['id']} — {text}", value=(comp["id"], n),
                                                  checked=n in ticked.get(comp["id"], [])))
        picked = questionary.checkbox("Critères observés :", choices=choices, instruction=CHECK_HINT).ask()
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
        self.out.print(f"[green]✓[/] critères cochés : {len(picked)}")

    def do_restore(self) -> None:
        active = [a.id for a in self.svc.lab.active_interventions(self.pod)]
        iid = self.pick_intervention(active, "Restaurer :")
        if iid and self.wait_job(self.svc.restore(self.pod, iid, self.actor)) is not None:
            title = next((i["title"] for i in self.svc.interventions(self.pod) if i["id"] == iid), iid)
            self.out.print(f"[green]✓[/] {escape(title)} : restaurée")

    def do_reboot(self) -> None:
        active = [a.id for a in self.svc.lab.active_interventions(self.pod)]
        iid = self.pick_intervention(active, "Redémarrer les machines réparées et vérifier :")
        if not iid:
            return
        res = self.wait_job(self.svc.reboot_check(self.pod, iid, self.actor))
        if res:
            colour = {"fixed": "green", "broken": "red"}.get(res["verdict"], "yellow")
            machines = ", ".join(res.get("reboot") or []) or "aucune (rien à redémarrer)"
            self.out.print(f"[bold {colour}]{escape(res['label'])}[/] — machines redémarrées : {escape(machines)}")

    def do_timer(self) -> None:
        running = self.svc.session(self.pod).timer_running
        self.svc.timer(self.pod, "pause" if running else "start", self.actor)
        self.out.print("chronomètre " + ("en pause" if running else "démarré"))

    def do_candidate(self) -> None:
        name = questionary.text("Nom du candidat :").ask()
        if name and name.strip():
            self.svc.set_candidate(self.pod, name, self.actor)
            self.out.print(f"[green]✓[/] candidat : {escape(' '.join(name.split()))}")

    def do_report(self) -> None:
        from pathlib import Path

        from . import report as rep
        path = Path(f"{rep.filename(self.svc.lab, self.pod)}.pdf")
        path.write_bytes(rep.html_to_pdf(rep.render_html(self.svc.lab, self.pod)))
        self.out.print(f"[green]✓[/] rapport : {path.resolve()}")

    def loop(self) -> None:
        while True:
            self.show()
            action = questionary.select("Action :", choices=[questionary.Choice(t, value=k) for k, t in MENU],
                                        use_shortcuts=True, instruction="(chiffre ou flèches, puis Entrée)").ask()
            if action in (None, "quit"):
                return
            try:
                getattr(self, f"do_{action}")()
            except TaiLabError as exc:
                self.out.print(f"[bold red]{escape(exc.message)}[/]" + (f"\n  → {escape(exc.hint)}" if exc.hint else ""))


def run_service(service: JuryService, pod: int | None, actor: str | None, console: Console) -> None:
    if pod is None:
        if len(service.pods) == 1:
            pod = service.pods[0]
        else:
            pod = questionary.select("Pod du candidat :", choices=[str(p) for p in service.pods],
                                     instruction=SELECT_HINT).ask()
            if pod is None:
                return
            pod = int(pod)
    elif pod not in service.pods:
        raise TaiLabError(f"pas de pod {pod}", "pods : " + ", ".join(map(str, service.pods)))
    if not actor:
        try:
            default = getpass.getuser()
        except Exception:  # noqa: BLE001
            default = "jury"
        actor = questionary.text("Votre nom (juré) :", default=default).ask() or default
    console.print(f"[bold]Console du jury[/] — lab {service.name}, pod {pod}, juré {escape(actor)}")
    try:
        JuryTUI(service, pod, f"tui:{actor}", console).loop()
    finally:
        service.close()


def run(lab_name: str | None, pod: int | None, actor: str | None, *, console: Console, err: Console) -> None:
    from ..lab import Lab
    run_service(JuryService(lambda: Lab(lab_name)), pod, actor, console)
