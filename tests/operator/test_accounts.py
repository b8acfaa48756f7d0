"""The operator console's accounts: the list with its counts, and one account's page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.accounts.models import Invitation
from portal.accounts.roles import Role
from tests import factories
from tests.core.test_layout import assert_nothing_inline_without_the_nonce


def detail_url(org) -> str:
    return f"/operator/accounts/{org.public_id}/"


def listed(response) -> dict[str, object]:
    return {account.account_id: account for account in response.context["page"].object_list}


def test_it_lists_every_account_with_member_and_incident_counts(
    client, olivia, acme, alice, bob, globex, charlie
):
    march, april, globex_only = (factories.incident() for _ in range(3))
    # Many exposures in one incident still make one incident.
    for n in range(3):
        factories.exposure(march, acme, f"+1212555010{n}")
    factories.exposure(april, acme)
    factories.exposure(globex_only, globex)
    empty = factories.organization("Initech", account_id="DA1INITECH")
    client.force_login(olivia)

    response = client.get("/operator/")

    assert response.status_code == 200
    accounts = listed(response)
    assert set(accounts) == {"DA9XK2ACME", "DA7GLOBEX1", "DA1INITECH"}
    assert (accounts["DA9XK2ACME"].member_count, accounts["DA9XK2ACME"].incident_count) == (2, 2)
    assert (accounts["DA7GLOBEX1"].member_count, accounts["DA7GLOBEX1"].incident_count) == (1, 1)
    assert (accounts["DA1INITECH"].member_count, accounts["DA1INITECH"].incident_count) == (0, 0)
    html = response.content.decode()
    assert detail_url(acme) in html
    assert detail_url(empty) in html
    assert 'href="/admin/"' in html
    assert_nothing_inline_without_the_nonce(response)


@pytest.mark.parametrize(("search", "expected"), [("acm", "DA9XK2ACME"), ("7glob", "DA7GLOBEX1")])
def test_it_searches_by_name_or_account_id(client, olivia, acme, globex, search, expected):
    client.force_login(olivia)

    response = client.get("/operator/", {"q": search})

    assert set(listed(response)) == {expected}


def test_it_costs_the_same_queries_for_3_or_10_accounts(client, olivia):
    def add_accounts(n):
        for _ in range(n):
            account = factories.organization("Account")
            factories.member(account, f"m{account.account_id.lower()}@example.com")
            factories.exposure(factories.incident(), account)

    client.force_login(olivia)
    add_accounts(3)
    client.get("/operator/")  # warm up

    with CaptureQueriesContext(connection) as few:
        assert len(listed(client.get("/operator/"))) == 3
    add_accounts(7)
    with CaptureQueriesContext(connection) as many:
        assert len(listed(client.get("/operator/"))) == 10

    assert len(many) == len(few)


def test_it_shows_an_accounts_settings_members_and_their_second_factor(client, olivia, acme, alice):
    factories.member(acme, "nofactor@acme.example", Role.VIEWER, second_factor=False)
    acme.contact_name = "Acme Security Desk"
    acme.save(update_fields=["contact_name"])
    client.force_login(olivia)

    response = client.get(detail_url(acme))

    assert response.status_code == 200
    members = {m.user.email: m for m in response.context["members"]}
    assert members["alice@acme.example"].has_second_factor is True
    assert members["nofactor@acme.example"].has_second_factor is False
    assert [m.role for m in response.context["members"]] == [Role.OWNER, Role.VIEWER]
    html = response.content.decode()
    assert "Alice Adams" in html
    assert "nofactor@acme.example" in html
    assert "Acme Security Desk" in html
    assert "Europe/Berlin" in html
    assert "14 days" in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_shows_pending_invitations_only(client, olivia, acme, alice):
    now = timezone.now()
    Invitation.objects.create(
        organization=acme,
        email="pending@acme.example",
        role=Role.ADMIN,
        invited_by=alice,
        expires_at=now + timedelta(days=3),
    )
    Invitation.objects.create(
        organization=acme,
        email="expired@acme.example",
        role=Role.ADMIN,
        expires_at=now - timedelta(days=1),
    )
    Invitation.objects.create(
        organization=acme,
        email="accepted@acme.example",
        role=Role.ADMIN,
        expires_at=now + timedelta(days=3),
        accepted_at=now,
    )
    client.force_login(olivia)

    html = client.get(detail_url(acme)).content.decode()

    assert "pending@acme.example" in html
    assert "expired@acme.example" not in html
    assert "accepted@acme.example" not in html


def test_it_shows_the_incidents_touching_the_account_with_their_counts(
    client, olivia, acme, globex
):
    march = factories.incident(title="March logs")
    factories.exposure(march, acme, "+12125550101", sms_count=2, message_count=2)
    # Notified: a person in the directory (a notice goes to people, never to a number).
    jane = factories.directory_user(acme, "jdoe", phones=["+12125550102"])
    factories.exposure(
        march, acme, "+12125550102", directory_user=jane, last_notified_at=timezone.now()
    )
    factories.exposure(march, globex, "+12125550103")
    factories.exposure(factories.incident(title="Globex only"), globex)
    client.force_login(olivia)

    response = client.get(detail_url(acme))

    [incident] = response.context["incidents"]
    assert incident.title == "March logs"
    assert (incident.exposure_count, incident.message_count, incident.notified_count) == (2, 3, 1)
    assert "Globex only" not in response.content.decode()


def test_it_costs_the_same_queries_for_2_or_6_members(client, olivia, acme):
    client.force_login(olivia)
    for n in range(2):
        factories.member(acme, f"m{n}@acme.example")
    client.get(detail_url(acme))

    with CaptureQueriesContext(connection) as few:
        client.get(detail_url(acme))
    for n in range(2, 6):
        factories.member(acme, f"m{n}@acme.example", second_factor=bool(n % 2))
    with CaptureQueriesContext(connection) as many:
        response = client.get(detail_url(acme))

    assert len(response.context["members"]) == 6
    assert len(many) == len(few)


def test_it_is_a_404_for_an_unknown_account(client, olivia):
    client.force_login(olivia)

    assert client.get("/operator/accounts/00000000-0000-0000-0000-000000000000/").status_code == 404


OPERATOR_URLS = [
    "/operator/",
    "/operator/accounts/{acme}/",
    "/operator/audit/",
    "/operator/audit/export.csv",
]


@pytest.mark.parametrize("path", OPERATOR_URLS)
@pytest.mark.parametrize("who", ["alice", "charlie"])
def test_it_is_a_404_for_everyone_but_staff(client, request, acme, who, path):
    client.force_login(request.getfixturevalue(who))

    assert client.get(path.format(acme=acme.public_id)).status_code == 404
    assert client.post(path.format(acme=acme.public_id)).status_code == 404


@pytest.mark.parametrize("path", OPERATOR_URLS)
def test_it_sends_anonymous_visitors_to_sign_in(client, acme, path):
    response = client.get(path.format(acme=acme.public_id))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
