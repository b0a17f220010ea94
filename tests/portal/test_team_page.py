"""Invitations and the team: single-use, expiring links; roles; removal ends sessions."""

import re
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from app.db.accounts import PortalLink
from app.db.models import utcnow
from tests.portal.conftest import (
    Account,
    csrf_from,
    make_account,
    post_form,
    run_in_app,
    sign_in_as,
)

_LINK = re.compile(r'value="http://testserver(/portal/link/[\w-]+)"')


def _invite(client: TestClient, email: str, role: str) -> str:
    response = post_form(
        client, "/portal/team/invite", {"email": email, "role": role}, page="/portal/team"
    )
    assert response.status_code == 201, response.text
    return _LINK.search(response.text)[1]


def _accept(client: TestClient, link: str, password: str = "a fine long password") -> Any:
    client.cookies.clear()
    page = client.get(link)
    if page.status_code != 200:
        return page
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)[1]
    return client.post(link, data={"csrf": token, "password": password, "confirm": password})


def test_an_invited_teammate_joins_with_the_role_given_and_the_link_works_once(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["owner"])
    link = _invite(client, "New.Person@Example.com", "viewer")
    assert "new.person@example.com" in client.get("/portal/team").text  # pending
    joined = _accept(client, link)
    assert joined.status_code == 303 and joined.headers["location"] == "/portal/"
    overview = client.get("/portal/")
    assert "new.person@example.com" in overview.text and ">viewer<" in overview.text
    assert client.get("/portal/team").status_code == 403  # a viewer manages no one
    again = _accept(client, link)
    assert again.status_code == 410 and "no longer works" in again.text


def test_an_expired_invitation_no_longer_works(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    link = _invite(client, "late@example.com", "developer")

    async def expire(sessions: Any) -> None:
        async with sessions() as session:
            await session.execute(
                update(PortalLink)
                .where(PortalLink.email == "late@example.com")
                .values(expires_at=utcnow())
            )
            await session.commit()

    run_in_app(client, expire)
    assert _accept(client, link).status_code == 410


def test_a_weak_or_mismatched_password_is_explained(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    link = _invite(client, "weak@example.com", "developer")
    client.cookies.clear()
    token = csrf_from(client, link)
    short = client.post(link, data={"csrf": token, "password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 12 characters" in short.text
    differ = client.post(
        link, data={"csrf": token, "password": "long enough one", "confirm": "long enough two"}
    )
    assert differ.status_code == 422 and "differ" in differ.text
    assert _accept(client, link).status_code == 303  # still usable after the mistakes


def test_changing_a_role_and_removing_a_teammate(client: TestClient, account: Account) -> None:
    developer = account.users["developer"]
    sign_in_as(client, developer)
    assert client.get("/portal/keys").text.count("Create a key") == 1
    # The developer's browser session is kept aside while the owner works.
    developer_cookie = client.cookies.get("ragassist_portal")
    sign_in_as(client, account.users["owner"])
    changed = post_form(
        client, f"/portal/team/{developer.id}/role", {"role": "viewer"}, page="/portal/team"
    )
    assert changed.status_code == 303
    client.cookies.set(
        "ragassist_portal", developer_cookie, domain="testserver.local", path="/portal"
    )
    assert "Create a key" not in client.get("/portal/keys").text  # now a viewer, at once
    sign_in_as(client, account.users["owner"])
    removed = post_form(client, f"/portal/team/{developer.id}/remove", {}, page="/portal/team")
    assert removed.status_code == 303
    assert developer.email not in client.get("/portal/team").text
    client.cookies.set(
        "ragassist_portal", developer_cookie, domain="testserver.local", path="/portal"
    )
    assert client.get("/portal/").status_code == 303  # signed out


def test_the_last_owner_cannot_leave(client: TestClient, account: Account) -> None:
    owner = account.users["owner"]
    sign_in_as(client, owner)
    refused = post_form(
        client, f"/portal/team/{owner.id}/role", {"role": "viewer"}, page="/portal/team"
    )
    assert refused.status_code == 422 and "at least one owner" in refused.text
    removed = post_form(client, f"/portal/team/{owner.id}/remove", {}, page="/portal/team")
    assert removed.status_code == 422
    assert ">owner<" in client.get("/portal/").text


@pytest.mark.parametrize("role", ["developer", "viewer"])
def test_only_owners_manage_the_team(client: TestClient, account: Account, role: str) -> None:
    sign_in_as(client, account.users[role])
    assert 'href="/portal/team"' not in client.get("/portal/").text
    assert client.get("/portal/team").status_code == 403
    token = csrf_from(client)
    invite = client.post(
        "/portal/team/invite", data={"csrf": token, "email": "x@example.com", "role": "owner"}
    )
    assert invite.status_code == 403
    viewer = account.users["viewer"]
    role_change = client.post(
        f"/portal/team/{viewer.id}/role", data={"csrf": token, "role": "owner"}
    )
    assert role_change.status_code == 403
    sign_in_as(client, account.users["owner"])
    assert "x@example.com" not in client.get("/portal/team").text


def test_another_merchants_people_are_out_of_reach(client: TestClient, account: Account) -> None:
    other = run_in_app(client, make_account)
    sign_in_as(client, account.users["owner"])
    assert other.users["viewer"].email not in client.get("/portal/team").text
    target = other.users["viewer"].id
    for path, data in [
        (f"/portal/team/{target}/role", {"role": "owner"}),
        (f"/portal/team/{target}/remove", {}),
    ]:
        assert post_form(client, path, data, page="/portal/team").status_code == 404
    sign_in_as(client, other.users["viewer"])
    overview = client.get("/portal/")
    assert overview.status_code == 200 and ">viewer<" in overview.text
