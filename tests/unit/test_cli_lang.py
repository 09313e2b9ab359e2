"""The trainer's language: French by default, English with --lang en (anywhere on the line) or
TAI_LAB_LANG=en — the help, click's own words, the library's messages, the jury console's
error toasts and the report."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tai_lab import lang
from tai_lab.cli import cli
from tai_lab.cli.help_fr import HELP_FR
from tai_lab.cli.i18n import help_texts, key, lang_from_argv, localize
from tai_lab.errors import LabStateError
from tai_lab.provision import stage_line

from .test_console import post, wait_job
from .test_jury_words import client  # noqa: F401 - the console on a fake lab

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, home: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "TAI_LAB_LANG"}
    full.update({"TAI_LAB_HOME": str(home), "PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.run([sys.executable, "-m", "tai_lab.cli", *args], capture_output=True, text=True,
                          cwd=str(home), env=full, timeout=60)


def test_every_help_text_has_its_french():
    localize(cli, "en")
    try:
        missing = sorted({key(getattr(obj, attr)) for obj, attr in help_texts(cli)
                          if getattr(obj, attr) and key(getattr(obj, attr)) not in HELP_FR})
    finally:
        localize(cli, lang.current())
    assert not missing, "help texts without French in tai_lab/cli/help_fr.py:\n" + "\n".join(missing)


def test_localize_switches_every_text_both_ways():
    try:
        localize(cli, "fr")
        up = cli.commands["up"]
        pods = next(p for p in up.params if p.name == "pods")
        assert up.help.startswith("Construire le plateau") and pods.help.startswith("Nombre de pods")
        localize(cli, "en")
        assert up.help.startswith("Build the plateau") and pods.help.startswith("Number of candidate pods")
        localize(cli, "fr")
        assert up.help.startswith("Construire le plateau")
    finally:
        localize(cli, lang.current())


def test_lang_is_found_anywhere_before_a_double_dash():
    assert lang_from_argv(["up", "x.yaml", "--lang", "en"]) == "en"
    assert lang_from_argv(["--lang=en", "status"]) == "en"
    assert lang_from_argv(["exec", "1", "pc1", "--", "x", "--lang", "en"]) is None
    assert lang_from_argv(["--lang", "de"]) is None


def test_help_is_french_by_default_and_english_when_asked(tmp_path):
    fr = _cli("up", "--help", home=tmp_path)
    assert fr.returncode == 0 and "Utilisation" in fr.stdout and "Construire le plateau" in fr.stdout
    assert "Afficher cette aide" in fr.stdout and "Build the plateau" not in fr.stdout
    for args, env in ((("up", "--help", "--lang", "en"), None), (("--lang", "en", "up", "--help"), None),
                      (("up", "--help"), {"TAI_LAB_LANG": "en"})):
        en = _cli(*args, home=tmp_path, env=env)
        assert en.returncode == 0, en.stderr
        assert "Usage:" in en.stdout and "Build the plateau" in en.stdout and "Construire" not in en.stdout, args


def test_click_and_library_errors_follow_the_language(tmp_path):
    r = _cli("upp", home=tmp_path)
    assert r.returncode == 2 and "Erreur" in r.stderr and "Commande inconnue" in r.stderr
    r = _cli("status", home=tmp_path)
    assert r.returncode != 0 and "aucun lab n'est démarré" in r.stderr and "Traceback" not in r.stderr
    r = _cli("status", "--lang", "en", home=tmp_path)
    assert r.returncode != 0 and "no lab is up" in r.stderr and "démarré" not in r.stderr
    r = _cli("validate", "nothing.yaml", "--pods", "x", "--lang", "en", home=tmp_path)
    assert r.returncode == 2 and "Error" in r.stderr and "whole number" in r.stderr


def test_a_message_keeps_both_languages(monkeypatch):
    monkeypatch.delenv("TAI_LAB_LANG", raising=False)
    t = lang.tr("bonjour", "hello")
    assert t == "bonjour" and lang.in_lang(t, "en") == "hello" and lang.in_lang(t, "fr") == "bonjour"
    assert lang.in_lang("tel quel", "en") == "tel quel"
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    assert lang.tr("bonjour", "hello") == "hello"


def test_provisioning_says_what_each_machine_does():
    assert stage_line("p1-srv", "/x/playbooks/tasks/dns.yml:4") == "pod 1 · srv — serveur DNS"
    assert stage_line("isp", "/x/playbooks/tasks/isp.yml:1") == "FAI — résolveur et site web publics"
    line = stage_line("p2-router", "/x/playbooks/tasks/router.yml:12")
    assert line is not None and line.en == "pod 2 · router — routing, NAT and DHCP relay"
    assert stage_line("p1-pc1", "/x/playbooks/interventions/tasks/renew-lease.yml:3") is None
    assert stage_line(None, None) is None


def test_console_toasts_of_a_failed_action_are_in_the_jury_members_language(client):  # noqa: F811
    def refuse(*args, **kwargs):
        raise LabStateError(lang.tr("le pod 1 n'est pas prêt : srv à l'arrêt", "pod 1 is not up: srv not running"),
                            lang.tr("le remettre en marche", "bring it back"))
    client.lab.inject = refuse
    job = wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    assert job["state"] == "failed" and job["error"] == "le pod 1 n'est pas prêt : srv à l'arrêt"
    assert job["hint"] == "le remettre en marche"
    client.get("/lang/en")
    again = client.get(f"/api/jobs/{job['id']}").get_json()
    assert again["error"] == "pod 1 is not up: srv not running" and again["hint"] == "bring it back"


def test_an_unexpected_error_is_told_in_french_too(client):  # noqa: F811
    def crash(*args, **kwargs):
        raise KeyError("pods")
    client.lab.inject = crash
    job = wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    # in words for the jury; the exception itself only behind "Détails"
    assert job["state"] == "failed" and job["error"] == "l'action n'a pas abouti à cause d'un défaut de tai-lab"
    assert "KeyError" not in job["error"] + job["hint"] and job["details"] == "KeyError: 'pods'"


@pytest.mark.parametrize("code, says, not_says", [
    ("fr", ("Synthèse par compétence", "Interventions en bref", "Juré 1"), ("Summary by competency",)),
    ("en", ("Summary by competency", "Interventions at a glance", "Jury member 1", "Intranet web site down"),
     ("Synthèse", "Notes du jury", "non évalué")),
])
def test_the_report_in_either_language(client, code, says, not_says):  # noqa: F811
    post(client, "/api/pod/1/candidate", {"name": "Camille Dupont"})
    wait_job(client, post(client, "/api/pod/1/inject", {"id": "intranet-down"}).get_json())
    client.get(f"/lang/{code}")
    html = client.get("/pod/1/report").text
    assert f'<html lang="{code}">' in html
    for text in says:
        assert text in html, text
    for text in not_says:
        assert text not in html, text


def test_click_words_come_back_in_english():
    try:
        localize(cli, "fr")
        assert click.core._("Usage:") == "Utilisation :"      # type: ignore[attr-defined]
        localize(cli, "en")
        assert click.core._("Usage:") == "Usage:"              # type: ignore[attr-defined]
    finally:
        localize(cli, lang.current())


def test_the_web_console_starts_in_the_trainers_language(tmp_path, monkeypatch):
    from tai_lab.jury.service import JuryService
    from tai_lab.jury.web import create_app

    from .test_console import KEY, FakeLab
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    lab = FakeLab(tmp_path)
    svc = JuryService(lambda: lab, check_interval=0.1)
    try:
        c = create_app(svc, KEY).test_client()
        c.get(f"/login?key={KEY}")
        assert "Overview" in c.get("/").text
        c.get("/lang/fr")                       # a jury member's own choice wins
        assert "Vue d’ensemble" in c.get("/").text
    finally:
        svc.close()
