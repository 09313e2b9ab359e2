"""Bad data files never hang, blow up or crash: each is refused with file:line:column and a hint.

The hostile files run in a child process with a time and memory limit: before the limits
existed, a "billion laughs" file ate memory without end, a FIFO blocked for ever, and deep
nesting crashed the interpreter (libyaml's composer overflows the C stack).
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tai_lab import yaml_input
from tai_lab.errors import ScenarioError
from tai_lab.interventions.catalogue import load_catalogue
from tai_lab.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
STANDARD = ROOT / "scenarios" / "tai-standard.yaml"
INTERVENTIONS = ROOT / "scenarios" / "interventions"
REAL_FILES = [STANDARD, *sorted(INTERVENTIONS.glob("*.yaml"))]


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the English wording (TAI_LAB_LANG=en, inherited by the children);
    the French, the default, is read by test_validation_words.py and the golden files."""
    monkeypatch.setenv("TAI_LAB_LANG", "en")


def billion_laughs(levels: int = 9) -> str:
    lines = ["lab: std", "title: x", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def _problems_in_child(path: Path, loader: str = "scenario", seconds: float = 60) -> dict:
    """Load ``path`` in a child limited to 1 GiB and ``seconds``; its problems as JSON."""
    code = f"""
import json, sys
from tai_lab.errors import ScenarioError
try:
    if {loader!r} == "scenario":
        from tai_lab.scenario import load_scenario
        load_scenario(sys.argv[1])
    else:
        from tai_lab.interventions.catalogue import load_catalogue
        load_catalogue(sys.argv[1])
except ScenarioError as exc:
    print(json.dumps([p.__dict__ for p in exc.problems]))
    sys.exit(2)
"""
    limit = 1 << 30

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    try:
        r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                           timeout=seconds, env=env, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"loading {path.name} did not end within {seconds} s")
    assert r.returncode == 2, f"exit {r.returncode} after {time.monotonic() - started:.1f} s: {r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)[0]


def _only_problem(path: Path, **kwargs) -> object:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, **kwargs)
    assert len(caught.value.problems) == 1, caught.value
    return caught.value.problems[0]


# --- alias bombs, nesting, size: refused before anything is built ---------------------------


def test_billion_laughs_scenario_is_refused_at_the_alias(tmp_path: Path) -> None:
    bomb = tmp_path / "lol.yaml"
    bomb.write_text(billion_laughs())
    p = _problems_in_child(bomb)
    assert (p["line"], p["column"]) == (8, 10)      # the alias that crosses the limit
    assert "billion laughs" in p["message"] and str(yaml_input.MAX_NODES) in p["message"]
    assert p["hint"]


def test_billion_laughs_intervention_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lol.yaml").write_text(billion_laughs())
    p = _problems_in_child(tmp_path, loader="catalogue")
    assert p["file"].endswith("lol.yaml") and p["line"] == 8 and "billion laughs" in p["message"]


def test_small_aliases_still_work(tmp_path: Path) -> None:
    """Anchors and aliases are YAML: a trainer may repeat a block with them."""
    text = STANDARD.read_text().replace("  nodes:\n", "  nodes:\n", 1)
    text = text.replace("pods: 2", "pods: &pods 2\nx-note: *pods", 1)
    path = tmp_path / "aliases.yaml"
    path.write_text(text)
    p = _only_problem(path)
    assert p.path == "x-note" and "unknown key" in p.message      # the alias itself was read fine


def test_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("lab: std\ntitle: &t [1, *t]\n")
    p = _only_problem(path)
    assert (p.line, p.column) == (2, 15) and "contains itself" in p.message and p.hint


@pytest.mark.parametrize("shape", ["flow", "block"])
def test_deep_nesting_is_refused_with_its_place(tmp_path: Path, shape: str) -> None:
    levels = yaml_input.MAX_DEPTH + 10
    if shape == "flow":
        text = "lab: std\ntitle: " + "[" * levels + "]" * levels + "\n"
        where = (2, 8 + yaml_input.MAX_DEPTH - 1)
    else:
        text = "lab: std\n" + "".join(" " * i + f"k{i}:\n" for i in range(levels)) + " " * levels + "v: 1\n"
        where = (2 + yaml_input.MAX_DEPTH, 1 + yaml_input.MAX_DEPTH)   # the first mapping too deep
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    p = _only_problem(path)
    assert (p.line, p.column) == where
    assert f"deeper than {yaml_input.MAX_DEPTH}" in p.message and "indentation" in p.hint


