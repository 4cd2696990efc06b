"""Adapters for third-party server-side session libraries, each on Redis, driven over HTTP.

Registered names (pyproject ``distconform.implementations``):

=================  ===========================================================
``starsessions``   starsessions ``SessionMiddleware`` + ``RedisStore`` on a
                   Starlette app, through Starlette's ``TestClient``
``flask-session``  Flask-Session ``Session(app)`` with ``SESSION_TYPE="redis"``,
                   through Flask's test client
``beaker``         Beaker's ``SessionMiddleware`` (``type="ext:redis"``) around
                   a WSGI app, through Werkzeug's test ``Client``
=================  ===========================================================

Each adapter client is one web worker: a small app whose handlers use the
library the way its documentation shows, and a test client that sends it real
requests, with the session id in a ``Cookie`` header and the id read back
from ``Set-Cookie``. Nothing reaches into the library's store. The calls:

- ``create(user)``: ``POST /create``; the handler puts the adapter's marker
  ``_dc_user`` (the user, or ``""`` for anonymous) into the session. A session
  whose data is empty is not stored by any of the three (starsessions and
  Flask-Session skip empty sessions), so the marker is what makes it exist.
- ``load(sid)``: ``GET /load``: 404 when the session holds no marker (the
  store did not know the id: the library handed the request a new, empty
  session), else 200 with the data, the marker left out.
- ``save(sid, changes)``: ``POST /save``: 404 without the marker, as an app
  answers a request that needs a session; else the changes go into the
  session and the library writes it at the end of the response.
- ``login(sid, user)``: ``POST /login``: the library's documented call against
  fixation (starsessions ``regenerate_session_id(request)``, Flask-Session
  ``app.session_interface.regenerate(session)``, Beaker
  ``session.regenerate_id()``), then the marker set to the user.
- ``revoke(sid)``: ``POST /logout``: ``session.clear()`` (Beaker:
  ``session.delete()``), each library's documented logout.
- ``revoke_user(user)``: no library has one. The adapter keeps the ids it
  issued to each user in a Redis set under ``ctx.namespace`` and sends a
  logout request for each: what an app must do on top of these libraries.
- ``cookie(sid)``: the ``Set-Cookie`` value of the response that issued it.
- ``configure(idle, absolute)``: the library's sliding lifetime is ``idle``
  (starsessions ``lifetime`` with ``rolling=True``, Flask
  ``PERMANENT_SESSION_LIFETIME`` with its default refresh on each request,
  Beaker ``timeout``). None of the three has an absolute timeout: ``absolute``
  has nowhere to go, and SESSION-7 judges that.

Cookie attributes are the libraries' defaults (SESSION-13 judges them).
Any answer other than 200 or 404 (a 500 when Redis is down) raises.
Deviations, shown as notes in the report: see each factory's ``notes``.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.errors import BackendUnavailable
from distconform.thirdparty import _require

__all__ = ["beaker", "flask_session", "starsessions"]

MARKER = "_dc_user"

#: Clause id -> note, shared by all three: none has an absolute timeout or a
#: per-user revocation, and each writes the whole session at the response's end.
COMMON_NOTES = {
    "SESSION-7": "library: a sliding lifetime only, no absolute timeout",
    "SESSION-10": "library: the whole session is written at the end of each request "
    "(last writer wins)",
}
#: Where the trackers discuss SESSION-10's loss, per library.
RACE_ISSUES = {
    "flask-session": " (pallets-eco/flask-session#71, #149)",
    "beaker": " (bbangert/beaker#9)",
    "starsessions": "",
}


def _notes(library: str, **extra: str) -> dict[str, str]:
    notes = {**COMMON_NOTES, **{k.replace("_", "-"): v for k, v in extra.items()}}
    notes["SESSION-10"] += RACE_ISSUES[library]
    return notes


def _whole_seconds(idle: float, library: str) -> int:
    if isinstance(idle, bool) or not isinstance(idle, int | float) or idle <= 0:
        raise ValueError(f"idle must be a positive number of seconds, got {idle!r}")
    if idle != int(idle):
        raise ValueError(f"{library} keeps the lifetime in whole seconds, got {idle!r}")
    return int(idle)


def _cookie_value(header: str, name: str) -> str | None:
    first = header.split(";", 1)[0]
    key, _, value = first.partition("=")
    return value.strip().strip("\"'") if key.strip() == name else None


class HttpSessionClient:
    """The suite's calls as requests to one app; subclasses build the app and send requests."""

    COOKIE = "session"

    def __init__(self, ctx: Context) -> None:
        if not ctx.redis_url:
            raise BackendUnavailable("this session adapter needs Redis: pass --redis-url")
        self.ctx = ctx
        self.index = redis_client(ctx.redis_url, decode_responses=True)
        self.issued: dict[str, str] = {}
        #: The test client of the app ``start`` builds.
        self.http: Any = None

    # A subclass builds its app in ``start(idle)`` and answers ``send``.
    def start(self, idle: int) -> None:
        raise NotImplementedError

    def response(self, r: Any) -> tuple[Any, list[str]]:
        """A response's JSON body and Set-Cookie values (Werkzeug's test responses)."""
        return r.get_json(silent=True), r.headers.getlist("Set-Cookie")

    def send(
        self, path: str, sid: str | None, body: dict[str, Any] | None
    ) -> tuple[int, Any, list[str]]:
        """(status, JSON body or None, Set-Cookie values) of one request."""
        cookies = {"Cookie": f"{self.COOKIE}={sid}"} if sid is not None else {}
        if body is None and path == "/load":
            r = self.http.get(path, headers=cookies)
        else:
            r = self.http.post(path, headers=cookies, json=body or {})
        return (r.status_code, *self.response(r))

    def configure(self, idle: float, absolute: float) -> None:
        self.start(_whole_seconds(idle, type(self).__name__))

    def _call(
        self, path: str, sid: str | None, body: dict[str, Any] | None = None
    ) -> tuple[int, Any, list[str]]:
        status, data, cookies = self.send(path, sid, body)
        if status not in (200, 404):
            raise RuntimeError(f"{path}: HTTP {status}")
        for header in cookies:
            value = _cookie_value(header, self.COOKIE)
            if value:
                self.issued[value] = header
        return status, data, cookies

    def _new_id(self, cookies: list[str], what: str) -> str:
        for header in cookies:
            value = _cookie_value(header, self.COOKIE)
            if value:
                return value
        raise RuntimeError(f"{what}: the response set no {self.COOKIE} cookie")

    def _index(self, user: str) -> str:
        return f"{self.ctx.namespace}session-index:{user}"

    def create(self, user: str | None = None) -> str:
        _, _, cookies = self._call("/create", None, {"user": user or ""})
        sid = self._new_id(cookies, "create")
        if user:
            self.index.sadd(self._index(user), sid)
        return sid

    def load(self, sid: str) -> dict[str, str] | None:
        status, data, _ = self._call("/load", sid)
        return dict(data) if status == 200 else None

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        status, _, _ = self._call("/save", sid, dict(changes))
        return status == 200

    def login(self, sid: str, user: str) -> str:
        _, _, cookies = self._call("/login", sid, {"user": user})
        new = self._new_id(cookies, "login")
        self.index.sadd(self._index(user), new)
        return new

    def revoke(self, sid: str) -> None:
        self._call("/logout", sid)

    def revoke_user(self, user: str) -> None:
        for sid in self.index.smembers(self._index(user)):
            self.revoke(sid)
        self.index.delete(self._index(user))

    def cookie(self, sid: str) -> str:
        return self.issued[sid]

    def close(self) -> None:
        self.index.close()


