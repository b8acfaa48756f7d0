"""The home page: what Vigil is for visitors; accounts and incidents for members.

Alice owns Acme; Charlie owns Globex, an account no incident touches.
"""

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.accounts.models import Membership
from portal.accounts.roles import Role
from portal.incidents.exposures.selectors import incidents_visible_to
from tests import factories


def test_it_tells_visitors_what_vigil_is_and_how_to_sign_in(client):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "March 2024" in html
    assert "No message content" in html
    assert 'href="/accounts/login/"' in html
    assert "Your accounts" not in html


def test_it_answers_head_requests(client):
    assert client.head("/").status_code == 200


def test_it_lists_the_members_accounts_with_their_roles(client, alice):
    client.force_login(alice)

    response = client.get("/")

    html = response.content.decode()
    assert "Welcome, Alice" in html
    assert "Acme Corp" in html
    assert "DA9XK2ACME" in html
    assert "Owner" in html
    assert "alice@acme.example" in html  # the navbar


def test_it_shows_published_incidents_that_touch_the_members_accounts(client, alice, acme):
    incident = factories.incident(title="Telephony provider message-log theft")
    factories.exposure(incident, acme, "+15550000001")
    factories.exposure(incident, acme, "+15550000002")
    client.force_login(alice)

    response = client.get("/")

    assert list(response.context["incidents"]) == [incident]  # once, not once per phone
    assert "Telephony provider message-log theft" in response.content.decode()


def test_it_hides_draft_incidents(client, alice, acme):
    factories.exposure(factories.incident(title="Still a draft", status="draft"), acme)
    client.force_login(alice)

    response = client.get("/")

    assert "Still a draft" not in response.content.decode()
    assert "No published incident involves your accounts." in response.content.decode()


def test_it_hides_incidents_of_other_accounts(client, alice, acme, charlie):
    factories.exposure(factories.incident(title="Acme breach"), acme)
    client.force_login(charlie)

    response = client.get("/")

    assert "Acme breach" not in response.content.decode()
    assert list(incidents_visible_to(charlie)) == []


def test_it_shows_no_incidents_to_anonymous_visitors(acme):
    factories.exposure(factories.incident(), acme)

    assert list(incidents_visible_to(AnonymousUser())) == []


def test_it_links_the_operator_console_for_staff_only(client, alice):
    client.force_login(alice)
    assert "/operator/" not in client.get("/").content.decode()

    alice.is_staff = True
    alice.save(update_fields=["is_staff"])

    assert 'href="/operator/"' in client.get("/").content.decode()


def test_it_lists_incidents_and_accounts_in_a_fixed_number_of_queries(client, alice, acme):
    client.force_login(alice)
    factories.exposure(factories.incident(), acme)
    client.get("/")  # the first request also records the session; count the steady state
    with CaptureQueriesContext(connection) as one:
        client.get("/")

    for _ in range(4):
        factories.exposure(factories.incident(), acme)
        other = factories.organization("Globex")
        Membership.objects.create(user=alice, organization=other, role=Role.VIEWER)
    with CaptureQueriesContext(connection) as five:
        response = client.get("/")

    assert len(response.context["incidents"]) == 5
    assert len(five.captured_queries) == len(one.captured_queries)
