"""Sign-in, sessions and their edges: cookies, fixation, expiry, revocation, throttling,
open redirects, CSRF, and the wall between portal cookies and API keys (DESIGN §17)."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from app.db.accounts import PortalSession
from app.db.models import utcnow
from app.main import create_app
from app.portal.web import SESSION_COOKIE
from app.services import accounts
from tests.conftest import Backend, make_settings
from tests.portal.conftest import (
    Account,
    User,
    csrf_from,
    make_account,
    post_form,
    run_in_app,
    sign_in_as,
)


def _sign_in(client: TestClient, user: User, *, password: str | None = None, next_: str = ""):
    # A browser already signed in is sent on from the sign-in page: take its token elsewhere.
    signed_in = client.get("/portal/sign-in").status_code == 303
    return post_form(
        client,
        "/portal/sign-in",
        {"email": user.email, "password": password or user.password, "next": next_},
        page="/portal/" if signed_in else "/portal/sign-in",
    )


def _signed_in(client: TestClient) -> bool:
    response = client.get("/portal/")
    return response.status_code == 200 and "Sign out" in response.text


def test_sign_in_sets_a_private_session_cookie_and_opens_the_portal(
    client: TestClient, account: Account
) -> None:
    response = _sign_in(client, account.users["owner"])
    assert response.status_code == 303 and response.headers["location"] == "/portal/"
    cookie = next(
        header
        for header in response.headers.get_list("set-cookie")
        if header.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/portal" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test below
    page = client.get("/portal/")
    assert page.status_code == 200 and account.users["owner"].email in page.text


def test_passwords_are_kept_as_production_strength_argon2id_and_sign_in_with_them(
    production_password_hashes: None, client: TestClient, account: Account
) -> None:
    # The other portal tests hash at argon2's lowest cost (tests/portal/conftest.py).
    owner = account.users["owner"]

    async def stored(sessions: Any) -> str:
        async with sessions() as session:
            record = await accounts.find_user(session, owner.email)
            assert record is not None and record.password_hash is not None
            return record.password_hash

    assert run_in_app(client, stored).startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert _sign_in(client, owner, password="not the password").status_code == 401
    assert _sign_in(client, owner).status_code == 303 and _signed_in(client)


def test_a_wrong_password_is_refused_with_a_message_and_no_session(
    client: TestClient, account: Account
) -> None:
    response = _sign_in(client, account.users["owner"], password="not the password")
    assert response.status_code == 401
    assert "The email or password is wrong." in response.text
    assert not any(
        header.startswith(SESSION_COOKIE + "=")
        for header in response.headers.get_list("set-cookie")
    )
    assert not _signed_in(client)


def test_cookies_are_secure_behind_https(settings: Any, account: Account) -> None:
    # uvicorn sets the scheme from X-Forwarded-Proto only for --forwarded-allow-ips proxies;
    # the portal then sees https and marks its cookies Secure.
    with TestClient(create_app(settings), base_url="https://testserver") as https:
        page = https.get("/portal/sign-in")
        assert "Secure" in page.headers["set-cookie"]
        response = https.post(
            "/portal/sign-in",
            data={
                "email": account.users["owner"].email,
                "password": account.users["owner"].password,
                "csrf": csrf_from(https, "/portal/sign-in"),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]


def test_sign_in_never_keeps_a_session_the_browser_brought(
    client: TestClient, account: Account
) -> None:
    # An attacker plants a session id (fixation) or the browser still holds an old session.
    old = sign_in_as(client, account.users["viewer"])
    response = _sign_in(client, account.users["owner"])
    new = response.cookies.get(SESSION_COOKIE)
    assert new and new != old
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, old, domain="testserver.local", path="/portal")
    assert not _signed_in(client)  # the session signing in replaced is over
    client.cookies.set(
        SESSION_COOKIE, "planted-by-attacker", domain="testserver.local", path="/portal"
    )
    assert not _signed_in(client)


def test_sign_out_ends_the_session_on_the_server(client: TestClient, account: Account) -> None:
    token = sign_in_as(client, account.users["developer"])
    response = post_form(client, "/portal/sign-out", {})
    assert response.status_code == 303 and response.headers["location"] == "/portal/sign-in"
    # Even a copy of the cookie kept from before no longer works.
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local", path="/portal")
    assert not _signed_in(client)


@pytest.mark.parametrize(
    ("column", "age"),
    [
        pytest.param("last_seen_at", accounts.IDLE_TIMEOUT, id="idle"),
        pytest.param("created_at", accounts.ABSOLUTE_LIFETIME, id="absolute"),
    ],
)
def test_idle_and_old_sessions_expire(
    client: TestClient, account: Account, column: str, age: timedelta
) -> None:
    token = sign_in_as(client, account.users["owner"])
    assert _signed_in(client)

    async def age_session(sessions: Any) -> None:
        past = utcnow() - age - timedelta(seconds=1)
        values: dict[str, Any] = {column: past}
        if column == "created_at":
            values["expires_at"] = past + accounts.ABSOLUTE_LIFETIME
        async with sessions() as session:
            await session.execute(
                update(PortalSession)
                .where(PortalSession.token_hash == accounts.hash_token(token))
                .values(**values)
            )
            await session.commit()

    run_in_app(client, age_session)
    response = client.get("/portal/keys?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/sign-in?next=/portal/keys%3Fx%3D1"


def test_a_password_change_revokes_every_session_of_the_user(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["developer"])
    assert _signed_in(client)

    async def new_password(sessions: Any) -> None:
        async with sessions() as session:
            user = await accounts.find_user(session, account.users["developer"].email)
            assert user is not None
            await accounts.set_password(session, user, "another long password")
            await session.commit()

    run_in_app(client, new_password)
    assert not _signed_in(client)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example.com/portal/",
        "//evil.example.com/portal/",
        "/\\evil.example.com",
        "/portal/../api/keys",
        "/portal//evil.example.com",
        "/api/keys",
        "javascript:alert(1)",
    ],
)
def test_sign_in_never_redirects_outside_the_portal(
    client: TestClient, account: Account, target: str
) -> None:
    response = _sign_in(client, account.users["owner"], next_=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/"
    # The sign-in page itself never points its form elsewhere either.
    page = client.get("/portal/sign-in", params={"next": target})
    assert page.status_code in {200, 303}


def test_sign_in_returns_to_the_page_asked_for(client: TestClient, account: Account) -> None:
    response = _sign_in(client, account.users["owner"], next_="/portal/domains?check=x")
    assert response.headers["location"] == "/portal/domains?check=x"


def test_brute_force_is_throttled_per_account_with_a_clear_message(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        backend, PORTAL_SIGN_IN_PER_ACCOUNT="3/900", PORTAL_SIGN_IN_PER_IP="1000/900"
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        account = run_in_app(client, make_account)
        owner = account.users["owner"]
        for _ in range(3):
            assert _sign_in(client, owner, password="guess guess guess").status_code == 401
        throttled = _sign_in(client, owner)  # even the right password now waits
        assert throttled.status_code == 429
        assert "Too many sign-in attempts" in throttled.text
        assert int(throttled.headers["Retry-After"]) > 0
        # Operators see the attack in the logs: refusals, then the throttle.
        messages = [record.getMessage() for record in caplog.records]
        assert messages.count("portal sign-in refused") == 3
        assert "portal sign-in throttled" in messages
        assert owner.password not in caplog.text and "guess guess" not in caplog.text
        assert not _signed_in(client)
        # Another account from the same address is not locked out by this one.
        assert _sign_in(client, account.users["viewer"]).status_code == 303


def test_brute_force_is_throttled_per_client_address(backend: Backend) -> None:
    settings = make_settings(
        backend, PORTAL_SIGN_IN_PER_ACCOUNT="1000/900", PORTAL_SIGN_IN_PER_IP="4/900"
    )
    app = create_app(settings)
    address = f"198.51.100.{__import__('random').randint(1, 254)}"
    with TestClient(app, follow_redirects=False, client=(address, 5000)) as client:
        account = run_in_app(client, make_account)
        for role in ("owner", "developer", "viewer", "owner"):
            user = account.users[role]
            assert _sign_in(client, user, password="wrong password!").status_code == 401
        response = _sign_in(client, account.users["developer"])
        assert response.status_code == 429 and "Too many sign-in attempts" in response.text


def test_forms_without_the_right_csrf_token_are_refused_and_change_nothing(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["owner"])
    for data in ({}, {"csrf": "0" * 64}, {"csrf": csrf_from(client) + "0"}):
        response = client.post("/portal/sign-out", data=data)
        assert response.status_code == 403
        assert "This form has expired" in response.text
        assert _signed_in(client)
    # A token from another session is as good as none.
    other = TestClient(client.app)
    other.cookies.set(SESSION_COOKIE, "x" * 43, domain="testserver.local", path="/portal")
    assert client.post("/portal/sign-out", data={"csrf": "1" * 64}).status_code == 403
    assert _signed_in(client)


def test_a_form_posted_from_another_site_is_refused(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    token = csrf_from(client)
    response = client.post(
        "/portal/sign-out",
        data={"csrf": token},
        headers={"Origin": "https://evil.example.com"},
    )
    assert response.status_code == 403 and _signed_in(client)


def test_portal_cookies_never_authorise_the_api(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    # The cookie is scoped to /portal; sent anyway, the API ignores it.
    cookie = {"Cookie": f"{SESSION_COOKIE}={client.cookies.get(SESSION_COOKIE)}"}
    response = client.get("/api/keys", headers=cookie)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    domains = client.get(f"/api/merchants/{account.id}/domains", headers=cookie)
    assert domains.status_code == 401


def test_api_keys_never_open_the_portal(client: TestClient, account: Account) -> None:
    client.cookies.clear()
    response = client.get("/portal/", headers=account.keys.auth)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/sign-in")
    assert client.get("/portal/keys", params={"key": account.keys.publishable}).status_code == 303


def test_pages_carry_strict_security_headers(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    for path in ("/portal/sign-in", "/portal/", "/portal/static/portal.css", "/portal/nope"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        cache = headers["cache-control"]
        assert cache == ("public, max-age=300" if "/static/" in path else "no-store")


def test_errors_are_pages_that_explain_never_json(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    missing = client.get("/portal/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Page not found" in missing.text and '"success"' not in missing.text
    wrong_method = client.delete("/portal/sign-in")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"].startswith("text/html")


def test_expired_sessions_are_deleted_when_the_user_signs_in_again(
    client: TestClient, account: Account
) -> None:
    owner = account.users["owner"]
    old = sign_in_as(client, owner)

    async def expire_and_count(sessions: Any) -> None:
        async with sessions() as session:
            await session.execute(
                update(PortalSession)
                .where(PortalSession.token_hash == accounts.hash_token(old))
                .values(expires_at=utcnow())
            )
            await session.commit()

    run_in_app(client, expire_and_count)
    assert _sign_in(client, owner).status_code == 303

    async def hashes(sessions: Any) -> set[str]:
        async with sessions() as session:
            rows = await session.scalars(
                select(PortalSession.token_hash).where(PortalSession.user_id == owner.id)
            )
            return set(rows)

    left = run_in_app(client, hashes)
    assert accounts.hash_token(old) not in left and len(left) == 1
