"""What `validate` and `up` say about a scenario or an intervention file: French by default,
English with --lang en, always at file:line:column with a hint (the golden files hold every
fixture in both languages; here: the command line, pydantic's error types, YAML errors, the
limits of the input, the intervention files and the référentiel's competencies)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tai_lab.cli import cli
from tai_lab.cli.i18n import localize
from tai_lab.datafile import Problem, SourceMap, pydantic_problems
from tai_lab.errors import ScenarioError
from tai_lab.lang import Text
from tai_lab.validation_words import pydantic_message, yaml_problem

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
ROOT = HERE.parents[1]
STANDARD = ROOT / "scenarios" / "tai-standard.yaml"
INTERVENTIONS = ROOT / "scenarios" / "interventions"
LOCATED = re.compile(r"^\S+\.yaml:\d+:\d+: ", re.M)


@pytest.fixture(autouse=True)
def _french_again(monkeypatch: pytest.MonkeyPatch):
    """Each test starts in French; --lang en sets the language for the process: undone after."""
    monkeypatch.setenv("TAI_LAB_LANG", "fr")
    yield
    localize(cli, "fr")


def _invoke(*args: str) -> ScenarioError:
    r = CliRunner().invoke(cli, list(args))
    assert isinstance(r.exception, ScenarioError), r.output
    assert r.exception.exit_code == 2
    return r.exception


def _variant(tmp_path: Path, old: str, new: str, source: Path = STANDARD) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# ------------------------------------------------------------------ the command line, both languages
@pytest.mark.parametrize("command", ["validate", "up"])
def test_a_broken_scenario_is_told_in_french_then_in_english(command: str, tmp_path: Path) -> None:
    # `up` reads the scenario before anything else (no root needed to be told it is broken).
    bad = FIXTURES / "three_errors.yaml"
    fr = str(_invoke(command, str(bad)))
    assert fr.startswith(f"{bad} : 3 problèmes dans le scénario")
    assert len(LOCATED.findall(fr)) == 3 and fr.count("\n  conseil : ") == 3
    assert "vlan inconnu 'usr'" in fr and "vouliez-vous dire 'users' ?" in fr
    assert "le rôle ipp-printer ne convient pas à un serveur" in fr
    assert "unknown" not in fr and "hint" not in fr
    en = str(_invoke(command, str(bad), "--lang", "en"))
    assert en.startswith(f"{bad}: 3 problem(s) in the scenario")
    assert len(LOCATED.findall(en)) == 3 and en.count("\n  hint: ") == 3
    assert "unknown vlan 'usr'" in en and "did you mean 'users'?" in en and "conseil" not in en
    # the same places in both
    assert LOCATED.findall(fr) == LOCATED.findall(en)


def test_the_screen_main_prints_is_french_then_english(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from tai_lab.cli import main
    bad = str(FIXTURES / "unknown_key.yaml")
    for argv, words in ((["validate", bad], ("clé inconnue 'imgae'", "conseil : vouliez-vous dire 'image' ?")),
                        (["validate", bad, "--lang", "en"], ("unknown key 'imgae'", "hint: did you mean 'image'?"))):
        monkeypatch.setattr(sys, "argv", ["tai-lab", *argv])
        with pytest.raises(SystemExit) as exited:
            main()
        err = capsys.readouterr().err
        assert exited.value.code == 2 and "Traceback" not in err
        assert all(w in err for w in words), err
        assert re.search(r"unknown_key\.yaml:23:7: pod\.nodes\.srv\.imgae: ", err)


def test_a_missing_scenario_file_says_so_in_both_languages(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.yaml")
    r = CliRunner().invoke(cli, ["validate", missing])
    assert str(r.exception.message) == f"scénario introuvable : {missing}"  # type: ignore[union-attr]
    assert "tai-lab init" in r.exception.hint  # type: ignore[union-attr]
    r = CliRunner().invoke(cli, ["validate", missing, "--lang", "en"])
    assert str(r.exception.message) == f"scenario not found: {missing}"  # type: ignore[union-attr]


# ------------------------------------------------------------------ pydantic's error types
@pytest.mark.parametrize("old, new, fr, en", [
    ("pods: 2", "pods: true", "nombre entier attendu, trouvé true", "expected a whole number, got true"),
    ("pods: 2", 'pods: "3"', 'nombre entier attendu, trouvé le texte "3"', 'expected a whole number, got the text "3"'),
    ("pods: 2", "pods: 0", "la valeur doit être supérieure ou égale à 1 (trouvé 0)",
     "input should be greater than or equal to 1"),
    ("resolver: 198.51.100.53", "resolver: 1", "adresse IPv4 attendue, trouvé 1", "expected an IPv4 address, got 1"),
    ("    kind: router\n", "    kind: routeur\n", "'routeur' n'est pas une valeur permise pour kind",
     "'routeur' is not a valid kind"),
    ("timezone: Europe/Paris\n", "timezone: Europe/Paris\nlangue: fr\n", "clé inconnue 'langue'",
     "unknown key 'langue'"),
])
def test_pydantic_errors_are_plain_french_with_the_fields_path(tmp_path: Path, old: str, new: str, fr: str,
                                                              en: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _variant(tmp_path, old, new)
    for lang, words in (("fr", fr), ("en", en)):
        monkeypatch.setenv("TAI_LAB_LANG", lang)
        from tai_lab.scenario import load_scenario
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        [p] = caught.value.problems
        assert p.line is not None and p.column is not None and p.hint
        assert words in p.message, (lang, p.message)


def test_a_missing_key_names_the_key_and_its_place(tmp_path: Path) -> None:
    from tai_lab.scenario import load_scenario
    path = _variant(tmp_path, "title:", "titre:")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    messages = {p.path: (p.message, p.hint) for p in caught.value.problems}
    assert messages["title"][0] == "clé obligatoire 'title' absente"
    assert messages["title"][1] == "ajouter cette clé (voir scenarios/tai-standard.yaml)"


class _Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=0)
    names: list[str] = Field(min_length=2)
    label: str = Field(max_length=3)


def test_each_error_type_met_has_its_french_and_an_unknown_one_keeps_the_raw_message() -> None:
    try:
        _Sample.model_validate({"count": "beaucoup", "names": ["a"], "label": "abcdef"})
    except ValidationError as exc:
        errors = {e["type"]: e for e in exc.errors()}
    assert set(errors) == {"int_parsing", "too_short", "string_too_long"}
    said = {kind: pydantic_message(kind, e["msg"], str(e["loc"][-1]), e["input"], e.get("ctx"))
            for kind, e in errors.items()}
    assert said["int_parsing"].fr == 'nombre entier attendu, trouvé le texte "beaucoup"'
    assert said["too_short"].fr == "au moins 2 éléments attendu(s), il y en a 1"
    assert said["string_too_long"].fr == "texte trop long : 3 caractères au plus"
    assert said["int_parsing"].en.startswith("input should be a valid integer")
    # a type no table knows: a French sentence, then pydantic's own words
    odd = pydantic_message("url_scheme", "URL scheme should be 'http' or 'https'", "url", "ftp://x", {})
    assert isinstance(odd, Text)
    assert odd.fr.startswith("valeur refusée ici") and "« URL scheme should be 'http' or 'https' »" in odd.fr
    assert odd.en.endswith("scheme should be 'http' or 'https'") and "valeur" not in odd.en


def test_a_part_validated_on_its_own_is_located_in_the_file() -> None:
    smap = SourceMap("s.yaml", {(): (1, 1), ("pod",): (3, 1), ("pod", "x"): (4, 3), ("pod", "x", "count"): (5, 5)})
    try:
        _Sample.model_validate({"count": -1, "names": ["a", "b"], "label": "ab"})
    except ValidationError as exc:
        [p] = pydantic_problems(exc, smap, _Sample, at=("pod", "x"))
    assert (p.line, p.column, p.path) == (5, 5, "pod.x.count")
    assert p.message == "la valeur doit être supérieure ou égale à 0 (trouvé -1)"


# ------------------------------------------------------------------ YAML errors and the input's limits
def test_yaml_syntax_errors_in_french(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tai_lab.scenario import load_scenario
    path = _variant(tmp_path, "pods: 2", "pods: 2\npods: 3")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [p] = caught.value.problems
    assert p.message.startswith('erreur de syntaxe YAML : clé "pods" en double')
    assert p.hint == "une clé ne peut apparaître qu'une fois dans un dictionnaire" and p.line == 7
    path = _variant(tmp_path, "pods: 2", "pods: [2")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [p] = caught.value.problems
    assert p.message.startswith("erreur de syntaxe YAML : ") and "liste entre crochets commencé ligne 6" in p.hint
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems[0].message.startswith("YAML syntax error: ")
    # a problem no pattern knows keeps the parser's words, behind a French sentence
    assert yaml_problem("something new").fr == "erreur de syntaxe YAML (message de l'analyseur : « something new »)"


def test_the_inputs_limits_are_told_in_french(tmp_path: Path) -> None:
    from tai_lab.scenario import load_scenario
    cases = {
        "dir.yaml": ("un répertoire, pas un scénario", "donner le chemin d'un scénario (.yaml)"),
        "latin1.yaml": ("le fichier n'est pas du texte UTF-8 : l'octet 0xE9", "enregistrer le fichier en UTF-8"),
        "nul.yaml": ("le caractère U+0000 (NUL) est interdit dans un fichier YAML", "texte UTF-8"),
        "deep.yaml": ("les données s'imbriquent sur plus de 50 niveaux", "non fermé"),
        "big.yaml": ("le fichier dépasse 1 Mio, la limite pour un scénario", "est-ce le bon fichier ?"),
    }
    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "latin1.yaml").write_bytes("title: café\n".encode("latin-1"))
    (tmp_path / "nul.yaml").write_bytes(b"lab: std\x00\n")
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 60 + "]" * 60 + "\n")
    (tmp_path / "big.yaml").write_text("# " + "x" * (1024 * 1024) + "\n")
    for name, (message, hint) in cases.items():
        with pytest.raises(ScenarioError) as caught:
            load_scenario(tmp_path / name)
        [p] = caught.value.problems
        assert p.message.startswith(message), (name, p.message)
        assert hint in p.hint, (name, p.hint)


# ------------------------------------------------------------------ intervention files, référentiel
def test_an_intervention_file_is_told_in_both_languages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tai_lab.interventions.catalogue import load_catalogue
    _variant(tmp_path, "difficulty: 3", "difficulty: trois", INTERVENTIONS / "slowness.yaml")
    _variant(tmp_path, "competencies: [c14, c10,", "competencies: [c144, c10,", INTERVENTIONS / "dns-failure.yaml")
    for name in ("slowness", "dns-failure"):
        (tmp_path / f"{name}.yml").write_text("- hosts: all\n  tasks: []\n")
    expected = {
        "fr": ("2 problèmes dans les fichiers d'intervention", "nombre entier attendu, trouvé le texte \"trois\"",
               "compétence inconnue 'c144'", "vouliez-vous dire 'c14' ?"),
        "en": ("2 problem(s) in the intervention files", "expected a whole number, got the text \"trois\"",
               "unknown competency 'c144'", "did you mean 'c14'?"),
    }
    for lang, words in expected.items():
        monkeypatch.setenv("TAI_LAB_LANG", lang)
        with pytest.raises(ScenarioError) as caught:
            load_catalogue(str(tmp_path))
        text = str(caught.value)
        assert all(w in text for w in words), (lang, text)
        assert {p.path for p in caught.value.problems} == {"difficulty", "competencies[0]"}
        assert all(p.line for p in caught.value.problems)


def test_a_state_check_without_its_command_is_told_in_both_languages(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tai_lab.interventions.catalogue import load_catalogue
    path = _variant(tmp_path, "sur {user_node}\",\n            run: \"! grep -q '^{ad_user}:' /etc/passwd\"}",
                    "sur {user_node}\"}", INTERVENTIONS / "ad-account-disabled.yaml")
    (tmp_path / "ad-account-disabled.yml").write_text("- hosts: all\n  tasks: []\n")
    for lang, words in (("fr", "une vérification state demande `run` (une commande shell)"),
                        ("en", "a state check needs `run` (a shell command)")):
        monkeypatch.setenv("TAI_LAB_LANG", lang)
        with pytest.raises(ScenarioError) as caught:
            load_catalogue(str(tmp_path))
        [p] = caught.value.problems
        assert p.file == str(path) and p.line == 15 and p.message.startswith(words), p


def test_problem_render_in_both_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Problem("s.yaml", 3, 5, "pod.nodes", "message", "à faire")
    assert p.render() == "s.yaml:3:5: pod.nodes: message\n  conseil : à faire"
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    assert p.render() == "s.yaml:3:5: pod.nodes: message\n  hint: à faire"


def test_a_french_criteria_file_out_of_step_with_the_referentiel_is_told(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import yaml

    from tai_lab import paths, referentiel
    from tai_lab.errors import TaiLabError
    ref = tmp_path / "scenarios" / "referentiel"
    shutil.copytree(ROOT / "scenarios" / "referentiel", ref)
    fr = yaml.safe_load((ref / "criteres-fr.yaml").read_text(encoding="utf-8"))
    cid = next(iter(fr))
    fr[cid] = fr[cid][:-1]                                   # one criterion short
    (ref / "criteres-fr.yaml").write_text(yaml.safe_dump(fr, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(paths, "data_dir", lambda name: tmp_path / name)
    referentiel.load.cache_clear()
    try:
        with pytest.raises(TaiLabError) as caught:
            referentiel.load()
        assert f"{cid} a {len(fr[cid])} critères, le référentiel {len(fr[cid]) + 1}" in caught.value.message
        assert caught.value.hint == "un texte français par critère du référentiel, dans le même ordre"
    finally:
        referentiel.load.cache_clear()
