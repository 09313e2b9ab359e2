"""Inject a breakdown, tell whether it is fixed, restore it — with a journal first.

inject:  find the target on the pod as it is now → save what the variant touches
         (files, services) → journal "begin" → run the playbook (action=inject)
         → journal "applied" → prove it took (the check fails from the user's machine);
         if it did not take: restore and say so.
check:   the intervention's behavioural checks from the user's machine: all pass = fixed;
         an inject that never reached "applied" is "interrupted", never fixed.
restore: the saved files and service states put back, whatever the candidate did
         meanwhile, then the playbook (action=restore); also after a crash mid-inject.
"""
from __future__ import annotations

import base64
import copy
import sys
import json
import random
import shlex
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import provision
from ..errors import CommandFailed, LabStateError, NotFoundError, TaiLabError
from ..lang import tr
from ..probes import kinds as probe_kinds
from ..probes import SILENCE_S, Probe, ProbeResult, first_failure, run_probes
from .catalogue import Catalogue, catalogue_of
from .discover import Discovery
from .model import DOMAIN_PROBES, Intervention, ProbeSpec, Variant

if TYPE_CHECKING:
    from ..context import LabContext as Lab   # what a feature receives of the lab, not the API

Progress = Callable[[str], None]


@dataclass
class Active:
    pod: int
    id: str
    variant: str
    step: str                 # begin (inject under way or interrupted), applied
    since: float
    ctx: dict = field(default_factory=dict)
    proven: bool = False      # the inject finished: the fault was proven from the user's machine

    @property
    def interrupted(self) -> bool:
        """The inject did not finish (killed, power cut): nothing the candidate does counts.
        Seen outside the lab's lock (checks wait for it), so the inject is not running."""
        return self.step != "applied" or not self.proven

    def as_dict(self) -> dict:
        return {"pod": self.pod, "id": self.id, "variant": self.variant, "step": self.step,
                "since": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.since)),
                "target": self.ctx.get("target_node"), "interrupted": self.interrupted}


# The verdicts a check gives, with what the jury reads (French, English).
VERDICTS: dict[str, tuple[str, str]] = {
    "fixed": ("RÉPARÉ", "FIXED"),
    "broken": ("NON RÉPARÉ", "NOT FIXED"),
    "bypassed": ("CONTOURNÉ", "WORKED AROUND"),
    "lost-at-reboot": ("RÉPARÉ, MAIS PERDU AU REDÉMARRAGE", "FIXED, BUT LOST AT REBOOT"),
    "interrupted": ("INTERROMPUE", "INTERRUPTED"),
}


