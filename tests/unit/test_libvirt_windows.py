"""Windows recipes: inputs checked, autounattend.xml and the install domain rendered and valid.

Windows itself cannot run here: these files are untested on real Windows (documented).
"""
from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tai_lab.images import windows as w
from tai_lab.errors import PrerequisiteError

U = "{urn:schemas-microsoft-com:unattend}"


def fake_iso(path: Path, label: str) -> Path:
    data = bytearray(0x8800)
    data[0x8001:0x8006] = b"CD001"
    data[0x8028:0x8048] = label.encode().ljust(32)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("name", ["windows-server-2022", "windows-11"])
def test_autounattend_is_well_formed_and_complete(name):
    r = w.load_windows_recipe(name)
    text = w.render_autounattend(r, admin_password="S3cret<&>!")
    root = ET.fromstring(text.encode())
    passes = [s.get("pass") for s in root.findall(f"{U}settings")]
    assert passes == ["windowsPE", "specialize", "oobeSystem"]
    paths = [p.text for p in root.iter(f"{U}Path")]
    assert any(p.endswith(rf"\viostor\{r.virtio_dir}\amd64") for p in paths)
    assert any(p.endswith(rf"\NetKVM\{r.virtio_dir}\amd64") for p in paths)
    keys = [e.get("{http://schemas.microsoft.com/WMIConfig/2002/State}keyValue")
            for e in root.iter(f"{U}PathAndCredentials")]
    assert len(keys) == len(set(keys))
    commands = " ".join(c.text for c in root.iter(f"{U}CommandLine"))
    assert "qemu-ga-x86_64.msi" in commands and "Enable-PSRemoting" in commands and "5985" in commands
    assert [m.text for m in root.iter(f"{U}Value")][0] == r.image_name
    assert "S3cret<&>!" in [v.text for v in root.iter(f"{U}Value")]     # escaped, then parsed back
    if r.role == "server":
        assert "AD-Domain-Services" in commands
    else:
        assert "BypassTPMCheck" in text


def test_inputs_are_checked_before_anything(tmp_path, monkeypatch):
    r = w.load_windows_recipe("windows-server-2022")
    monkeypatch.setenv("TAI_LAB_LANG", "fr")         # the trainer's language, French by default
    with pytest.raises(PrerequisiteError, match="il manque --iso et --virtio-iso") as exc:
        w.check_inputs(r, None, None)
    assert "virtio-win" in exc.value.hint and "demande deux ISO" in exc.value.hint
    monkeypatch.setenv("TAI_LAB_LANG", "en")         # the English wording below
    with pytest.raises(PrerequisiteError, match="missing --iso and --virtio-iso") as exc:
        w.check_inputs(r, None, None)
    assert "virtio-win" in exc.value.hint
    win = fake_iso(tmp_path / "win.iso", "SSS_X64FREE_FR-FR_DV9")
    virtio = fake_iso(tmp_path / "virtio.iso", "virtio-win-0.1.240")
    notiso = tmp_path / "notes.txt"
    notiso.write_text("hello" * 10000)
    with pytest.raises(PrerequisiteError, match="no such file"):
        w.check_inputs(r, tmp_path / "nope.iso", virtio)
    with pytest.raises(PrerequisiteError, match="not an ISO 9660"):
        w.check_inputs(r, notiso, virtio)
    with pytest.raises(PrerequisiteError, match="not virtio-win"):
        w.check_inputs(r, win, win)
    with pytest.raises(PrerequisiteError, match="is the virtio-win ISO"):
        w.check_inputs(r, virtio, virtio)
    assert w.check_inputs(r, win, virtio) == {"iso": "SSS_X64FREE_FR-FR_DV9", "virtio_iso": "virtio-win-0.1.240"}


def test_prepare_writes_the_installation_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TAI_LAB_IMAGES", str(tmp_path / "images"))
    win = fake_iso(tmp_path / "win.iso", "CENA_X64FREV_FR-FR_DV9")
    virtio = fake_iso(tmp_path / "virtio.iso", "virtio-win-0.1.240")
    out = w.prepare("windows-11", iso=win, virtio_iso=virtio)
    assert (out / "autounattend.xml").is_file() and (out / "admin-password").stat().st_mode & 0o077 == 0
    ET.fromstring((out / "autounattend.xml").read_bytes())
    if shutil.which("virt-xml-validate"):
        proc = subprocess.run(["virt-xml-validate", str(out / "install-domain.xml"), "domain"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
