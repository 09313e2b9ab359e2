"""Several hypervisors: inventory parsing, placement of whole pods, refusal with numbers."""
from __future__ import annotations

from pathlib import Path

import pytest

from tai_lab.errors import PrerequisiteError
from tai_lab.hosts import Host, InventoryError, Usage, load_inventory, place
from tai_lab.scenario import load_plan

ROOT = Path(__file__).resolve().parents[2]
MEM = {"router": 256, "client": 320}.get


def memory_of(kind: str) -> int:
    return MEM(kind, 256)


@pytest.fixture
def plan4():
    return load_plan(ROOT / "scenarios/tai-mini-vm.yaml", pods=4)   # 576 MiB, 2 vCPU per pod


def test_example_inventory_loads():
    hosts = load_inventory(ROOT / "inventories/example.yaml")
    assert hosts[0].uri == "qemu:///system" and hosts[0].memory_mib > 0


@pytest.mark.parametrize("text, fr, en", [
    ("hosts: []", "aucun hôte", "no hosts"),
    ("hosts: [{name: a}]", "chaque hôte a besoin d'une uri", "needs a uri"),
    ("hosts: [{uri: 'qemu:///system', memory_mib: lots, vcpus: 2}]", "nombres entiers", "integers"),
    ("hosts: [{name: a, uri: x, memory_mib: 1, vcpus: 1}, {name: a, uri: y, memory_mib: 1, vcpus: 1}]",
     "apparaît deux fois", "twice"),
])
def test_bad_inventories_are_refused(tmp_path, monkeypatch, text, fr, en):
    p = tmp_path / "inv.yaml"
    p.write_text(text)
    monkeypatch.setenv("TAI_LAB_LANG", "fr")        # the trainer's language: French by default
    with pytest.raises(InventoryError, match=fr):
        load_inventory(p)
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    with pytest.raises(InventoryError, match=en):
        load_inventory(p)


def test_whole_pods_spread_by_free_memory(plan4):
    a = Usage(Host("a", "qemu:///system", 2048, 8), 2048, 8)
    b = Usage(Host("b", "qemu+ssh://root@127.0.0.1/system", 2048, 8), 2048, 8)
    where = place(plan4, [a, b], memory_of, 256)
    assert set(where) == {1, 2, 3, 4}
    n_a = list(where.values()).count("qemu:///system")
    n_b = list(where.values()).count("qemu+ssh://root@127.0.0.1/system")
    assert n_a >= 1 and n_b >= 1
    # Never more on a host than it has, its ISP VM included.
    assert 256 + 576 * n_a <= 2048 and 256 + 576 * n_b <= 2048


def test_a_host_without_room_gets_nothing(plan4):
    small = Usage(Host("small", "qemu:///system", 300, 8), 300, 8)
    big = Usage(Host("big", "qemu+ssh://root@127.0.0.1/system", 8192, 16), 8192, 16)
    where = place(plan4, [small, big], memory_of, 256)
    assert set(where.values()) == {"qemu+ssh://root@127.0.0.1/system"}


def test_refusal_up_front_with_numbers(plan4):
    a = Usage(Host("a", "qemu:///system", 1024, 8), 1024, 8)
    with pytest.raises(PrerequisiteError) as exc:
        place(plan4, [a], memory_of, 256)
    msg = exc.value.message
    assert "576 Mio" in msg and "2560 Mio" in msg and "a : 1024 Mio" in msg and "le pod 2" in msg   # French first
    assert "576 MiB" in msg.en and "2560 MiB" in msg.en and "a: 1024 MiB" in msg.en and "pod 2" in msg.en


def test_vcpus_count_too(plan4):
    a = Usage(Host("a", "qemu:///system", 65536, 3), 65536, 3)   # ISP + one pod only
    with pytest.raises(PrerequisiteError, match="vCPU"):
        place(plan4, [a], memory_of, 256)
