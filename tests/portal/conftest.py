"""Portal fixtures: accounts with one user per role, signed-in clients, and for the browser
tests the app in its own uvicorn process (the widget tests' `api`), Chromium and axe-core.

- `client` + `account`: the app in-process (TestClient) and a merchant with an owner, a
  developer and a viewer; `sign_in_as(client, account.users["viewer"])` sets that user's session
  cookie, `post_form(client, path, data)` posts with the page's CSRF token, as a browser would.
- `portal_page(role)`: a Chromium page signed in as `role` of `browser_account` against `api`;
  `axe_check(page)` runs axe-core there and returns the serious and critical violations.
"""

import asyncio
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from app.db.engine import create_engine, session_factory
from app.main import create_app
from app.portal.web import SESSION_COOKIE
from app.services import accounts
from app.services.merchants import create_merchant
from app.settings import Settings, normalize_database_url
from tests.conftest import Backend, MerchantKeys, make_settings
from tests.widget import conftest as widget_fixtures
from tests.widget.conftest import Api, PageWatch, in_thread

# The widget tests' fixtures: the app in a uvicorn process (with the widget built), Chromium.
api = widget_fixtures.api
browser = widget_fixtures.browser
widget_build = widget_fixtures.widget_build
shop = widget_fixtures.shop

PASSWORD = "correct horse battery staple"
ROLES = ("owner", "developer", "viewer")
HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"


@dataclass(frozen=True)
class User:
    id: str
    email: str
    role: str
    password: str = PASSWORD


@dataclass(frozen=True)
class Account:
    keys: MerchantKeys
    users: dict[str, User]

    @property
    def id(self) -> str:
        return self.keys.id


async def make_account(sessions: Any, *, domains: list[str] | None = None) -> Account:
    """A merchant (with its default keys) and one user per role, through the services."""
    tag = uuid.uuid4().hex[:8]
    async with sessions() as session:
        made = await create_merchant(session, name=f"Shop {tag}", domains=domains or [])
        users = {}
        for role in ROLES:
            user = await accounts.add_user(
                session,
                merchant_id=made.merchant.id,
                email=f"{role}-{tag}@example.com",
                role=role,
                password=PASSWORD,
            )
            users[role] = User(user.id, user.email, role)
        await session.commit()
    keys = MerchantKeys(made.merchant.id, made.secret_key.plaintext, made.publishable_key.plaintext)
    return Account(keys, users)


async def open_session(sessions: Any, user: User) -> str:
    """A session token for `user`, as signing in would make (for tests not about sign-in)."""
    async with sessions() as session:
        record = await accounts.find_user(session, user.email)
        assert record is not None
        token = await accounts.start_session(session, record, ip="127.0.0.1", user_agent="tests")
        await session.commit()
    return token


# ---- in-process -------------------------------------------------------------------------

# argon2id at its lowest cost. The production parameters (64 MiB, 3 passes) make each hash and
# each sign-in take a quarter of a second on purpose, and the portal tests hash three passwords
# per account (one account per test, on each backend): minutes of the suite, proving nothing
# the cost adds. The hashes are still argon2id, made and checked by the same code; a process
# the tests start (uvicorn, the CLI) keeps the production hasher and reads a hash's parameters
# from the hash itself. `production_password_hashes` puts the real parameters back for the
# tests about them.
_QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_QUICK_DUMMY_HASH = _QUICK_HASHER.hash(uuid.uuid4().hex)
_PRODUCTION_HASHER = accounts._hasher
_PRODUCTION_DUMMY_HASH = accounts._DUMMY_HASH


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", _QUICK_HASHER)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", _QUICK_DUMMY_HASH)


@pytest.fixture
def production_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", _PRODUCTION_HASHER)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", _PRODUCTION_DUMMY_HASH)


