"""Golden files of the standard scenario for 2 pods: the expanded plan and the Ansible inventory.

A change in expansion (names, subnets, addresses, VLANs, services, the prep phase…) or in what
provisioning hands to ansible-runner shows as a diff against ``tests/unit/golden/``. Regenerate
after an intended change with
``TAI_LAB_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_plan_golden.py -q``
and review ``git diff tests/unit/golden/``.
"""
from __future__ import annotations

import dataclasses
import json
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest
import yaml

from tai_lab import provision
from tai_lab.backends.nspawn import NspawnBackend
from tai_lab.plan import LabPlan
from tai_lab.scenario import load_plan
from tai_lab.state import LabState

from .golden_files import check_golden

ROOT = Path(__file__).resolve().parents[2]
STD = "scenarios/tai-standard.yaml"


@pytest.fixture(scope="module")
def std() -> LabPlan:
    return load_plan(ROOT / STD, pods=2)


def _data(value):
    """Plain data of a plan: dataclasses as mappings in field order, addresses as text,
    the checkout's absolute path removed (the golden file is the same on every machine)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_data(v) for v in value]
    if isinstance(value, (IPv4Address, IPv4Interface, IPv4Network, Path)):
        return str(value)
    if isinstance(value, str):
        return value.replace(f"{ROOT}/", "")
    return value


def render_plan(plan: LabPlan) -> str:
    return yaml.safe_dump(_data(plan), sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


def _fake_leader(pod: int | None, node: str, plan: LabPlan) -> int:
    """A stable stand-in for the container's init pid: 100 for the ISP, pod·1000 + node's rank."""
    if pod is None:
        return 100
    return pod * 1000 + [n.name for n in plan.pod(pod).nodes].index(node)


def render_inventory(plan: LabPlan, monkeypatch: pytest.MonkeyPatch) -> str:
    # The nspawn backend's own host vars, with the pid it would read from a live container faked.
    backend = NspawnBackend(LabState(plan.lab), plan)
    monkeypatch.setattr(backend, "leader", lambda pod, node: _fake_leader(pod, node, plan))
    inv = provision.inventory(plan, [p.number for p in plan.pods], backend.ansible_host_vars,
                              upstream=True, upstreams=backend.upstream_nodes())
    return provision.inventory_json(inv) + "\n"


def test_plan_golden(std: LabPlan, update_golden: bool) -> None:
    text = render_plan(std)
    assert str(ROOT) not in text      # the checkout's path is stripped: the same file on any machine
    check_golden("plan-tai-standard-2pods.yaml", text, update=update_golden, test_file=__file__)


def test_inventory_golden(std: LabPlan, monkeypatch: pytest.MonkeyPatch, update_golden: bool) -> None:
    text = render_inventory(std, monkeypatch)
    json.loads(text)
    check_golden("inventory-tai-standard-2pods.json", text, update=update_golden, test_file=__file__)


def test_renderings_are_stable(std: LabPlan, monkeypatch: pytest.MonkeyPatch) -> None:
    # Expanding twice gives the same text: no set order, clock or random value in either file.
    again = load_plan(ROOT / STD, pods=2)
    assert render_plan(again) == render_plan(std)
    assert render_inventory(again, monkeypatch) == render_inventory(std, monkeypatch)


def test_a_change_shows_as_a_readable_diff(std: LabPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from . import golden_files
    monkeypatch.setattr(golden_files, "GOLDEN", tmp_path)
    text = render_plan(std)
    (tmp_path / "plan.yaml").write_text(text.replace("10.2.20.10", "10.2.20.11", 1))
    with pytest.raises(pytest.fail.Exception) as err:
        check_golden("plan.yaml", text, update=False, test_file=__file__)
    msg = str(err.value)
    assert "-" in msg and "10.2.20.11" in msg and "+" in msg and "10.2.20.10" in msg
    assert "TAI_LAB_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_plan_golden.py" in msg
