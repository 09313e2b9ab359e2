"""Host-ID ranges of the nodes' user namespaces, their cgroups, and the way into a node."""
from __future__ import annotations

import os

import pytest

from tai_lab.backends.nspawn import cgroups, userns
from tai_lab.transports.nsenter import NsenterTransport, enter_argv


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_USERNS_REGISTRY", str(tmp_path / "reg"))
    return tmp_path / "reg"


def test_ranges_are_distinct_recorded_first_and_given_back(registry):
    recorded = []

    def record(path, base):
        assert not os.path.exists(path)      # journaled before it is taken
        recorded.append((path, base))

    a = userns.allocate("/labs/a:1/pc1", record)
    b = userns.allocate("/labs/a:1/pc2", record)
    assert a != b and abs(a - b) >= userns.RANGE and a >= userns.FIRST_BASE
    assert userns.allocate("/labs/a:1/pc1", record) == a      # the same node gets its range back
    assert len(recorded) == 2
    userns.release(recorded[0][0], "/labs/a:1/pc1")
    assert userns.allocate("/labs/b:1/pc1", record) == a      # freed, then reused
    userns.release(recorded[1][0], "someone else")            # not its owner: kept
    assert os.path.exists(recorded[1][0])


def test_shift_tree_gives_host_written_files_to_the_node(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    layer = tmp_path / "upper"
    (layer / "etc").mkdir(parents=True)
    (layer / "etc/hostname").write_text("pc1\n")
    tool = layer / "tool"
    tool.write_text("")
    os.chmod(tool, 0o4755)
    os.symlink("/nowhere", layer / "link")
    base = userns.FIRST_BASE
    userns.shift_tree(layer, base)
    for p in (layer, layer / "etc", layer / "etc/hostname", tool):
        assert (os.stat(p).st_uid, os.stat(p).st_gid) == (base, base)
    assert os.lstat(layer / "link").st_uid == base
    assert os.stat(tool).st_mode & 0o7777 == 0o4755            # set-user-ID kept
    userns.shift_tree(layer, base)                            # idempotent
    assert os.stat(layer).st_uid == base


def test_every_cgroup_hierarchy_gets_a_group_below_our_own():
    dirs = cgroups.plan_dirs("tai-x-p1-pc1")
    mounts = cgroups._mounts()
    assert dirs and all(d.endswith("/tai-x-p1-pc1") for d in dirs)
    assert len(dirs) == len({m for m, _k in mounts})
    for d in dirs:     # never a hierarchy's root itself
        assert any(d.startswith(m + "/") for m, _k in mounts)


def test_the_door_enters_the_user_namespace_of_a_pod_node():
    argv = NsenterTransport("pc1", 4242).argv(["id"])
    assert argv[:3] == ["nsenter", "--target", "4242"] and "--user" in argv and "--cgroup" in argv
    assert argv[-2:] == ["--", "id"]
    assert "--user" not in enter_argv(4242, userns=False)      # the ISP has none
    assert "--preserve-credentials" not in argv