def _handle(session: Any, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
    """The app's logic on a dict-like session, shared by the three apps (login aside)."""
    if path == "/create":
        session[MARKER] = body["user"]
        return 200, {}
    if path == "/logout":
        session.clear()
        return 200, {}
    if MARKER not in session:
        return 404, {}
    if path == "/save":
        session.update(body)
    return 200, {k: v for k, v in session.items() if k != MARKER and not k.startswith("_")}


def _login_data(session: Any) -> dict[str, Any]:
    """What a login carries over: the session's data, when it had a session."""
    if MARKER not in session:
        return {}
    return {k: v for k, v in session.items() if k != MARKER and not k.startswith("_")}


# ------------------------------------------------------------------ starsessions


class StarsessionsClient(HttpSessionClient):
    """starsessions 2: ``SessionMiddleware(store=RedisStore(...), lifetime, rolling=True)``."""

    def start(self, idle: int) -> None:
        from redis.asyncio import Redis
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        ss = _require("starsessions", "starsessions")
        ss_session = _require("starsessions.session", "starsessions")
        ss_redis = _require("starsessions.stores.redis", "starsessions")
        tc = _require("starlette.testclient", "httpx")

        async def endpoint(request: Request) -> JSONResponse:
            body = await request.json() if request.method == "POST" else {}
            path = request.url.path
            if path == "/login":
                data = _login_data(request.session)
                ss_session.regenerate_session_id(request)  # the README's call against fixation
                request.session.clear()
                request.session.update({**data, MARKER: body["user"]})
                return JSONResponse({})
            status, out = _handle(request.session, path, body)
            return JSONResponse(out, status_code=status)

        routes = [Route(p, endpoint, methods=["GET", "POST"])
                  for p in ("/create", "/load", "/save", "/login", "/logout")]  # fmt: skip
        store = ss_redis.RedisStore(
            connection=Redis.from_url(str(self.ctx.redis_url), socket_timeout=5),
            prefix=f"{self.ctx.namespace}starsessions.",
        )
        app = Starlette(
            routes=routes,
            middleware=[
                Middleware(ss.SessionMiddleware, store=store, lifetime=idle, rolling=True),
                Middleware(ss.SessionAutoloadMiddleware),
            ],
        )
        self.http = tc.TestClient(app, base_url="https://testserver")
        self.http.__enter__()

    def send(
        self, path: str, sid: str | None, body: dict[str, Any] | None
    ) -> tuple[int, Any, list[str]]:
        # httpx keeps a cookie jar: empty it, so only the id this call names is sent.
        self.http.cookies.clear()
        return super().send(path, sid, body)

    def response(self, r: Any) -> tuple[Any, list[str]]:
        return r.json(), r.headers.get_list("set-cookie")

    def close(self) -> None:
        if self.http is not None:
            self.http.__exit__(None, None, None)
        super().close()


def starsessions(ctx: Context) -> Implementation:
    return Implementation(
        client=lambda: StarsessionsClient(ctx),
        capabilities=frozenset({"cookies", "remote-store"}),
        needs=frozenset({"redis"}),
        package="starsessions",
        description="starsessions RedisStore, rolling lifetime = idle, Starlette TestClient",
        notes=_notes(
            "starsessions",
            SESSION_3="adapter: passes by the app's 404 for a session without its marker; "
            "starsessions itself saves under whatever id the cookie names "
            "(SessionHandler.save), so an app that writes to a visitor's session adopts "
            "an attacker-chosen id",
            SESSION_5="library: regenerate_session_id (the README's call) only changes the "
            "id the response writes to; the session under the old id stays in Redis until "
            "its TTL",
        ),
    )


# ----------------------------------------------------------------- flask-session


class FlaskSessionClient(HttpSessionClient):
    """Flask-Session 0.8: ``SESSION_TYPE="redis"``, Flask's defaults otherwise."""

    def start(self, idle: int) -> None:
        flask = _require("flask", "Flask")
        fs = _require("flask_session", "Flask-Session")
        app = flask.Flask(f"distconform-{self.ctx.namespace}")
        app.config.update(
            SESSION_TYPE="redis",
            SESSION_REDIS=redis_client(str(self.ctx.redis_url)),
            SESSION_KEY_PREFIX=f"{self.ctx.namespace}session:",
            PERMANENT_SESSION_LIFETIME=datetime.timedelta(seconds=idle),
        )
        fs.Session(app)

        def endpoint() -> Any:
            body = flask.request.get_json(silent=True) or {}
            session = flask.session
            if flask.request.path == "/login":
                data = _login_data(session)
                app.session_interface.regenerate(session)  # the docs' call against fixation
                session.clear()
                session.update({**data, MARKER: body["user"]})
                return flask.jsonify({})
            status, out = _handle(session, flask.request.path, body)
            return flask.jsonify(out), status

        for p in ("/create", "/load", "/save", "/login", "/logout"):
            app.add_url_rule(p, p, endpoint, methods=["GET", "POST"])
        self.http = app.test_client(use_cookies=False)


def flask_session(ctx: Context) -> Implementation:
    return Implementation(
        client=lambda: FlaskSessionClient(ctx),
        capabilities=frozenset({"cookies", "remote-store"}),
        needs=frozenset({"redis"}),
        package="Flask-Session",
        description="Flask-Session on Redis, PERMANENT_SESSION_LIFETIME = idle, test client",
        notes=_notes(
            "flask-session",
            SESSION_13="library: Flask's defaults SESSION_COOKIE_SECURE=False, "
            "SESSION_COOKIE_SAMESITE=None",
        ),
    )


# ------------------------------------------------------------------------ beaker


class BeakerClient(HttpSessionClient):
    """Beaker 1.14: ``SessionMiddleware(app, type="ext:redis", timeout=idle)``, WSGI.

    Beaker names its Redis keys ``beaker_cache:<id>:session``, with no prefix
    to set, so they cannot live under ``ctx.namespace``: every id a client
    sends or is sent goes into ``touched`` (shared by the implementation's
    clients), and :func:`beaker` deletes exactly those keys at the end.
    """

    COOKIE = "beaker.session.id"

    def __init__(self, ctx: Context, touched: set[str]) -> None:
        super().__init__(ctx)
        self.touched = touched

    def start(self, idle: int) -> None:
        middleware = _require("beaker.middleware", "Beaker")
        werkzeug_test = _require("werkzeug.test", "Werkzeug")

        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            session = environ["beaker.session"]
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            path = environ["PATH_INFO"]
            out: dict[str, str] = {}
            if path == "/login":
                data = _login_data(session)
                session.regenerate_id()  # Beaker's call against fixation
                session.clear()
                session.update({**data, MARKER: body["user"]})
                status = 200
            elif path == "/logout":
                session.delete()
                status = 200
            else:
                status, out = _handle(session, path, body)
            if status == 200 and path != "/logout":
                session.save()
            start_response(f"{status} X", [("Content-Type", "application/json")])
            return [json.dumps(out).encode()]

        wrapped = middleware.SessionMiddleware(
            app,
            {
                "session.type": "ext:redis",
                "session.url": str(self.ctx.redis_url),
                "session.timeout": idle,
                "session.key": self.COOKIE,
            },
        )
        self.http = werkzeug_test.Client(wrapped, use_cookies=False)

    def send(
        self, path: str, sid: str | None, body: dict[str, Any] | None
    ) -> tuple[int, Any, list[str]]:
        status, data, issued = super().send(path, sid, body)
        self.touched.update(v for v in [sid, *(_cookie_value(h, self.COOKIE) for h in issued)] if v)
        return status, data, issued


def _delete_beaker_keys(url: str | None, touched: set[str]) -> None:
    """Remove the keys Beaker made for the ids in ``touched``, by exact name."""
    if not url or not touched:
        return
    r = redis_client(url)
    try:
        names = [f"beaker_cache:{sid}:session" for sid in touched]
        for i in range(0, len(names), 500):
            r.delete(*names[i : i + 500])
    finally:
        r.close()


def beaker(ctx: Context) -> Implementation:
    touched: set[str] = set()
    return Implementation(
        client=lambda: BeakerClient(ctx, touched),
        close=lambda: _delete_beaker_keys(ctx.redis_url, touched),
        capabilities=frozenset({"cookies", "remote-store"}),
        needs=frozenset({"redis"}),
        package="Beaker",
        description="Beaker ext:redis, timeout = idle, WSGI through Werkzeug's test client",
        notes=_notes(
            "beaker",
            SESSION_1="library: ids are uuid4().hex, 122 random bits",
            SESSION_5="library: regenerate_id() keeps the old id's data in the store "
            "(bbangert/beaker#68: 'the old ID stays valid')",
            SESSION_13="library: defaults secure=False, httponly=False",
        ),
    )
