"""What a trainer reads while building images and before a libvirt lab starts: French by
default, English with --lang en — run as root, an unknown image, a missing package or tool, a
build step that fails, libvirt-python or libvirtd missing, a recipe that is not one."""
from __future__ import annotations

import builtins
from pathlib import Path

import pytest
from click.testing import CliRunner

from tai_lab.cli import cli
from tai_lab.cli.i18n import localize
from tai_lab.errors import CommandFailed, NotFoundError, PrerequisiteError, TaiLabError


@pytest.fixture(autouse=True)
def _french_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("TAI_LAB_LANG", "fr")
    monkeypatch.setenv("TAI_LAB_IMAGES", str(tmp_path / "images"))
    yield
    localize(cli, "fr")


def _both(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[BaseException, BaseException]:
    """The exception `tai-lab ARGS` ends with, in French then with --lang en."""
    fr = CliRunner().invoke(cli, list(args)).exception
    en = CliRunner().invoke(cli, [*args, "--lang", "en"]).exception
    assert fr is not None and en is not None
    return fr, en


def test_an_image_build_asks_for_root_in_the_trainers_language(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    fr, en = _both(monkeypatch, "image", "build", "debian-12")
    assert isinstance(fr, PrerequisiteError) and isinstance(en, PrerequisiteError)
    assert str(fr).startswith("la construction d'une image demande les droits root") and "sudo" in str(fr)
    assert str(en).startswith("building an image needs root") and "sudo" in str(en)
    assert not (tmp_path / "images").exists()           # refused before anything is written


def test_an_unknown_image_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    fr, en = _both(monkeypatch, "image", "build", "debian-13")
    assert isinstance(fr, NotFoundError) and isinstance(en, NotFoundError)
    assert fr.message == "image inconnue 'debian-13'" and fr.hint.startswith("images connues : ")
    assert en.message == "unknown image 'debian-13'" and en.hint.startswith("known images: ")
    assert "debian-12" in fr.hint and "debian-12-desktop" in en.hint
    assert not list((tmp_path / "images").glob("*debian-13*"))   # no lock file left for a name that is none


def test_a_missing_tool_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from tai_lab.hostcheck import require_tools
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PrerequisiteError) as caught:
        require_tools("debootstrap", "systemd-nspawn")
    assert caught.value.message.startswith("outil(s) manquant(s) sur l'hôte : debootstrap, systemd-nspawn")
    assert caught.value.hint == "les installer : apt-get install debootstrap systemd-container"
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    with pytest.raises(PrerequisiteError) as caught:
        require_tools("debootstrap")
    assert caught.value.hint == "install them with: apt-get install debootstrap"


def test_a_failed_build_step_says_so_with_the_end_of_its_log(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tai_lab.images import artifact
    log = tmp_path / "build.log"
    cmd = ["sh", "-c", "echo 'E: Unable to locate package nosuchpkg' >&2; exit 100"]
    with pytest.raises(CommandFailed) as caught:
        artifact.run(cmd, log)
    text = str(caught.value)
    assert text.startswith("une étape de la construction de l'image a échoué (code 100) : sh -c")
    assert "E: Unable to locate package nosuchpkg" in text            # the log's end, as apt wrote it
    assert caught.value.hint == ("paquet introuvable dans les sources apt de l'hôte : nosuchpkg — vérifier son nom "
                                 f"dans la recette (images/…/recipe.yaml) ; journal complet : {log}")
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    with pytest.raises(CommandFailed) as caught:
        artifact.run(cmd, log)
    assert str(caught.value).startswith("image build step failed (100): sh -c")
    assert caught.value.hint.startswith("package not found in the host's apt sources: nosuchpkg")
    assert caught.value.hint.endswith(f"full log: {log}")
    with pytest.raises(CommandFailed) as caught:      # another failure: the log's place only
        artifact.run(["sh", "-c", "exit 2"], log.with_name("other.log"))
    assert caught.value.hint == f"full log: {log.with_name('other.log')}"


def test_an_image_that_is_not_built_gives_its_build_command() -> None:
    from tai_lab.images import container, vm
    with pytest.raises(PrerequisiteError) as caught:
        container.rootfs("debian-12")
    assert caught.value.message == "l'image 'debian-12' n'est pas construite"
    assert caught.value.hint == "la construire une fois avec : tai-lab image build debian-12"
    with pytest.raises(PrerequisiteError) as caught:
        vm.image("debian-12")
    assert caught.value.message.startswith("l'image VM ") and "tai-lab image build" in caught.value.hint


def test_libvirt_python_missing_and_libvirtd_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from tai_lab.backends.libvirt import connection
    real_import = builtins.__import__

    def no_libvirt(name, *args, **kwargs):
        if name == "libvirt":
            raise ImportError("No module named 'libvirt'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_libvirt)
    with pytest.raises(PrerequisiteError) as caught:
        connection.load()
    assert caught.value.message == "le backend libvirt a besoin de libvirt-python"
    assert "libvirt-dev" in caught.value.hint and "paquets Debian" in caught.value.hint
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    with pytest.raises(PrerequisiteError) as caught:
        connection.load()
    assert caught.value.message == "the libvirt backend needs libvirt-python"
    monkeypatch.setattr(builtins, "__import__", real_import)

    libvirt = pytest.importorskip("libvirt", reason="libvirt-python is not installed")

    class Down(connection.Connections):
        def __init__(self) -> None:
            import threading
            self.uri, self._conns, self._lock = "qemu+unix:///system?socket=/nonexistent/sock", {}, threading.Lock()

    monkeypatch.setenv("TAI_LAB_LANG", "fr")
    with pytest.raises(PrerequisiteError) as caught:
        Down().conn()
    assert caught.value.message.startswith("connexion à libvirt impossible sur qemu+unix:///system")
    assert caught.value.hint.startswith("libvirtd tourne-t-il ?")
    assert libvirt is not None


def test_a_recipe_that_is_not_a_mapping_in_both_languages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tai_lab.images import artifact
    bad = tmp_path / "recipe.yaml"
    bad.write_text("name: x\npackages:\n  - a\n - b\n")
    with pytest.raises(TaiLabError) as caught:
        artifact.read_recipe(bad)
    assert caught.value.message.startswith(f"{bad}:4:2: erreur de syntaxe YAML : ")
    assert caught.value.hint.startswith("corriger le YAML de la recette")
    monkeypatch.setenv("TAI_LAB_LANG", "en")
    with pytest.raises(TaiLabError) as caught:
        artifact.read_recipe(bad)
    assert caught.value.message.startswith(f"{bad}:4:2: YAML syntax error: ")
