"""Integration fixtures: real plateaus of systemd-nspawn containers, as root.

The lab home is a temporary directory per test session; the debian-12 image and its
desktop variant are shared through TAI_LAB_IMAGES (built once if missing — about a minute,
then about two and a half).
Every lab a fixture brings up is brought down again, also when a test fails.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lab_name(base: str) -> str:
    """A test lab's name; TAI_LAB_TEST_TAG (one or two letters) sets a suffix, so two
    checkouts can run their integration tests on one machine at once (lab names are
    part of every Linux name a lab creates)."""
    tag = os.environ.get("TAI_LAB_TEST_TAG", "").lower()    # lab names are lowercase
    name = base[: 6 - len(tag)] + tag
    TEST_LABS.add(name)
    return name


TEST_LABS: set[str] = set()     # every test lab's name (the modules call lab_name when imported)


TEST_LAB = lab_name("tstd")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "integration tests build namespaces and containers: they need root"
    for tool in ("systemd-nspawn", "ip", "nsenter", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs it)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def lab_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("tai-lab-home")
    old = {k: os.environ.get(k) for k in ("TAI_LAB_HOME", "TAI_LAB_IMAGES")}
    os.environ["TAI_LAB_IMAGES"] = old["TAI_LAB_IMAGES"] or str(Path(os.environ.get(
        "TAI_LAB_CACHE", "/var/lib/tai-lab")) / "images")
    os.environ["TAI_LAB_HOME"] = str(home)
    for lab in sorted(TEST_LABS):
        clear_orphans(lab)
    from tai_lab import images
    images.build("debian-12", progress=lambda m: print(m))
    # tai-standard's pc1 is a desktop (about 2.5 minutes, once, on top of debian-12)
    images.build("debian-12-desktop", progress=lambda m: print(m))
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def test_scenario(tmp_path_factory) -> Path:
    """tai-standard under another lab name, so tests never touch a trainer's lab."""
    text = (ROOT / "scenarios/tai-standard.yaml").read_text()
    text = re.sub(r"^lab: .*$", f"lab: {TEST_LAB}", text, count=1, flags=re.M)
    path = tmp_path_factory.mktemp("scenario") / "tai-standard-test.yaml"
    path.write_text(text)
    return path


def host_links() -> set[str]:
    """Interface names in the host's root network namespace."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def host_leftovers(lab: str) -> list[str]:
    """Anything of the lab still on the host: namespaces, mounts, nspawn processes, cgroups,
    user-ID ranges."""
    prefix = f"tai-{lab}-"
    left = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if " - cgroup" in line:
            mnt = Path(line.split()[4])
            left += [f"cgroup {p}" for depth in ("", "*/", "*/*/") for p in mnt.glob(f"{depth}{prefix}*")]
    from tai_lab.backends.nspawn import userns
    if userns.registry().is_dir():
        left += [f"userns {f.name}" for f in userns.registry().glob("0x*")
                 if f"/labs/{lab}:" in f.read_text()]
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    left += [f"netns {n}" for n in ns if n.startswith(prefix)]
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if f"/labs/{lab}/" in fields[4]:
            left.append(f"mount {fields[4]}")
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                args = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if args and args[0].endswith(b"systemd-nspawn") and any(
                    a.startswith(f"--machine={prefix}".encode()) for a in args):
                left.append(f"process {p.name}")
    return left


def clear_orphans(lab: str) -> None:
    """Remove what a killed earlier run left under the test lab's name and no record (its
    temporary home is gone; libvirt objects even survive a reboot), as a trainer would with
    `tai-lab down --lab NAME --orphans`. Only the lab's own prefix, never a lab with a record."""
    from tai_lab import orphans
    from tai_lab.state import existing_labs
    if lab in existing_labs():
        return
    found = orphans.find(lab)
    if found:
        removed, failed = orphans.remove(lab, found)
        print(f"left by an earlier run of {lab}, removed:", removed, "failed:", failed)


@pytest.fixture(scope="module")
def lab2(lab_home, test_scenario):
    """A 2-pod tai-standard plateau, up for the whole module, down at the end."""
    from tai_lab.lab import Lab
    before = host_links()
    try:
        lab = Lab.up(test_scenario, pods=2, progress=print)
        lab.host_links_before = before  # type: ignore[attr-defined]
        yield lab
    finally:
        from tai_lab.state import existing_labs
        if TEST_LAB in existing_labs():
            Lab.down(TEST_LAB)


def headless_chromium(window_size: str):
    """A headless Chromium in French for the browser tests (Debian's chromium and its driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={window_size}", "--lang=fr-FR"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


@contextlib.contextmanager
def standard_lab(lab: str, pods: int, directory: Path):
    """tai-standard under the test's own lab name, up for the block, down after it (also on failure)."""
    from tai_lab.lab import Lab
    from tai_lab.state import existing_labs
    text = (ROOT / "scenarios/tai-standard.yaml").read_text()
    scenario = directory / f"{lab}.yaml"
    scenario.write_text(re.sub(r"^lab: .*$", f"lab: {lab}", text, count=1, flags=re.M))
    try:
        yield Lab.up(scenario, pods=pods, progress=print)
    finally:
        if lab in existing_labs():
            Lab.down(lab)


@contextlib.contextmanager
def stations_portal(lab: str, log: Path):
    """`tai-lab stations serve` for ``lab`` on a free loopback port, in its own process group;
    yields its base URL and stops it at the end (also when the test fails)."""
    with portal_process(lab, log) as (url, _proc):
        yield url


@contextlib.contextmanager
def portal_process(lab: str, log: Path):
    """The same, yielding (base URL, process): for a test that kills the portal itself."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "stations", "serve", "--lab", lab,
                             "--listen", "127.0.0.1:0"], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"(http://127\.0\.0\.1:\d+)/", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, "portal did not start:\n" + log.read_text()
            time.sleep(0.1)
        yield m.group(1), proc
    finally:
        if proc.poll() is None:
            _stop_group(proc)


@contextlib.contextmanager
def jury_console(lab: str, log: Path):
    """`tai-lab serve` for ``lab`` on a free loopback port; yields (base URL, login link)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "serve", "--lab", lab, "--listen", "127.0.0.1:0"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"(http://127\.0\.0\.1:\d+)/login\?key=(\S+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, "console did not start:\n" + log.read_text()
            time.sleep(0.1)
        yield m.group(1), f"{m.group(1)}/login?key={m.group(2)}"
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop a server the test started in its own session: SIGTERM, SIGKILL after 20 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(20)
