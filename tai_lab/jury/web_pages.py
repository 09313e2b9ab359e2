"""The console's pages (HTML): overview, a pod's session, history, report, terminal replays."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, redirect, render_template, request, send_from_directory, session, url_for

from ..errors import TaiLabError
from . import report as rep
from .i18n import LANGS
from .web_common import lang, pod_ok, service

HERE = Path(__file__).parent
# xterm.js is vendored once, with the candidates' portal; the console serves those files
# (behind its login like every page) instead of a copy.
VENDOR = HERE.parent / "stations" / "static" / "vendor"

pages = Blueprint("pages", __name__)


@pages.get("/")
def overview():
    return render_template("overview.html", rows=service().overview(lang()), minutes=service().jury_minutes())


@pages.get("/pod/<int:pod>")
def pod_page(pod: int):
    svc = service()
    pod_ok(pod)
    return render_template("session.html", pod=pod, interventions=svc.interventions(pod, lang()),
                           minutes=svc.jury_minutes(), session_=svc.session(pod),
                           competencies=svc.competency_names(lang()),
                           terminals=[t.as_dict(lang()) for t in svc.terminals(pod)])


def session_arg() -> int | None:
    return request.args.get("session", type=int)


@pages.get("/pod/<int:pod>/terminal/<int:number>")
def replay(pod: int, number: int):
    """A terminal session of the candidate, replayed in the browser (xterm.js)."""
    pod_ok(pod)
    try:
        ts = service().terminals(pod, session_arg())[number - 1] if number >= 1 else None
    except (IndexError, TaiLabError):
        ts = None
    if ts is None or ts.path is None:
        abort(404)
    resp = Response(render_template("replay.html", pod=pod, number=number, ts=ts.as_dict(lang()),
                                    session_number=session_arg(), minutes=service().jury_minutes(),
                                    session_=service().session(pod)))
    # xterm.js inserts <style> elements for its renderer: inline styles on this page only
    resp.headers["Content-Security-Policy"] = ("default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                               "script-src 'self'; frame-ancestors 'none'")
    return resp


@pages.get("/vendor/<name>")
def vendor(name: str):
    if name not in ("xterm.js", "xterm.css"):
        abort(404)
    resp = send_from_directory(VENDOR, name, max_age=3600)
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp


@pages.get("/pod/<int:pod>/history")
def history(pod: int):
    pod_ok(pod)
    svc = service()
    sessions = svc.lab.evidence(pod).sessions()
    return render_template("history.html", pod=pod, names=svc.names(lang()), minutes=svc.jury_minutes(),
                           session_=svc.session(pod),
                           sessions=list(reversed(list(enumerate(sessions, 1)))))


@pages.get("/pod/<int:pod>/report")
def report(pod: int):
    pod_ok(pod)
    lab = service().lab
    fmt = request.args.get("format", "html")
    number = request.args.get("session", type=int)
    full = request.args.get("full") == "1"
    try:
        html = rep.render_html(lab, pod, number, full_grid=full, lang=lang())
    except TaiLabError:
        abort(404)
    if fmt == "pdf":
        name = rep.filename(lab, pod, number)
        return Response(rep.html_to_pdf(html), mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
    return Response(html, mimetype="text/html")


@pages.get("/lang/<code>")
def set_lang(code: str):
    if code in LANGS:
        session["lang"] = code
    back = request.referrer
    if back and urlsplit(back).netloc == request.host:
        return redirect(back)
    return redirect(url_for("pages.overview"))
