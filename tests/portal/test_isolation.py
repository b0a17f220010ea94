"""A session of merchant A never sees or changes merchant B's data: every portal URL that takes
an id is tried with B's ids, by A's owner, and B's data is checked unchanged afterwards."""

import re
from typing import Any

import pytest
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from app.db.accounts import PortalLink, PortalUser
from app.db.models import ApiKey, SyncRun, WebhookAttempt, WebhookEndpoint, WebhookEvent, utcnow
from app.ids import new_id
from app.portal.pages import ROUTES
from app.services import accounts
from tests.portal.conftest import Account, csrf_from, make_account, run_in_app, sign_in_as

# Whose id goes where: the first path prefix that matches names the kind of id.
ID_KINDS = [
    ("/keys/", "key"),
    ("/team/invitations/", "link"),
    ("/team/", "user"),
    ("/webhooks/endpoints/", "endpoint"),
    ("/webhooks/deliveries/", "attempt"),
    ("/catalog/runs/", "run"),
]
ENDPOINT_ACTIONS = ["enable", "disable", "rotate-secret", "delete"]


async def _merchant_b_data(sessions: Any, account: Account) -> dict[str, str]:
    """B's rows of every kind a portal URL can name."""
    async with sessions() as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.merchant_id == account.id))
        made = await accounts.create_link(
            session,
            merchant_id=account.id,
            purpose="invite",
            email="b-new@example.com",
            role="developer",
        )
        endpoint = WebhookEndpoint(
            id=new_id("whe"),
            merchant_id=account.id,
            url="https://hooks.example.com/b",
            event_types=[],
            secret="whsec_" + "B" * 43,
        )
        event = WebhookEvent(
            id=new_id("evt"), merchant_id=account.id, type="webhook.test", payload="{}"
        )
        session.add_all([endpoint, event])
        await session.flush()
        attempt = WebhookAttempt(
            id=new_id("att"),
            merchant_id=account.id,
            event_id=event.id,
            endpoint_id=endpoint.id,
            event_type="webhook.test",
            attempt=1,
            trigger="event",
            status="failed",
            attempted_at=utcnow(),
            response_status=500,
        )
        run = SyncRun(
            id=new_id("run"),
            merchant_id=account.id,
            source="upload",
            trigger="upload",
            status="failed",
            mode="incremental",
            error_message="B's private failure",
        )
        session.add_all([attempt, run])
        await session.commit()
    assert key is not None
    return {
        "key": key.id,
        "link": made.link.id,
        "user": account.users["viewer"].id,
        "endpoint": endpoint.id,
        "attempt": attempt.id,
        "run": run.id,
    }


async def _b_state(sessions: Any, account: Account, ids: dict[str, str]) -> dict[str, Any]:
    async with sessions() as session:
        key = await session.get(ApiKey, ids["key"])
        link = await session.get(PortalLink, ids["link"])
        user = await session.get(PortalUser, ids["user"])
        endpoint = await session.get(WebhookEndpoint, ids["endpoint"])
        attempts = await session.scalar(
            select(WebhookAttempt.id).where(WebhookAttempt.endpoint_id == ids["endpoint"])
        )
    return {
        "key revoked": key.revoked_at if key else "deleted",
        "link": (link.expires_at, link.used_at) if link else "deleted",
        "user": user.role if user else "deleted",
        "endpoint": (endpoint.enabled, endpoint.secret) if endpoint else "deleted",
        "attempts": attempts,
    }


def _urls() -> list[tuple[str, str, str]]:
    """(method, path template, id kind) for every portal route taking an id of a merchant."""
    found = []
    for route in ROUTES:
        if not isinstance(route, Route) or not route.param_convertors:
            continue
        kind = next((kind for prefix, kind in ID_KINDS if route.path.startswith(prefix)), None)
        if kind is None:
            continue  # /link/{token}, /docs/{slug}, CSV exports by series name: no merchant ids
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path, kind))
    return found


def test_every_route_with_an_id_is_covered() -> None:
    with_ids = {
        route.path
        for route in ROUTES
        if isinstance(route, Route) and set(route.param_convertors) - {"token", "slug", "group"}
    }
    assert with_ids == {path for _, path, _ in _urls()}


@pytest.fixture
def merchant_b(client: TestClient) -> tuple[Account, dict[str, str]]:
    other = run_in_app(client, make_account)
    return other, run_in_app(client, lambda sessions: _merchant_b_data(sessions, other))


def test_merchant_a_cannot_reach_merchant_b_by_any_portal_url(
    client: TestClient, account: Account, merchant_b: tuple[Account, dict[str, str]]
) -> None:
    other, ids = merchant_b
    before = run_in_app(client, lambda sessions: _b_state(sessions, other, ids))
    sign_in_as(client, account.users["owner"])
    token = csrf_from(client)
    tried = 0
    for method, template, kind in _urls():
        actions = ENDPOINT_ACTIONS if "{action}" in template else [""]
        for action in actions:
            path = "/portal" + re.sub(r"\{(id|keyId|userId|linkId)\}", ids[kind], template)
            path = path.replace("{action}", action)
            data = {"csrf": token, "role": "owner"} if method == "POST" else None
            response = client.request(method, path, data=data)
            assert response.status_code == 404, (method, path, response.status_code)
            assert response.headers["content-type"].startswith("text/html")
            tried += 1
    assert tried >= 10
    # Nothing of B's changed...
    assert run_in_app(client, lambda sessions: _b_state(sessions, other, ids)) == before
    assert client.get("/api/keys", headers=other.keys.auth).status_code == 200
    # ...and no page of A's shows anything of B's.
    secrets = [*ids.values(), other.id, other.users["owner"].email, "B's private failure"]
    for route in ROUTES:
        if (
            isinstance(route, Route)
            and not route.param_convertors
            and "GET" in (route.methods or ())
        ):
            page = client.get("/portal" + route.path)
            leaked = [secret for secret in secrets if secret in page.text]
            assert not leaked, (route.path, leaked)
