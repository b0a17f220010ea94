"""`invoke up` prints a portal sign-in for the demo merchant that works, run after run."""

import re
from pathlib import Path

from starlette.testclient import TestClient

from app.db.migrate import upgrade
from app.main import create_app
from app.settings import load_settings
from ops.local import seed_demo_merchant


def _signs_in(client: TestClient, email: str, password: str) -> bool:
    client.cookies.clear()
    page = client.get("/portal/sign-in")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)[1]
    response = client.post(
        "/portal/sign-in", data={"csrf": token, "email": email, "password": password}
    )
    return response.status_code == 303 and client.get("/portal/").status_code == 200


def test_the_demo_owner_can_sign_in_with_what_up_prints(tmp_path: Path) -> None:
    settings = load_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}", LOG_LEVEL="WARNING")
    upgrade(settings.database_url)
    state = tmp_path / "demo.json"
    demo = seed_demo_merchant(settings, state)
    assert demo.portal_email and len(demo.portal_password) >= 12
    assert state.stat().st_mode & 0o777 == 0o600
    again = seed_demo_merchant(settings, state)
    assert again == demo  # the same sign-in every run
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert _signs_in(client, demo.portal_email, demo.portal_password)
        assert demo.merchant_id in client.get("/portal/").text


def test_a_lost_demo_password_is_replaced_by_one_that_works(tmp_path: Path) -> None:
    settings = load_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}", LOG_LEVEL="WARNING")
    upgrade(settings.database_url)
    state = tmp_path / "demo.json"
    first = seed_demo_merchant(settings, state)
    state.write_text(state.read_text().replace(first.portal_password, "forgotten-password"))
    second = seed_demo_merchant(settings, state)
    assert second.merchant_id == first.merchant_id
    assert second.portal_password not in {first.portal_password, "forgotten-password"}
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert _signs_in(client, second.portal_email, second.portal_password)
        assert not _signs_in(client, second.portal_email, first.portal_password)
