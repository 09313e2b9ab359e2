#!/usr/bin/env python3
"""tai-lab's door to a pod's service desk (Request Tracker 5), run inside the desk node.

tai-lab feeds this file to ``python3 -`` through the node's out-of-band transport (the
playbooks copy it with ``script``): every call goes to RT's REST 2 API on the node's own
loopback with tai-lab's service account, whose secret never leaves the node. Usage:

    python3 - OPERATION 'JSON'

Operations: ``inventory`` (create or update assets), ``asset-set`` (change one asset: an
intervention), ``open-ticket`` (a user's mail through RT's mail gateway: the ticket's creator
is the user), ``ticket-set``, ``ticket`` (state, links and history), ``check-asset`` and
``check-ticket`` (a verdict for the jury: ``DESK-OK`` or ``DESK-KO`` with the reasons, French).
Answers are JSON on stdout (the checks: lines of text); errors exit non-zero.
"""
import base64
import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from email.header import Header
from email.utils import formataddr

BASE = "http://127.0.0.1/REST/2.0"
SECRET = "/etc/request-tracker5/tai-lab-service.secret"
CATALOG = "General assets"
GONE = ("recycled", "stolen", "deleted")     # RT's inactive asset states: out of the inventory
STATES = {"new": "nouveau", "open": "ouvert", "stalled": "en attente", "resolved": "résolu",
          "rejected": "rejeté", "deleted": "supprimé"}


def _auth() -> str:
    with open(SECRET) as f:
        password = f.read().strip()
    return "Basic " + base64.b64encode(f"tai-lab:{password}".encode()).decode()


AUTH = ""                    # read at the first call (the checks' logic imports without a desk)


class DeskError(Exception):
    pass


def call(method: str, path: str, body=None, query: dict | None = None):
    global AUTH
    AUTH = AUTH or _auth()
    if "/REST/2.0" in path:                       # a hyperlink RT made with its public URL
        path = path.split("/REST/2.0", 1)[1]
    url = BASE + path + (("?" + urllib.parse.urlencode(query)) if query else "")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": AUTH, "Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raise DeskError(f"{method} {path}: HTTP {e.code} {e.read().decode(errors='replace')[:300]}") from None
    return json.loads(raw) if raw.strip() else {}


def _name(value) -> str:
    """A user, queue… as REST 2 gives it ({"id": "alice", …}) → its name."""
    if isinstance(value, dict):
        return str(value.get("id", ""))
    return "" if value is None else str(value)


# ------------------------------------------------------------------ assets
def assets() -> list[dict]:
    """Every asset with its fields, custom fields and roles (a pod has a handful)."""
    found = call("POST", "/assets", [{"field": "id", "operator": ">", "value": "0"}],
                 query={"per_page": "100"})
    return [asset(int(item["id"])) for item in found.get("items", [])]


def asset(number: int) -> dict:
    a = call("GET", f"/asset/{number}")
    fields = {cf.get("name"): (cf.get("values") or [""])[0] for cf in a.get("CustomFields", [])}
    return {"id": int(a["id"]), "name": a.get("Name", ""), "status": a.get("Status", ""),
            "description": a.get("Description", ""), "fields": fields,
            "held_by": sorted(_name(u) for u in a.get("HeldBy", []) or []),
            "contact": sorted(_name(u) for u in a.get("Contact", []) or [])}


def live(name: str, every: list[dict] | None = None) -> list[dict]:
    """The assets of that name still in the inventory (the name as a technician types it)."""
    if every is None:
        found = call("POST", "/assets", [{"field": "Name", "operator": "LIKE", "value": name.strip()}],
                     query={"per_page": "100"})
        every = [asset(int(item["id"])) for item in found.get("items", [])]
    return [a for a in every if a["name"].strip().lower() == name.strip().lower() and a["status"] not in GONE]


def inventory(payload: dict) -> dict:
    """Create or update one asset per machine: [{name, description, fields, held_by}]."""
    every = assets()
    done = []
    for m in payload["assets"]:
        body = {"Name": m["name"], "Description": m.get("description", ""), "CustomFields": m.get("fields", {})}
        if m.get("held_by"):
            body["HeldBy"] = m["held_by"]
        same = live(m["name"], every)
        if same:
            call("PUT", f"/asset/{same[0]['id']}", body)
            done.append(same[0]["id"])
        else:
            made = call("POST", "/asset", {**body, "Catalog": CATALOG, "Status": "in-use"})
            done.append(int(made["id"]))
    return {"assets": done}


def set_status(number: int, status: str) -> None:
    """RT's asset lifecycle allows an inactive asset back only through "allocated"."""
    if asset(number)["status"] == status:
        return
    call("PUT", f"/asset/{number}", {"Status": status})
    if asset(number)["status"] != status:
        call("PUT", f"/asset/{number}", {"Status": "allocated"})
        call("PUT", f"/asset/{number}", {"Status": status})
    if asset(number)["status"] != status:
        raise DeskError(f"asset {number}: RT refused the state {status!r}")


SAVED = "/var/lib/request-tracker5/tai-lab-saved-{}.json"


