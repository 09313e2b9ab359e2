"""Behavioural checks, seen from the user's machine.

A probe runs one command on one node through the node's transport and judges what the user
would see: a lease obtained, a name resolved, a page loaded, a printer answering IPP, the
Internet reachable or not. Any correct configuration passes.

model (a probe and how it judges) · run (in parallel, or until the first failure) · domain (the domain checks' scripts) · kinds (the
registry: what each kind of probe runs, for every caller) · health (the plateau's health) ·
requirements (the prep phase's checks). The interventions' checks are built from the same
registry (:func:`tai_lab.interventions.engine.build_probe`).
"""
from __future__ import annotations

from .model import FAST_DNS, Probe, ProbeResult
from .run import TransportFor, first_failure, run_probes
from .domain import domain_login_script, kinit_script, smb_ticket_script
from .kinds import KINDS, SILENCE_S, Ask, Kind, build, kind, kind_names, lookup
from .health import health_probes
from .requirements import prep_probe

__all__ = ["FAST_DNS", "KINDS", "SILENCE_S", "Ask", "Kind", "Probe", "ProbeResult", "TransportFor", "build",
           "domain_login_script", "first_failure", "health_probes", "kind", "kind_names", "kinit_script", "lookup",
           "prep_probe", "run_probes", "smb_ticket_script"]