def test_very_deep_nesting_does_not_crash_the_interpreter(tmp_path: Path) -> None:
    levels = 100_000        # libyaml's composer recurses in C: a segmentation fault without the limit
    path = tmp_path / "deep.yaml"
    path.write_text("lab: std\ntitle: " + "[" * levels + "]" * levels + "\n")
    p = _problems_in_child(path)
    assert p["line"] == 2 and "deeper than" in p["message"]


def test_a_file_too_large_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("lab: std\n" + "# padding\n" * (yaml_input.MAX_BYTES // 10))
    p = _only_problem(path)
    assert p.line is not None and "larger than 1 MiB" in p.message and p.hint


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("lab: std\ntitle: [" + ",".join(["1"] * (yaml_input.MAX_NODES + 1)) + "]\n")
    p = _only_problem(path)
    assert p.line == 2 and f"more than {yaml_input.MAX_NODES} values" in p.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    p = _problems_in_child(fifo, seconds=30)
    assert "not a regular file" in p["message"] and p["hint"]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    p = _only_problem(tmp_path)
    assert "a directory" in p.message


# --- encoding and characters ------------------------------------------------------------------


def test_nul_byte_is_located_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"lab: std\ntitle: a\x00b\n")
    p = _only_problem(path)
    assert (p.line, p.column) == (2, 9)
    assert "U+0000 (NUL)" in p.message and "UTF-8" in p.hint


def test_non_utf8_file_names_the_first_bad_byte_and_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("lab: std\ntitle: Scénario éco\n".encode("latin-1"))
    p = _only_problem(path)
    assert (p.line, p.column) == (2, 10)             # the é, counted in characters
    assert "not UTF-8" in p.message and "0xE9" in p.message and "UTF-8" in p.hint


def test_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "utf16.yaml"
    path.write_bytes("lab: std\n".encode("utf-16"))
    p = _only_problem(path)
    assert (p.line, p.column) == (1, 1) and "UTF-16" in p.hint


def test_column_counts_characters_after_multibyte_text(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_bytes("title: Équipe\x01\n".encode())
    p = _only_problem(path)
    assert (p.line, p.column) == (1, 14) and "U+0001" in p.message


# --- values YAML cannot build, merge keys --------------------------------------------------------


def test_impossible_date_is_located(tmp_path: Path) -> None:
    path = tmp_path / "date.yaml"
    path.write_text("lab: std\ntitle: 2024-13-45\n")
    p = _only_problem(path)
    assert (p.line, p.column) == (2, 8) and "cannot read this value" in p.message and "quotes" in p.hint


def test_huge_integer_is_located(tmp_path: Path) -> None:
    path = tmp_path / "int.yaml"
    path.write_text("lab: std\npods: 1" + "0" * 5000 + "\n")
    p = _only_problem(path)
    assert (p.line, p.column) == (2, 7)


def test_merged_keys_do_not_break_locating(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {kind: router}\npod: {nodes: {r: {<<: *b}}}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert all(p.line is not None for p in caught.value.problems)


# --- the limits against the real files, and the check's cost --------------------------------------


def _shape(text: str) -> tuple[int, int]:
    from ruamel.yaml import YAML
    depth = deepest = nodes = 0
    for event in YAML(typ="safe").parse(text):
        name = type(event).__name__
        if name in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            deepest = max(deepest, depth)
            nodes += 1
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1
        elif name in ("ScalarEvent", "AliasEvent"):
            nodes += 1
    return deepest, nodes


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_files_are_far_below_the_limits(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    deepest, nodes = _shape(text)
    assert len(text.encode()) * 50 < yaml_input.MAX_BYTES
    assert deepest * 5 < yaml_input.MAX_DEPTH
    assert nodes * 100 < yaml_input.MAX_NODES


def test_the_standard_files_still_load() -> None:
    scenario, _ = load_scenario(STANDARD)
    assert scenario.lab == "std"
    assert "dns-failure" in load_catalogue(str(INTERVENTIONS)).ids


# --- numbers and addresses as written, not coerced -----------------------------------------------


def _variant(tmp_path: Path, old: str, new: str, source: Path = STANDARD) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("value, says", [("true", "got true"), ('"3"', 'got the text "3"'), ("2.0", "got 2.0"),
                                         ("0", "greater than or equal to 1"), ("17", "less than or equal to 16")])
def test_pods_must_be_a_whole_number_in_range(tmp_path: Path, value: str, says: str) -> None:
    p = _only_problem(_variant(tmp_path, "pods: 2", f"pods: {value}"))
    assert (p.line, p.column, p.path) == (6, 1, "pods")
    assert says in p.message and "1 to 16" in p.hint


@pytest.mark.parametrize("old, new, path", [
    ("{id: 10,", "{id: true,", "pod.vlans.users.id"),
    ("dhcp_range: [100, 199]", 'dhcp_range: [100, "199"]', "pod.vlans.users.dhcp_range[1]"),
    ("{name: eth0, vlan: servers, host: 10}", '{name: eth0, vlan: servers, host: "10"}',
     "pod.nodes.srv.interfaces[0].host"),
    ("minutes: 240", "minutes: 240.5", "prep.minutes"),
])
def test_whole_numbers_of_the_scenario_are_strict(tmp_path: Path, old: str, new: str, path: str) -> None:
    p = _only_problem(_variant(tmp_path, old, new))
    assert p.path == path and "expected a whole number" in p.message and "without quotes" in p.hint


def test_an_address_is_not_a_number(tmp_path: Path) -> None:
    p = _only_problem(_variant(tmp_path, "resolver: 198.51.100.53", "resolver: 1"))   # was 0.0.0.1
    assert (p.line, p.path) == (12, "upstream.resolver") and "IPv4 address" in p.message


def test_intervention_numbers_are_strict(tmp_path: Path) -> None:
    source = INTERVENTIONS / "slowness.yaml"
    _variant(tmp_path, "difficulty: 3", "difficulty: true", source)
    with pytest.raises(ScenarioError) as caught:
        load_catalogue(str(tmp_path))
    assert [(p.path, p.line) for p in caught.value.problems] == [("difficulty", 7)]
    assert "intervention files" in str(caught.value)
    _variant(tmp_path, "max_rtt_ms: 100", 'max_rtt_ms: "100"', source)
    with pytest.raises(ScenarioError) as caught:
        load_catalogue(str(tmp_path))
    assert [p.path for p in caught.value.problems] == ["check[0].max_rtt_ms"]


def test_the_library_refuses_a_boolean_pod_count() -> None:
    from tai_lab.errors import TaiLabError
    from tai_lab.scenario import load_plan
    with pytest.raises(TaiLabError, match="whole number"):
        load_plan(STANDARD, pods=True)   # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["true", "0", "-2", "17", "1.5", "x"])
def test_pods_option_is_checked_by_the_cli(value: str) -> None:
    from click.testing import CliRunner

    from tai_lab.cli import cli
    for command in (["validate", str(STANDARD)], ["export", str(STANDARD)], ["up", str(STANDARD)]):
        r = CliRunner().invoke(cli, [*command, "--pods", value])
        assert r.exit_code == 2, (command, r.output)
        assert "--pods" in r.output and "Traceback" not in r.output


def test_pods_option_takes_the_maximum() -> None:
    from click.testing import CliRunner

    from tai_lab.cli import cli
    r = CliRunner().invoke(cli, ["--json", "validate", str(STANDARD), "--pods", "16"])
    assert r.exit_code == 0 and json.loads(r.output)["pods"] == 16


# --- the hypervisors' inventory (up --inventory, hosts --inventory) ---------------------------------


@pytest.mark.parametrize("text, says", [
    (billion_laughs(), "billion laughs"),
    ("hosts:\n  - {uri: 'qemu:///system', memory_mib: 8192, vcpus: true}\n", "must be integers"),
    ("- just a list\n", "must be a YAML mapping"),
    ("hosts: [\n", "not valid YAML"),
])
def test_bad_inventory_is_a_clear_error(tmp_path: Path, text: str, says: str) -> None:
    from tai_lab.hosts import InventoryError, load_inventory
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    with pytest.raises(InventoryError, match=says):
        load_inventory(path)