@pytest.fixture
def settings(backend: Backend) -> Settings:
    # Many tests sign in from the same client address; the throttling test sets its own limits.
    return make_settings(
        backend, PORTAL_SIGN_IN_PER_IP="100000/60", PORTAL_SIGN_IN_PER_ACCOUNT="100000/60"
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def run_in_app(client: TestClient, work: Callable[[Any], Any]) -> Any:
    """`await work(sessions)` on the app's own event loop (its connection pool lives there)."""
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def call() -> Any:
        return await work(sessions)

    return client.portal.call(call)  # type: ignore[union-attr]


@pytest.fixture
def account(client: TestClient) -> Account:
    return run_in_app(client, make_account)


def sign_in_as(client: TestClient, user: User) -> str:
    token = run_in_app(client, lambda sessions: open_session(sessions, user))
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local", path="/portal")
    return token


_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def csrf_from(client: TestClient, page: str = "/portal/") -> str:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    found = _CSRF.search(response.text)
    assert found, f"no CSRF field on {page}"
    return found[1]


def post_form(
    client: TestClient, path: str, data: dict[str, Any], *, page: str = "/portal/"
) -> Any:
    """POST as the portal's own form would: with the CSRF token a page of the portal holds."""
    return client.post(path, data={**data, "csrf": csrf_from(client, page)})


# ---- in the browser ---------------------------------------------------------------------


def _ensure_axe() -> Path:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: the accessibility tests need axe-core from npm")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True
        )
    return AXE


@pytest.fixture(scope="session")
def axe_source() -> str:
    return _ensure_axe().read_text()


@pytest.fixture
def axe_check(axe_source: str) -> Callable[[Any], list[dict[str, Any]]]:
    """Serious and critical axe-core violations of the page as it is now (WCAG 2.1 AA)."""

    def check(page: Any) -> list[dict[str, Any]]:
        # evaluate() runs outside the page's CSP, so the portal's CSP stays on during the check.
        page.evaluate(axe_source)
        result = page.evaluate(
            """() => axe.run(document, {runOnly: {type: 'tag',
                 values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"""
        )
        return [
            {
                "id": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "nodes": [node["target"] for node in violation["nodes"]][:5],
            }
            for violation in result["violations"]
            if violation["impact"] in {"serious", "critical"}
        ]

    return check


def api_sessions(api: Api, work: Callable[[Any], Any]) -> Any:
    """Run `await work(sessions)` against the uvicorn process's database."""

    async def run() -> Any:
        engine = create_engine(normalize_database_url(api.database_url), pool_size=1)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return in_thread(lambda: asyncio.run(run()))


@pytest.fixture
def browser_account(api: Api) -> Account:
    return api_sessions(api, lambda sessions: make_account(sessions, domains=["localhost"]))


async def add_member(sessions: Any, merchant_id: str, role: str) -> User:
    """One more user, for a merchant made elsewhere (e.g. `api.merchant(...)` with a catalog)."""
    async with sessions() as session:
        user = await accounts.add_user(
            session,
            merchant_id=merchant_id,
            email=f"{role}-{uuid.uuid4().hex[:8]}@example.com",
            role=role,
            password=PASSWORD,
        )
        await session.commit()
    return User(user.id, user.email, role)


PortalPage = Callable[..., tuple[Any, PageWatch]]


@pytest.fixture
def portal_page(browser: Any, api: Api, browser_account: Account) -> Iterator[PortalPage]:
    """`portal_page("viewer")` → a Chromium page signed in as that role of `browser_account`
    (or of `account=`), each in a fresh context; `portal_page(None)` → signed out. A phone:
    `width=390`."""
    contexts: list[Any] = []

    def open_page(
        role: str | None, *, account: Account | None = None, width: int = 1280
    ) -> tuple[Any, PageWatch]:
        context = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        if role is not None:
            user = (account or browser_account).users[role]
            token = api_sessions(api, lambda sessions: open_session(sessions, user))
            context.add_cookies(
                [
                    {
                        "name": SESSION_COOKIE,
                        "value": token,
                        "url": api.url + "/portal/",
                        "httpOnly": True,
                        "sameSite": "Lax",
                    }
                ]
            )
        page = context.new_page()
        watch = PageWatch()
        watch.attach(page)
        return page, watch

    yield open_page
    for context in contexts:
        context.close()
