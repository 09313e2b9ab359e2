"""The jury watches the candidate's machines: the desktops and the terminals, live.

``/pod/N/watch``: each desktop machine of the pod (``stations.desktops``), **view-only**:
live in noVNC when the candidates' portal runs (a one-time token from this console opens a
view-only WebSocket of the portal: :mod:`tai_lab.stations.jury_view`), else a picture a
second (a PNG the console takes from the machine's own VNC server, from inside the machine's
network namespace: :mod:`tai_lab.stations.screen`). « Prendre le clavier » lets the jury
member who plays the user type text and keys, and click on the screen. Below, the candidate's
terminals: each open one grows on the page as the candidate types (read-only xterm.js fed
by polling the recording from the last byte read), each with its replay.

The console is a WSGI application (no WebSocket): frames, keys and the terminals' bytes are
plain requests behind the jury's login, the keys and clicks POSTs with the CSRF token and a
same-origin check (the console's guard); the GETs of this page's API are refused from
another origin too. Every keyboard or mouse use by the jury goes to the pod's evidence log
(what was typed is not kept: the number of characters and keys is).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, jsonify, render_template, request, send_from_directory, session

from ..errors import TaiLabError
from ..evidence import EvidenceLog
from ..stations import jury_view, screen
from ..stations.desktop import open_desktop

NOVNC = Path(__file__).parent.parent / "stations" / "static" / "vendor" / "novnc"

WORDS = {
    "fr": {"watch": "Postes du candidat en direct", "view_only": "Affichage seul",
           "take": "Prendre le clavier", "give": "Rendre le clavier", "send": "Taper",
           "type_here": "Texte à taper sur le poste", "enter": "Entrée", "backspace": "Effacer",
           "no_desktop": "Aucun poste de ce pod n'a de bureau.", "unreachable": "écran indisponible",
           "click_help": "Avec le clavier pris, un clic sur l'image clique sur le poste.",
           "terminals_live": "Terminaux du candidat", "back": "Retour au pod",
           "live_view": "en direct", "picture_view": "une image par seconde (portail des candidats arrêté)",
           "live_terminal": "Terminaux ouverts", "terminal_ended": "Session terminée",
           "no_live_terminal": "Aucun terminal ouvert en ce moment."},
    "en": {"watch": "The candidate's machines, live", "view_only": "View only",
           "take": "Take the keyboard", "give": "Give the keyboard back", "send": "Type",
           "type_here": "Text to type on the machine", "enter": "Enter", "backspace": "Backspace",
           "no_desktop": "No machine of this pod has a desktop.", "unreachable": "screen unavailable",
           "click_help": "With the keyboard taken, a click on the picture clicks on the machine.",
           "terminals_live": "The candidate's terminals", "back": "Back to the pod",
           "live_view": "live", "picture_view": "a picture a second (the candidates' portal is not running)",
           "live_terminal": "Open terminals", "terminal_ended": "Session ended",
           "no_live_terminal": "No terminal open right now."},
}


def register(app: Flask, service: Any) -> None:
    """Add the watch pages to the jury's console (``service``: its JuryService)."""

    def words() -> dict[str, str]:
        return WORDS.get(session.get("lang", "fr"), WORDS["fr"])

    def desktops(pod: int) -> tuple[tuple[str, ...], str]:
        if pod not in service.pods:
            abort(404)
        st = service.lab.plan.pod(pod).stations
        return (st.desktops, st.desktop_user) if st else ((), "")

    def connect(pod: int, node: str):
        names, user = desktops(pod)
        if node not in names:
            abort(404)
        try:
            return open_desktop(service.lab, pod, node, user)
        except (TaiLabError, OSError) as exc:
            abort(Response(f"{words()['unreachable']} : {getattr(exc, 'message', exc)}", 503,
                           content_type="text/plain; charset=utf-8"))

    @app.context_processor
    def _watch_words() -> dict[str, Any]:
        return {"watch_words": words()}

    def lang() -> str:
        return session.get("lang", "fr")

    def refuse_other_origin(pod: int) -> None:
        """A GET of the watch API from a page of another origin (even one sharing the cookies of
        this site) is refused: ``Origin`` must be this console, and the browser's
        ``Sec-Fetch-Site``, when it sends one, must say so."""
        origin = request.headers.get("Origin")
        site = request.headers.get("Sec-Fetch-Site")
        own = request.host_url.rstrip("/")
        if (origin is not None and origin != own) or (site is not None and site != "same-origin"):
            EvidenceLog(service.lab.state.dir, pod).record(
                "station", actor="web:" + (session.get("actor") or "jury"), event="refused",
                reason="cross-site", origin=origin, site=site, path=request.path)
            abort(Response("origine refusée / origin refused", 403, content_type="text/plain; charset=utf-8"))

    def terminal_list(pod: int, files: bool = True) -> list[dict]:
        return sorted((t.as_dict(lang()) for t in service.terminals(pod, files=files)),
                      key=lambda t: (not t["live"], -(t["started"] or 0)))

    def portal_ws(pod: int) -> str | None:
        """The portal's WebSocket origin for this browser (None: no portal running)."""
        address = jury_view.portal_address(service.lab.state.dir)
        if address is None:
            return None
        u = urlsplit(address)
        host = u.hostname or ""
        if host in ("0.0.0.0", "::"):                 # listening everywhere: the name this browser used
            host = urlsplit(request.host_url).hostname or host
        shown = f"[{host}]" if ":" in host else host
        return f"ws://{shown}:{u.port}"

    @app.get("/pod/<int:pod>/watch")
    def watch(pod: int):
        names, _user = desktops(pod)
        ws = portal_ws(pod) if names else None
        resp = Response(render_template("watch.html", pod=pod, nodes=names, w=words(),
                                        terminals=terminal_list(pod), live_desktop=ws is not None))
        # xterm.js and noVNC set styles; the live desktop's WebSocket is the portal's.
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{' ' + ws if ws else ''}; frame-ancestors 'none'")
        return resp

    @app.get("/vendor/novnc/<path:name>")
    def novnc(name: str):
        """noVNC's modules, from the portal's vendored copy (behind the jury's login)."""
        if not name.endswith(".js"):
            abort(404)
        resp = send_from_directory(NOVNC, name, max_age=3600, mimetype="text/javascript")
        resp.headers["Cache-Control"] = "private, max-age=3600"
        return resp

    @app.post("/api/pod/<int:pod>/watch/<node>/live")
    def watch_live(pod: int, node: str):
        """A one-time token for the portal's view-only WebSocket to ``node``'s desktop."""
        names, _user = desktops(pod)
        if node not in names:
            abort(404)
        ws = portal_ws(pod)
        if ws is None:
            return jsonify({"error": words()["picture_view"]}), 409
        token = jury_view.issue(service.lab.state.dir, pod, node, request.host_url.rstrip("/"),
                                "web:" + (session.get("actor") or "jury"))
        return jsonify({"url": f"{ws}/jury/vnc/{pod}/{node}?token={token}"})

    @app.get("/api/pod/<int:pod>/terminals")
    def watch_terminals(pod: int):
        if pod not in service.pods:
            abort(404)
        refuse_other_origin(pod)
        return jsonify({"terminals": terminal_list(pod, files=False)})      # polled: the log only

    @app.get("/api/pod/<int:pod>/terminal/<int:number>/live")
    def watch_terminal_live(pod: int, number: int):
        """The candidate's terminal ``number`` from byte ``from`` on (read-only: nothing is ever
        written to a terminal from here)."""
        if pod not in service.pods:
            abort(404)
        refuse_other_origin(pod)
        offset = request.args.get("from", default=0, type=int)
        try:
            return jsonify(service.live(pod, number, max(0, offset or 0), lang()))
        except (TaiLabError, OSError):
            abort(404)

    @app.get("/pod/<int:pod>/watch/<node>/screen.png")
    def watch_screen(pod: int, node: str):
        sock = connect(pod, node)
        try:
            sock.settimeout(10)
            w, h = screen.handshake(sock)
            image = screen.png(screen.frame(sock, w, h), w, h)
        except OSError as exc:
            return Response(f"{words()['unreachable']} : {exc}", 503, content_type="text/plain; charset=utf-8")
        finally:
            sock.close()
        return Response(image, content_type="image/png", headers={"X-Screen-Size": f"{w}x{h}"})

    def jury_input(pod: int, node: str, what: str, act) -> Response | tuple[Response, int]:
        sock = connect(pod, node)
        try:
            sock.settimeout(10)
            screen.handshake(sock)
            detail = act(sock)
        except OSError as exc:
            return jsonify({"error": f"{words()['unreachable']} : {exc}"}), 503
        finally:
            sock.close()
        EvidenceLog(service.lab.state.dir, pod).record(
            "station", actor="web:" + (session.get("actor") or "jury"), event="jury-" + what, node=node, **detail)
        return jsonify({"ok": True})

    @app.post("/api/pod/<int:pod>/watch/<node>/keys")
    def watch_keys(pod: int, node: str):
        data = request.get_json(silent=True) or request.form.to_dict()
        text = str(data.get("text", ""))[:500]
        keys = [k for k in (data.get("keys") or []) if k in screen.KEYS][:20] if isinstance(data, dict) else []

        def act(sock) -> dict:
            screen.send_text(sock, text, keys)
            return {"characters": len(text), "keys": keys}
        return jury_input(pod, node, "keyboard", act)

    @app.post("/api/pod/<int:pod>/watch/<node>/click")
    def watch_click(pod: int, node: str):
        data = request.get_json(silent=True) or {}
        try:
            x, y = int(data["x"]), int(data["y"])
        except (KeyError, TypeError, ValueError):
            return jsonify({"error": "x, y"}), 400

        def act(sock) -> dict:
            screen.click(sock, max(0, min(x, 65535)), max(0, min(y, 65535)))
            return {"x": x, "y": y}
        return jury_input(pod, node, "click", act)
