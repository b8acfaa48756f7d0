"""The incidents an account sees through the API: the same ones as its pages list."""

import pytest

from portal.accounts.roles import Capability
from portal.audit.models import AuditEvent
from portal.incidents.models import Incident
from tests import factories
from tests.api.conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def touched(acme):
    incident = factories.incident(title="March 2024 SMS logs")
    factories.exposure(incident, acme)
    return incident


def test_it_lists_the_published_incidents_the_account_has_exposures_in(
    acme, globex, touched, api_key, api_client
):
    draft = factories.incident(title="Draft", status=Incident.Status.DRAFT)
    factories.exposure(draft, acme)
    elsewhere = factories.incident(title="Only Globex")
    factories.exposure(elsewhere, globex)
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}))

    response = client.get(f"{API}/incidents")

    assert response.status_code == 200
    body = response.json()
    assert [item["title"] for item in body["items"]] == ["March 2024 SMS logs"]
    assert body["items"][0]["id"] == str(touched.public_id)
    assert body["next_cursor"] is None


def test_it_pages_with_a_cursor_in_a_stable_order(acme, api_key, api_client):
    made = []
    for day in range(1, 6):
        incident = factories.incident(
            title=f"Incident {day}",
            window_start=f"2024-0{day}-01T00:00:00Z",
            window_end=f"2024-0{day}-20T00:00:00Z",
        )
        factories.exposure(incident, acme)
        made.append(incident.title)
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}))

    seen, cursor = [], None
    for _ in range(5):
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"{API}/incidents", query).json()
        seen += [item["title"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(made))


def test_a_tampered_cursor_is_a_problem_saying_where(acme, touched, api_key, api_client):
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}))

    response = client.get(f"{API}/incidents", {"cursor": "eyJsIjoiaW5jaWRlbnRzIn0:forged"})

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Invalid cursor"
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


def test_a_limit_over_1000_is_refused(acme, api_key, api_client):
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}))

    response = client.get(f"{API}/incidents", {"limit": 1001})

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]


def test_it_shows_one_incident_and_audits_the_call_with_the_keys_name(
    acme, touched, api_key, api_client
):
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}, name="SIEM sync"))

    response = client.get(f"{API}/incidents/{touched.public_id}")

    assert response.status_code == 200
    assert response.json()["title"] == "March 2024 SMS logs"
    event = AuditEvent.objects.get(action="api.call")
    assert event.organization_id == acme.pk
    assert event.actor_label.startswith("API key SIEM sync (")
    assert event.details["status"] == 200
    assert event.details["operation"] == "incident_detail"


def test_an_incident_of_another_account_is_a_404(acme, globex, api_key, api_client):
    theirs = factories.incident()
    factories.exposure(theirs, globex)
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}))

    response = client.get(f"{API}/incidents/{theirs.public_id}")

    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_a_key_without_the_capability_gets_403(acme, touched, api_key, api_client):
    client = api_client(api_key(acme, {Capability.VIEW_AUDIT}))

    response = client.get(f"{API}/incidents/{touched.public_id}")

    assert response.status_code == 403
    assert "view_dashboard" in response.json()["detail"]


def test_no_key_is_a_401_problem(acme, touched, api_client):
    response = api_client().get(f"{API}/incidents")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) >= {"type", "title", "status", "detail", "instance"}


def test_a_cursor_keeps_the_microseconds_of_its_last_row(acme, api_key, api_client):
    # Two incidents a few microseconds apart: a cursor cut to milliseconds would skip one.
    for micro in (300, 200, 100):
        incident = factories.incident(
            title=f"At {micro}",
            window_start=f"2024-03-01T00:00:00.000{micro}Z",
            window_end="2024-04-01T00:00:00Z",
        )
        factories.exposure(incident, acme)
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}))

    first = client.get(f"{API}/incidents", {"limit": 1}).json()
    rest = client.get(f"{API}/incidents", {"cursor": first["next_cursor"]}).json()

    titles = [item["title"] for item in first["items"] + rest["items"]]
    assert titles == ["At 300", "At 200", "At 100"]


def test_times_are_written_alike_by_both_writers():
    from datetime import UTC, datetime, timedelta, timezone

    from django.core.serializers.json import DjangoJSONEncoder

    from portal.api.pagination import json_value

    for moment in (
        datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        datetime(2024, 3, 1, 8, 0, 5, 123456, tzinfo=UTC),
        datetime(2024, 3, 1, 8, 0, 5, 120000, tzinfo=timezone(timedelta(hours=2))),
    ):
        assert json_value(moment) == DjangoJSONEncoder().default(moment)


def test_a_key_without_the_capability_gets_403_whatever_the_input(acme, api_key, api_client):
    client = api_client(api_key(acme, {Capability.VIEW_AUDIT}))

    response = client.get(f"{API}/incidents", {"limit": "many"})

    assert response.status_code == 403
