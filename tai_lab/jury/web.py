"""``tai-lab serve``: the jury's web console (Flask, served by waitress).

Access: a secret kept in the lab's directory (:mod:`tai_lab.jury.access`; the login link,
printed at start and again by ``serve --show-link``) → a signed session cookie (HttpOnly,
SameSite=Strict; its signing key is kept too, so a restart signs nobody out). Every
state-changing request is a POST carrying the session's CSRF token (header ``X-CSRF-Token``
or form field ``csrf_token``) and, when the browser sends one, an ``Origin`` (or ``Referer``)
of this very server.

The app is this module (access, guard, headers) and one blueprint per area:
:mod:`~tai_lab.jury.web_pages` (HTML) and :mod:`~tai_lab.jury.web_api` (JSON).
A new area (the candidate's desktop seen by the jury…) is a blueprint registered here.
"""
from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, jsonify, redirect, render_template, request, session, url_for

from .. import listen
from ..lang import current as current_lang
from ..lang import tr
from . import access as jury_access
from .i18n import translate
from .service import JuryService
from .web_api import apis
from .web_common import lang
from .web_pages import pages

HERE = Path(__file__).parent


def bind_check(host: str, allow_remote: bool) -> str | None:
    """Refuse a non-loopback address without the flag; with it, the warning to print."""
    return listen.bind_check(
        host, allow_remote,
        refusal=tr("refus d'écouter sur {host} : la console n'est ouverte qu'en local par défaut",
                   "refusing to listen on {host}: the console is open locally only by default"),
        hint=tr("ajoutez --allow-remote si des jurés se connectent d'autres postes (réseau du jury "
                "seulement, jamais celui des candidats)",
                "add --allow-remote if jury members connect from other machines (the jury's network "
                "only, never the candidates')"),
        warning=tr("ATTENTION : la console écoute sur {host}:{{port}}, hors de cette machine. Le lien de connexion "
                   "donne accès au plateau : ne le montrez à aucun candidat, n'ouvrez pas ce port sur leur réseau.",
                   "WARNING: the console listens on {host}:{{port}}, beyond this machine. The login link gives "
                   "access to the plateau: show it to no candidate, do not open this port on their network."))


def mmss(seconds: float | None) -> str:
    """Durations the jury reads, rounded one way everywhere (the console's JS does the same)."""
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


access_bp = Blueprint("access", __name__)


@access_bp.get("/login")
def login():
    from flask import current_app
    key = request.args.get("key", "")
    if not key or not hmac.compare_digest(key, current_app.config["TAI_ACCESS_KEY"]):
        return render_template("login.html", error=translate("bad_key", lang())), 403
    keep_lang = lang()
    session.clear()
    session.update(auth=True, csrf=secrets.token_urlsafe(24), lang=keep_lang)
    return redirect(url_for("pages.overview"))


def create_app(service: JuryService, access_key: str, cookie_secret: bytes | None = None,
               extra: tuple[Blueprint, ...] = ()) -> Flask:
    """``extra``: more blueprints (behind the same login and cross-site checks)."""
    app = Flask("tai_lab.jury", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.config.update(SECRET_KEY=cookie_secret or secrets.token_bytes(32), SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_NAME="tai_jury",
                      JSON_AS_ASCII=False, TEMPLATES_AUTO_RELOAD=False, TAI_ACCESS_KEY=access_key,
                      # a jury member's language until they pick one: the trainer's (serve --lang en)
                      TAI_DEFAULT_LANG=current_lang())
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["tai_service"] = service

    @app.context_processor
    def _ctx() -> dict[str, Any]:
        return {"_": lambda k: translate(k, lang()), "lang": lang(), "lab": service.name,
                "title": getattr(service.lab.plan, "title", service.name),
                "csrf": session.get("csrf", ""), "actor": session.get("actor") or "jury",
                "fmt_time": lambda t: time.strftime("%H:%M:%S", time.localtime(t)) if t else "—",
                "fmt_duration": lambda s: f"{round(s) // 60} min {round(s) % 60:02d} s" if s is not None else "—",
                "mmss": mmss}

    @app.before_request
    def _guard():
        if request.endpoint in ("access.login", "static"):
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

    for bp in (access_bp, pages, apis, *extra):
        app.register_blueprint(bp)
    from .watch import register as register_watch      # the candidate's machines, live
    register_watch(app, service)
    return app


def show_link(lab_name: str | None) -> str | None:
    """The login link of the lab's console, as the last `serve` printed it (None: never served)."""
    from ..lab import Lab
    lab = Lab(lab_name)
    return jury_access.load(lab.state.dir).link()


def serve(lab_name: str | None, host: str, port: int, *, allow_remote: bool = False, new_key: bool = False,
          echo: Callable[[str], None] = print, threads: int = 8) -> None:
    """Run the console until Ctrl-C (waitress: a threaded production WSGI server)."""
    from waitress import create_server

    from ..lab import Lab
    warning = bind_check(host, allow_remote)
    service = JuryService(lambda: Lab(lab_name))
    acc = jury_access.load(service.lab.state.dir, renew=new_key)
    app = create_app(service, acc.key, acc.cookie_secret)
    server = create_server(app, host=host, port=port, threads=threads, ident="tai-lab")
    real_port = server.effective_port  # type: ignore[attr-defined]
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{real_port}"
    jury_access.remember_address(service.lab.state.dir, address)
    if warning:
        echo(warning.format(port=real_port))
    echo(tr(f"Console du jury, lab {service.name} — lien de connexion (à nouveau : tai-lab serve --show-link) :",
            f"Jury console, lab {service.name} — login link (again: tai-lab serve --show-link):"))
    echo(f"  {acc.link(address)}")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
        server.close()
