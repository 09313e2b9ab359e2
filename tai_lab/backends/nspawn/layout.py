"""Where a node of the container backend lives: its names and its directories."""
from __future__ import annotations

from pathlib import Path

from ...plan import LabPlan
from ...state import LabState
from ..base import Progress


class Layout:
    """Names and directories of a lab's containers (the base of the backend's parts)."""

    plan: LabPlan      # as in the backend contract (None only for `down`, which reads no plan)

    def __init__(self, state: LabState, plan: LabPlan | None, progress: Progress = lambda _m: None) -> None:
        # plan is None only for `down`, which works from the journal alone.
        self.state = state
        self.plan = plan  # type: ignore[assignment]
        self.progress = progress
        self.prefix = f"tai-{state.lab}"
        self.last_timings: dict[str, float] = {}

    def netns(self, pod: int | None, node: str) -> str:
        return f"{self.prefix}-isp" if pod is None else f"{self.prefix}-p{pod}-{node}"

    def node_dir(self, pod: int | None, node: str) -> Path:
        return self.state.dir / ("isp" if pod is None else f"pods/{pod}/{node}")

    def snapshot_dir(self, pod: int, name: str) -> Path:
        return self.state.dir / f"pods/{pod}/snapshots/{name}"
