"""The account home, and switching between the accounts a person belongs to."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.accounts.models import Membership
from portal.accounts.roles import Role
from tests import factories
from tests.core.test_layout import assert_nothing_inline_without_the_nonce


def home_url(org) -> str:
    return f"/o/{org.public_id}/"


def test_it_shows_the_account_its_contact_incidents_and_your_role(client, acme, alice):
    acme.contact_name = "Acme security desk"
    acme.contact_email = "security@acme.example"
    acme.contact_phone = "+12125550100"
    acme.save(update_fields=["contact_name", "contact_email", "contact_phone"])
    factories.exposure(factories.incident(title="Telephony provider log theft"), acme)
    client.force_login(alice)

    response = client.get(home_url(acme))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Corp" in html
    assert "DA9XK2ACME" in html
    assert "Acme security desk" in html
    assert "security@acme.example" in html
    assert "+12125550100" in html
    assert "Telephony provider log theft" in html
    assert "Your role: Owner" in html
    assert f'href="/o/{acme.public_id}/team/"' in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_says_when_no_designated_contact_is_set(client, acme, bob):
    client.force_login(bob)

    html = client.get(home_url(acme)).content.decode()

    assert "No designated contact is set" in html
    assert "ask an owner of this account to set one" in html


def test_it_shows_only_published_incidents_that_touch_this_account(client, acme, globex, alice):
    Membership.objects.create(user=alice, organization=globex, role=Role.VIEWER)
    factories.exposure(factories.incident(title="Acme's incident"), acme)
    factories.exposure(factories.incident(title="Globex's incident"), globex)
    factories.exposure(factories.incident(title="A draft", status="draft"), acme)
    client.force_login(alice)

    response = client.get(home_url(acme))

    assert [i.title for i in response.context["incidents"]] == ["Acme's incident"]


@pytest.mark.parametrize(
    ("role", "sees_audit"),
    [(Role.OWNER, True), (Role.ADMIN, True), (Role.SECURITY, False), (Role.VIEWER, False)],
)
def test_it_links_the_audit_log_only_for_roles_that_may_see_it(client, acme, role, sees_audit):
    person = factories.member(acme, "someone@acme.example", role)
    client.force_login(person)

    html = client.get(home_url(acme)).content.decode()

    assert (f'href="/o/{acme.public_id}/audit/"' in html) is sees_audit


def test_it_answers_404_to_charlie_and_sends_visitors_to_sign_in(client, acme, alice, charlie):
    assert client.get(home_url(acme)).url.startswith("/accounts/login/")
    client.force_login(charlie)
    assert client.get(home_url(acme)).status_code == 404


def test_it_links_each_account_on_the_home_page(client, acme, globex, alice):
    Membership.objects.create(user=alice, organization=globex, role=Role.VIEWER)
    client.force_login(alice)

    html = client.get("/").content.decode()

    assert f'href="/o/{acme.public_id}/"' in html
    assert f'href="/o/{globex.public_id}/"' in html


def test_it_switches_between_accounts_and_remembers_the_last_one(client, acme, globex, alice):
    Membership.objects.create(user=alice, organization=globex, role=Role.VIEWER)
    client.force_login(alice)

    on_globex = client.get(home_url(globex))
    home = client.get("/")

    assert client.session["vigil_org"] == str(globex.public_id)
    for response in (on_globex, home):
        switcher = response.context["current"], response.context["others"]
        assert switcher[0].organization == globex
        assert [m.organization for m in switcher[1]] == [acme]
        html = response.content.decode()
        assert 'id="account-switcher"' in html
        assert f'href="/o/{acme.public_id}/"' in html

    client.get(home_url(acme))
    assert client.session["vigil_org"] == str(acme.public_id)
    assert client.get("/").context["current"].organization == acme


def test_it_shows_no_switcher_to_someone_without_accounts(client, db):
    client.force_login(factories.staff())

    html = client.get("/").content.decode()

    assert 'id="account-switcher"' not in html


def test_it_switches_accounts_in_a_fixed_number_of_queries(client, acme, alice):
    client.force_login(alice)
    client.get(home_url(acme))
    with CaptureQueriesContext(connection) as one:
        client.get(home_url(acme))

    for n in range(5):
        Membership.objects.create(
            user=alice, organization=factories.organization(f"Org {n}"), role=Role.VIEWER
        )
    with CaptureQueriesContext(connection) as six:
        response = client.get(home_url(acme))

    assert len(response.context["others"]) == 5
    assert len(six.captured_queries) == len(one.captured_queries)
