"""The prep phase on a running lab: start it, check the candidate's work.

``start`` puts every pod in the prep start state of the scenario (bare nodes: nothing
of the roles configured, the listed packages purged; the others as provisioned), the
depot as the only package source of every node, the Internet cut except for the depot,
and records the start time. ``check`` runs the cahier des charges' checks, from the
user's machine where it makes sense, at any time (formative use in training).
"""
from __future__ import annotations

import functools
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..backends.base import Layer
from ..context import BASELINE
from ..errors import CommandFailed, LabStateError
from ..plan import PodPlan, PrepPlan
from ..probes import Probe, ProbeResult, prep_probe, run_probes
from ..state import lab_lock
from . import depot

if TYPE_CHECKING:
    from ..context import LabContext

START_SNAPSHOT = "prep-start"


def prep_plan(lab: "LabContext", pod: int) -> PodPlan:
    p = lab.plan.pod(pod)
    if p.prep is None:
        raise LabStateError(f"the scenario of lab {lab.name!r} has no prep section",
                            "add `prep:` (see scenarios/tai-standard.yaml) and bring the lab up again")
    return p


def prep_of(pod: PodPlan) -> PrepPlan:
    """The pod's prep plan (a pod from :func:`prep_plan` has one)."""
    if pod.prep is None:
        raise LabStateError(f"pod {pod.number} has no prep section", "add `prep:` to the scenario")
    return pod.prep


@dataclass(frozen=True)
class RequirementResult:
    pod: int
    id: str
    title: str
    competencies: tuple[str, ...]
    passed: bool
    results: tuple[ProbeResult, ...]

    def as_dict(self) -> dict:
        return {"pod": self.pod, "requirement": self.id, "title": self.title,
                "competencies": list(self.competencies), "passed": self.passed,
                "checks": [{"check": r.probe.title, "node": r.probe.node, "passed": r.passed,
                            "evidence": r.evidence} for r in self.results]}


# --- start -----------------------------------------------------------------------------------

def _bare_layer(lab: "LabContext", pod: PodPlan, node: str, dest: Path) -> None:
    """A written layer with the node's identity only: the image as installed, nothing configured."""
    etc = dest / "etc"
    (etc / "apt").mkdir(parents=True)
    n = pod.node(node)
    (etc / "hostname").write_text(f"{node}\n")
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{n.fqdn or node} {node}\n")
    (etc / "localtime").symlink_to(f"/usr/share/zoneinfo/{lab.plan.timezone}")
    (etc / "apt/sources.list").write_text(depot.apt_source(prep_of(pod).depot_address))


def _build_start_snapshot(lab: "LabContext", pod: PodPlan) -> None:
    """The first time: bare layers, purge what the candidate must install, snapshot it."""
    backend, n, prep = lab.backend, pod.number, prep_of(pod)
    assert prep is not None
    layers: dict[str, Layer] = {}
    for node in (x for x in pod.nodes if x.is_container):
        if prep.start_of(node.name).state == "bare":
            layers[node.name] = functools.partial(_bare_layer, lab, pod, node.name)
        else:
            layers[node.name] = BASELINE
    backend.compose_snapshot(pod, START_SNAPSHOT, layers)
    backend.revert(pod, START_SNAPSHOT)
    source = depot.apt_source(prep.depot_address)
    for node in (x for x in pod.nodes if x.is_container):
        t = backend.transport(n, node.name)
        t.run(["sh", "-c", "cat > /etc/apt/sources.list && rm -f /etc/apt/sources.list.d/*"], input=source)
        packages = prep.start_of(node.name).remove_packages
        if packages:
            lab.progress(f"pod {n}: {node.name}: purging {', '.join(packages)}")
            res = t.run(["sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "
                         + " ".join(map(shlex.quote, packages))], timeout=300)
            if not res.ok:
                raise CommandFailed(f"pod {n}: could not purge {', '.join(packages)} on {node.name}: {res.brief()}")
    backend.snapshot(pod, START_SNAPSHOT)


def start(lab: "LabContext", pod: int | None = None, *, actor: str | None = None,
          confirm_open_session: bool = False) -> dict[int, str]:
    """Every pod (or one) to the prep start state; returns each pod's start time.

    Like a reset: refused while a candidate's jury session is open on a pod unless
    ``confirm_open_session``; the interventions it undoes go to the evidence log first."""
    pods = lab.pods(pod)
    plans = [prep_plan(lab, n) for n in pods]
    # Before anything changes: what the backend must be able to do, and the depot built.
    lab.backend.require("layers", "prep start (the candidates' start state)")
    lab.backend.require("files", "prep start (the package depot inside the lab)")
    first = prep_of(plans[0])
    depot.repo_dir(first.depot)
    started: dict[int, str] = {}
    with lab_lock(lab.name, "tai-lab prep start"):
        lab.refuse_open_sessions(pods, "prep start", confirm_open_session)
        depot.serve(lab, first.depot, first.depot_address)
        for p in plans:
            n = p.number
            lab.clear_before_wipe(n, "prep-start", START_SNAPSHOT, actor)
            lab.state.journal.event("prep-start", pod=n)
            lab.backend.set_upstream(n, False)      # cut first: never online while rebuilt
            depot.close_for(lab, n)
            if START_SNAPSHOT in lab.backend.snapshots(n) and lab.state.pod(n).get("prep_start_ready"):
                lab.progress(f"pod {n}: back to the prep start state")
                lab.backend.revert(p, START_SNAPSHOT)
            else:
                lab.progress(f"pod {n}: building the prep start state (once)")
                _build_start_snapshot(lab, p)
                lab.state.pod(n)["prep_start_ready"] = True
                lab.state.pod(n)["snapshots"] = lab.backend.snapshots(n)
            depot.open_for(lab, n)
            now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            rec = lab.state.pod(n)
            rec.update(phase="prep", phase_since=now, prep={"started": now, "epoch": time.time(),
                                                            "minutes": prep_of(p).minutes, "depot": True})
            rec.pop("seal", None)
            lab.state.save()
            lab.state.journal.event("prep-started", pod=n, at=now)
            started[n] = now
    return started


# --- check -----------------------------------------------------------------------------------

def check(lab: "LabContext", pod: int | None = None) -> list[RequirementResult]:
    """Each requirement of the cahier des charges, passed or not, with the evidence."""
    out: list[RequirementResult] = []
    for n in lab.pods(pod):
        p = prep_plan(lab, n)
        probes: list[Probe] = []
        owners: list[str] = []
        for req in prep_of(p).requirements:
            for check in req.checks:
                probes.append(prep_probe(p, check, len(probes)))
                owners.append(req.id)
        results = run_probes(n, probes, lab.backend.transport)
        for req in prep_of(p).requirements:
            mine = tuple(r for r, o in zip(results, owners) if o == req.id)
            out.append(RequirementResult(n, req.id, req.title, req.competencies,
                                         all(r.passed for r in mine), mine))
        lab.state.journal.event("prep-check", pod=n,
                                passed=[r.id for r in out if r.pod == n and r.passed],
                                missing=[r.id for r in out if r.pod == n and not r.passed])
    return out
