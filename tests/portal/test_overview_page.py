"""The overview's integration checklist follows what really happened: a catalog upload, the
widget loading on a shop page, webhook deliveries, keys being used."""

import re
from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient

from app.db.models import WebhookAttempt, WebhookEndpoint, WebhookEvent, utcnow
from app.ids import new_id
from tests.portal.conftest import Account, run_in_app, sign_in_as

CSV = b"id,title,price,currency,availability\nsku-1,Trail shoe,99.00,USD,in_stock\n"


def _checklist(client: TestClient) -> dict[str, tuple[str, str]]:
    page = client.get("/portal/")
    assert page.status_code == 200
    items = re.findall(
        r'<span class="status (\w+)">.*?<h3>(.*?)</h3>\s*<p>(.*?)</p>', page.text, re.S
    )
    return {title: (state, detail) for state, title, detail in items}


async def _deliveries(sessions: Any, merchant_id: str, succeeded: int, failed: int) -> None:
    """Delivery attempts as the worker records them."""
    async with sessions() as session:
        endpoint = WebhookEndpoint(
            id=new_id("whe"),
            merchant_id=merchant_id,
            url="https://hooks.example.com/in",
            event_types=[],
            secret="whsec_" + "A" * 43,
        )
        event = WebhookEvent(
            id=new_id("evt"), merchant_id=merchant_id, type="webhook.test", payload="{}"
        )
        session.add_all([endpoint, event])
        await session.flush()
        for status in ["succeeded"] * succeeded + ["failed"] * failed:
            session.add(
                WebhookAttempt(
                    id=new_id("att"),
                    merchant_id=merchant_id,
                    event_id=event.id,
                    endpoint_id=endpoint.id,
                    event_type="webhook.test",
                    attempt=1,
                    trigger="event",
                    status=status,
                    attempted_at=utcnow() - timedelta(hours=1),
                )
            )
        await session.commit()


def test_a_new_account_has_everything_to_do_with_links_to_each_fix(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["viewer"])
    items = _checklist(client)
    assert {title: state for title, (state, _) in items.items()} == {
        "Catalog synced": "todo",
        "Widget seen on your site": "todo",
        "Webhooks delivering": "todo",
        "API keys in use": "todo",
    }
    page = client.get("/portal/").text
    for link in ("/portal/catalog", "/portal/widget", "/portal/webhooks", "/portal/keys"):
        assert f'href="{link}"' in page


def test_the_checklist_turns_done_as_the_integration_happens(
    client: TestClient, account: Account
) -> None:
    keys = account.keys
    upload = client.post(
        f"/api/merchants/{keys.id}/products/upload",
        params={"wait": "true"},
        headers={**keys.auth, "Content-Type": "text/csv"},
        content=CSV,
    )
    assert upload.status_code == 202, upload.text
    client.put(
        f"/api/merchants/{keys.id}/domains",
        headers=keys.auth,
        json={"allowedDomains": ["shop.example.com"]},
    )
    beacon = client.post(
        "/api/widget/events",
        headers={**keys.widget_auth, "Origin": "https://shop.example.com"},
        json={"events": [{"type": "widget_loaded", "durationMs": 90}]},
    )
    assert beacon.status_code in {200, 202}, beacon.text
    run_in_app(client, lambda sessions: _deliveries(sessions, keys.id, succeeded=19, failed=1))

    sign_in_as(client, account.users["developer"])
    items = _checklist(client)
    assert items["Catalog synced"][0] == "ok" and "1 products" in items["Catalog synced"][1]
    widget_state, widget_detail = items["Widget seen on your site"]
    assert widget_state == "ok" and "https://shop.example.com" in widget_detail
    hooks_state, hooks_detail = items["Webhooks delivering"]
    assert hooks_state == "ok" and "95% of 20 deliveries" in hooks_detail
    assert items["API keys in use"][0] == "ok"


def test_problems_are_called_out(client: TestClient, account: Account) -> None:
    keys = account.keys
    client.put(
        f"/api/merchants/{keys.id}/domains",
        headers=keys.auth,
        json={"allowedDomains": ["shop.example.com"]},
    )
    # A beacon from a page that is not an allowed domain (the widget's telemetry still lands).
    run_in_app(client, lambda sessions: _beacon(sessions, keys.id, "https://old-shop.example.org"))
    run_in_app(client, lambda sessions: _deliveries(sessions, keys.id, succeeded=1, failed=3))
    sign_in_as(client, account.users["owner"])
    items = _checklist(client)
    assert items["Widget seen on your site"][0] == "bad"
    assert "not an allowed domain" in items["Widget seen on your site"][1]
    assert items["Webhooks delivering"][0] == "bad"
    assert "25% of 4 deliveries" in items["Webhooks delivering"][1]


async def _beacon(sessions: Any, merchant_id: str, origin: str) -> None:
    from app.db.models import WidgetEvent

    async with sessions() as session:
        session.add(
            WidgetEvent(
                merchant_id=merchant_id, type="widget_loaded", origin=origin, duration_ms=80
            )
        )
        await session.commit()
