"""The console's JSON API: what the pages poll and the actions they post (CSRF-checked by the app)."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request, session

from ..errors import TaiLabError
from .web_common import actor, api, body, lang, pod_ok, service

apis = Blueprint("api", __name__, url_prefix="/api")


@apis.get("/overview")
@api
def overview():
    return {"lab": service().name, "pods": service().overview(lang())}


@apis.get("/pod/<int:pod>/state")
@api
def state(pod: int):
    return service().state(pod_ok(pod), lang())


@apis.get("/pod/<int:pod>/interventions")
@api
def interventions(pod: int):
    return service().interventions(pod_ok(pod), lang())


@apis.get("/pod/<int:pod>/terminal/<int:number>/cast")
@api
def cast(pod: int, number: int):
    """The recording's output, resizes and end marker (never input: none is recorded)."""
    try:
        ts, header, events = service().recording(pod_ok(pod), number, request.args.get("session", type=int))
    except TaiLabError:
        abort(404)
    return {"width": header.get("width", 80), "height": header.get("height", 24),
            "node": ts.node, "started": ts.started, "live": ts.live, "events": events}


@apis.post("/actor")
@api
def set_actor():
    name = " ".join(str(body().get("name", "")).split())[:60]
    if not name:
        raise TaiLabError("nom du juré vide")
    session["actor"] = name
    return {"actor": name}


@apis.post("/pod/<int:pod>/candidate")
@api
def candidate(pod: int):
    service().set_candidate(pod_ok(pod), str(body().get("name", "")), actor())
    return {"ok": True}


@apis.post("/pod/<int:pod>/timer")
@api
def timer(pod: int):
    service().timer(pod_ok(pod), str(body().get("action", "")), actor())
    return {"ok": True}


@apis.post("/pod/<int:pod>/inject")
@api
def inject(pod: int):
    b = body()
    job = service().inject(pod_ok(pod), str(b.get("id", "")), b.get("variant") or None, actor())
    return jsonify(job.as_dict(lang())), 202


@apis.post("/pod/<int:pod>/restore")
@api
def restore(pod: int):
    job = service().restore(pod_ok(pod), body().get("id") or None, actor())
    return jsonify(job.as_dict(lang())), 202


@apis.post("/pod/<int:pod>/reboot-check")
@api
def reboot_check(pod: int):
    """« Survit au redémarrage ? »: restart the machines the repair touched, check again."""
    job = service().reboot_check(pod_ok(pod), str(body().get("id", "")), actor())
    return jsonify(job.as_dict(lang())), 202


@apis.post("/pod/<int:pod>/verify")
@api
def verify(pod: int):
    return jsonify(service().verify(pod_ok(pod), actor()).as_dict(lang())), 202


@apis.get("/pod/<int:pod>/reset")
@api
def reset_question(pod: int):
    """What the reset button asks first ({"question": null}: no candidate's session is open)."""
    ask = service().reset_question(pod_ok(pod), lang())
    return {"question": ask["question"] if ask else None, "confirm": ask}


@apis.post("/pod/<int:pod>/reset")
@api
def reset(pod: int):
    """Put the pod back to its baseline. With a candidate's session open, 409 and what the jury
    must confirm (the page asks, then posts again with ``confirm: true``)."""
    svc = service()
    confirm = body().get("confirm") is True
    ask = svc.reset_question(pod_ok(pod), lang())
    if ask and not confirm:
        return jsonify({"error": ask["question"], "confirm": ask}), 409
    return jsonify(svc.reset(pod, actor(), confirmed=bool(ask)).as_dict(lang())), 202


@apis.post("/pod/<int:pod>/note")
@api
def note(pod: int):
    b = body()
    service().note(pod_ok(pod), str(b.get("id", "")), str(b.get("text", "")), actor())
    return {"ok": True}


@apis.post("/pod/<int:pod>/criterion")
@api
def criterion(pod: int):
    b = body()
    try:
        index = int(b.get("index"))  # type: ignore[arg-type]  # None → TypeError, answered below
    except (TypeError, ValueError):
        raise TaiLabError("index de critère invalide") from None
    service().criterion(pod_ok(pod), str(b.get("id", "")), str(b.get("competency", "")), index,
                        bool(b.get("checked")), actor())
    return {"ok": True}


@apis.get("/jobs/<int:jid>")
@api
def job(jid: int):
    j = service().job(jid)
    if j is None:
        abort(404)
    return j.as_dict(lang())
