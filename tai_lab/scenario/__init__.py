"""The scenario layer: a YAML file → a validated :class:`Scenario` → the lab plan.

- :func:`load_scenario` reads and validates a file (every problem with file:line and a hint);
- :func:`expand` turns a scenario into a :class:`~tai_lab.plan.LabPlan`, one pod per candidate;
- :func:`load_plan` does both;
- :func:`scenario_json_schema` describes the file format for editors and other tools.
"""
from __future__ import annotations

from typing import Any

from tai_lab.scenario.expand import expand
from tai_lab.scenario.load import Problem, SourceMap, check_scenario, load_plan, load_scenario
from tai_lab.scenario.model import Scenario

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a scenario file, generated from the model.

    It checks the shape only; rules across parts of the file (one router per pod,
    addresses that must not collide…) need :func:`load_scenario`.
    """
    schema = Scenario.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "title": "tai-lab scenario"}


__all__ = [
    "Problem",
    "Scenario",
    "SourceMap",
    "check_scenario",
    "expand",
    "load_plan",
    "load_scenario",
    "scenario_json_schema",
]
