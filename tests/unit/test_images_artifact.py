"""The build step every artifact under <images>/ shares (tai_lab/images/artifact.py): a work
directory beside the artifact, a manifest with the recipe's digest, publish by rename."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tai_lab import images
from tai_lab.errors import CommandFailed
from tai_lab.images import artifact


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_IMAGES", str(tmp_path / "images"))
    return tmp_path / "images"


def test_publish_replaces_the_artifact_and_keeps_the_manifest(home):
    old = artifact.new_work_dir("thing")
    artifact.finish(old, {"name": "thing", "recipe_digest": "aaa"}, started=0)
    (old / "payload").write_text("old")
    assert artifact.publish(old, "thing") == home / "thing"
    assert artifact.already_built("thing", "aaa", what="thing")
    assert not artifact.already_built("thing", "bbb", what="thing"), "a changed recipe is a rebuild"
    assert not artifact.already_built("thing", "aaa", what="thing", force=True)

    new = artifact.new_work_dir("thing")
    assert new.parent == home and new.name == ".thing.building" and not any(new.iterdir())
    artifact.finish(new, {"name": "thing", "recipe_digest": "bbb"}, started=0)
    artifact.publish(new, "thing")
    assert not new.exists() and not (home / "thing/payload").exists(), "the old artifact is replaced whole"
    man = artifact.manifest("thing")
    assert man["recipe_digest"] == "bbb" and "built_at" in man and "build_seconds" in man
    assert images.manifest("thing") == man, "the package keeps the container image's names"


def test_an_unfinished_build_is_never_published(home):
    artifact.finish(artifact.new_work_dir("thing"), {"recipe_digest": "aaa"}, started=0)
    artifact.publish(home / ".thing.building", "thing")
    work = artifact.new_work_dir("thing")
    (work / "half").write_text("killed here")
    with pytest.raises(CommandFailed, match="n'a pas laissé de manifest.json"):
        artifact.publish(work, "thing")
    assert artifact.manifest("thing")["recipe_digest"] == "aaa", "the published artifact is as it was"


def test_a_leftover_work_dir_is_emptied_and_its_mounts_undone_first(home):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the builds themselves run as root)")
    work = artifact.new_work_dir("thing")
    where = work / "rootfs/proc"
    where.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(where)], check=True)
    try:
        (where / "inside-the-mount").write_text("x")
        assert artifact.mounted_under(work) == [str(where.resolve())]
        again = artifact.new_work_dir("thing")
        assert again == work and not any(work.iterdir())
        assert artifact.mounted_under(work) == []
    finally:
        if artifact.mounted_under(where):
            subprocess.run(["umount", "-l", str(where)])


def test_the_depot_is_published_by_the_same_step(home, monkeypatch):
    from tai_lab.prep import depot
    assert depot.depot_dir("depot-bookworm") == artifact.image_dir("depot-bookworm")
    work = artifact.new_work_dir("depot-bookworm")
    (work / "repo").mkdir()
    artifact.finish(work, {"name": "depot-bookworm", "recipe_digest": "x"}, started=0)
    artifact.publish(work, "depot-bookworm")
    assert depot.manifest("depot-bookworm") == json.loads((home / "depot-bookworm/manifest.json").read_text())
    assert depot.repo_dir("depot-bookworm") == home / "depot-bookworm/repo"


def test_the_container_images_names_stay_the_packages():
    """nspawn, the depot and the CLI call these as `images.<name>`; the recipe format is unchanged."""
    for name in ("build", "rootfs", "load_recipe", "recipe_names", "manifest", "image_dir", "already_built",
                 "recipe_file", "remove", "Recipe"):
        assert callable(getattr(images, name)), name
    r = images.load_recipe("debian-12")
    assert r.name == "debian-12" and r.suite and r.packages and len(r.digest) == 16
    assert "debian-12" in images.recipe_names()


def test_a_replaced_artifact_in_use_is_kept_aside_until_nothing_uses_it(home, monkeypatch):
    for digest in ("aaa", "bbb"):
        work = artifact.new_work_dir("thing")
        artifact.finish(work, {"name": "thing", "recipe_digest": digest}, started=0)
        (work / "payload").write_text(digest)
        in_use = digest == "bbb"         # a lab runs on the first version while the second is published
        monkeypatch.setattr(artifact, "_in_use", lambda *dirs, busy=in_use: busy)
        artifact.publish(work, "thing")
    aside = list(home.glob(".thing.replaced-*"))
    assert len(aside) == 1 and (aside[0] / "payload").read_text() == "aaa", "not deleted under a running lab"
    assert (home / "thing/payload").read_text() == "bbb"
    monkeypatch.setattr(artifact, "_in_use", lambda *dirs: False)
    work = artifact.new_work_dir("thing")
    artifact.finish(work, {"name": "thing", "recipe_digest": "ccc"}, started=0)
    artifact.publish(work, "thing")
    assert list(home.glob(".thing.replaced-*")) == [], "dropped once nothing uses it"


def test_two_builds_of_one_artifact_run_one_after_the_other(home):
    import threading
    import time
    events: list[str] = []
    said: list[str] = []

    @artifact.locked("test")
    def build(name: str = "thing", *, progress=lambda _m: None) -> str:
        events.append(f"start {threading.current_thread().name}")
        time.sleep(0.3)
        events.append(f"end {threading.current_thread().name}")
        return name

    threads = [threading.Thread(target=build, name=n, kwargs={"progress": said.append}) for n in ("a", "b")]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert events == ["start a", "end a", "start b", "end b"]
    assert said == ["thing est en cours de construction par une autre commande : attente de la fin…"]
    assert said[0].en == "thing is being built by another command: waiting for it…"
    assert build("other") == "other"


def test_a_broken_recipe_says_where(tmp_path):
    from tai_lab.errors import TaiLabError
    bad = tmp_path / "recipe.yaml"
    bad.write_text("name: x\npackages:\n  - a\n - b\n")
    with pytest.raises(TaiLabError) as err:
        artifact.read_recipe(bad)
    assert err.value.message.startswith(f"{bad}:4:") and err.value.hint
    bad.write_text("- just\n- a list\n")
    with pytest.raises(TaiLabError, match="une recette est un dictionnaire .*, pas une liste") as err:
        artifact.read_recipe(bad)
    assert "a recipe is a mapping" in err.value.message.en
    assert artifact.read_recipe(_write(tmp_path)) == {"name": "ok"}


def _write(tmp_path):
    ok = tmp_path / "ok.yaml"
    ok.write_text("name: ok\n")
    return ok