def asset_set(payload: dict) -> dict:
    """Change the asset of a machine (an intervention): {name, status, rename, fields, held_by};
    ``save``: a name under which its state before is kept in the node (for ``asset-restore``)."""
    found = live(payload["name"])
    if not found:
        raise DeskError(f"no asset named {payload['name']!r} in the inventory")
    if payload.get("save"):
        with open(SAVED.format(payload["save"]), "w") as f:
            json.dump(found[0], f)
    body: dict = {}
    if payload.get("fields"):
        body["CustomFields"] = payload["fields"]
    if payload.get("held_by") is not None:
        body["HeldBy"] = payload["held_by"]
    if payload.get("rename"):
        body["Name"] = payload["rename"]
    if body:
        call("PUT", f"/asset/{found[0]['id']}", body)
    if payload.get("status"):
        set_status(found[0]["id"], payload["status"])
    return asset(found[0]["id"])


def asset_restore(payload: dict) -> dict:
    """Put back the asset an ``asset-set`` changed (its name, status, fields and user), whatever
    was done to it since; the assets made meanwhile stay (what the candidate did is theirs)."""
    path = SAVED.format(payload["save"])
    try:
        with open(path) as f:
            before = json.load(f)
    except FileNotFoundError:
        return {"restored": None}
    body = {"Name": before["name"], "CustomFields": before["fields"],
            "HeldBy": before["held_by"], "Description": before["description"]}
    call("PUT", f"/asset/{before['id']}", body)
    set_status(before["id"], before["status"])
    import os
    os.unlink(path)
    return {"restored": before["id"]}


# ------------------------------------------------------------------ tickets
def _last_ticket() -> int:
    found = call("GET", "/tickets", query={"query": "id > 0", "orderby": "id", "order": "DESC", "per_page": "1"})
    items = found.get("items", [])
    return int(items[0]["id"]) if items else 0


def open_ticket(payload: dict) -> dict:
    """The user writes to the desk: a mail from their address through RT's mail gateway, so the
    ticket's creator and requestor are the user (RT finds them by their address)."""
    before = _last_ticket()
    message = "\n".join([
        f"From: {formataddr((str(Header(payload['name'], 'utf-8')), payload['email']))}",
        f"To: {payload['to']}",
        f"Subject: {Header(payload['subject'], 'utf-8').encode()}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        base64.encodebytes(payload["body"].encode()).decode(),
    ])
    res = subprocess.run(["rt-mailgate-5", "--queue", payload.get("queue", "General"), "--action", "correspond",
                          "--url", "http://127.0.0.1/", "--timeout", "30"],
                         input=message.encode(), capture_output=True, timeout=60)
    if res.returncode != 0:
        raise DeskError("rt-mailgate-5: " + (res.stderr or res.stdout).decode(errors="replace")[-400:])
    query = f"id > {before} AND Requestor.EmailAddress = '{payload['email']}'"
    found = call("GET", "/tickets", query={"query": query, "orderby": "id", "order": "DESC", "per_page": "1"})
    items = found.get("items", [])
    if not items:
        raise DeskError("the mail gateway accepted the message but no ticket was found")
    number = int(items[0]["id"])
    ticket_set({"id": number, **{k: payload[k] for k in ("link", "status", "owner") if payload.get(k)}})
    return ticket(number)


def ticket_set(payload: dict) -> dict:
    """Links, owner and status of a ticket (as the desk's reception would set them)."""
    number = int(payload["id"])
    if payload.get("comment"):
        call("POST", f"/ticket/{number}/comment", {"Content": payload["comment"], "ContentType": "text/plain"})
    body: dict = {}
    if payload.get("link"):
        found = live(payload["link"])
        if found:
            body["RefersTo"] = f"asset:{found[0]['id']}"
    if payload.get("owner"):
        body["Owner"] = payload["owner"]
    if payload.get("status"):
        body["Status"] = payload["status"]
    if body:
        call("PUT", f"/ticket/{number}", body)
    return {"id": number}


def _links(t: dict) -> list[dict]:
    """The ticket's links: [{ref, type, id}] (an asset: type "asset")."""
    out = []
    for h in t.get("_hyperlinks", []):
        ref = h.get("ref", "")
        if ref in ("self", "history", "correspond", "comment", "lifecycle", "customfield", "attachment") \
                or not h.get("_url"):
            continue
        path = h["_url"].split("/REST/2.0", 1)[-1].strip("/").split("/")
        if len(path) == 2 and path[0] in ("asset", "ticket") and path[1].isdigit():
            out.append({"ref": ref, "type": path[0], "id": int(path[1])})
    return out


