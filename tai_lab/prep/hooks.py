"""What the prep phase adds to an ordinary phase change: registered as a phase hook of
:mod:`tai_lab.context` when this module is imported (``tai_lab.lab`` imports it)."""
from __future__ import annotations

from ..context import LabContext, on_phase_change


@on_phase_change
def before_phase(lab: LabContext, pods: list[int], phase: str, *, override_seal: bool = False) -> None:
    """Lock held. Jury: sealed pods are verified (and booted) first. Any phase: the depot's
    opening of the prep phase is closed, the link cut meanwhile (the phase then sets it)."""
    from . import depot, seal
    if phase == "jury":
        seal.open_for_jury(lab, pods, override=override_seal)
    for n in pods:
        if (lab.state.pod(n).get("prep") or {}).get("depot"):
            lab.backend.set_upstream(n, False)
            depot.close_for(lab, n)
            lab.state.pod(n)["prep"]["depot"] = False
    lab.state.save()
