"""The candidate's terminal sessions for the jury: commands from the echoed output only,
sessions from the evidence log, recordings found from the log and never from elsewhere."""
from __future__ import annotations

import json

from tai_lab.evidence import EvidenceLog
from tai_lab.terminal_sessions import (
    MAX_COMMANDS,
    extract_commands,
    read_cast,
    recording_path,
    recordings_dir,
    strip_ansi,
    terminal_sessions,
)

LOGIN = "Debian GNU/Linux 12 pc1 pts/0\r\n\r\npc1 login: root\r\nPassword: \r\nLinux pc1 6.1\r\n"
COLOUR_PROMPT = "\x1b]0;root@pc1: ~\x07\x1b[01;32mroot@pc1\x1b[00m:\x1b[01;34m~\x1b[00m# "


def test_strip_ansi():
    assert strip_ansi(COLOUR_PROMPT) == "root@pc1:~# "
    assert strip_ansi("\x1b[?2004hroot@srv:/etc# \x1b(B\x1b[m") == "root@srv:/etc# "


def test_commands_after_prompts_with_ansi_and_line_editing():
    out = (LOGIN + COLOUR_PROMPT + "ip a\r\n1: lo: <LOOPBACK,UP>\r\n"
           "root@pc1:~# cat /etc/resolv.conff\b\x1b[K\r\nnameserver 10.1.20.10\r\n"     # a typo rubbed out
           "root@pc1:~# ls\b\b\x1b[Ksystemctl status bind9\r\n"                          # history recalled over it
           "[root@srv ~]# nslookup intranet.tai.lan\r\nServer: 10.1.20.10\r\n"
           "(venv) user@pc2:/tmp$ id\r\nuid=1000(user)\r\n")
    cmds, more = extract_commands(out)
    assert cmds == ["ip a", "cat /etc/resolv.conf", "systemctl status bind9", "nslookup intranet.tai.lan", "id"]
    assert more == 0


def test_commands_split_across_chunks_and_continued_lines():
    chunks = ["root@pc1:~# ec", "ho 'a\r\n> b'\r\na\r\nb\r\n", "root@pc1:~# dig \\\r\n", "> srv.tai.lan\r\n",
              "ok\r\n> not a continuation\r\n"]
    cmds, _ = extract_commands("".join(chunks))
    assert cmds == ["echo 'a\nb'", "dig \\\nsrv.tai.lan"]


def test_only_commands_run_count():
    out = ("root@pc1:~# \r\n"                                  # Enter alone
           "root@pc1:~# rm -rf /tmp/x^C\r\n"                     # cancelled
           "root@pc1:~# reboot")                                 # typed, never run (session ended)
    assert extract_commands(out) == ([], 0)


def test_commands_are_capped():
    out = "".join(f"root@pc1:~# echo {i}\r\n{i}\r\n" for i in range(MAX_COMMANDS + 7))
    cmds, more = extract_commands(out)
    assert len(cmds) == MAX_COMMANDS and more == 7
    assert cmds[0] == "echo 0"
    long, _ = extract_commands("root@pc1:~# echo " + "x" * 1000 + "\r\n")
    assert len(long[0]) == 301 and long[0].endswith("…")


