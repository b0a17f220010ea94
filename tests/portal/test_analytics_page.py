"""The analytics page: headline figures, one chart per series and a CSV behind each, over the
chosen days; a bad range is explained on the page."""

from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from app.db.models import WidgetEvent
from tests.portal.conftest import Account, make_account, run_in_app, sign_in_as


def seed_loads(client: TestClient, merchant_id: str, days_ago: int, durations: list[float]) -> None:
    when = datetime.now(UTC).replace(hour=12) - timedelta(days=days_ago)

    async def insert(sessions):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            for ms in durations:
                session.add(
                    WidgetEvent(
                        merchant_id=merchant_id,
                        type="widget_loaded",
                        duration_ms=ms,
                        created_at=when,
                    )
                )
            await session.commit()

    run_in_app(client, insert)


def test_every_role_sees_the_charts_and_downloads_their_csv(
    client: TestClient, account: Account
) -> None:
    seed_loads(client, account.id, 1, [900, 2600])
    for role in ("owner", "developer", "viewer"):
        sign_in_as(client, account.users[role])
        page = client.get("/portal/analytics")
        assert page.status_code == 200, page.text
        assert page.text.count('<svg class="chart"') == 8
        assert "2 s budget" in page.text and "95 % objective" in page.text
        assert "Widget load time, p50 and p95" in page.text
        # The headline figures come from the API's summary: 2 loads, p95 2,600 ms.
        assert "<strong>2</strong>" in page.text and "2,600 ms" in page.text
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    csv = client.get(f"/portal/analytics/export/load-time.csv?from={day}&to={day}")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert f'filename="load-time_{day}_{day}.csv"' in csv.headers["content-disposition"]
    assert csv.text == f"date,load_p50_ms,load_p95_ms\r\n{day},900.0,2600.0\r\n"


def test_a_backwards_range_is_explained_next_to_the_field(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["viewer"])
    page = client.get("/portal/analytics?from=2026-11-10&to=2026-11-01")
    assert page.status_code == 422
    assert 'aria-invalid="true"' in page.text
    assert "The start date must not be after the end date." in page.text
    page = client.get("/portal/analytics?from=yesterday")
    assert page.status_code == 422 and "Enter a date as YYYY-MM-DD." in page.text
    assert client.get("/portal/analytics/export/nothing.csv").status_code == 404


def test_another_merchants_analytics_are_never_shown(client: TestClient, account: Account) -> None:
    other = run_in_app(client, make_account)
    seed_loads(client, other.id, 1, [123456])
    sign_in_as(client, account.users["owner"])
    page = client.get("/portal/analytics")
    assert "123,456" not in page.text


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/portal/analytics/export/chat.csv")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/sign-in?next=")
