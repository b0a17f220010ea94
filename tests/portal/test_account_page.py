"""Your account: where you are signed in, signing out elsewhere, changing your password."""

from starlette.testclient import TestClient

from app.portal.web import SESSION_COOKIE
from tests.portal.conftest import Account, post_form, sign_in_as


def _works(client: TestClient, token: str) -> bool:
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local", path="/portal")
    return client.get("/portal/").status_code == 200


def test_signing_out_everywhere_else_keeps_only_this_browser(
    client: TestClient, account: Account
) -> None:
    developer = account.users["developer"]
    other = sign_in_as(client, developer)
    mine = sign_in_as(client, developer)
    page = client.get("/portal/account")
    assert page.status_code == 200 and page.text.count("<tr>") == 3  # header + two sessions
    assert "(this browser)" in page.text
    done = post_form(client, "/portal/account/sign-out-elsewhere", {}, page="/portal/account")
    assert done.status_code == 303
    assert _works(client, mine)
    assert not _works(client, other)


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(
    client: TestClient, account: Account
) -> None:
    viewer = account.users["viewer"]
    other = sign_in_as(client, viewer)
    mine = sign_in_as(client, viewer)
    wrong = post_form(
        client,
        "/portal/account/password",
        {
            "current": "not it at all",
            "password": "a new long password",
            "confirm": "a new long password",
        },
        page="/portal/account",
    )
    assert wrong.status_code == 422 and "current password is wrong" in wrong.text
    assert _works(client, other)
    client.cookies.set(SESSION_COOKIE, mine, domain="testserver.local", path="/portal")
    changed = post_form(
        client,
        "/portal/account/password",
        {
            "current": viewer.password,
            "password": "a new long password",
            "confirm": "a new long password",
        },
        page="/portal/account",
    )
    assert changed.status_code == 303
    rotated = changed.cookies.get(SESSION_COOKIE)
    assert rotated and rotated != mine
    assert _works(client, rotated)
    assert not _works(client, mine) and not _works(client, other)
