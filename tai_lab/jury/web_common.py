"""What the console's blueprints share: the service, the language, who acts, JSON answers."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Response, abort, current_app, jsonify, request, session

from ..errors import TaiLabError
from ..lang import in_lang
from .service import JuryService


def service() -> JuryService:
    return current_app.extensions["tai_service"]


def lang() -> str:
    """The jury member's language: theirs once picked, else the one the console was started in."""
    return session.get("lang") or current_app.config.get("TAI_DEFAULT_LANG", "fr")


def actor() -> str:
    return "web:" + (session.get("actor") or "jury")


def api(fn: Callable) -> Callable:
    """JSON in, JSON out; a TaiLabError becomes a 400 with the message and the hint."""
    @wraps(fn)
    def wrapper(*a, **kw):
        try:
            out = fn(*a, **kw)
        except TaiLabError as exc:
            return jsonify({"error": in_lang(exc.message, lang()), "hint": in_lang(exc.hint, lang())}), 400
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
    if pod not in service().pods:
        abort(404)
    return pod
