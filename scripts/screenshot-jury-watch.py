#!/usr/bin/env python3
"""The screenshot of docs/stations.md's « What the jury sees live »: the jury's console for a lab
that is up, pod 1's watch page once its desktop is drawn (live through the candidates' portal if
one runs, else two pictures), in headless Chromium. The integration test
tests/integration/test_jury_live.py takes it with a candidate's terminal open too
(TAI_LAB_SCREENSHOTS=docs/images).

    sudo python3 scripts/screenshot-jury-watch.py --lab NAME [-o docs/images/jury-watch.png]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", required=True)
    ap.add_argument("-o", "--output", default=str(ROOT / "docs/images/jury-watch.png"))
    a = ap.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "serve", "--lab", a.lab, "--listen", "127.0.0.1:0"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    drv = None
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"(http://127\.0\.0\.1:\d+)/login\?key=(\S+)", log.read_text())):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the console did not start:\n" + log.read_text())
            time.sleep(0.2)
        opts = Options()
        opts.binary_location = shutil.which("chromium")
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,1150", "--lang=fr-FR"):
            opts.add_argument(arg)
        drv = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
        drv.get(f"{m.group(1)}/login?key={m.group(2)}")
        drv.get(f"{m.group(1)}/pod/1/watch")
        WebDriverWait(drv, 120).until(lambda d: d.execute_script(
            "const s = document.querySelector('section.watch'), c = s.querySelector('canvas');"
            "return Number(s.dataset.frames || 0) >= 2 || (s.dataset.view === 'live' && c && c.width > 0)"))
        time.sleep(1)
        drv.execute_script("document.querySelector('section.watch button.take').click()")
        drv.save_screenshot(a.output)
        print(a.output)
    finally:
        if drv is not None:
            drv.quit()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        log.unlink()


if __name__ == "__main__":
    main()
