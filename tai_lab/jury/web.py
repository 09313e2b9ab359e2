"""``tai-lab serve``: the jury's web console (Flask, served by waitress).

Access: a secret made at start (printed once, as a login link) → a signed session
cookie (HttpOnly, SameSite=Strict). Every state-changing request is a POST carrying the
session's CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``) and, when the
browser sends one, an ``Origin`` (or ``Referer``) of this very server.
"""
from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (Flask, Response, abort, jsonify, redirect, render_template, request, send_from_directory, session,
                   url_for)

from .. import listen
from ..errors import TaiLabError
from .i18n import LANGS, translate
from .service import JuryService

HERE = Path(__file__).parent


def bind_check(host: str, allow_remote: bool) -> str | None:
    """Refuse a non-loopback address without the flag; with it, the warning to print."""
    return listen.bind_check(
        host, allow_remote,
        refusal="refus d'écouter sur {host} : la console n'est ouverte qu'en local par défaut",
        hint="ajoutez --allow-remote si des jurés se connectent d'autres postes (réseau du jury "
             "seulement, jamais celui des candidats)",
        warning="ATTENTION : la console écoute sur {host}:{{port}}, hors de cette machine. Le lien de connexion "
                "donne accès au plateau : ne le montrez à aucun candidat, n'ouvrez pas ce port sur leur réseau.")


