"""Accounts, sessions, roles, CSRF and login rate limiting for the console.

Security model, in one place so every page gets it by construction:

* accounts live in a JSON file (username, role, argon2id hash) written by
  ``voc console add-user``; the file is re-read when it changes, so removing a user or
  changing a role takes effect on their next request;
* the session is a cookie signed with the console secret (itsdangerous), HttpOnly,
  SameSite=Strict, Secure when served over https, valid ``session_ttl_s`` from login;
  logout revokes its id;
* every request has a CSRF token (anonymous visitors too, for the login form); every
  state-changing request (anything but GET/HEAD/OPTIONS) must carry it in the form field
  ``csrf_token`` or the ``X-CSRF-Token`` header, else 403 before the handler runs;
* failed logins are counted per (client ip, username): past ``login_attempts`` in
  ``login_window_s`` the login answers 429 without checking the password.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import os
import secrets
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp_jinja2
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from streams.console.context import ctx_of
from streams.settings import Settings

log = logging.getLogger(__name__)

Role = Literal["viewer", "agent", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "agent", "admin")
ROLE_RANK: dict[str, int] = {r: i for i, r in enumerate(ROLES)}
COOKIE = "voc_console_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
USERNAME_MAX = 64

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_hasher = PasswordHasher()
# verified when the username is unknown, so a miss costs the same time as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


# --- files -------------------------------------------------------------------------------

def users_path(settings: Settings) -> Path:
    return settings.console.users_file or settings.stack.state_dir / "console" / "users.json"


def secret_path(settings: Settings) -> Path:
    return settings.console.secret_file or settings.stack.state_dir / "console" / "secret"


def load_or_create_secret(path: Path) -> bytes:
    """The session-signing key: 32 random bytes in a 0600 file, made on first start."""
    if path.exists():
        data = path.read_bytes()
        if len(data) < 16:
            raise ValueError(f"{path}: console secret is shorter than 16 bytes")
        return data
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return data


# --- users -------------------------------------------------------------------------------

@dataclass(frozen=True)
class User:
    username: str
    role: Role
    password_hash: str


def hash_password(password: str) -> str:
    """An argon2id hash (argon2-cffi's defaults, RFC 9106 low-memory profile)."""
    if not password:
        raise ValueError("empty password")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def valid_username(name: str) -> bool:
    return (0 < len(name) <= USERNAME_MAX
            and all(c.isalnum() or c in "._-@" for c in name))


def read_users(path: Path) -> dict[str, User]:
    """Users from ``path`` (missing file = no users)."""
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8") or "{}")
    out: dict[str, User] = {}
    for row in raw.get("users", []):
        role = row.get("role")
        if role not in ROLES:
            raise ValueError(f"{path}: user {row.get('username')!r} has unknown role {role!r}")
        out[row["username"]] = User(row["username"], role, row["hash"])
    return out


def add_user(path: Path, username: str, role: str, password: str) -> bool:
    """Create or update ``username`` (atomic rewrite, file mode 0600); True if it is new."""
    if not valid_username(username):
        raise ValueError("username: 1-64 letters, digits, '.', '_', '-' or '@'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    users = read_users(path)
    created = username not in users
    users[username] = User(username, role, hash_password(password))  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"users": [{"username": u.username, "role": u.role, "hash": u.password_hash}
                      for u in sorted(users.values(), key=lambda u: u.username)]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(body, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return created


class UserStore:
    """The users file, re-read when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._users: dict[str, User] = {}
        self._stamp: tuple[int, int] | None = None

    def _fresh(self) -> dict[str, User]:
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._users = read_users(self.path) if stamp else {}
            self._stamp = stamp
        return self._users

    def get(self, username: str) -> User | None:
        return self._fresh().get(username)

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches (argon2 runs off the event loop)."""
        user = self.get(username)
        ok = await asyncio.to_thread(verify_password,
                                     user.password_hash if user else _DUMMY_HASH, password)
        return user if ok and user is not None else None


# --- rate limiting -----------------------------------------------------------------------

class LoginLimiter:
    """Failed logins per (ip, username) in a sliding window; bounded memory."""

    def __init__(self, attempts: int, window_s: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._fails: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        q = self._fails.get(key)
        if q is None:
            return deque()
        cutoff = self.clock() - self.window_s
        while q and q[0] <= cutoff:
            q.popleft()
        if not q:
            del self._fails[key]
        return q

    def blocked(self, ip: str, username: str) -> bool:
        return len(self._recent((ip, username.lower()))) >= self.attempts

    def retry_after(self, ip: str, username: str) -> int:
        q = self._recent((ip, username.lower()))
        return max(1, int(q[0] + self.window_s - self.clock()) + 1) if q else 0

    def failed(self, ip: str, username: str) -> None:
        key = (ip, username.lower())
        if key not in self._fails and len(self._fails) >= self.max_keys:
            self._fails.pop(next(iter(self._fails)))  # drop the oldest key
        self._fails.setdefault(key, deque()).append(self.clock())

    def succeeded(self, ip: str, username: str) -> None:
        self._fails.pop((ip, username.lower()), None)


# --- sessions ----------------------------------------------------------------------------

@dataclass
class Session:
    """What the signed cookie carries; ``user``/``role`` are resolved per request."""

    sid: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    username: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    issued: float = field(default_factory=time.time)
    flashes: list[tuple[str, str]] = field(default_factory=list)
    role: Role | None = None
    dirty: bool = False

    def dump(self) -> dict[str, Any]:
        return {"sid": self.sid, "u": self.username, "c": self.csrf, "t": self.issued,
                "f": [list(f) for f in self.flashes[-5:]]}

    @classmethod
    def load(cls, data: dict[str, Any]) -> Session:
        return cls(sid=str(data["sid"]), username=data.get("u"), csrf=str(data["c"]),
                   issued=float(data["t"]),
                   flashes=[(str(k), str(m)) for k, m in data.get("f", [])])


@dataclass
class AuthState:
    settings: Settings
    users: UserStore
    limiter: LoginLimiter
    serializer: URLSafeTimedSerializer
    revoked: dict[str, float] = field(default_factory=dict)  # sid -> when it expires anyway

    def revoke(self, sid: str) -> None:
        now = time.time()
        self.revoked = {s: t for s, t in self.revoked.items() if t > now}
        self.revoked[sid] = now + self.settings.console.session_ttl_s


AUTH: web.AppKey[AuthState] = web.AppKey("voc_console_auth", AuthState)
SESSION: web.RequestKey[Session] = web.RequestKey("voc_console_session", Session)


def make_auth_state(settings: Settings, secret: bytes | None = None) -> AuthState:
    c = settings.console
    key = secret if secret is not None else load_or_create_secret(secret_path(settings))
    return AuthState(settings=settings, users=UserStore(users_path(settings)),
                     limiter=LoginLimiter(c.login_attempts, c.login_window_s),
                     serializer=URLSafeTimedSerializer(key, salt="voc-console-session"))


def _read_session(request: web.Request, state: AuthState) -> Session:
    raw = request.cookies.get(COOKIE)
    ttl = state.settings.console.session_ttl_s
    if raw:
        try:
            sess = Session.load(state.serializer.loads(raw, max_age=ttl))
        except (BadSignature, KeyError, TypeError, ValueError):
            sess = None
        if sess is not None and sess.sid not in state.revoked:
            if sess.username is not None:
                user = state.users.get(sess.username)
                if user is None or time.time() - sess.issued > ttl:
                    return Session(dirty=True)  # gone or expired: start anonymous
                sess.role = user.role
            return sess
    return Session(dirty=True)


def session(request: web.Request) -> Session:
    return request[SESSION]


def current_user(request: web.Request) -> tuple[str, Role] | None:
    s = session(request)
    return (s.username, s.role) if s.username and s.role else None


def csrf_token(request: web.Request) -> str:
    """The token forms put in their ``csrf_token`` hidden field."""
    return session(request).csrf


def flash(request: web.Request, message: str, kind: str = "ok") -> None:
    """A one-time message shown on the next page (kind: ok | error)."""
    s = session(request)
    s.flashes.append((kind, message))
    s.dirty = True


def pop_flashes(request: web.Request) -> list[tuple[str, str]]:
    s = session(request)
    out, s.flashes = s.flashes, []
    if out:
        s.dirty = True
    return out


def has_role(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK.get(role, -1) >= ROLE_RANK[needed]


def _set_cookie(request: web.Request, response: web.StreamResponse, state: AuthState,
                sess: Session) -> None:
    response.set_cookie(COOKIE, state.serializer.dumps(sess.dump()),
                        max_age=state.settings.console.session_ttl_s, path="/",
                        httponly=True, samesite="Strict",
                        secure=request.secure or state.settings.console.secure_cookies)


def csrf_exempt(handler: Handler) -> Handler:
    """Mark a POST route that authenticates otherwise (the Alertmanager webhook)."""
    handler.csrf_exempt = True  # type: ignore[attr-defined]
    return handler


def error_page(request: web.Request, status: int, title: str, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
    resp = aiohttp_jinja2.render_template("error.html", request,
                                          {"status": status, "title": title,
                                           "message": message}, status=status)
    if headers:
        resp.headers.update(headers)
    return resp


async def _csrf_ok(request: web.Request, sess: Session) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in ("application/x-www-form-urlencoded",
                                                 "multipart/form-data"):
        form = await request.post()  # cached: the handler reads the same form
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent:
        return False
    return hmac.compare_digest(sent.encode(), sess.csrf.encode())


def redirect(location: str) -> web.Response:
    """A 303 as a returned response (so the session cookie can ride on it)."""
    return web.Response(status=303, headers={"Location": location})


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the session, refuse state changes without a valid CSRF token (403, before the
    handler runs), render HTTP errors as pages, and write the cookie back when it changed."""
    state = request.app[AUTH]
    request[SESSION] = _read_session(request, state)
    route_handler = request.match_info.handler
    response: web.StreamResponse
    try:
        if (request.method not in SAFE_METHODS
                and not getattr(route_handler, "csrf_exempt", False)
                and not await _csrf_ok(request, request[SESSION])):
            response = error_page(
                request, 403, "Forbidden: missing or invalid CSRF token",
                "This form was not submitted from a console page of your current session "
                "(or the session expired). Nothing was changed. Reload the page and try again.")
        else:
            response = await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400:
            text = exc.text or exc.reason
            if text.startswith(f"{exc.status}: "):  # aiohttp's default body
                text = text.split(": ", 1)[1]
            response = error_page(request, exc.status, exc.reason, text)
        else:
            response = web.Response(status=exc.status, headers={
                k: v for k, v in exc.headers.items() if k.lower() == "location"})
    except Exception as exc:  # a backend down or broken: say so, never a bare traceback
        log.exception("console request %s %s failed", request.method, request.path)
        response = error_page(request, 503, "A backend did not answer",
                              f"{type(exc).__name__}: {str(exc)[:300]}. Nothing was changed "
                              "unless the page said so. Try again shortly.")
    sess = request[SESSION]
    if sess.dirty and not response.prepared:
        _set_cookie(request, response, state, sess)
    return response


def require_role(role: Role) -> Callable[[Handler], Handler]:
    """Only users with at least ``role`` (viewer < agent < admin) reach the handler;
    anonymous GETs are sent to the login page, everything else gets 401/403."""

    def deco(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            who = current_user(request)
            if who is None:
                if request.method in SAFE_METHODS:
                    return redirect(f"/login?next={_safe_next(request.path_qs)}")
                return error_page(request, 401, "Not logged in",
                                  "Your session has ended. Log in again; nothing was changed.")
            if not has_role(who[1], role):
                return error_page(request, 403, "Forbidden",
                                  f"This needs the {role} role; you are {who[1]}. "
                                  "Nothing was changed.")
            return await fn(request)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return deco


def _safe_next(target: str | None) -> str:
    """Only local paths: ``next`` must never send a user to another site."""
    from urllib.parse import quote

    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return quote(target, safe="/?=&-_.~%")


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


# --- routes ------------------------------------------------------------------------------

async def login_form(request: web.Request) -> web.StreamResponse:
    if current_user(request) is not None:
        return redirect(_safe_next(request.query.get("next")))
    return aiohttp_jinja2.render_template(
        "login.html", request, {"next": _safe_next(request.query.get("next")), "error": None,
                                "username": ""})


async def login_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[AUTH]
    ctx = ctx_of(request)
    form = await request.post()
    username = str(form.get("username", "")).strip()[:USERNAME_MAX]
    password = str(form.get("password", ""))
    nxt = _safe_next(str(form.get("next", "/")))
    ip = client_ip(request)
    if state.limiter.blocked(ip, username):
        wait = state.limiter.retry_after(ip, username)
        await ctx.audit(username or "-", "", "login_failed", username or "-",
                        f"rate limited from {ip}", "refused")
        return error_page(request, 429, "Too many login attempts",
                          f"Too many failed logins for this user from your address. "
                          f"Try again in {wait} s.", headers={"Retry-After": str(wait)})
    user = await state.users.authenticate(username, password) if username else None
    if user is None:
        state.limiter.failed(ip, username)
        await ctx.audit(username or "-", "", "login_failed", username or "-",
                        f"from {ip}", "refused")
        return aiohttp_jinja2.render_template(
            "login.html", request, {"next": nxt, "error": "Wrong username or password.",
                                    "username": username}, status=401)
    state.limiter.succeeded(ip, username)
    old = session(request)
    state.revoke(old.sid)
    # a fresh id and CSRF token at login: a token planted before login is worth nothing
    new = Session(username=user.username, role=user.role, dirty=True)
    request[SESSION] = new
    await ctx.audit(user.username, user.role, "login", user.username, f"from {ip}", "ok")
    return redirect(nxt)


async def logout(request: web.Request) -> web.StreamResponse:
    state = request.app[AUTH]
    sess = session(request)
    who = current_user(request)
    state.revoke(sess.sid)
    if who is not None:
        await ctx_of(request).audit(who[0], who[1], "logout", who[0], "", "ok")
    request[SESSION] = Session(dirty=True)
    return redirect("/login")


def template_context(request: web.Request) -> dict[str, Any]:
    """What base.html needs on every page."""
    who = current_user(request)
    return {"user": who[0] if who else None, "role": who[1] if who else None,
            "csrf": csrf_token(request), "flashes": pop_flashes(request),
            "can_act": bool(who and has_role(who[1], "agent")),
            "is_admin": bool(who and has_role(who[1], "admin")),
            "path": request.path}


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