@dataclass(frozen=True)
class CheckResult:
    """One verdict on an active intervention, from checks that really ran.

    ``fixed`` is True only for a repair: every check passes from every machine the symptom
    concerns, nothing a proper repair must not leave behind is found (else "bypassed",
    with the reason) and, for a reboot check, it still holds once the machines restarted
    (else "lost-at-reboot")."""

    pod: int
    id: str
    variant: str
    fixed: bool
    results: tuple[ProbeResult, ...]
    since: float
    # The inject never finished (killed, power cut): the fault may be half applied or not at
    # all, so the checks would say nothing about the candidate. Never fixed; restore it.
    interrupted: bool = False
    bypassed: bool = False
    reason: dict | None = None          # {"fr": …, "en": …}: why it is bypassed / lost
    reboot: tuple[str, ...] | None = None   # a reboot check: the machines restarted
    lost_at_reboot: bool = False
    # The fault's ticket in the pod's service desk, read during this check (None: no desk or
    # no ticket; {"id", "error"} when the desk did not answer — never a state that was not read).
    ticket: dict | None = None

    @property
    def state(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.lost_at_reboot:
            return "lost-at-reboot"
        if self.bypassed:
            return "bypassed"
        return "fixed" if self.fixed else "broken"

    verdict = state

    def label(self, lang: str = "fr") -> str:
        """What the jury reads: "CONTOURNÉ — <raison>" and so on."""
        fr, en = VERDICTS[self.state]
        text = fr if lang == "fr" else en
        if self.reason:
            text += f" — {self.reason.get(lang) or self.reason.get('fr')}"
        return text

    def as_dict(self) -> dict:
        d = {"pod": self.pod, "id": self.id, "variant": self.variant, "fixed": self.fixed,
             "state": self.state, "verdict": self.state, "label": self.label("fr"), "label_en": self.label("en"),
             "reason": self.reason, "seconds_since_inject": round(time.time() - self.since, 1),
             "evidence": [r.as_dict() for r in self.results]}
        if self.reboot is not None:
            d["reboot"] = list(self.reboot)
        if self.ticket is not None:
            d["ticket"] = self.ticket
        return d


@dataclass(frozen=True)
class InjectResult:
    pod: int
    intervention: Intervention
    variant: Variant
    evidence: tuple[ProbeResult, ...]
    seconds: float
    ticket: dict | None = None          # the ticket the user opened (service desk), as read back


# Where an intervention's check finds what its spec leaves to the pod: kind → value → the
# discovery's context (tai_lab/interventions/discover.py). Anything else a kind takes comes
# from the spec's field of the same name, placeholders filled.
POD_VALUES: dict[str, dict[str, Callable[[dict], Any]]] = {
    "lease": {"iface": lambda c: c["user_iface"], "subnet": lambda c: c["user_subnet"]},
    "dhcp-offer": {"iface": lambda c: c["user_iface"]},
    "unique-address": {"iface": lambda c: c["user_iface"]},
    "ipp": {"printer": lambda c: c["printer_fqdn"], "answer_s": lambda c: 2},
    "smb-list": {"share": lambda c: f"//{c['share_server']}/{c['share']}", "label": lambda c: c["share"],
                 "user": lambda c: c["share_user"], "password": lambda c: c["share_password"]},
    "clock": {"timezone": lambda c: c.get("timezone", "Europe/Paris")},
    "dns": {"server": lambda c: c.get("dns_address") or ""},
}
POD_VALUES["smb-write"] = POD_VALUES["smb-list"]
POD_VALUES["desk-ticket"] = {"ticket": lambda c: c.get("ticket")}
# The domain's checks: the incident user's account and password unless the check names others.
for _k in DOMAIN_PROBES:
    POD_VALUES[_k] = {"account": lambda c: c["ad_user"], "passwords": lambda c: (c["ad_password"],),
                      **({} if _k == "domain-login" else {"realm": lambda c: c["ad_realm"]})}
POD_VALUES["smb-ticket"].update({"share": lambda c: f"//{c['ad_share_server']}/{c['ad_share']}",
                                 "label": lambda c: c["ad_share"]})


def ticket_text(item: Intervention, subject: str | None, ctx: dict) -> tuple[str, str]:
    """What the user writes to the desk: a subject (the intervention's, else the symptom's first
    sentence, greeting left out) and the symptom in their words, with their machine."""
    words = item.symptom.strip().strip("«»").strip()
    if subject is None:
        first = words
        for greeting in ("Bonjour,", "Bonjour", "Allô,", "Oui,"):
            if first.startswith(greeting):
                first = first[len(greeting):].strip()
        cut = min((i for i in (first.find(". "), first.find(" ! "), first.find(" ? ")) if i > 0), default=len(first))
        first = first[:cut].strip(" .")
        subject = (first[:1].upper() + first[1:]) if first else item.title.fr
        if len(subject) > 90:
            subject = subject[:89].rstrip() + "…"
    body = words + "\n"
    if ctx.get("asset_name"):
        body += f"\nMon poste : {ctx['asset_name']}\n"
    body += f"\n-- \n{ctx.get('desk_user_name') or ctx.get('desk_user', '')}\n"
    return subject.format(**ctx) if "{" in subject else subject, body


def build_probe(spec: ProbeSpec, ctx: dict, index: int, silence: float = SILENCE_S) -> Probe:
    """A probe from its spec, with the pod's values ({domain}, {gateway}…) filled in; what it
    runs is its kind's, in the registry shared with the health and prep checks.

    ``silence``: the seconds without an answer that count as the fault. An answer on a pod's
    LAN takes milliseconds, so a fault that shows as silence (a dead link, a router that no
    longer forwards, a resolver that never answers) is proven in that time instead of the
    client's default timeouts. The jury's check polls until fixed, so a slow moment can only
    delay "fixed", never show a false one.
    """
    def f(value: Any) -> Any:
        return value.format(**ctx) if isinstance(value, str) else value

    node: str = {"user": ctx["user_node"], "users": ctx["user_node"],
                 "target": ctx.get("target_node", "")}.get(spec.on) or f(spec.on) or ""
    k = probe_kinds.lookup(spec.probe)
    fields = spec.model_dump(exclude={"probe", "on", "title"})
    if k.name in DOMAIN_PROBES and "ad_realm" not in ctx:
        raise LabStateError(f"pod {ctx.get('pod')} has no directory: a {k.name} check needs one",
                            "pick an intervention that fits this plateau (no ad-dc role here)")
    values: dict[str, Any] = {name: (tuple(f(x) for x in fields[name]) if isinstance(fields[name], (list, tuple)) else f(fields[name]))
              for name in (*k.needs, *k.takes) if fields.get(name) not in (None, "", (), [])}
    for name, of_pod in POD_VALUES.get(k.name, {}).items():
        if values.get(name) in (None, ""):
            values[name] = of_pod(ctx)
    if k.runs_on == "desk":               # the service desk's own record: read in the desk's node
        node = ctx.get("desk_node") or node
    return probe_kinds.build(k.name, node, id=f"{spec.probe}#{index}", title=f(spec.title), silence=silence,
                             **values)


class Engine:
    """Interventions on one lab; every public method runs under the lab's lock (taken by Lab)."""

    def __init__(self, lab: "Lab", catalogue: Catalogue | None = None,
                 progress: Progress = lambda _m: None) -> None:
        self.lab = lab
        self._catalogue = catalogue
        self.progress = progress

    @property
    def catalogue(self) -> Catalogue:
        # Loaded on first use: reading the journal (active, clear) must work even if a
        # catalogue file is broken.
        if self._catalogue is None:
            self._catalogue = catalogue_of(self.lab.plan)   # the catalogue and the scenario's own
        return self._catalogue

    # ------------------------------------------------------------------ journal
    def _record(self, step: str, pod: int, iid: str, variant: str, **data) -> None:
        self.lab.state.journal.event("intervention", step=step, pod=pod, id=iid, variant=variant, **data)

    def active(self, pod: int | None = None) -> list[Active]:
        current: dict[tuple[int, str], Active] = {}
        for r in self.lab.state.journal.records():
            if r.get("op") != "event" or r.get("kind") != "intervention":
                continue
            d = r["data"]
            key = (d["pod"], d["id"])
            if d["step"] == "begin":
                current[key] = Active(d["pod"], d["id"], d["variant"], "begin", r["t"],
                                      copy.deepcopy(d.get("ctx", {})))
            elif d["step"] == "applied" and key in current:
                current[key].step = "applied"
            elif d["step"] == "proven" and key in current:
                current[key].proven = True
            elif d["step"] == "ticket" and key in current:
                current[key].ctx["ticket"] = d["ticket"]
            elif d["step"] in ("restored", "rolled-back", "cleared"):
                current.pop(key, None)
        return [a for a in current.values() if pod is None or a.pod == pod]

    def _saved_dir(self, pod: int, iid: str) -> Path:
        return self.lab.state.dir / "interventions" / f"p{pod}-{iid}"

    # ------------------------------------------------------------------ inject
    def inject(self, iid: str, pod: int, *, variant: str | None = None,
               seed: int | None = None, randomise: bool = False) -> InjectResult:
        item = self.catalogue.get(iid)
        if variant and randomise:
            raise TaiLabError(tr("choisir --variant ou --random, pas les deux", "choose --variant or --random, not both"))
        if randomise:
            var = random.Random(seed).choice(item.variants)
        elif variant:
            try:
                var = item.variant(variant)
            except KeyError:
                names = ", ".join(v.id for v in item.variants)
                raise NotFoundError(tr(f"l'intervention {iid!r} n'a pas de variante {variant!r}",
                                       f"intervention {iid!r} has no variant {variant!r}"),
                                    tr("variantes : " + names, "variants: " + names)) from None
        else:
            var = item.variants[0]
        self.lab.require_pod_up(pod)
        already = [a for a in self.active(pod) if a.id == iid]
        if already:
            raise LabStateError(tr(f"{iid} est déjà active sur le pod {pod} (variante {already[0].variant})",
                                   f"{iid} is already active on pod {pod} (variant {already[0].variant})"),
                                tr(f"restaurez-la d'abord : tai-lab restore {iid} --pod {pod}",
                                   f"restore it first: tai-lab restore {iid} --pod {pod}"))

        started = time.monotonic()
        disc = Discovery(self.lab, pod)
        ctx = disc.context(item, var)              # raises when the pod lacks the target
        saved = self._save(pod, item, var, ctx)
        self._record("begin", pod, iid, var.id, ctx=ctx, saved=saved)
        try:
            self._playbook(item, var, ctx, "inject")
            self._record("applied", pod, iid, var.id)
            ticket = self._open_ticket(pod, item, var, ctx)
            evidence = self._wait_broken(item, var, ctx)
            if evidence is not None:
                self._record("proven", pod, iid, var.id)
        except BaseException as exc:
            self.progress(tr(f"échec de l'injection ({exc}) ; retour en arrière",
                             f"inject failed ({exc}); rolling back"))
            try:
                self._undo(pod, iid, var.id, ctx, saved, "rolled-back")
            except Exception as undo_exc:
                # The journal still holds the intervention: restore can finish the job later.
                # In words (titles, the machine), for the jury too; the ids, the command that finishes
                # the job and the tools' output are the details.
                said, undo_said = getattr(exc, "message", str(exc)), getattr(undo_exc, "message", str(undo_exc))
                details = [f"{iid} ({var.id}) — tai-lab restore {iid} --pod {pod}",
                           *(str(d) for d in (getattr(exc, "details", None), getattr(undo_exc, "details", None)) if d)]
                raise LabStateError(
                    tr(f"« {item.title.fr} » ({var.title.fr}) a échoué sur le pod {pod} ({said}) et le retour en "
                       f"arrière aussi ({undo_said})",
                       f"“{item.title.en}” ({var.title.en}) failed on pod {pod} ({said}) and rolling it back failed "
                       f"too ({undo_said})"),
                    tr("l'état sauvegardé est conservé : le formateur termine la restauration une fois la cause réglée",
                       "the saved state is kept: the trainer finishes the restore once the cause is mended"),
                    details="\n".join(details),
                ) from exc
            raise
        if evidence is None:
            self._undo(pod, iid, var.id, ctx, saved, "rolled-back")
            self._withdraw_ticket(pod, ctx)
            raise LabStateError(tr(f"{iid} ({var.id}) n'a pas pris sur le pod {pod} : les vérifications depuis "
                                   "le poste de l'utilisateur passent encore",
                                   f"{iid} ({var.id}) did not take on pod {pod}: the user's checks still pass"),
                                tr("le pod a été remis en état ; essayez une autre variante",
                                   "the pod was put back; try another variant"))
        return InjectResult(pod, item, var, tuple(evidence), round(time.monotonic() - started, 2), ticket)

    # ------------------------------------------------------------------ service desk
    def _open_ticket(self, pod: int, item: Intervention, var: Variant, ctx: dict) -> dict | None:
        """With a service desk: the user concerned writes to it (the symptom in their words,
        their machine), the ticket set as the intervention says; its number joins the journal
        so the checks and the jury read that ticket. An intervention on the desk itself fails
        without its ticket; another one goes on, with the reason kept."""
        from ..servicedesk import DeskClient, DeskError, desk_of, ticket_summary
        if not ctx.get("desk_node"):          # discovery found no service desk on the pod
            return None
        desk = desk_of(self.lab.plan.pod(pod))
        if desk is None:
            return None
        spec = item.ticket_for(var)
        link = {"user": ctx.get("asset_name"), "other": ctx.get("other_machine"), "none": None}[spec.link]
        subject, body = ticket_text(item, spec.subject, ctx)
        try:
            t = DeskClient(desk, self.lab.backend.transport).open_ticket(
                ctx.get("desk_user", ""), subject, body, link=link,
                status=None if spec.status == "new" else spec.status,
                owner=ctx.get("desk_technician") if spec.owner else None)
        except Exception as exc:  # noqa: BLE001 - the desk must not stop a fault elsewhere
            if item.desk:
                raise
            why = exc.message if isinstance(exc, DeskError) else f"{type(exc).__name__}: {exc}"
            self._record("ticket-failed", pod, item.id, var.id, error=why)
            return {"id": None, "error": why}
        ctx["ticket"] = t["id"]
        self._record("ticket", pod, item.id, var.id, ticket=t["id"])
        return ticket_summary(t)

    def _withdraw_ticket(self, pod: int, ctx: dict) -> None:
        """A fault that did not take has no ticket to work: the user's ticket is rejected, with
        a comment that says why (kept in the desk, not deleted)."""
        from ..servicedesk import DeskClient, desk_of
        desk = desk_of(self.lab.plan.pod(pod))
        if desk is None or not ctx.get("ticket"):
            return
        try:
            DeskClient(desk, self.lab.backend.transport).call("ticket-set", {
                "id": ctx["ticket"], "status": "rejected",
                "comment": "Intervention annulée par tai-lab : la panne n'a pas pu être produite sur ce poste."})
        except Exception as exc:  # noqa: BLE001 - the inject's own error is what the jury must read
            self.progress(f"ticket {ctx['ticket']} not withdrawn: {exc}")

    def read_ticket(self, pod: int, ctx: dict) -> dict | None:
        """The ticket of an active intervention as its service desk has it now (None: none)."""
        from ..servicedesk import DeskClient, DeskError, desk_of, ticket_summary
        number = ctx.get("ticket")
        if not number:
            return None
        desk = desk_of(self.lab.plan.pod(pod))
        if desk is None:
            return None
        try:
            return ticket_summary(DeskClient(desk, self.lab.backend.transport).ticket(int(number)))
        except DeskError as exc:
            return {"id": number, "error": exc.message}

    def read_tickets(self, pod: int, iid: str | None = None) -> list[tuple[str, str, dict]]:
        """(id, variant, ticket) of the pod's active interventions that have one: read before a
        restore or a reset, so the record keeps what the candidate did in the desk."""
        out = []
        for a in self.active(pod):
            if (iid is None or a.id == iid) and a.ctx.get("ticket"):
                t = self.read_ticket(pod, a.ctx)
                if t is not None:
                    out.append((a.id, a.variant, t))
        return out

    def _wait_broken(self, item: Intervention, var: Variant, ctx: dict) -> list[ProbeResult] | None:
        """The fault must show from the user's machine (a few tries: services take a moment)."""
        deadline = time.monotonic() + 8
        while True:
            results = self._probe(item, var, ctx, until_failure=True)
            if not all(r.passed for r in results):
                return results
            if time.monotonic() > deadline:
                return None
            time.sleep(0.3)

    # ------------------------------------------------------------------ check
    def check(self, pod: int, iid: str | None = None) -> list[CheckResult]:
        out = []
        actives = [a for a in self.active(pod) if iid is None or a.id == iid]
        if iid and not actives:
            self.catalogue.get(iid)
            names = ", ".join(a.id for a in self.active(pod))
            raise LabStateError(tr(f"{iid} n'est pas active sur le pod {pod}", f"{iid} is not active on pod {pod}"),
                                tr("actives : " + (names or "(aucune)"), "active: " + (names or "(none)")))
        for a in actives:
            if a.interrupted:
                # The inject was killed before it finished: the fault may never have taken and
                # its checks may well pass. That is no repair.
                out.append(CheckResult(pod, a.id, a.variant, False, (), a.since, interrupted=True))
                continue
            out.append(self._verdict(a))
        return out

    def _verdict(self, a: Active) -> CheckResult:
        """:meth:`_judge`, with the fault's ticket as the service desk has it now."""
        res = self._judge(a)
        return replace(res, ticket=self.read_ticket(a.pod, a.ctx)) if a.ctx.get("ticket") else res

    def _judge(self, a: Active) -> CheckResult:
        """The intervention's checks from every machine concerned, then what a proper repair
        must not leave behind.

        fixed: every check passes and nothing is left behind. bypassed: the user's own machine
        works again (its checks pass) but something a proper repair must not leave is found
        (the first one gives the reason: a hosts entry, a fixed address, 777…), whether or not
        the other machines work. broken: anything else."""
        item = self.catalogue.get(a.id)
        var = item.variant(a.variant)
        ctx = self._ctx_of(item, a.ctx)
        results = self._probe(item, var, ctx)
        user = ctx.get("user_node")
        users_ok = all(r.passed for r in results if r.probe.node == user)
        bypasses = item.bypasses_for(var)
        if not users_ok or not bypasses:
            return CheckResult(a.pod, a.id, a.variant, all(r.passed for r in results), tuple(results), a.since)
        found = self._leftovers(a.pod, item, bypasses, ctx)
        failed = [n for n, r in found if not r.passed]
        all_results = tuple(results) + tuple(r for _n, r in found)
        if failed:
            reason = bypasses[min(failed)].reason
            return CheckResult(a.pod, a.id, a.variant, False, all_results, a.since, bypassed=True,
                               reason={"fr": reason.fr, "en": reason.en})
        return CheckResult(a.pod, a.id, a.variant, all(r.passed for r in results), all_results, a.since)

    def _leftovers(self, pod: int, item: Intervention, bypasses, ctx: dict) -> list[tuple[int, ProbeResult]]:
        """Run the checks of what a proper repair must not leave behind: (index of the bypass, result)."""
        silence = self.lab.backend.silence_s
        probes: list[Probe] = []
        owners: list[int] = []
        for n, b in enumerate(bypasses):
            for node_ctx in self._nodes_for(b.check, item, ctx):
                p = build_probe(b.check, node_ctx, n, silence)
                probes.append(replace(p, id=f"contourné:{p.id}@{p.node}", title=f"{p.title} ({p.node})"))
                owners.append(n)
        return list(zip(owners, run_probes(pod, probes, self.lab.backend.transport)))

    def _ctx_of(self, item: Intervention, ctx: dict) -> dict:
        """The context recorded at inject, with what older journals did not record."""
        if "clients" in ctx or "user_node" not in ctx:
            return ctx
        return {**ctx, "clients": [{"user_node": ctx["user_node"], "user_iface": ctx["user_iface"],
                                    "user_subnet": ctx["user_subnet"]}]}

    def _nodes_for(self, spec: ProbeSpec, item: Intervention, ctx: dict) -> list[dict]:
        """One context per machine a spec runs on: every client for ``on: users`` when the
        intervention affects them all, else the user's machine (or the named node)."""
        if spec.on != "users" or item.affects != "clients":
            return [ctx]
        return [{**ctx, **c} for c in ctx.get("clients") or []] or [ctx]

    def probes_for(self, item: Intervention, var: Variant, ctx: dict) -> list[Probe]:
        silence = self.lab.backend.silence_s
        ctx = self._ctx_of(item, ctx)
        probes = []
        for n, spec in enumerate(item.checks_for(var)):
            nodes = self._nodes_for(spec, item, ctx)
            for node_ctx in nodes:
                p = build_probe(spec, node_ctx, n, silence)
                probes.append(replace(p, id=f"{p.id}@{p.node}", title=f"{p.title} — depuis {p.node}")
                              if len(nodes) > 1 else p)
        return probes

    def _probe(self, item: Intervention, var: Variant, ctx: dict, *,
               until_failure: bool = False) -> list[ProbeResult]:
        probes = self.probes_for(item, var, ctx)
        run = first_failure if until_failure else run_probes
        return run(ctx["pod"], probes, self.lab.backend.transport)

    # ------------------------------------------------------------------ reboot check
    def reboot_nodes(self, item: Intervention, var: Variant, ctx: dict) -> list[str]:
        """The machines a reboot check restarts: the variant's ``reboot`` list, else the
        target when it is a machine (a switch port has nothing to restart)."""
        ctx = self._ctx_of(item, ctx)
        names = var.reboot if var.reboot is not None else (() if ctx.get("target_is_port") else ("target",))
        nodes: list[str] = []
        for name in names:
            if name == "target":
                nodes.append(ctx["target_node"])
            elif name == "users":
                nodes += [c["user_node"] for c in ctx["clients"]]
            elif name == "user":
                nodes.append(ctx["user_node"])
            else:
                nodes.append(name.format(**ctx))
        return list(dict.fromkeys(n for n in nodes if n))

    def check_reboot(self, pod: int, iid: str, *, settle: float = 20.0) -> CheckResult:
        """"Survit au redémarrage ?": check; when repaired, restart the machines the repair
        touched, wait until they are up, then check again until ``settle`` seconds have passed
        (services and leases take a moment at boot). Repaired before and not after: "lost at
        reboot". Not repaired (or bypassed) before: that verdict, and nothing restarted."""
        (before,) = self.check(pod, iid)
        if not (before.fixed or before.bypassed):
            return before
        a = next(x for x in self.active(pod) if x.id == iid)
        item = self.catalogue.get(iid)
        var = item.variant(a.variant)
        nodes = self.reboot_nodes(item, var, a.ctx)
        if not nodes:
            return replace(before, reboot=())
        self.progress(tr("redémarrage : ", "reboot: ") + ", ".join(nodes))
        self.reboot(pod, nodes)
        deadline = time.monotonic() + settle
        while True:
            after = self._verdict(a)
            if after.fixed or time.monotonic() > deadline:
                break
            if after.bypassed and before.bypassed and after.reason == before.reason:
                break                  # as before the reboot: still worked around
            time.sleep(0.5)
        if after.fixed or (after.bypassed and before.bypassed):
            return replace(after, reboot=tuple(nodes))
        # Repaired before the reboot and not after it (broken, or only worked around now: a
        # DHCP server started by hand and not enabled leaves the clients their leases), or
        # worked around before and broken after.
        return replace(after, fixed=False, bypassed=False, lost_at_reboot=True, reboot=tuple(nodes))

    def reboot(self, pod: int, nodes: list[str], *, limit: float = 90.0) -> None:
        """Restart machines as their user would (systemctl reboot inside); back when the new
        boot's manager answers. The checks that follow poll until services are up, so the
        wait is not for every unit: a repair that holds is seen as soon as it works."""
        def init_started(node: str) -> str:
            # PID 1's start time (field 22 of /proc/1/stat): another boot, another value. The
            # old instance still answering a second after `reboot` must not be taken for the new.
            try:
                out = self.lab.backend.transport(pod, node).run(["cat", "/proc/1/stat"], timeout=10).stdout
            except Exception:  # noqa: BLE001 - the node is between two boots
                return ""
            fields = out.rsplit(")", 1)[-1].split()
            return fields[19] if len(fields) > 19 else ""

        before = {node: init_started(node) for node in nodes}
        for node in nodes:
            # The command returns at once (the manager does the rest): reboot them together.
            self.lab.backend.transport(pod, node).run(["systemctl", "reboot"], timeout=15)
        for node in nodes:
            deadline = time.monotonic() + limit
            while True:
                now = init_started(node)
                if now and now != before[node]:
                    try:
                        state = self.lab.backend.transport(pod, node).run(
                            ["systemctl", "is-system-running"], timeout=10).text
                    except Exception:  # noqa: BLE001 - the node is between two boots
                        state = ""
                    if state in ("starting", "running", "degraded"):
                        break
                if time.monotonic() > deadline:
                    raise LabStateError(tr(f"pod {pod} : {node} n'a pas redémarré ({limit:g} s)",
                                           f"pod {pod}: {node} did not come back after a reboot ({limit:g} s)"),
                                        tr(f"à examiner : tai-lab exec {pod} {node} -- systemctl --failed",
                                           f"look at it: tai-lab exec {pod} {node} -- systemctl --failed"))
                time.sleep(0.2)

    # ------------------------------------------------------------------ restore
    def restore(self, pod: int, iid: str | None = None) -> list[str]:
        """Undo what the journal recorded (one intervention, or all with iid None)."""
        actives = [a for a in self.active(pod) if iid is None or a.id == iid]
        if iid and not actives:
            self.catalogue.get(iid)
            raise LabStateError(tr(f"{iid} n'est pas active sur le pod {pod}", f"{iid} is not active on pod {pod}"),
                                tr("rien à restaurer", "nothing to restore"))
        done = []
        for a in actives:
            saved = self._saved(pod, a.id)
            self._undo(pod, a.id, a.variant, a.ctx, saved, "restored")
            done.append(a.id)
        return done

    def clear(self, pod: int) -> None:
        """Forget the pod's active interventions (after a reset put the whole pod back)."""
        for a in self.active(pod):
            self._record("cleared", pod, a.id, a.variant)
            shutil.rmtree(self._saved_dir(pod, a.id), ignore_errors=True)

    def _undo(self, pod: int, iid: str, variant: str, ctx: dict, saved: dict, step: str) -> None:
        item = self.catalogue.get(iid)
        var = item.variant(variant)
        # Saved files and service states first, then the playbook's own restore steps
        # (which may rely on them, e.g. renew a lease once the DHCP server is back).
        self._put_back(pod, ctx, saved)
        self._playbook(item, var, ctx, "restore")
        if var.after_restore:
            t = self.lab.backend.transport(pod, ctx["target_node"])
            for cmd in var.after_restore:
                t.run(["sh", "-c", cmd.format(**ctx)], timeout=30)
        self._record(step, pod, iid, variant)
        shutil.rmtree(self._saved_dir(pod, iid), ignore_errors=True)

    # ------------------------------------------------------------------ saving
    def _save(self, pod: int, item: Intervention, var: Variant, ctx: dict) -> dict:
        """Save the files and service states the variant touches, on the target, before anything."""
        d = self._saved_dir(pod, item.id)
        shutil.rmtree(d, ignore_errors=True)   # never restore what an earlier inject saved
        if not (var.saves.files or var.saves.services):
            return {"files": {}, "services": {}}
        t = self.lab.backend.transport(pod, ctx["target_node"])
        files: dict[str, dict] = {}
        for pattern in var.saves.files:
            path = pattern.format(**ctx)
            q = shlex.quote(path)
            res = t.run(["sh", "-c", f"if [ -L {q} ]; then echo LINK; readlink {q}; elif [ -e {q} ]; then "
                                     f"stat -c '%a %u %g' {q}; base64 -w0 {q}; else echo MISSING; fi"])
            lines = res.stdout.split("\n", 1)
            if lines[0].strip() == "MISSING":
                files[path] = {"exists": False}
            elif lines[0].strip() == "LINK":
                files[path] = {"exists": True, "link": lines[1].strip()}
            else:
                mode, uid, gid = lines[0].split()
                files[path] = {"exists": True, "mode": mode, "uid": uid, "gid": gid,
                               "b64": lines[1].strip() if len(lines) > 1 else ""}
        services: dict[str, dict] = {}
        for pattern in var.saves.services:
            unit = pattern.format(**ctx)
            act = t.run(["systemctl", "is-active", unit]).text
            ena = t.run(["systemctl", "is-enabled", unit]).text
            services[unit] = {"active": act == "active", "enabled": ena == "enabled"}
        saved = {"node": ctx["target_node"], "files": files, "services": services}
        d.mkdir(parents=True, exist_ok=True)
        (d / "saved.json").write_text(json.dumps(saved))
        return {"node": ctx["target_node"], "dir": str(d)}

    def _saved(self, pod: int, iid: str) -> dict:
        f = self._saved_dir(pod, iid) / "saved.json"
        return {"dir": str(f.parent)} if f.is_file() else {"files": {}, "services": {}}

    def _put_back(self, pod: int, ctx: dict, saved: dict) -> None:
        if "dir" in saved:
            saved = json.loads((Path(saved["dir"]) / "saved.json").read_text())
        if not (saved.get("files") or saved.get("services")):
            return
        t = self.lab.backend.transport(pod, saved["node"])
        for path, info in saved["files"].items():
            q = shlex.quote(path)
            if not info["exists"]:
                t.run(["rm", "-rf", path])
                continue
            if "link" in info:
                t.run(["ln", "-sfn", info["link"], path])
                continue
            data = base64.b64decode(info["b64"]).decode("latin-1")
            res = t.run(["sh", "-c", f"mkdir -p $(dirname {q}) && cat > {q} && chmod {info['mode']} {q} && "
                                     f"chown {info['uid']}:{info['gid']} {q}"], input=data)
            if not res.ok:
                raise LabStateError(tr(f"impossible de remettre {path} sur {saved['node']} : {res.stderr.strip()}",
                                       f"could not put back {path} on {saved['node']}: {res.stderr.strip()}"))
        for unit, st in saved["services"].items():
            # SYSTEMCTL_SKIP_SYSV: the native unit decides; syncing a SysV script (update-rc.d) costs a second.
            t.run(["env", "SYSTEMCTL_SKIP_SYSV=1", "systemctl", "enable" if st["enabled"] else "disable", unit])
            t.run(["systemctl", "restart" if st["active"] else "stop", unit])

    # ------------------------------------------------------------------ playbooks
    def _playbook(self, item: Intervention, var: Variant, ctx: dict, action: str) -> None:
        hosts = {"target": ctx["target_node"], "user": ctx["user_node"]}
        groups: dict[str, dict] = {}
        for alias, node in hosts.items():
            if ctx.get("target_is_port") and alias == "target":
                hv = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
            else:
                hv = self.lab.backend.ansible_host_vars(ctx["pod"], node)
            groups[f"tai_{alias}"] = {"hosts": {alias: hv}}
        inv = {"all": {"children": groups}}
        try:
            provision.run_playbook(self.lab.state.dir / "ansible-interventions", str(self.catalogue.playbook(item.id)),
                                   inv, progress=lambda _m: None,
                                   extravars={**ctx, "variant": var.id, "step": action})
        except provision.PlaybookFailed as exc:
            # The jury reads which machine, in words; Ansible's task names and output are the details.
            machines = ", ".join(dict.fromkeys(hosts.get(h, h) for h in exc.hosts)) or ctx["target_node"]
            if action == "inject":
                raise CommandFailed(tr(f"la panne n'a pas pu être appliquée sur {machines}",
                                       f"the fault could not be applied on {machines}"),
                                    tr("tai-lab remet le pod dans son état d'avant ; choisir une autre variante ou "
                                       "une autre intervention", "tai-lab puts the pod back as it was; choose "
                                       "another variant or another intervention"),
                                    details=f"{exc.details}\n{exc.hint}") from exc
            raise CommandFailed(tr(f"{machines} n'a pas pu être remis en état", f"{machines} could not be put back"),
                                tr("réessayer ; si l'échec se répète, le formateur remet le pod à zéro",
                                   "try again; if it fails again, the trainer resets the pod"),
                                details=f"{exc.details}\n{exc.hint}") from exc