def write_cast(log: EvidenceLog, name: str, events: list, *, marker: str | None = "fin : logout (compte : root)",
               timestamp: int = 1_700_000_000) -> None:
    d = recordings_dir(log)
    d.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"version": 2, "width": 80, "height": 24, "timestamp": timestamp,
                         "tai_lab": {"pod": log.pod, "node": "pc1"}})]
    lines += [json.dumps(e) for e in events]
    if marker:
        lines.append(json.dumps([events[-1][0] + 0.5 if events else 0.5, "m", marker]))
    (d / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_input_events_are_never_used(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    write_cast(log, "a.cast", [[0.1, "i", "root@pc1:~# secret-typed\r\n"], [0.2, "o", "root@pc1:~# ls\r\n"],
                               [0.3, "i", "hunter2\r"], [0.4, "r", "100x30"]])
    header, events = read_cast(recordings_dir(log) / "a.cast")
    assert header["width"] == 80
    assert [e[1] for e in events] == ["o", "r", "m"]
    log.record("station", event="session-start", node="pc1", recording="a.cast")
    ts = terminal_sessions(log, log.current())
    assert ts[0].commands == ["ls"]
    assert "hunter2" not in json.dumps(ts[0].as_dict()) and "secret" not in json.dumps(ts[0].as_dict())


def test_sessions_from_the_evidence_log(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    write_cast(log, "20261130-090000-pc1-aaaaaa.cast", [[0.5, "o", LOGIN + "root@pc1:~# ip r\r\n"]])
    write_cast(log, "20261130-091000-srv-bbbbbb.cast", [[0.5, "o", "root@srv:~# "]], marker=None)
    log.record("station", event="session-start", node="pc1", recording="20261130-090000-pc1-aaaaaa.cast")
    log.record("candidate", name="Camille Dupont")
    log.record("station", event="session-end", node="pc1", account="root", seconds=62.4, reason="logout",
               recording="20261130-090000-pc1-aaaaaa.cast")
    log.record("station", event="session-start", node="srv", recording="20261130-091000-srv-bbbbbb.cast")
    log.record("station", event="session-start", node="pc2", recording="../../etc/passwd")   # never followed
    ts = terminal_sessions(log, log.current())
    assert [(t.number, t.node) for t in ts] == [(1, "pc1"), (2, "srv"), (3, "pc2")]
    assert ts[0].account == "root" and ts[0].seconds == 62.4 and not ts[0].live
    assert ts[0].commands == ["ip r"] and ts[0].as_dict()["end"] == "déconnexion"
    assert ts[0].as_dict("en")["end"] == "logged out"
    assert ts[1].live and ts[1].path is not None and ts[1].commands == []
    assert ts[2].path is None and ts[2].commands == []


def test_recording_path_stays_in_the_pods_directory(tmp_path):
    log = EvidenceLog(tmp_path, 1)
    write_cast(log, "ok.cast", [[0.1, "o", "x"]])
    other = EvidenceLog(tmp_path, 2)
    write_cast(other, "theirs.cast", [[0.1, "o", "x"]])
    assert recording_path(log, "ok.cast") == recordings_dir(log) / "ok.cast"
    for bad in ("../pod-2/theirs.cast", "/etc/passwd", "theirs.cast", "ok.cast/..", None, 3, ".cast", "ok.txt"):
        assert recording_path(log, bad) is None
    (recordings_dir(log) / "link.cast").symlink_to(recordings_dir(other) / "theirs.cast")
    assert recording_path(log, "link.cast") is None


# ---------------------------------------------------------------------------------- the report
def _report_lab(tmp_path):
    from types import SimpleNamespace
    return SimpleNamespace(name="std", plan=SimpleNamespace(title="Plateau", intervention_dir=None),
                           evidence=lambda pod=None: EvidenceLog(tmp_path, 1))


def test_the_report_lists_the_candidates_terminal_sessions(tmp_path):
    from tai_lab.jury import report
    lab = _report_lab(tmp_path)
    log = lab.evidence(1)
    log.record("candidate", name="Camille Dupont")
    write_cast(log, "20261130-090000-srv-aaaaaa.cast",
               [[0.5, "o", LOGIN + COLOUR_PROMPT.replace("pc1", "srv") + "systemctl restart named\r\n"],
                [0.8, "i", "hunter2\r"], [1.0, "o", "root@srv:~# cat <<EOF > /tmp/a\r\n"]])
    log.record("station", event="session-start", node="srv", recording="20261130-090000-srv-aaaaaa.cast")
    log.record("station", event="session-end", node="srv", account="root", seconds=125.2, reason="logout",
               recording="20261130-090000-srv-aaaaaa.cast")
    html = report.render_html(lab, 1)
    section = html.split("Sessions de travail du candidat")[1]
    assert "srv" in section and "root" in section and "2 min 05 s" in section and "déconnexion" in section
    assert "systemctl restart named" in section and "cat &lt;&lt;EOF &gt; /tmp/a" in section   # escaped
    assert "hunter2" not in html and ".cast" not in html           # no input, no file name
    en = report.render_html(lab, 1, lang="en")
    assert "The candidate&#39;s working sessions" in en and "Commands typed" in en and "logged out" in en


def test_the_report_says_when_there_is_no_terminal_session(tmp_path):
    from tai_lab.jury import report
    lab = _report_lab(tmp_path)
    lab.evidence(1).record("candidate", name="Camille Dupont")
    html = report.render_html(lab, 1)
    assert "Sessions de travail du candidat" in html and "Aucune session de terminal" in html
