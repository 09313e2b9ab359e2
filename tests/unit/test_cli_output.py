"""The trainer's command line: one line per check, the proof only where it helps."""
from __future__ import annotations

from types import SimpleNamespace

from tai_lab.cli import common, lab as cli_lab


def _results():
    p = SimpleNamespace
    return [p(pod=1, passed=True, evidence="$ getent ahostsv4 srv.pod1.tai.lan → 0: 10.1.20.10",
              probe=p(title="srv.pod1.tai.lan se résout depuis pc1")),
            p(pod=1, passed=False, evidence="$ curl -fsS http://intranet.pod1.tai.lan/ → 7: refused",
              probe=p(title="la page intranet s'affiche sur pc1")),
            p(pod=2, passed=True, evidence="$ ping -c 1 10.2.20.10 → 1:", probe=p(title="le pod 1 est injoignable"))]


def test_one_line_per_check_and_the_proof_of_a_failure_only():
    with common.out.capture() as cap:
        cli_lab._probe_lines(_results(), verbose=False)
    text = cap.get()
    lines = text.splitlines()
    assert lines[0].startswith("pod 1") and "1/2" in lines[0]
    assert "✓ srv.pod1.tai.lan se résout depuis pc1" in text and "✗ la page intranet s'affiche sur pc1" in text
    assert "curl" in text and "getent" not in text and "ping" not in text      # only the failure's proof
    assert len(lines) == 6                                                     # 2 pods + 3 checks + 1 proof


def test_verbose_shows_every_proof():
    with common.out.capture() as cap:
        cli_lab._probe_lines(_results(), verbose=True)
    text = cap.get()
    assert "getent" in text and "curl" in text and "ping" in text
