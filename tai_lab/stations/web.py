"""``tai-lab stations serve``: the candidates' portal (aiohttp: pages and WebSockets).

Access: the pod's code (:mod:`.access`) → a session kept in the portal's memory, named
by a random cookie (HttpOnly, SameSite=Strict). The pod always comes from that session;
the pod number in a URL is only compared with it (another pod's page: 403, recorded).
Every POST carries the page's CSRF token (double submit: a cookie and a form field,
tied to the session) and an ``Origin`` (or ``Referer``) of this very server; the
terminal's WebSocket handshake needs the session and a same-origin ``Origin`` (a
cross-site page cannot open one). Failed codes are rate-limited per client address
and overall. A session dies with its code (reset, renewal); a closed pod refuses its
pages' terminals and every open terminal of it is ended within the poll (0.1 s).
"""
from __future__ import annotations

import asyncio
import json
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import listen
from ..errors import TaiLabError
from ..evidence import EvidenceLog
from .i18n import LANGS, reason, translate
from .jury_view import ViewOnly, ViewOnlyFilter, claim, write_portal
from .liveness import identity
from .node import NodeUnreachable
from .recording import Recorder
from .service import KIND_TEXT, StationsService

HERE = Path(__file__).parent
COOKIE, CSRF_COOKIE, LANG_COOKIE = "tai_station", "tai_station_csrf", "tai_station_lang"
POLL_S = 0.1
IAC, SB, SE, NAWS = 255, 250, 240, 31


def bind_check(host: str, allow_remote: bool) -> str | None:
    """Refuse a non-loopback address without the flag; with it, the warning to print."""
    return listen.bind_check(
        host, allow_remote,
        refusal="refus d'écouter sur {host} : le portail des candidats n'est ouvert qu'en local par défaut",
        hint="ajoutez --allow-remote pour les navigateurs des candidats (leur réseau de salle "
             "seulement, jamais celui du jury ; voir docs/stations.md)",
        warning="ATTENTION : le portail des candidats écoute sur {host}:{{port}}, hors de cette machine. "
                "Seuls les codes d'accès ouvrent un pod ; n'exposez ce port que sur le réseau de la salle.")


def naws(cols: int, rows: int) -> bytes:
    """A resize for the node's relay (telnet NAWS, RFC 1073)."""
    body = struct.pack(">BHH", NAWS, cols, rows).replace(b"\xff", b"\xff\xff")
    return bytes([IAC, SB]) + body + bytes([IAC, SE])


def escape_input(data: bytes) -> bytes:
    return data.replace(b"\xff", b"\xff\xff")


@dataclass
class PortalSession:
    pod: int
    generation: int
    csrf: str
    client: str
    created: float = field(default_factory=time.time)


class Limiter:
    """Failed codes: at most ``per_client`` a minute from one address, ``overall`` from all."""

    def __init__(self, per_client: int = 5, overall: int = 30, window: float = 60.0) -> None:
        self.per_client, self.overall, self.window = per_client, overall, window
        self.fails: dict[str, deque[float]] = {}
        self.all: deque[float] = deque()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window:
            q.popleft()

    def wait(self, client: str, now: float | None = None) -> float:
        """Seconds before this client may try again (0: now)."""
        now = time.monotonic() if now is None else now
        q = self.fails.get(client, deque())
        self._trim(q, now)
        self._trim(self.all, now)
        waits = [0.0]
        if len(q) >= self.per_client:
            waits.append(q[0] + self.window - now)
        if len(self.all) >= self.overall:
            waits.append(self.all[0] + self.window - now)
        return max(waits)

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.fails.setdefault(client, deque()).append(now)
        self.all.append(now)