def create_app(service: JuryService, access_key: str) -> Flask:
    app = Flask("tai_lab.jury", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.config.update(SECRET_KEY=secrets.token_bytes(32), SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_NAME="tai_jury",
                      JSON_AS_ASCII=False, TEMPLATES_AUTO_RELOAD=False)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["tai_service"] = service

    def lang() -> str:
        return session.get("lang", "fr")

    def actor() -> str:
        return "web:" + (session.get("actor") or "jury")

    @app.context_processor
    def _ctx() -> dict[str, Any]:
        return {"_": lambda k: translate(k, lang()), "lang": lang(), "lab": service.name,
                "title": getattr(service.lab.plan, "title", service.name),
                "csrf": session.get("csrf", ""), "actor": session.get("actor") or "jury",
                "fmt_time": lambda t: time.strftime("%H:%M:%S", time.localtime(t)) if t else "—",
                "fmt_duration": lambda s: f"{round(s) // 60} min {round(s) % 60:02d} s" if s is not None else "—"}

    # ------------------------------------------------------------------ access
    @app.before_request
    def _guard():
        if request.endpoint in ("login", "static"):
            return None
        if not session.get("auth"):
            if request.path.startswith("/api/") or request.method != "GET":
                return jsonify({"error": "authentification requise"}), 401
            return render_template("login.html", error=None), 401
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            token = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
            if not hmac.compare_digest(token, session.get("csrf", "")):
                return jsonify({"error": "jeton CSRF absent ou invalide"}), 403
            origin = request.headers.get("Origin") or request.headers.get("Referer")
            if origin and origin != "null":
                o = urlsplit(origin)
                if f"{o.scheme}://{o.netloc}" != request.host_url.rstrip("/"):
                    return jsonify({"error": f"origine refusée : {o.scheme}://{o.netloc}"}), 403
            elif origin == "null":
                return jsonify({"error": "origine refusée : null"}), 403
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.get("/login")
    def login():
        key = request.args.get("key", "")
        if not key or not hmac.compare_digest(key, access_key):
            return render_template("login.html", error=translate("bad_key", lang())), 403
        keep_lang = session.get("lang", "fr")
        session.clear()
        session.update(auth=True, csrf=secrets.token_urlsafe(24), lang=keep_lang)
        return redirect(url_for("overview"))

    def api(fn: Callable) -> Callable:
        """JSON in, JSON out; a TaiLabError becomes a 400 with the message and the hint."""
        @wraps(fn)
        def wrapper(*a, **kw):
            try:
                out = fn(*a, **kw)
            except TaiLabError as exc:
                return jsonify({"error": exc.message, "hint": exc.hint}), 400
            return out if isinstance(out, tuple | Response) else jsonify(out)
        return wrapper

    def body() -> dict:
        data = request.get_json(silent=True)
        if data is None:
            data = request.form.to_dict()
        if not isinstance(data, dict):
            raise TaiLabError("corps de requête invalide", "un objet JSON")
        return data

    def pod_ok(pod: int) -> int:
        if pod not in service.pods:
            abort(404)
        return pod

    # ------------------------------------------------------------------ pages
    @app.get("/")
    def overview():
        return render_template("overview.html", rows=service.overview())

    @app.get("/pod/<int:pod>")
    def pod_page(pod: int):
        pod_ok(pod)
        return render_template("session.html", pod=pod, interventions=service.interventions(pod, lang()),
                               minutes=service.jury_minutes(), session_=service.session(pod),
                               terminals=[t.as_dict(lang()) for t in service.terminals(pod)])

    def session_arg() -> int | None:
        return request.args.get("session", type=int)

    @app.get("/pod/<int:pod>/terminal/<int:number>")
    def replay(pod: int, number: int):
        """A terminal session of the candidate, replayed in the browser (xterm.js)."""
        pod_ok(pod)
        try:
            ts = service.terminals(pod, session_arg())[number - 1] if number >= 1 else None
        except (IndexError, TaiLabError):
            ts = None
        if ts is None or ts.path is None:
            abort(404)
        resp = Response(render_template("replay.html", pod=pod, number=number, ts=ts.as_dict(lang()),
                                        session_number=session_arg()))
        # xterm.js inserts <style> elements for its renderer: inline styles on this page only
        resp.headers["Content-Security-Policy"] = ("default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                   "script-src 'self'; frame-ancestors 'none'")
        return resp

    @app.get("/api/pod/<int:pod>/terminal/<int:number>/cast")
    @api
    def api_cast(pod: int, number: int):
        """The recording's output, resizes and end marker (never input: none is recorded)."""
        try:
            ts, header, events = service.recording(pod_ok(pod), number, session_arg())
        except TaiLabError:
            abort(404)
        return {"width": header.get("width", 80), "height": header.get("height", 24),
                "node": ts.node, "started": ts.started, "live": ts.live, "events": events}

    # xterm.js is vendored once, with the candidates' portal; the console serves those files
    # (behind its login like every page) instead of a copy.
    VENDOR = HERE.parent / "stations" / "static" / "vendor"

    @app.get("/vendor/<name>")
    def vendor(name: str):
        if name not in ("xterm.js", "xterm.css"):
            abort(404)
        resp = send_from_directory(VENDOR, name, max_age=3600)
        resp.headers["Cache-Control"] = "private, max-age=3600"
        return resp

    @app.get("/pod/<int:pod>/history")
    def history(pod: int):
        pod_ok(pod)
        sessions = service.lab.evidence(pod).sessions()
        return render_template("history.html", pod=pod,
                               sessions=list(reversed(list(enumerate(sessions, 1)))))

    @app.get("/pod/<int:pod>/report")
    def report(pod: int):
        pod_ok(pod)
        from .. import report as rep
        fmt = request.args.get("format", "html")
        number = request.args.get("session", type=int)
        try:
            html = rep.render_html(service.lab, pod, number)
        except TaiLabError:
            abort(404)
        if fmt == "pdf":
            name = rep.filename(service.lab, pod, number)
            return Response(rep.html_to_pdf(html), mimetype="application/pdf",
                            headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
        return Response(html, mimetype="text/html")

    @app.get("/lang/<code>")
    def set_lang(code: str):
        if code in LANGS:
            session["lang"] = code
        back = request.referrer
        if back and urlsplit(back).netloc == request.host:
            return redirect(back)
        return redirect(url_for("overview"))

    # ------------------------------------------------------------------ API
    @app.get("/api/overview")
    @api
    def api_overview():
        return {"lab": service.name, "pods": service.overview()}

    @app.get("/api/pod/<int:pod>/state")
    @api
    def api_state(pod: int):
        return service.state(pod_ok(pod))

    @app.get("/api/pod/<int:pod>/interventions")
    @api
    def api_interventions(pod: int):
        return service.interventions(pod_ok(pod), lang())

    @app.post("/api/actor")
    @api
    def api_actor():
        name = " ".join(str(body().get("name", "")).split())[:60]
        if not name:
            raise TaiLabError("nom du juré vide")
        session["actor"] = name
        return {"actor": name}

    @app.post("/api/pod/<int:pod>/candidate")
    @api
    def api_candidate(pod: int):
        service.set_candidate(pod_ok(pod), str(body().get("name", "")), actor())
        return {"ok": True}

    @app.post("/api/pod/<int:pod>/timer")
    @api
    def api_timer(pod: int):
        service.timer(pod_ok(pod), str(body().get("action", "")), actor())
        return {"ok": True}

    @app.post("/api/pod/<int:pod>/inject")
    @api
    def api_inject(pod: int):
        b = body()
        job = service.inject(pod_ok(pod), str(b.get("id", "")), b.get("variant") or None, actor())
        return jsonify(job.as_dict()), 202

    @app.post("/api/pod/<int:pod>/restore")
    @api
    def api_restore(pod: int):
        job = service.restore(pod_ok(pod), body().get("id") or None, actor())
        return jsonify(job.as_dict()), 202

    @app.post("/api/pod/<int:pod>/verify")
    @api
    def api_verify(pod: int):
        return jsonify(service.verify(pod_ok(pod), actor()).as_dict()), 202

    @app.post("/api/pod/<int:pod>/note")
    @api
    def api_note(pod: int):
        b = body()
        service.note(pod_ok(pod), str(b.get("id", "")), str(b.get("text", "")), actor())
        return {"ok": True}

    @app.post("/api/pod/<int:pod>/criterion")
    @api
    def api_criterion(pod: int):
        b = body()
        try:
            index = int(b.get("index"))
        except (TypeError, ValueError):
            raise TaiLabError("index de critère invalide") from None
        service.criterion(pod_ok(pod), str(b.get("id", "")), str(b.get("competency", "")), index,
                          bool(b.get("checked")), actor())
        return {"ok": True}

    @app.get("/api/jobs/<int:jid>")
    @api
    def api_job(jid: int):
        job = service.job(jid)
        if job is None:
            abort(404)
        return job.as_dict()

    from .watch import register as register_watch      # the candidate's machines, live
    register_watch(app, service)
    return app


def serve(lab_name: str | None, host: str, port: int, *, allow_remote: bool = False,
          echo: Callable[[str], None] = print, threads: int = 8) -> None:
    """Run the console until Ctrl-C (waitress: a threaded production WSGI server)."""
    from waitress import create_server

    from ..lab import Lab
    warning = bind_check(host, allow_remote)
    service = JuryService(lambda: Lab(lab_name))
    key = secrets.token_urlsafe(24)
    app = create_app(service, key)
    server = create_server(app, host=host, port=port, threads=threads, ident="tai-lab")
    real_port = server.effective_port  # type: ignore[attr-defined]
    shown = f"[{host}]" if ":" in host else host
    if warning:
        echo(warning.format(port=real_port))
    echo(f"Console du jury, lab {service.name} — lien de connexion (affiché une seule fois) :")
    echo(f"  http://{shown}:{real_port}/login?key={key}")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
        server.close()
