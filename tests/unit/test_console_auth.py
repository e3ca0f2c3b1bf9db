"""Console auth: password hashing, the users file, roles, CSRF, sessions and login limits."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from aiohttp import web

from streams.console.app import create_console_app
from streams.console.auth import (
    AUTH,
    COOKIE,
    LoginLimiter,
    add_user,
    has_role,
    hash_password,
    load_or_create_secret,
    read_users,
    require_role,
    verify_password,
)
from tests.unit.console_fakes import (
    PASSWORDS,
    console_settings,
    csrf_from,
    fake_context,
    login,
    make_client,
    session_csrf,
)

# --- hashing and the users file ------------------------------------------------------------


def test_hash_is_argon2id_salted_and_verifies() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a.startswith("$argon2id$") and a != b  # random salt
    assert verify_password(a, "correct horse")
    assert not verify_password(a, "correct hors")
    assert not verify_password("not-a-hash", "correct horse")
    with pytest.raises(ValueError):
        hash_password("")


def test_users_file_is_0600_and_holds_no_plain_password(tmp_path: Path) -> None:
    path = tmp_path / "c" / "users.json"
    assert add_user(path, "ada", "admin", "s3cret-pass") is True
    assert add_user(path, "ada", "agent", "other-pass") is False  # update, not a duplicate
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "s3cret-pass" not in text and "other-pass" not in text
    users = read_users(path)
    assert list(users) == ["ada"] and users["ada"].role == "agent"
    assert verify_password(users["ada"].password_hash, "other-pass")


@pytest.mark.parametrize("name,role", [("", "agent"), ("a b", "agent"), ("x" * 65, "agent"),
                                       ("<script>", "agent"), ("ok", "root")])
def test_add_user_rejects_bad_names_and_roles(tmp_path: Path, name: str, role: str) -> None:
    with pytest.raises(ValueError):
        add_user(tmp_path / "u.json", name, role, "password1")
    assert not (tmp_path / "u.json").exists()


def test_unknown_role_in_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"users": [{"username": "x", "role": "god", "hash": "h"}]}))
    with pytest.raises(ValueError, match="unknown role"):
        read_users(path)


def test_secret_is_created_once_0600(tmp_path: Path) -> None:
    path = tmp_path / "d" / "secret"
    first = load_or_create_secret(path)
    assert len(first) == 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(path) == first


def test_role_order() -> None:
    assert has_role("admin", "agent") and has_role("agent", "agent")
    assert has_role("viewer", "viewer")
    assert not has_role("viewer", "agent") and not has_role("agent", "admin")
    assert not has_role(None, "viewer") and not has_role("root", "viewer")


# --- rate limiting ---------------------------------------------------------------------------


def test_limiter_counts_failures_per_ip_and_user_in_a_window() -> None:
    now = [1000.0]
    lim = LoginLimiter(3, 60, clock=lambda: now[0])
    for _ in range(3):
        assert not lim.blocked("1.1.1.1", "ada")
        lim.failed("1.1.1.1", "ada")
    assert lim.blocked("1.1.1.1", "ada") and lim.blocked("1.1.1.1", "ADA")
    assert not lim.blocked("2.2.2.2", "ada") and not lim.blocked("1.1.1.1", "bob")
    assert 0 < lim.retry_after("1.1.1.1", "ada") <= 61
    now[0] += 61
    assert not lim.blocked("1.1.1.1", "ada")


def test_limiter_success_resets_and_memory_is_bounded() -> None:
    lim = LoginLimiter(2, 60, max_keys=10)
    lim.failed("ip", "u")
    lim.succeeded("ip", "u")
    lim.failed("ip", "u")
    assert not lim.blocked("ip", "u")
    for i in range(100):
        lim.failed(f"ip{i}", "u")
    assert len(lim._fails) <= 10


# --- the app: sessions, CSRF, roles ------------------------------------------------------------


@pytest.fixture
async def app_client(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = console_settings(tmp_path, login_attempts=3)
    ctx, search, pub = fake_context(settings)
    app = create_console_app(settings, ctx)

    @require_role("agent")
    async def agent_only(request: web.Request) -> web.Response:
        return web.Response(text="acted")

    @require_role("viewer")
    async def viewer_page(request: web.Request) -> web.Response:
        return web.Response(text="seen")

    app.router.add_post("/test/act", agent_only)
    app.router.add_get("/test/view", viewer_page)
    client = await make_client(app)
    yield client, pub
    await client.close()


async def test_login_sets_a_hardened_cookie_and_audits(app_client) -> None:  # type: ignore[no-untyped-def]
    client, pub = app_client
    page = await client.get("/login")
    assert page.status == 200
    token = csrf_from(await page.text())
    resp = await client.post("/login", data={"username": "bob", "password": PASSWORDS["bob"],
                                             "csrf_token": token, "next": "/explore"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/explore"
    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert int(cookie["max-age"]) == 28800
    assert not cookie["secure"]  # plain http in the test; https sets Secure
    audits = pub.values("voc.audit")
    assert [(a["action"], a["actor"], a["result"]) for a in audits] == [("login", "bob", "ok")]
    assert audits[0]["schema_version"] == 1 and len(audits[0]["id"]) == 32


async def test_csrf_token_changes_at_login(app_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = app_client
    before = csrf_from(await (await client.get("/login")).text())
    after = await login(client, "bob")
    assert before != after


async def test_wrong_password_then_rate_limit_429(app_client) -> None:  # type: ignore[no-untyped-def]
    client, pub = app_client
    token = csrf_from(await (await client.get("/login")).text())
    for _ in range(3):
        r = await client.post("/login", data={"username": "bob", "password": "nope",
                                              "csrf_token": token})
        assert r.status == 401 and "Wrong username or password" in await r.text()
    r = await client.post("/login", data={"username": "bob", "password": PASSWORDS["bob"],
                                          "csrf_token": token})
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many login attempts" in await r.text()
    kinds = [a["action"] for a in pub.values("voc.audit")]
    assert kinds == ["login_failed"] * 4 and "login" not in kinds


async def test_login_without_csrf_is_refused(app_client) -> None:  # type: ignore[no-untyped-def]
    client, pub = app_client
    await client.get("/login")
    r = await client.post("/login", data={"username": "bob", "password": PASSWORDS["bob"]})
    assert r.status == 403 and "CSRF" in await r.text()
    assert pub.sent == []


async def test_post_without_or_with_wrong_csrf_is_403_and_handler_never_runs(app_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = app_client
    token = await login(client, "bob")
    r = await client.post("/test/act", data={"x": "1"})
    assert r.status == 403 and "Nothing was changed" in await r.text()
    r = await client.post("/test/act", data={"csrf_token": token[:-1] + "x"})
    assert r.status == 403
    r = await client.post("/test/act", data={"csrf_token": token})
    assert r.status == 200 and await r.text() == "acted"
    r = await client.post("/test/act", headers={"X-CSRF-Token": token})
    assert r.status == 200


async def test_viewer_is_forbidden_anonymous_is_sent_to_login(app_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = app_client
    r = await client.get("/test/view?a=1", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login?next=/test/view?a=1"
    token = await login(client, "vic")
    r = await client.post("/test/act", data={"csrf_token": token})
    assert r.status == 403 and "needs the agent role" in await r.text()


async def test_logout_revokes_the_session(app_client) -> None:  # type: ignore[no-untyped-def]
    client, pub = app_client
    token = await login(client, "bob")
    old_cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    r = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"
    assert [a["action"] for a in pub.values("voc.audit")][-1] == "logout"
    # replaying the old cookie after logout does not bring the session back
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: old_cookie})
    r = await client.get("/test/view", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login")


async def test_removed_user_loses_the_session(app_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, _ = app_client
    await login(client, "bob")
    users = tmp_path / "users.json"
    data = json.loads(users.read_text())
    data["users"] = [u for u in data["users"] if u["username"] != "bob"]
    users.write_text(json.dumps(data))
    r = await client.get("/test/view", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login")


async def test_tampered_cookie_is_anonymous(app_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = app_client
    await login(client, "bob")
    raw = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: raw})
    r = await client.get("/test/view", allow_redirects=False)
    assert r.status == 200  # the untouched cookie still works
    from itsdangerous import URLSafeTimedSerializer

    state = client.app[AUTH]
    payload = state.serializer.loads(raw)
    payload["u"] = "ada"  # promote to admin, signed with a key that is not the console's
    forged = URLSafeTimedSerializer(b"x" * 32, salt="voc-console-session").dumps(payload)
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: forged})
    r = await client.get("/test/view", allow_redirects=False)
    assert r.status == 303


async def test_next_never_leaves_the_site(app_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = app_client
    token = csrf_from(await (await client.get("/login")).text())
    r = await client.post("/login", data={"username": "bob", "password": PASSWORDS["bob"],
                                          "csrf_token": token, "next": "//evil.example/x"},
                          allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/"


async def test_security_headers(app_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = app_client
    r = await client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_session_csrf_helper_matches_rendered_token(app_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = app_client
    token = await login(client, "ada")
    assert token == await session_csrf(client)


# --- the CLI ---------------------------------------------------------------------------------


def test_add_user_command_reads_the_password_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from streams.cli.main import cli
    from streams.settings import get_settings

    monkeypatch.setenv("VOC_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # no broker: audit warns only
    get_settings.cache_clear()
    users, pw = tmp_path / "users.json", tmp_path / "pw"
    pw.write_text("long-enough-pass\n")
    try:
        r = CliRunner().invoke(cli, ["console", "add-user", "carol", "--role", "agent",
                                     "--password-file", str(pw), "--users-file", str(users)])
        assert r.exit_code == 0, r.output
        assert "added carol (agent)" in r.output and "audit event not written" in r.output
        assert verify_password(read_users(users)["carol"].password_hash, "long-enough-pass")
        pw.write_text("short\n")
        r = CliRunner().invoke(cli, ["console", "add-user", "dave", "--role", "agent",
                                     "--password-file", str(pw), "--users-file", str(users)])
        assert r.exit_code != 0 and "at least 8 characters" in r.output
        r = CliRunner().invoke(cli, ["console", "add-user", "eve", "--role", "root",
                                     "--password-file", str(pw), "--users-file", str(users)])
        assert r.exit_code != 0
        assert set(read_users(users)) == {"carol"}
    finally:
        get_settings.cache_clear()


async def test_secure_cookies_setting_marks_the_cookie_secure(tmp_path: Path) -> None:
    settings = console_settings(tmp_path, secure_cookies=True)
    ctx, _, _ = fake_context(settings)
    client = await make_client(create_console_app(settings, ctx))
    try:
        r = await client.get("/login")
        assert r.cookies[COOKIE]["secure"]
    finally:
        await client.close()