class Bridge:
    """One open terminal: the browser's WebSocket ↔ the node's login."""

    def __init__(self, pod: int, node: str, generation: int, ws: web.WebSocketResponse,
                 writer: asyncio.StreamWriter, recorder: Recorder, lang: str = "fr") -> None:
        self.pod, self.node, self.generation, self.lang = pod, node, generation, lang
        self.ws, self.writer, self.recorder = ws, writer, recorder
        self.end_reason: str | None = None

    async def close(self, why: str, message: str) -> None:
        if self.end_reason is None:
            self.end_reason = why
        try:
            await self.ws.send_str(json.dumps({"closed": message}, ensure_ascii=False))
        except Exception:  # noqa: BLE001 — the browser is gone already
            pass
        self.writer.close()
        await self.ws.close()


class DesktopBridge:
    """One open desktop: the browser's noVNC ↔ the node's VNC server. Closed like a terminal
    (same watch), but its WebSocket carries only the VNC protocol: why it ended goes in the
    close frame's reason."""

    def __init__(self, pod: int, node: str, generation: int, ws: web.WebSocketResponse,
                 writer: asyncio.StreamWriter, lang: str = "fr") -> None:
        self.pod, self.node, self.generation, self.lang = pod, node, generation, lang
        self.ws, self.writer = ws, writer
        self.end_reason: str | None = None

    async def close(self, why: str, message: str) -> None:
        if self.end_reason is None:
            self.end_reason = why
        self.writer.close()
        # A close reason is at most 123 bytes: cut on a character, not inside one.
        reason_bytes = message.encode()[:120].decode("utf-8", "ignore").encode()
        await self.ws.close(code=4000, message=reason_bytes)


