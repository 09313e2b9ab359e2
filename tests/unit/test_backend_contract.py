"""One backend contract, checked: the registry, the methods every backend has, the optional
capabilities each one has or refuses (naming itself and the feature), and what the
features do with a backend that lacks one — refuse before anything changes.

What cannot run here is faked: the libvirt backend's domains (a fake with the calls it
makes), the nspawn backend's containers (its layers are plain directories: those run).
"""
from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tai_lab.backends import registry
from tai_lab.backends.base import CAPABILITIES, Backend
from tai_lab.context import LabContext
from tai_lab.errors import NotFoundError, PrerequisiteError
from tai_lab.scenario import load_plan
from tai_lab.state import LabState

from .fakes import FakeBackend

ROOT = Path(__file__).resolve().parents[2]
STD = ROOT / "scenarios/tai-standard.yaml"
# The methods of each optional capability (overridden exactly when the backend has it).
CAPABILITY_METHODS = {
    "layers": ("written_layer", "snapshot_stopped", "compose_snapshot"),
    "files": ("copy_to_node",),
    "switch-ports": ("port_namespace",),
    "netns": ("node_netns",),
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def plan():
    return load_plan(STD, pods=1)


# The real backends, and the unit tests' shared fake (tests/unit/fakes.py), which must keep the
# same contract for the features' tests on it to mean anything.
CHECKED = [*registry.names(), FakeBackend.name]


def _class(name: str) -> type[Backend]:
    return FakeBackend if name == FakeBackend.name else registry.get_backend(name)


def _backend(name: str, plan, lab: str = "std") -> Backend:
    return _class(name)(LabState(lab), plan, lambda _m: None)


# --------------------------------------------------------------------------- registry

def test_registry_names_and_unknown_name():
    assert registry.names() == ["nspawn", "libvirt"] and registry.DEFAULT == "nspawn"
    with pytest.raises(NotFoundError) as err:
        registry.get_backend("docker")
    assert "docker" in err.value.message and err.value.hint == "valid backends: nspawn, libvirt"


def test_backends_are_imported_lazily():
    code = ("import sys, tai_lab.lab, tai_lab.backends.registry as r; "
            "assert 'tai_lab.backends.libvirt' not in sys.modules and 'tai_lab.backends.nspawn' not in sys.modules; "
            "r.get_backend('nspawn'); assert 'tai_lab.backends.libvirt' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_no_backend_imports_the_registry():
    files = sorted((ROOT / "tai_lab/backends").rglob("*.py"))
    assert any(f.parent.name == "libvirt" for f in files) and any(f.parent.name == "nspawn" for f in files)
    for f in files:
        if f.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
                assert not any("registry" in n for n in names), f"{f.name} imports the registry"


# --------------------------------------------------------------------------- the contract

@pytest.mark.parametrize("name", CHECKED)
def test_every_backend_keeps_the_whole_contract(name):
    cls = _class(name)
    assert issubclass(cls, Backend) and cls.name == name
    assert not cls.__abstractmethods__, f"{name} lacks {sorted(cls.__abstractmethods__)}"
    assert isinstance(cls.silence_s, float) and 0 < cls.silence_s < 5
    assert cls.capabilities <= set(CAPABILITIES)
    # The same parameters as the contract (a feature calls them by these names).
    for attr, member in vars(Backend).items():
        if attr.startswith("_") or not inspect.isfunction(member):
            continue
        ours = [p for p in inspect.signature(member).parameters]
        theirs = [p for p in inspect.signature(getattr(cls, attr)).parameters]
        assert theirs == ours, f"{name}.{attr}{theirs} differs from the contract {ours}"
    # A capability's methods are the backend's own exactly when it has the capability.
    for cap, methods in CAPABILITY_METHODS.items():
        for m in methods:
            own = getattr(cls, m) is not getattr(Backend, m)
            assert own == (cap in cls.capabilities), f"{name}.{m} vs capability {cap}"
    init = list(inspect.signature(cls.__init__).parameters)
    assert init[:4] == ["self", "state", "plan", "progress"]


@pytest.mark.parametrize("name", CHECKED)
def test_missing_capabilities_refuse_naming_backend_and_feature(name, home, plan):
    b = _backend(name, plan)
    assert b.upstream_nodes()[0] == "isp"
    pod = plan.pod(1)
    calls = {
        "written_layer": lambda: b.written_layer(1, "srv"),
        "snapshot_stopped": lambda: b.snapshot_stopped(pod, "x"),
        "compose_snapshot": lambda: b.compose_snapshot(pod, "x", {}),
        "copy_to_node": lambda: b.copy_to_node(None, "isp", home, "/srv/x"),
        "port_namespace": lambda: b.port_namespace(1, "switch"),
        "node_netns": lambda: b.node_netns(1, "pc1"),
    }
    for cap, methods in CAPABILITY_METHODS.items():
        if b.supports(cap):
            continue
        for m in methods:
            with pytest.raises(PrerequisiteError) as err:
                calls[m]()
            assert f"the {name} backend" in err.value.message and cap in err.value.message, err.value.message
    with pytest.raises(ValueError):
        b.require("teleport", "anything")


def test_nspawn_layers_are_directories(home, plan):
    """snapshot_stopped copies what each node wrote; compose_snapshot takes a snapshot's layer
    or writes a fresh one; the snapshots list them; written_layer is the live layer."""
    b = _backend("nspawn", plan)
    pod = plan.pod(1)
    machines = [n.name for n in pod.nodes if n.is_container]
    for m in machines:
        (b.written_layer(1, m) / "etc").mkdir(parents=True)
        (b.written_layer(1, m) / "etc/hostname").write_text(f"{m}\n")
    b.snapshot_stopped(pod, "baseline")
    assert (b.snapshot_dir(1, "baseline") / "srv/etc/hostname").read_text() == "srv\n"
    b.compose_snapshot(pod, "prep-start", {"srv": lambda d: (d / "bare").write_text("yes")})
    start = b.snapshot_dir(1, "prep-start")
    assert (start / "srv/bare").is_file() and not (start / "srv/etc").exists()
    b.compose_snapshot(pod, "from-base", {m: "baseline" for m in machines})
    assert (b.snapshot_dir(1, "from-base") / "pc1/etc/hostname").read_text() == "pc1\n"
    assert b.snapshots(1) == ["baseline", "from-base", "prep-start"]
    assert b.port_namespace(1, "switch") == "tai-std-p1-switch"


# --------------------------------------------------------------------------- power, on a fake libvirt

class _FakeDom:
    def __init__(self, log: list, name: str, active: bool = True) -> None:
        self.log, self.name, self.active = log, name, active

    def isActive(self) -> bool:
        return self.active

    def shutdown(self) -> None:
        self.log.append(f"shutdown {self.name}")
        self.active = False

    def destroy(self) -> None:
        self.log.append(f"destroy {self.name}")
        self.active = False

    def create(self) -> None:
        self.log.append(f"create {self.name}")
        self.active = True


def test_libvirt_stops_and_starts_a_pod(home, plan, monkeypatch):
    from tai_lab.backends.libvirt import connection
    b = _backend("libvirt", plan)
    log: list[str] = []
    doms = {n.name: _FakeDom(log, n.name) for n in b.vm_nodes(plan.pod(1))}
    monkeypatch.setattr(connection, "load", lambda: SimpleNamespace(libvirtError=RuntimeError))
    monkeypatch.setattr(b, "domain", lambda pod, node: doms[node])
    monkeypatch.setattr(b, "_wait_agent", lambda pod, node: log.append(f"agent {node}"))
    monkeypatch.setattr(b, "_sync_clock", lambda pod, node: log.append(f"clock {node}"))
    b.stop_pod(plan.pod(1))
    assert sorted(log) == sorted(f"shutdown {n}" for n in doms) and not any(d.active for d in doms.values())
    log.clear()
    doms["srv"].active = True                 # already on: left alone
    b.start_pod(plan.pod(1))
    assert "create srv" not in log and "create pc1" in log and "agent pc1" in log and "clock pc1" in log


# --------------------------------------------------------------------------- features refuse up front

def _libvirt_lab(plan, home):
    b = _backend("libvirt", plan)
    touched: list[str] = []
    return LabContext("std", plan, LabState("std"), b, touched.append), touched


def test_prep_start_and_seal_refuse_on_libvirt_before_anything(home, plan, monkeypatch):
    from tai_lab.prep import phase, seal
    lab, touched = _libvirt_lab(plan, home)
    monkeypatch.setattr(phase.depot, "repo_dir", lambda *_a: touched.append("depot"))
    for run, feature in ((lambda: phase.start(lab), "prep start"), (lambda: seal.seal(lab), "prep seal")):
        with pytest.raises(PrerequisiteError) as err:
            run()
        assert "the libvirt backend" in err.value.message and feature in err.value.message
    assert touched == [] and not lab.state.journal.records()


def test_port_interventions_refuse_on_libvirt_before_anything(home, plan):
    from tai_lab.interventions.catalogue import load_catalogue
    from tai_lab.interventions.discover import Discovery
    lab, _touched = _libvirt_lab(plan, home)
    item = load_catalogue().get("switch-port-shut")
    with pytest.raises(PrerequisiteError) as err:
        Discovery(lab, 1).context(item, item.variants[0])
    assert "the libvirt backend" in err.value.message and "switch port" in err.value.message


def test_the_candidates_portal_refuses_on_libvirt_before_it_listens(home, plan, monkeypatch):
    """`stations serve` builds its view of the lab before it binds a port: on a backend that
    cannot enter a machine's network namespace it stops there, naming the backend."""
    from tai_lab.stations import web
    from tai_lab.stations.service import LabStations
    lab, _touched = _libvirt_lab(plan, home)
    with pytest.raises(PrerequisiteError) as err:
        LabStations(lambda: lab)
    assert "the libvirt backend" in err.value.message and "portal" in err.value.message
    assert "netns" in err.value.message
    # … and so does the command, before anything listens
    import tai_lab.lab as lab_mod
    monkeypatch.setattr(lab_mod, "Lab", lambda _name: lab)
    listened: list[str] = []
    monkeypatch.setattr(web.web, "TCPSite", lambda *a, **k: listened.append("bound"))
    with pytest.raises(PrerequisiteError):
        web.serve("std", "127.0.0.1", 0, echo=listened.append)
    assert listened == [] and not (lab.state.dir / "stations").exists()
