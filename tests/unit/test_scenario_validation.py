"""Validation: every problem of a broken scenario, located and with a hint (golden files)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tai_lab.errors import ScenarioError
from tai_lab.scenario import Problem, load_plan, load_scenario, scenario_json_schema

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
STANDARD = HERE.parents[1] / "scenarios" / "tai-standard.yaml"
BROKEN = sorted(p.stem for p in FIXTURES.glob("*.yaml") if not p.stem.startswith("valid"))


def _errors(name: str, monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> ScenarioError:
    # Load by a path relative to the fixtures dir, so the rendered text is stable.
    monkeypatch.chdir(FIXTURES)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(f"{name}.yaml", **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_valid_fixture_loads() -> None:
    plan = load_plan(FIXTURES / "valid_minimal.yaml")
    assert [p.domain for p in plan.pods] == ["pod1.mini.lan", "pod2.mini.lan"]


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("name", BROKEN)
def test_broken_scenario_matches_golden(name: str, lang: str, monkeypatch: pytest.MonkeyPatch,
                                        update_golden: bool) -> None:
    # French by default (golden/fr/), English with TAI_LAB_LANG=en (golden/): same places, same hints.
    monkeypatch.setenv("TAI_LAB_LANG", lang)
    text = str(_errors(name, monkeypatch)) + "\n"
    golden = (GOLDEN / "fr" if lang == "fr" else GOLDEN) / f"{name}.txt"
    if update_golden or not golden.exists():
        golden.write_text(text, encoding="utf-8")
        if not update_golden:
            pytest.fail(f"golden file {golden.name} was missing and has been written; check it and rerun")
    assert text == golden.read_text(encoding="utf-8")


def test_every_problem_is_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    error = _errors("three_errors", monkeypatch)
    assert len(error.problems) == 3
    assert all(p.line is not None and p.hint for p in error.problems)
    assert error.exit_code == 2


def test_pattern_without_pod_is_fine_for_one_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    text = (FIXTURES / "pattern_without_pod.yaml").read_text().replace("pods: 2", "pods: 1")
    (tmp_path / "one.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert load_plan("one.yaml").pods[0].domain == "mini.lan"
    # …but not once the trainer asks for more pods.
    with pytest.raises(ScenarioError) as caught:
        load_plan("one.yaml", pods=3)
    assert "all 3 pods would share" in str(caught.value)


def test_problem_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    problem = Problem("s.yaml", 12, 9, "pod.nodes.pc1.interfaces[0].vlan", "unknown vlan 'user'", "did you mean 'users'?")
    assert problem.render() == "s.yaml:12:9: pod.nodes.pc1.interfaces[0].vlan: unknown vlan 'user'\n  hint: did you mean 'users'?"
    assert Problem("s.yaml", None, None, "", "cannot read").render() == "s.yaml: cannot read"
    monkeypatch.setenv("TAI_LAB_LANG", "fr")    # the default: the hint is a « conseil »
    assert problem.render().endswith("\n  conseil : did you mean 'users'?")


def test_json_schema_validates_the_standard_scenario() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    yaml = pytest.importorskip("yaml")
    schema = scenario_json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["title"] == "tai-lab scenario"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(STANDARD.read_text()), schema)
    broken = yaml.safe_load((FIXTURES / "unknown_key.yaml").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_images_are_known_and_a_desktop_needs_a_desktop_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    std = (Path(__file__).resolve().parents[2] / "scenarios/tai-standard.yaml").read_text()
    assert "desktops: [pc1]" in std and "image: debian-12\n" in std
    bad = std.replace("desktops: [pc1]", "desktops: [pc1, pc2]", 1).replace(
        "stations:\n", "stations:\n", 1)
    # pc2 runs debian-12 (no desktop); a typo in an image name is caught with a suggestion.
    bad = bad.replace("image: debian-12-desktop", "image: debian-12-dekstop", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(ScenarioError) as caught:
        load_plan(path)
    text = str(caught.value)
    assert "unknown image 'debian-12-dekstop'" in text and "did you mean 'debian-12-desktop'?" in text
    assert "'pc2' shows a desktop but its image 'debian-12' has none" in text
    assert "debian-12-desktop" in text.split("'pc2' shows a desktop")[1]
    assert all(p.line is not None for p in caught.value.problems)
