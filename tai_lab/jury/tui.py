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

STATUS = {"broken": "[bold red]NON RÉPARÉ[/]", "fixed": "[bold green]RÉPARÉ[/]",
          "bypassed": "[bold yellow]CONTOURNÉ[/]", "lost-at-reboot": "[bold yellow]RÉPARÉ, MAIS PERDU AU REDÉMARRAGE[/]",
          "rebooting": "[blue]redémarrage en cours…[/]",
          "injecting": "[blue]injection en cours…[/]", "interrupted": "[yellow]injection interrompue[/]",
          "aborted": "[dim]interrompue avant tout changement[/]",
          "failed": "[yellow]échec de l'injection[/]", "restored": "[dim]restaurée[/]",
          "gone": "[dim]effacée (pod réinitialisé)[/]",
          "cleared": "[yellow]effacée par remise à zéro — non réparée[/]"}

MENU = [("inject", "Injecter une intervention"), ("watch", "Suivre en direct (Ctrl-C pour revenir)"),
        ("note", "Ajouter une note"), ("criteria", "Cocher les critères observés"),
        ("restore", "Restaurer une intervention"), ("timer", "Chronomètre : démarrer / pause"),
        ("candidate", "Nouveau candidat"), ("report", "Rapport PDF"),
        ("reboot", "Survit au redémarrage ? (redémarre et vérifie)"), ("quit", "Quitter")]


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
        for col in ("intervention", "variante", "état", "depuis", "réparé en", "preuve"):
            t.add_column(col, overflow="fold")
        latest: dict[str, dict] = {}
        for a in st["attempts"]:
            latest[a["id"]] = a
        for a in latest.values():
            ev = "\n".join(("✓ " if e["passed"] else "✗ ") + escape(f"{e['title']} — {e['evidence']}")
                           for e in a.get("evidence") or [])
            status = STATUS.get(a["status"], a["status"])
            if a.get("reason") and a["status"] in ("bypassed", "lost-at-reboot"):
                status += " — " + escape(a["reason"].get("fr", ""))
            t.add_row(a["id"], a["variant"] or "—", status,
                      _mmss(a["seconds_since_inject"]) if a["open"] else "—", _mmss(a["seconds_to_fix"]), ev)
        if not latest:
            t.add_row("—", "", translate("nothing_yet"), "", "", "")
        return t

    def show(self) -> None:
        self.out.print(self.table(self.svc.state(self.pod)))

    # ------------------------------------------------------------------ actions
    def wait_job(self, job) -> Any:
        with self.out.status(f"{job.kind} {job.label}…"):
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
            f"{i['id']} — {i['title']} [{' '.join(i['competencies'])}] {'★' * i['difficulty']}"
            + (" (déjà utilisée)" if i["used"] else "") + ("" if i["useful"] else " (compétences déjà évaluées)"),
            value=i["id"]) for i in items]
        return questionary.select(title, choices=choices, use_search_filter=True, use_jk_keys=False).ask()

    def do_inject(self) -> None:
        iid = self.pick_intervention()
        if not iid:
            return
        item = next(i for i in self.svc.interventions(self.pod) if i["id"] == iid)
        self.out.print(f"[bold]Symptôme à lire :[/] {escape(item['symptom'])}")
        choices = [questionary.Choice(f"{v['id']} — {v['title']}", value=v["id"]) for v in item["variants"]]
        choices.append(questionary.Choice("au hasard", value="random"))
        variant = questionary.select("Variante :", choices=choices).ask()
        if variant is None:
            return
        res = self.wait_job(self.svc.inject(self.pod, iid, variant, self.actor))
        if res:
            self.out.print(f"[green]✓[/] {iid} ({res['variant']}) injectée en {res['seconds']} s — "
                           "[bold red]NON RÉPARÉ[/]")
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
        picked = questionary.checkbox("Critères observés (espace pour cocher) :", choices=choices).ask()
        if picked is None:
            return
        picked = {tuple(p) for p in picked}
        for ch in choices:
            comp, n = ch.value
            was = n in ticked.get(comp, [])
            now = (comp, n) in picked
            if was != now:
                self.svc.criterion(self.pod, iid, comp, n, now, self.actor)
        self.out.print(f"[green]✓[/] critères cochés : {len(picked)}")

    def do_restore(self) -> None:
        active = [a.id for a in self.svc.lab.active_interventions(self.pod)]
        iid = self.pick_intervention(active, "Restaurer :")
        if iid and self.wait_job(self.svc.restore(self.pod, iid, self.actor)) is not None:
            self.out.print(f"[green]✓[/] {iid} restaurée")

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

        from .. import report as rep
        path = Path(f"{rep.filename(self.svc.lab, self.pod)}.pdf")
        path.write_bytes(rep.html_to_pdf(rep.render_html(self.svc.lab, self.pod)))
        self.out.print(f"[green]✓[/] rapport : {path.resolve()}")

    def loop(self) -> None:
        while True:
            self.show()
            action = questionary.select("Action :", choices=[questionary.Choice(t, value=k) for k, t in MENU],
                                        use_shortcuts=True).ask()
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
            pod = questionary.select("Pod du candidat :", choices=[str(p) for p in service.pods]).ask()
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
