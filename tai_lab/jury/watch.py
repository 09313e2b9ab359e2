"""The jury watches the candidate's machines: the desktop live, the terminals' sessions.

``/pod/N/watch``: each desktop machine of the pod (``stations.desktops``), its screen
refreshed every second (a PNG the console takes from the machine's own VNC server, from
inside the machine's network namespace, like the candidates' portal: :mod:`tai_lab.stations.screen`),
view-only; « Prendre le clavier » lets the jury member who plays the user type text and
keys, and click on the picture. Below, the candidate's terminal sessions, live ones first,
each with its replay (which shows what has been recorded so far: reload to follow it).

The console is a WSGI application (no WebSocket): frames and keys are plain requests behind
the jury's login, the keys and clicks POSTs with the CSRF token and a same-origin check
(the console's guard). Every keyboard or mouse use by the jury goes to the pod's evidence
log (what was typed is not kept: the number of characters and keys is).
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request, session

from ..errors import TaiLabError
from ..evidence import EvidenceLog
from ..stations import screen
from ..stations.desktop import open_desktop

WORDS = {
    "fr": {"watch": "Postes du candidat en direct", "view_only": "Affichage seul",
           "take": "Prendre le clavier", "give": "Rendre le clavier", "send": "Taper",
           "type_here": "Texte à taper sur le poste", "enter": "Entrée", "backspace": "Effacer",
           "no_desktop": "Aucun poste de ce pod n'a de bureau.", "unreachable": "écran indisponible",
           "click_help": "Avec le clavier pris, un clic sur l'image clique sur le poste.",
           "terminals_live": "Terminaux du candidat", "back": "Retour au pod"},
    "en": {"watch": "The candidate's machines, live", "view_only": "View only",
           "take": "Take the keyboard", "give": "Give the keyboard back", "send": "Type",
           "type_here": "Text to type on the machine", "enter": "Enter", "backspace": "Backspace",
           "no_desktop": "No machine of this pod has a desktop.", "unreachable": "screen unavailable",
           "click_help": "With the keyboard taken, a click on the picture clicks on the machine.",
           "terminals_live": "The candidate's terminals", "back": "Back to the pod"},
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

    @app.get("/pod/<int:pod>/watch")
    def watch(pod: int):
        names, _user = desktops(pod)
        terminals = sorted((t.as_dict(session.get("lang", "fr")) for t in service.terminals(pod)),
                           key=lambda t: (not t["live"], -(t["started"] or 0)))
        return render_template("watch.html", pod=pod, nodes=names, w=words(), terminals=terminals)

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