def ticket(number: int) -> dict:
    """A ticket as the jury reads it: state, people, linked assets and its history."""
    t = call("GET", f"/ticket/{number}")
    hist = call("GET", f"/ticket/{number}/history", query={
        "per_page": "100", "fields": "Type,Creator,Created,Description,Field,OldValue,NewValue"})
    history = [{"type": h.get("Type", ""), "creator": _name(h.get("Creator")), "created": h.get("Created", ""),
                "description": h.get("Description", ""), "field": h.get("Field", ""),
                "old": h.get("OldValue", ""), "new": h.get("NewValue", "")} for h in hist.get("items", [])]
    links = _links(t)
    for link in links:
        if link["type"] == "asset":
            try:
                link["name"] = call("GET", f"/asset/{link['id']}").get("Name", "")
            except DeskError:
                link["name"] = ""
    return {"id": int(t["id"]), "subject": t.get("Subject", ""), "status": t.get("Status", ""),
            "owner": _name(t.get("Owner")), "queue": _name(t.get("Queue")),
            "creator": _name(t.get("Creator")), "requestors": [_name(r) for r in t.get("Requestor", []) or []],
            "created": t.get("Created", ""), "resolved": t.get("Resolved", ""),
            "links": links, "history": history}


# ------------------------------------------------------------------ checks (the jury's verdicts)
def check_asset(payload: dict) -> tuple[bool, list[str]]:
    """An asset of that name in the inventory, with the machine's real MAC address, its serial
    number and its user — whoever created or corrected it, and however."""
    name = payload["name"]
    found = live(name)
    if not found:
        return False, [f"aucune fiche « {name} » dans le parc (hors fiches supprimées, recyclées ou volées)"]
    if len(found) > 1:
        return False, [f"{len(found)} fiches « {name} » dans le parc (n° {', '.join(str(a['id']) for a in found)}) :"
                       " un poste, une fiche"]
    best: list[str] = []
    for a in found:
        problems = []
        mac = a["fields"].get("Adresse MAC", "").strip().lower().replace("-", ":")
        if payload.get("mac") and mac != payload["mac"].lower():
            problems.append(f"fiche n°{a['id']} : adresse MAC « {mac or 'vide'} », le poste a {payload['mac']}")
        if payload.get("serial") and a["fields"].get("Numéro de série", "").strip() != payload["serial"]:
            problems.append(f"fiche n°{a['id']} : numéro de série « {a['fields'].get('Numéro de série') or 'vide'} »,"
                            f" l'étiquette porte {payload['serial']}")
        if payload.get("held_by") and payload["held_by"] not in a["held_by"]:
            problems.append(f"fiche n°{a['id']} : attribuée à « {', '.join(a['held_by']) or 'personne'} »,"
                            f" le poste est celui de {payload['held_by']}")
        if not problems:
            return True, [f"fiche n°{a['id']} « {a['name']} » : adresse MAC, numéro de série et utilisateur exacts"]
        best = best or problems
    return False, best


def check_ticket(payload: dict) -> tuple[bool, list[str]]:
    """The ticket as the procedure wants it: linked to the user's machine (and not to another),
    taken by someone, answered to the user, resolved — whichever way it was done."""
    t = ticket(int(payload["id"]))
    problems = []
    assets_linked = [x for x in t["links"] if x["type"] == "asset"]
    if payload.get("asset"):
        if not any(x.get("name", "").lower() == payload["asset"].lower() for x in assets_linked):
            problems.append(f"le ticket n°{t['id']} n'est pas lié à la fiche du poste {payload['asset']}")
        wrong = [x["name"] for x in assets_linked if x.get("name", "").lower() != payload["asset"].lower()]
        if wrong and payload.get("only_asset"):
            problems.append(f"le ticket n°{t['id']} est lié à une autre fiche : {', '.join(wrong)}")
    if payload.get("owner") and t["owner"] in ("", "Nobody"):
        problems.append(f"le ticket n°{t['id']} n'a pas de responsable")
    if payload.get("reply"):
        requestors = set(t["requestors"])
        replies = [h for h in t["history"] if h["type"] == "Correspond" and h["creator"] not in requestors
                   and h["creator"] not in ("tai-lab", "RT_System")]
        if not replies:
            problems.append(f"aucune réponse au demandeur dans le ticket n°{t['id']}")
    if payload.get("status") and t["status"] not in payload["status"]:
        problems.append(f"le ticket n°{t['id']} est « {STATES.get(t['status'], t['status'])} » "
                        f"(attendu : {' ou '.join(STATES.get(s, s) for s in payload['status'])})")
    if problems:
        return False, problems
    return True, [f"ticket n°{t['id']} : {t['status']}, responsable {t['owner']}"
                  + (f", lié à {payload['asset']}" if payload.get("asset") else "")]


def main() -> int:
    op, payload = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    try:
        if op in ("check-asset", "check-ticket"):
            ok, lines = (check_asset if op == "check-asset" else check_ticket)(payload)
            print(("DESK-OK " if ok else "DESK-KO ") + " ; ".join(lines))
            return 0 if ok else 1
        answer = {"inventory": inventory, "asset-set": asset_set, "asset-restore": asset_restore,
                  "open-ticket": open_ticket,
                  "ticket-set": ticket_set, "ticket": lambda p: ticket(int(p["id"])),
                  "assets": lambda _p: {"assets": assets()}}[op](payload)
    except DeskError as exc:
        print(f"DESK-ERROR {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"DESK-ERROR unknown operation or missing field: {exc}", file=sys.stderr)
        return 2
    json.dump(answer, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
