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
from typing import TYPE_CHECKING, Callable

from .. import paths, provision
from ..errors import LabStateError, NotFoundError, TaiLabError
from ..probes import (
    FAST_DNS,
    Probe,
    ProbeResult,
    domain_login_script,
    first_failure,
    kinit_script,
    run_probes,
    smb_ticket_script,
)
from .catalogue import Catalogue, catalogue_of
from .discover import Discovery
from .model import Intervention, ProbeSpec, Variant

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
        return d


@dataclass(frozen=True)
class InjectResult:
    pod: int
    intervention: Intervention
    variant: Variant
    evidence: tuple[ProbeResult, ...]
    seconds: float


# How long the user's machine waits for an answer on the pod's network before the user would
# call it broken (the backend may give its own: a VM under emulation answers slower).
SILENCE_S = 0.5


def build_probe(spec: ProbeSpec, ctx: dict, index: int, silence: float = SILENCE_S) -> Probe:
    """A probe from its spec, with the pod's values ({domain}, {gateway}…) filled in.

    ``silence``: the seconds without an answer that count as the fault. An answer on a pod's
    LAN takes milliseconds, so a fault that shows as silence (a dead link, a router that no
    longer forwards, a resolver that never answers) is proven in that time instead of the
    client's default timeouts. The jury's check polls until fixed, so a slow moment can only
    delay "fixed", never show a false one.
    """
    w = f"{silence:g}"
    def f(text: str | None) -> str | None:
        return text.format(**ctx) if text is not None else None

    def fs(text: str | None) -> str:      # in a command line: never None
        return f(text) or ""

    node: str = {"user": ctx["user_node"], "users": ctx["user_node"],
                 "target": ctx.get("target_node", "")}.get(spec.on) or fs(spec.on)
    pid = f"{spec.probe}#{index}"

    def about(**values: str | None) -> tuple[tuple[str, str], ...]:
        # for the jury's sentence (tai_lab/jury/sentences.py): the kind and what it names
        return (("kind", spec.probe), *((k, str(v)) for k, v in values.items()))
    if spec.probe == "resolve":
        # glibc's resolver waits whole seconds: the window is kept by timeout(1)
        return Probe(pid, f"{f(spec.name)} se résout", node,
                     ("timeout", w, *FAST_DNS, "getent", "ahostsv4", fs(spec.name)),
                     must_contain=f(spec.address), timeout=8, about=about(name=f(spec.name)))
    if spec.probe == "fetch":
        # curl's connect timeout covers the name lookup and the TCP handshake
        curl = ("curl", "-fsS", "--connect-timeout", w, "--max-time", "4", fs(spec.url))
        argv = ("bash", "-lc", shlex.join(curl)) if spec.login else curl
        return Probe(pid, f"{f(spec.url)} s'affiche", node, (*FAST_DNS, *argv),
                     must_contain=f(spec.contains), timeout=8, about=about(url=f(spec.url)))
    if spec.probe == "lease":
        iface = f(spec.iface) or ctx["user_iface"]
        return Probe(pid, f"{node} a une adresse dans {ctx['user_subnet']}", node,
                     ("ip", "-4", "-o", "addr", "show", "dev", iface), in_subnet=ctx["user_subnet"],
                     about=about(subnet=ctx["user_subnet"]))
    if spec.probe == "ipp":
        script = (f"a=$(getent ahostsv4 {ctx['printer_fqdn']} | head -n1 | cut -d' ' -f1) && [ -n \"$a\" ] && "
                  "ipptool -T 2 -t ipp://$a:631/ipp/print get-printer-attributes.test")
        return Probe(pid, "l'imprimante répond en IPP", node, (*FAST_DNS, "sh", "-c", script), must_contain="[PASS]",
                     timeout=10, about=about(printer=ctx["printer_fqdn"]))
    if spec.probe in ("smb-list", "smb-write"):
        cmd = "ls" if spec.probe == "smb-list" else \
            "put /etc/hostname tai-test-ecriture.txt; rm tai-test-ecriture.txt"
        return Probe(pid, f"le partage {ctx['share']} {'s’ouvre' if spec.probe == 'smb-list' else 'accepte un fichier'}",
                     node, (*FAST_DNS, "smbclient", f"//{ctx['share_server']}/{ctx['share']}", "-U",
                            f"{ctx['share_user']}%{ctx['share_password']}", "-t", "5", "-c", cmd),
                     must_not_contain="NT_STATUS", timeout=12, about=about(share=ctx["share"]))
    if spec.probe == "ping":
        return Probe(pid, f"{f(spec.target)} répond vite et sans perte", node,
                     # 10 echoes in 0.1 s when all is well. ping's own deadline is whole seconds:
                     # SIGINT at the window's end, and ping prints what came back until then.
                     ("timeout", "-s", "INT", w, "ping", "-q", "-c", "10", "-i", "0.01", "-W", w,
                      fs(spec.target)),
                     max_rtt_ms=spec.max_rtt_ms, max_loss_pct=spec.max_loss_pct, timeout=15,
                     about=about(target=f(spec.target)))
    if spec.probe == "clock":
        return Probe(pid, f"l'horloge de {node} est à l'heure", node, ("date", "+%Y-%m-%d %H:%M:%S"),
                     max_skew_s=spec.max_skew_s, timezone=ctx.get("timezone", "Europe/Paris"), about=about())
    if spec.probe == "dns":
        # The DNS server itself, asked from the user's machine: /etc/hosts cannot answer this.
        server = f(spec.server) or ctx.get("dns_address") or ""
        script = (f"out=$(dig +short +time=1 +tries=2 @{shlex.quote(server)} {shlex.quote(f(spec.name) or '')} A); "
                  "echo \"$out\"; echo \"$out\" | grep -qE '^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$'")
        return Probe(pid, f"le serveur DNS ({server}) répond pour {f(spec.name)}", node, ("sh", "-c", script),
                     must_contain=f(spec.address), timeout=8,
                     about=about(server=server, name=f(spec.name)))
    if spec.probe == "dhcp-offer":
        # A DHCP exchange on the wire from the user's machine (DISCOVER → OFFER), no lease taken:
        # the server (or its relay) must answer now, whatever address the machine already holds.
        script = (paths.data_dir("playbooks") / "files" / "dhcp-offer.py").read_text()
        iface = f(spec.iface) or ctx["user_iface"]
        return Probe(pid, f"un serveur DHCP répond à {node} ({iface})", node,
                     ("python3", "-", iface, "4"), stdin=script,
                     must_contain=f(spec.contains) or "OFFER ", timeout=10,
                     about=about(iface=iface))
    if spec.probe == "state":
        assert spec.run is not None and spec.title is not None
        return Probe(pid, f(spec.title) or "", node, ("sh", "-c", f(spec.run) or ""),
                     must_contain=f(spec.contains), timeout=10, about=about(title=f(spec.title)))
    if spec.probe == "unique-address":
        # RFC 5227 probe from the user's machine: does another machine answer for its address?
        # Then, if a page is named, load it (the user's traffic comes back to the user).
        script = (paths.data_dir("playbooks") / "files" / "arp-tool.py").read_text()
        iface = f(spec.iface) or ctx["user_iface"]
        shell = f"python3 - check {shlex.quote(iface)} {w}"
        if spec.url:
            shell += f" && curl -fsS --connect-timeout {w} --max-time 4 {shlex.quote(fs(spec.url))}"
        return Probe(pid, f"l'adresse de {node} n'est utilisée par aucune autre machine", node,
                     (*FAST_DNS, "sh", "-c", shell), stdin=script,
                     must_contain=f(spec.contains) or "UNIQUE", timeout=10, about=about())
    if spec.probe in ("domain-login", "kinit", "smb-ticket"):
        if "ad_realm" not in ctx:
            raise LabStateError(f"pod {ctx.get('pod')} has no directory: a {spec.probe} check needs one",
                                "pick an intervention that fits this plateau (no ad-dc role here)")
        account = f(spec.account) or ctx["ad_user"]
        passwords = tuple(fs(p) for p in spec.passwords) or (ctx["ad_password"],)
        if spec.probe == "domain-login":
            return Probe(pid, f"{account} ouvre sa session du domaine sur {node}", node,
                         ("sh", "-c", domain_login_script(account, passwords)), timeout=20,
                         about=about(account=account))
        if spec.probe == "kinit":
            return Probe(pid, f"{account} obtient son ticket Kerberos depuis {node}", node,
                         ("sh", "-c", kinit_script(account, ctx["ad_realm"], passwords)), timeout=15,
                         about=about(account=account))
        share = f"//{ctx['ad_share_server']}/{ctx['ad_share']}"
        title = (f"le partage {ctx['ad_share']} refuse {account}" if spec.denied
                 else f"{account} enregistre un fichier dans le partage {ctx['ad_share']}")
        return Probe(pid, title, node,
                     (*FAST_DNS, "sh", "-c", smb_ticket_script(account, ctx["ad_realm"], passwords, share,
                                                                spec.denied)),
                     timeout=20, about=about(account=account, share=ctx["ad_share"], title=title))
    raise ValueError(spec.probe)


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
            raise TaiLabError("choose --variant or --random, not both")
        if randomise:
            var = random.Random(seed).choice(item.variants)
        elif variant:
            try:
                var = item.variant(variant)
            except KeyError:
                raise NotFoundError(f"intervention {iid!r} has no variant {variant!r}",
                                    "variants: " + ", ".join(v.id for v in item.variants)) from None
        else:
            var = item.variants[0]
        self.lab.require_pod_up(pod)
        already = [a for a in self.active(pod) if a.id == iid]
        if already:
            raise LabStateError(f"{iid} is already active on pod {pod} (variant {already[0].variant})",
                                f"restore it first: tai-lab restore {iid} --pod {pod}")

        started = time.monotonic()
        disc = Discovery(self.lab, pod)
        ctx = disc.context(item, var)              # raises when the pod lacks the target
        saved = self._save(pod, item, var, ctx)
        self._record("begin", pod, iid, var.id, ctx=ctx, saved=saved)
        try:
            self._playbook(item, var, ctx, "inject")
            self._record("applied", pod, iid, var.id)
            evidence = self._wait_broken(item, var, ctx)
            if evidence is not None:
                self._record("proven", pod, iid, var.id)
        except BaseException as exc:
            self.progress(f"inject failed ({exc}); rolling back")
            try:
                self._undo(pod, iid, var.id, ctx, saved, "rolled-back")
            except Exception as undo_exc:
                # The journal still holds the intervention: restore can finish the job later.
                raise LabStateError(
                    f"{iid} ({var.id}) failed on pod {pod} ({exc}) and rolling it back failed too ({undo_exc})",
                    f"the saved state is kept; once the cause is mended: tai-lab restore {iid} --pod {pod}"
                ) from exc
            raise
        if evidence is None:
            self._undo(pod, iid, var.id, ctx, saved, "rolled-back")
            raise LabStateError(f"{iid} ({var.id}) did not take on pod {pod}: the user's checks still pass",
                                "the pod was put back; try another variant")
        return InjectResult(pod, item, var, tuple(evidence), round(time.monotonic() - started, 2))

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
            raise LabStateError(f"{iid} is not active on pod {pod}",
                                "active: " + (", ".join(a.id for a in self.active(pod)) or "(none)"))
        for a in actives:
            if a.interrupted:
                # The inject was killed before it finished: the fault may never have taken and
                # its checks may well pass. That is no repair.
                out.append(CheckResult(pod, a.id, a.variant, False, (), a.since, interrupted=True))
                continue
            out.append(self._verdict(a))
        return out

    def _verdict(self, a: Active) -> CheckResult:
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
        self.progress("redémarrage : " + ", ".join(nodes))
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
                    raise LabStateError(f"pod {pod}: {node} did not come back after a reboot ({limit:g} s)",
                                        f"look at it: tai-lab exec {pod} {node} -- systemctl --failed")
                time.sleep(0.2)

    # ------------------------------------------------------------------ restore
    def restore(self, pod: int, iid: str | None = None) -> list[str]:
        """Undo what the journal recorded (one intervention, or all with iid None)."""
        actives = [a for a in self.active(pod) if iid is None or a.id == iid]
        if iid and not actives:
            self.catalogue.get(iid)
            raise LabStateError(f"{iid} is not active on pod {pod}", "nothing to restore")
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
                raise LabStateError(f"could not put back {path} on {saved['node']}: {res.stderr.strip()}")
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
        provision.run_playbook(self.lab.state.dir / "ansible-interventions", str(self.catalogue.playbook(item.id)), inv,
                               progress=lambda _m: None,
                               extravars={**ctx, "variant": var.id, "step": action})
