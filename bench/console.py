"""Benchmark of the jury's web console (issue 5), in headless Chromium on a real pod.

Per round: click "Injecter" → the card shows "NON RÉPARÉ"; technician's fix with
`tai-lab exec` → the card shows "RÉPARÉ" (no reload); click "Restaurer" → "restaurée".
Times are what a jury member sees (page polling 1 s, watcher re-check every 1.5 s
included). Medians go to docs/benchmarks.md (the section of the same name is replaced).

    sudo python3 bench/console.py [--rounds 3] [--only intranet-down]
    sudo TAI_LAB_HOME=/some/home python3 bench/console.py --lab tweb --reuse   # a lab already up
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sections import write_section  # noqa: E402
sys.path.insert(0, str(ROOT))

TITLE = "## Jury console (issue 5)"
# intervention → (variant, node, technician's fix), as in tests/integration/test_interventions.py
FIXES = {
    "intranet-down": ("service-stopped", "srv", "systemctl enable --now nginx"),
    "printer-offline": ("service-stopped", "printer", "systemctl start tai-printer"),
    "dns-failure": ("service-stopped", "srv", "systemctl enable --now named"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(FIXES))
    ap.add_argument("--lab", default="bweb")
    ap.add_argument("--reuse", action="store_true", help="use the lab --lab already up in TAI_LAB_HOME")
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    args = ap.parse_args()
    os.environ.setdefault("TAI_LAB_IMAGES", "/var/lib/tai-lab/images")
    from tai_lab.lab import Lab
    if not args.reuse:
        home = Path(tempfile.mkdtemp(prefix="tai-bench-web-"))
        os.environ["TAI_LAB_HOME"] = str(home)
        scenario = home / "bweb.yaml"
        scenario.write_text(re.sub(r"^lab: .*$", f"lab: {args.lab}",
                                   (ROOT / "scenarios/tai-standard.yaml").read_text(), count=1, flags=re.MULTILINE))
        Lab.up(scenario, pods=1, progress=print)
    try:
        rows = run(args)
    finally:
        if not args.reuse:
            Lab.down(args.lab)
    write(args, rows)


def run(args) -> list[tuple[str, float, float, float]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = Path(tempfile.mkdtemp(prefix="tai-bench-web-log-")) / "serve.log"
    serve = subprocess.Popen([sys.executable, "-m", "tai_lab.cli", "serve", "--lab", args.lab, "--listen",
                              "127.0.0.1:0"], stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
    opts = Options()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)

    def status(iid):
        cards = drv.find_elements(By.ID, f"card-{iid}")
        return cards[0].get_attribute("data-status") if cards else None

    def wait(cond, timeout=180):
        WebDriverWait(drv, timeout, poll_frequency=0.05).until(lambda d: cond())

    rows = []
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"http://\S+/login\?key=\S+", log.read_text())):
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit("serve did not start:\n" + log.read_text())
            time.sleep(0.1)
        link = m.group(0)
        base = link.split("/login")[0]
        drv.get(link)
        drv.get(base + "/pod/1")
        for iid in [i for i in args.only.split(",") if i]:
            variant, node, fix = FIXES[iid]
            for _ in range(args.rounds):
                drv.get(base + "/pod/1")
                drv.find_element(By.ID, "show-all").click()
                row = drv.find_element(By.CSS_SELECTOR, f'tr.iv[data-id="{iid}"]')
                Select(row.find_element(By.CSS_SELECTOR, "select.variant")).select_by_value(variant)
                t0 = time.monotonic()
                row.find_element(By.CSS_SELECTOR, "button.inject").click()
                wait(lambda i=iid: status(i) == "broken")
                t_broken = time.monotonic() - t0
                t1 = time.monotonic()
                subprocess.run([sys.executable, "-m", "tai_lab.cli", "exec", "--lab", args.lab, "1", node,
                                "sh", "-c", fix], env=env, check=True, capture_output=True)
                wait(lambda i=iid: status(i) == "fixed")
                t_fixed = time.monotonic() - t1
                t2 = time.monotonic()
                drv.find_element(By.CSS_SELECTOR, f"#card-{iid} button.restore").click()
                wait(lambda i=iid: status(i) == "restored")
                t_restored = time.monotonic() - t2
                rows.append((iid, t_broken, t_fixed, t_restored))
                print(f"{iid}: inject→non réparé {t_broken:.2f} s, fix→réparé {t_fixed:.2f} s, "
                      f"restore {t_restored:.2f} s", flush=True)
    finally:
        drv.quit()
        os.killpg(serve.pid, 15)
        serve.wait(20)
    return rows


def write(args, rows) -> None:
    by: dict[str, list[tuple[float, float, float]]] = {}
    for iid, *t in rows:
        by.setdefault(iid, []).append(tuple(t))
    lines = [TITLE, "",
             f"Command: `sudo python3 bench/console.py --rounds {args.rounds} --only {args.only}`  ",
             f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (a shared machine); "
             f"run {time.strftime('%Y-%m-%d %H:%M')}; headless Chromium, one pod; "
             "what the jury sees (page polls every 1 s, the server re-checks every 1.5 s).", "",
             "| intervention | rounds | click inject → \"NON RÉPARÉ\" (s) | fix → \"RÉPARÉ\" (s) | click restore → restored (s) |",
             "|---|---:|---:|---:|---:|"]
    for iid, ts in by.items():
        med = [statistics.median(t[i] for t in ts) for i in range(3)]
        lines.append(f"| {iid} | {len(ts)} | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} |")
    allb = [r[1] for r in rows]
    allf = [r[2] for r in rows]
    lines += ["", f"Median over all rounds: inject → shown broken {statistics.median(allb):.2f} s, "
                  f"fix → shown fixed {statistics.median(allf):.2f} s.", ""]
    out = Path(args.out)
    section = write_section(out, TITLE, lines)
    print(section)


if __name__ == "__main__":
    main()