class Portal:
    """The aiohttp application and its state."""

    def __init__(self, service: StationsService, *, poll: float = POLL_S) -> None:
        self.service = service
        self.poll = poll
        self.identity = identity()           # named in every session-start (a killed portal is found out)
        self.sessions: dict[str, PortalSession] = {}
        self.limiter = Limiter()
        self.bridges: set[Bridge | DesktopBridge] = set()
        self.jury_views: set[DesktopBridge] = set()      # the jury's, not ended by the pod's access
        self.jinja = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                                 autoescape=select_autoescape(["html"]))
        self.app = web.Application(middlewares=[self._headers, self._fresh, self._guard_post])
        r = self.app.router
        r.add_get("/", self.index)
        r.add_post("/login", self.login)
        r.add_post("/logout", self.logout)
        r.add_post("/lang", self.set_lang)
        r.add_get("/pod/{pod:\\d+}/", self.pod_page)
        r.add_get("/pod/{pod:\\d+}/state", self.pod_state)
        r.add_get("/pod/{pod:\\d+}/terminal/{node}", self.terminal_page)
        r.add_get("/pod/{pod:\\d+}/ws/{node}", self.terminal_ws)
        r.add_get("/pod/{pod:\\d+}/desktop/{node}", self.desktop_page)
        r.add_get("/pod/{pod:\\d+}/vnc/{node}", self.desktop_ws)
        r.add_get("/jury/vnc/{pod:\\d+}/{node}", self.jury_desktop_ws)
        r.add_static("/static/", HERE / "static", append_version=True)
        self.app.on_startup.append(self._start_watch)
        self.app.on_shutdown.append(self._shutdown)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def client(request: web.Request) -> str:
        return request.remote or "?"

    def log(self, pod: int, event: str, **data) -> None:
        EvidenceLog(self.service.lab_dir, pod).record("station", actor="portal", event=event, **data)

    def lang(self, request: web.Request) -> str:
        lang = request.cookies.get(LANG_COOKIE, "fr")
        return lang if lang in LANGS else "fr"

    def session(self, request: web.Request) -> PortalSession | None:
        """The request's portal session if it is still good (its code not replaced)."""
        sid = request.cookies.get(COOKIE)
        s = self.sessions.get(sid or "")
        if s is None:
            return None
        acc = self.service.access.current().get(s.pod)
        if acc is None or acc.generation != s.generation:
            self.sessions.pop(sid or "", None)
            return None
        return s

    def render(self, request: web.Request, name: str, status: int = 200, **ctx) -> web.Response:
        lang = self.lang(request)
        csrf = request.cookies.get(CSRF_COOKIE)
        fresh = not csrf
        if fresh:
            csrf = secrets.token_urlsafe(24)
        html = self.jinja.get_template(name).render(
            _=lambda k, **kw: translate(k, lang, **kw), lang=lang, csrf=csrf,
            title=self.service.title, reason=lambda k: reason(k, lang), **ctx)
        resp = web.Response(text=html, content_type="text/html", status=status)
        if fresh:
            resp.set_cookie(CSRF_COOKIE, csrf or "", httponly=True, samesite="Strict", path="/")
        return resp

    @staticmethod
    def same_origin(request: web.Request, *, require: bool) -> bool:
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if not origin:
            return not require
        if origin == "null":
            return False
        o = urlsplit(origin)
        return bool(o.netloc) and o.netloc == request.host and o.scheme in ("http", "https")

    def own_pod(self, request: web.Request, s: PortalSession) -> int:
        """The URL's pod, which must be the session's: another pod's page is refused and recorded."""
        asked = int(request.match_info["pod"])
        if asked != s.pod:
            self.log(s.pod, "refused", reason="other-pod", asked_pod=asked, path=request.path,
                     client=self.client(request))
            raise web.HTTPForbidden(text=translate("forbidden", self.lang(request)))
        return s.pod

    # ------------------------------------------------------------------ middlewares
    @web.middleware
    async def _headers(self, request: web.Request, handler):
        resp = await handler(request)
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        # xterm.js adds <style> elements: inline styles allowed, scripts from this server only.
        resp.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; "
                                "connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
        if not request.path.startswith("/static/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @web.middleware
    async def _fresh(self, request: web.Request, handler):
        """Every decision on the access as it is now, not as of the last poll: a pod opened
        or closed a moment ago is seen by the very next request."""
        if not request.path.startswith("/static/"):
            await asyncio.get_running_loop().run_in_executor(None, self.service.access.refresh)
        return await handler(request)

    @web.middleware
    async def _guard_post(self, request: web.Request, handler):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if not self.same_origin(request, require=True):
                raise web.HTTPForbidden(text=translate("refused_origin", self.lang(request)))
            form = await request.post()
            token = request.headers.get("X-CSRF-Token") or str(form.get("csrf", ""))
            cookie = request.cookies.get(CSRF_COOKIE, "")
            if not token or not cookie or not secrets.compare_digest(token, cookie):
                raise web.HTTPForbidden(text="CSRF")
            s = self.session(request)
            if s is not None and not secrets.compare_digest(s.csrf, token):
                raise web.HTTPForbidden(text="CSRF")
        return await handler(request)

    # ------------------------------------------------------------------ pages
    async def index(self, request: web.Request) -> web.StreamResponse:
        s = self.session(request)
        if s is not None:
            raise web.HTTPFound(f"/pod/{s.pod}/")
        return self.render(request, "login.html", error=None)

    async def login(self, request: web.Request) -> web.StreamResponse:
        client, lang = self.client(request), self.lang(request)
        wait = self.limiter.wait(client)
        if wait > 0:
            return self.render(request, "login.html", status=429,
                               error=translate("too_many", lang, s=int(wait) + 1))
        form = await request.post()
        loop = asyncio.get_running_loop()
        pod = await loop.run_in_executor(None, self.service.access.pod_of_code, str(form.get("code", "")))
        if pod is None:
            self.limiter.failed(client)
            self._log_unknown(client)
            return self.render(request, "login.html", status=403, error=translate("bad_code", lang))
        acc = self.service.access.current()[pod]
        if not acc.open:
            self.log(pod, "refused", reason="closed", why=acc.reason, client=client)
            return self.render(request, "login.html", status=403,
                               error=translate("pod_closed", lang, why=reason(acc.reason, lang)))
        sid = secrets.token_urlsafe(32)
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        self.sessions[sid] = PortalSession(pod, acc.generation, csrf, client)
        self.log(pod, "login", client=client, generation=acc.generation)
        resp = web.HTTPFound(f"/pod/{pod}/")
        resp.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", path="/")
        resp.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="Strict", path="/")
        raise resp

    def _log_unknown(self, client: str) -> None:
        """A wrong code belongs to no pod: the portal's own log (never the code typed)."""
        d = self.service.access.dir
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(d / "refused.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"t": round(time.time(), 3), "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                "event": "bad-code", "client": client}) + "\n")

    async def logout(self, request: web.Request) -> web.StreamResponse:
        s = self.session(request)
        if s is not None:
            self.sessions.pop(request.cookies.get(COOKIE, ""), None)
            self.log(s.pod, "logout", client=self.client(request))
        resp = web.HTTPFound("/")
        resp.del_cookie(COOKIE, path="/")
        raise resp

    async def set_lang(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        lang = str(form.get("lang", "fr"))
        back = str(form.get("back", "/"))
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        resp = web.HTTPFound(back)
        resp.set_cookie(LANG_COOKIE, lang if lang in LANGS else "fr", samesite="Strict", path="/")
        raise resp

    def require(self, request: web.Request) -> PortalSession:
        s = self.session(request)
        if s is None:
            raise web.HTTPFound("/")
        return s

    async def pod_page(self, request: web.Request) -> web.StreamResponse:
        s = self.require(request)
        pod = self.own_pod(request, s)
        loop = asyncio.get_running_loop()
        machines = await loop.run_in_executor(None, self.service.machines, pod)
        acc = self.service.access.current()[pod]
        lang = self.lang(request)
        return self.render(request, "pod.html", pod=pod, access=acc, machines=machines,
                           kinds=KIND_TEXT.get(lang, KIND_TEXT["fr"]))

    async def pod_state(self, request: web.Request) -> web.StreamResponse:
        s = self.session(request)
        if s is None:
            raise web.HTTPUnauthorized(text=translate("login_needed", self.lang(request)))
        pod = self.own_pod(request, s)
        acc = self.service.access.current()[pod]
        return web.json_response({"pod": pod, "open": acc.open, "reason": reason(acc.reason, self.lang(request))})

    def _machine(self, request: web.Request, pod: int) -> str:
        node = request.match_info["node"]
        if node not in [m.name for m in self.service.machines(pod)]:
            raise web.HTTPNotFound(text=translate("not_found", self.lang(request)))
        return node

    async def terminal_page(self, request: web.Request) -> web.StreamResponse:
        s = self.require(request)
        pod = self.own_pod(request, s)
        node = self._machine(request, pod)
        return self.render(request, "terminal.html", pod=pod, node=node,
                           ws_path=f"/pod/{pod}/ws/{node}")

    # ------------------------------------------------------------------ the terminal
    async def terminal_ws(self, request: web.Request) -> web.StreamResponse:
        lang = self.lang(request)
        if not self.same_origin(request, require=True):
            s = self.session(request)
            if s is not None:
                self.log(s.pod, "refused", reason="cross-site", origin=request.headers.get("Origin"),
                         client=self.client(request))
            raise web.HTTPForbidden(text=translate("refused_origin", lang))
        s = self.session(request)
        if s is None:
            raise web.HTTPUnauthorized(text=translate("login_needed", lang))
        pod = self.own_pod(request, s)
        node = self._machine(request, pod)
        acc = self.service.access.current()[pod]
        if not acc.open:
            self.log(pod, "refused", reason="closed", why=acc.reason, node=node, client=self.client(request))
            raise web.HTTPForbidden(text=translate("pod_closed", lang, why=reason(acc.reason, lang)))
        try:
            cols = max(10, min(500, int(request.query.get("cols", 80))))
            rows = max(5, min(200, int(request.query.get("rows", 24))))
        except ValueError:
            cols, rows = 80, 24
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        try:
            sock = await loop.run_in_executor(None, self.service.open_terminal, pod, node)
        except (NodeUnreachable, OSError, TaiLabError) as exc:
            why = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.log(pod, "refused", reason="node-unreachable", node=node, error=why, client=self.client(request))
            await ws.send_str(json.dumps({"closed": translate("node_down", lang, why=why)}, ensure_ascii=False))
            await ws.close()
            return ws
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(naws(cols, rows))
        rec = Recorder(self.service.lab_dir, self.service.name, pod, node, cols=cols, rows=rows,
                       generation=s.generation, client=self.client(request))
        bridge = Bridge(pod, node, s.generation, ws, writer, rec, lang)
        self.bridges.add(bridge)
        self.log(pod, "session-start", node=node, client=self.client(request), recording=rec.path.name,
                 portal=self.identity)
        pump = asyncio.create_task(self._pump(reader, bridge, lang))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    rec.input(msg.data)
                    writer.write(escape_input(msg.data))
                elif msg.type == WSMsgType.TEXT:
                    try:
                        m = json.loads(msg.data)
                        c, r = int(m["resize"][0]), int(m["resize"][1])
                    except (ValueError, KeyError, TypeError, IndexError):
                        continue
                    if 0 < c < 1000 and 0 < r < 1000:
                        writer.write(naws(c, r))
                        rec.resize(c, r)
                else:
                    break
        finally:
            if bridge.end_reason is None:
                bridge.end_reason = "browser-closed"
            pump.cancel()
            writer.close()
            self.bridges.discard(bridge)
            rec.close(bridge.end_reason)
            self.log(pod, "session-end", node=node, account=rec.account, seconds=rec.seconds,
                     reason=bridge.end_reason, recording=rec.path.name, bytes=rec.bytes_out)
        return ws

    async def _pump(self, reader: asyncio.StreamReader, bridge: Bridge, lang: str) -> None:
        """The node's output to the browser (and the recording). When the node hangs up, the
        candidate logged out — or the machine is going off because the pod was just closed
        (a seal powers it off): then that is the reason."""
        await self._relay_node(reader, bridge, lang, chunk=65536, record=bridge.recorder.output,
                               ended=("logout", "ended_shell"))

    async def _relay_node(self, reader: asyncio.StreamReader, bridge, lang: str, *, chunk: int,
                          record, ended: tuple[str, str]) -> None:
        """Bytes from the node's service to the browser until either side ends; then the
        session's end reason: the pod closed or its code renewed, else ``ended`` (code, words)."""
        try:
            while True:
                data = await reader.read(chunk)
                if not data:
                    break
                if record is not None:
                    record(data)
                await bridge.ws.send_bytes(data)
        except (ConnectionError, asyncio.CancelledError):
            return
        except Exception:  # noqa: BLE001 — the browser went away mid-send
            pass
        if bridge.end_reason is None and bridge in self.jury_views:
            await bridge.close(ended[0], translate(ended[1], lang))
        elif bridge.end_reason is None:
            loop = asyncio.get_running_loop()
            acc = (await loop.run_in_executor(None, self.service.access.refresh)).get(bridge.pod)
            if acc is not None and (not acc.open or acc.generation != bridge.generation):
                await bridge.close(f"closed:{acc.reason}" if not acc.open else "new-code",
                                   translate("closed_by", lang, why=reason(acc.reason, lang)))
            else:
                await bridge.close(ended[0], translate(ended[1], lang))

    # ------------------------------------------------------------------ the desktop
    def _desktop(self, request: web.Request, pod: int) -> str:
        node = self._machine(request, pod)
        if not any(m.name == node and m.desktop for m in self.service.machines(pod)):
            raise web.HTTPNotFound(text=translate("no_desktop", self.lang(request)))
        return node

    async def desktop_page(self, request: web.Request) -> web.StreamResponse:
        s = self.require(request)
        pod = self.own_pod(request, s)
        node = self._desktop(request, pod)
        return self.render(request, "desktop.html", pod=pod, node=node, ws_path=f"/pod/{pod}/vnc/{node}")

    async def desktop_ws(self, request: web.Request) -> web.StreamResponse:
        """The browser's noVNC ↔ the node's VNC server: bytes both ways, nothing kept but the
        connection's times (the evidence log's ``desktop-start`` / ``desktop-end``)."""
        lang = self.lang(request)
        if not self.same_origin(request, require=True):
            s = self.session(request)
            if s is not None:
                self.log(s.pod, "refused", reason="cross-site", origin=request.headers.get("Origin"),
                         path=request.path, client=self.client(request))
            raise web.HTTPForbidden(text=translate("refused_origin", lang))
        s = self.session(request)
        if s is None:
            raise web.HTTPUnauthorized(text=translate("login_needed", lang))
        pod = self.own_pod(request, s)
        node = self._desktop(request, pod)
        acc = self.service.access.current()[pod]
        if not acc.open:
            self.log(pod, "refused", reason="closed", why=acc.reason, node=node, desktop=True,
                     client=self.client(request))
            raise web.HTTPForbidden(text=translate("pod_closed", lang, why=reason(acc.reason, lang)))
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 22)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        try:
            sock = await loop.run_in_executor(None, self.service.open_desktop, pod, node)
        except (NodeUnreachable, OSError, TaiLabError) as exc:
            why = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.log(pod, "refused", reason="node-unreachable", node=node, desktop=True, error=why,
                     client=self.client(request))
            await ws.close(code=4004, message=translate("node_down", lang, why=why).encode()[:120])
            return ws
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 22)
        bridge = DesktopBridge(pod, node, s.generation, ws, writer, lang)
        self.bridges.add(bridge)
        started = time.time()
        self.log(pod, "desktop-start", node=node, client=self.client(request))
        pump = asyncio.create_task(self._pump_desktop(reader, bridge, lang))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    writer.write(msg.data)
                elif msg.type != WSMsgType.TEXT:
                    break
        finally:
            if bridge.end_reason is None:
                bridge.end_reason = "browser-closed"
            pump.cancel()
            writer.close()
            self.bridges.discard(bridge)
            self.log(pod, "desktop-end", node=node, client=self.client(request),
                     seconds=round(time.time() - started, 1), reason=bridge.end_reason)
        return ws

    async def _pump_desktop(self, reader: asyncio.StreamReader, bridge: "DesktopBridge", lang: str) -> None:
        """The node's VNC server to the browser (the screen is not recorded)."""
        await self._relay_node(reader, bridge, lang, chunk=1 << 20, record=None,
                               ended=("node-closed", "desktop_ended"))

    # ------------------------------------------------------------------ the jury's view of a desktop
    async def jury_desktop_ws(self, request: web.Request) -> web.StreamResponse:
        """A desktop, view-only, for the jury's console (:mod:`.jury_view`): a one-time token the
        console handed to a signed-in jury member, from the console's own page (its Origin).
        Not a candidate's connection: the pod's access (open, closed, sealed) does not apply."""
        pod, node, client = int(request.match_info["pod"]), request.match_info["node"], self.client(request)
        if pod not in self.service.pods():
            raise web.HTTPNotFound(text="pod inconnu")
        wait = self.limiter.wait(client)          # failed tokens count like wrong codes: no flood of the log
        if wait > 0:
            raise web.HTTPTooManyRequests(text=translate("too_many", "fr", s=int(wait) + 1))
        loop = asyncio.get_running_loop()
        grant = await loop.run_in_executor(None, claim, self.service.lab_dir, request.query.get("token", ""))
        origin = request.headers.get("Origin")
        if grant is None or grant.get("pod") != pod or grant.get("node") != node:
            self.limiter.failed(client)
            self.log(pod, "refused", reason="jury-token", node=node, path=request.path, client=client)
            raise web.HTTPForbidden(text="jeton du jury absent, déjà utilisé ou expiré / jury token missing, "
                                         "used or expired")
        if not origin or origin != grant.get("origin"):
            self.limiter.failed(client)
            self.log(pod, "refused", reason="cross-site", origin=origin, node=node, path=request.path,
                     client=client, jury=True)
            raise web.HTTPForbidden(text=translate("refused_origin", "fr"))
        if not any(m.name == node and m.desktop for m in self.service.machines(pod)):
            raise web.HTTPNotFound(text=translate("no_desktop", "fr"))
        actor = str(grant.get("actor") or "web:jury")
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
        await ws.prepare(request)
        try:
            sock = await loop.run_in_executor(None, self.service.open_desktop, pod, node)
        except (NodeUnreachable, OSError, TaiLabError) as exc:
            why = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            await ws.close(code=4004, message=translate("node_down", "fr", why=why).encode()[:120])
            return ws
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 22)
        bridge = DesktopBridge(pod, node, 0, ws, writer)
        self.jury_views.add(bridge)
        started, only = time.time(), ViewOnlyFilter()
        log = EvidenceLog(self.service.lab_dir, pod)
        log.record("station", actor=actor, event="jury-view-start", node=node, client=client)
        pump = asyncio.create_task(self._relay_node(reader, bridge, "fr", chunk=1 << 20, record=None,
                                                    ended=("node-closed", "desktop_ended")))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    writer.write(only.feed(msg.data))
                elif msg.type != WSMsgType.TEXT:
                    break
        except ViewOnly as exc:
            bridge.end_reason = "refused-message"
            await bridge.close("refused-message", str(exc))
        finally:
            if bridge.end_reason is None:
                bridge.end_reason = "browser-closed"
            pump.cancel()
            writer.close()
            self.jury_views.discard(bridge)
            log.record("station", actor=actor, event="jury-view-end", node=node, client=client,
                       seconds=round(time.time() - started, 1), reason=bridge.end_reason,
                       dropped=only.dropped)
        return ws

    # ------------------------------------------------------------------ access follows the exam
    async def _start_watch(self, app: web.Application) -> None:
        self.service.access.refresh()
        self.close_interrupted()
        self._watch_task = asyncio.create_task(self._watch())

    def close_interrupted(self) -> None:
        """The terminals an earlier portal left without an end (it was killed): their end is
        recorded now, as interrupted at their last recorded byte."""
        from ..terminal_sessions import record_interrupted
        for pod in self.service.pods():
            try:
                record_interrupted(EvidenceLog(self.service.lab_dir, pod))
            except OSError:
                pass

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                state = await loop.run_in_executor(None, self.service.access.refresh)
                for b in list(self.bridges):
                    acc = state.get(b.pod)
                    if acc is None:
                        continue
                    why = translate("closed_by", b.lang, why=reason(acc.reason, b.lang))
                    if not acc.open:
                        await b.close(f"closed:{acc.reason}", why)
                    elif acc.generation != b.generation:
                        await b.close("new-code", why)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 — a torn read: the next poll tries again
                pass
            await asyncio.sleep(self.poll)

    async def _shutdown(self, app: web.Application) -> None:
        task = getattr(self, "_watch_task", None)
        if task:
            task.cancel()
        for b in [*self.bridges, *self.jury_views]:
            await b.close("portal-stopped", "arrêt du portail")


def serve(lab_name: str | None, host: str, port: int, *, allow_remote: bool = False,
          echo: Callable[[str], None] = print) -> None:
    """Run the portal until Ctrl-C or SIGTERM."""
    from ..lab import Lab
    from .service import LabStations
    warning = bind_check(host, allow_remote)
    service = LabStations(lambda: Lab(lab_name))
    portal = Portal(service)

    async def main() -> None:
        runner = web.AppRunner(portal.app, access_log=None, handle_signals=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        real = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        shown = f"[{host}]" if ":" in host else host
        if warning:
            echo(warning.format(port=real))
        write_portal(service.lab_dir, f"http://{shown}:{real}", portal.identity)   # for the jury's live view
        echo(f"Portail des candidats, lab {service.name} : http://{shown}:{real}/")
        echo("Codes d'accès : tai-lab stations codes (cartes : tai-lab stations cards)")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, web.GracefulExit):
        pass
