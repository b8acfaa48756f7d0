"""Suspicion reports through the API: the account's list (by status, a page at a time),
one report, and the triage with the page's moves, its note to close, its refusal of a
step over someone else's, and its audit event.

Jane got Acme's notice and reported a call through its link; Globex is another account.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Delivery, NoticeCampaign, SuspicionReport
from portal.accounts.roles import Capability, Role
from portal.audit.models import AuditEvent
from tests import factories
from tests.api.conftest import API

pytestmark = pytest.mark.django_db
Status = SuspicionReport.Status


def a_delivery(organization, username: str = "jdoe") -> Delivery:
    incident = factories.incident(title="Telephony provider breach")
    person = factories.directory_user(organization, username, name="Jane Doe")
    campaign = NoticeCampaign.objects.create(
        organization=organization,
        incident=incident,
        name="March notice",
        status=NoticeCampaign.Status.COMPLETED,
    )
    return Delivery.objects.create(
        campaign=campaign,
        organization=organization,
        directory_user=person,
        email=person.email,
        status=Delivery.Status.SENT,
    )


def a_report(delivery: Delivery, **fields) -> SuspicionReport:
    values = {
        "organization": delivery.organization,
        "delivery": delivery,
        "incident": delivery.campaign.incident,
        "channel": SuspicionReport.Channel.CALL,
        "occurred_at": timezone.now() - timedelta(hours=1),
        "asked_for": "the code from a text message",
        "contact_detail": "+1 202 555 0199",
    }
    return SuspicionReport.objects.create(**{**values, **fields})


@pytest.fixture
def delivery(acme):
    return a_delivery(acme)


def triage(client, report, **body):
    return client.post(
        f"{API}/reports/{report.public_id}/triage", body, content_type="application/json"
    )


def test_it_lists_the_accounts_reports_newest_first_with_who_filed_them(
    acme, globex, delivery, api_key, api_client
):
    older = a_report(delivery)
    newer = a_report(delivery, channel=SuspicionReport.Channel.SMS)
    a_report(a_delivery(globex, "someone"))

    response = api_client(api_key(acme, Role.SECURITY)).get(f"{API}/reports")

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [str(newer.public_id), str(older.public_id)]
    assert items[1]["reporter"] == {"username": "jdoe", "name": "Jane Doe"}
    assert items[1]["channel"] == "call"
    assert items[1]["asked_for"] == "the code from a text message"
    assert items[1]["incident"]["title"] == "Telephony provider breach"
    assert items[1]["status"] == "new"


def test_it_filters_by_status_a_page_at_a_time(acme, delivery, api_key, api_client):
    closed = [a_report(delivery, status=Status.CLOSED) for _ in range(3)]
    a_report(delivery)
    client = api_client(api_key(acme, Role.ADMIN))

    first = client.get(f"{API}/reports", {"status": "closed", "limit": 2}).json()
    rest = client.get(
        f"{API}/reports", {"status": "closed", "limit": 2, "cursor": first["next_cursor"]}
    ).json()

    seen = [item["id"] for item in first["items"] + rest["items"]]
    assert seen == [str(report.public_id) for report in reversed(closed)]
    assert rest["next_cursor"] is None


def test_a_cursor_of_another_filter_is_refused(acme, delivery, api_key, api_client):
    for _ in range(2):
        a_report(delivery, status=Status.CLOSED)
    client = api_client(api_key(acme, Role.ADMIN))
    cursor = client.get(f"{API}/reports", {"status": "closed", "limit": 1}).json()["next_cursor"]

    response = client.get(f"{API}/reports", {"cursor": cursor})

    assert response.status_code == 422


def test_it_triages_a_report_for_the_keys_maker_and_audits_it(
    acme, delivery, alice, api_key, api_client
):
    report = a_report(delivery)
    client = api_client(api_key(acme, Role.SECURITY, by=alice, name="SOAR"))
    version = client.get(f"{API}/reports/{report.public_id}").json()["version"]

    response = triage(client, report, status="triaged", note="Called Jane back", seen=version)

    assert response.status_code == 200, response.content
    report.refresh_from_db()
    assert (report.status, report.triage_note, report.triaged_by) == (
        Status.TRIAGED,
        "Called Jane back",
        alice,
    )
    assert response.json()["status"] == "triaged"
    assert response.json()["triage_note"] == "Called Jane back"
    event = AuditEvent.objects.get(action="report.triage")
    assert event.actor == alice
    through = AuditEvent.objects.filter(action="api.call").last().actor_label
    assert event.details == {"from": "new", "to": "triaged", "note": True, "through": through}


def test_it_wants_a_note_to_close(acme, delivery, api_key, api_client):
    report = a_report(delivery)

    response = triage(api_client(api_key(acme, Role.SECURITY)), report, status="closed", note=" ")

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "note"
    report.refresh_from_db()
    assert report.status == Status.NEW


def test_it_reopens_a_closed_report(acme, delivery, api_key, api_client):
    report = a_report(delivery, status=Status.CLOSED, triage_note="Spam")

    response = triage(api_client(api_key(acme, Role.SECURITY)), report, status="triaged")

    assert response.status_code == 200
    report.refresh_from_db()
    assert report.status == Status.TRIAGED


def test_it_never_sends_a_report_back_to_new(acme, delivery, api_key, api_client):
    report = a_report(delivery, status=Status.TRIAGED)

    response = triage(api_client(api_key(acme, Role.SECURITY)), report, status="new")

    assert response.status_code == 422
    report.refresh_from_db()
    assert report.status == Status.TRIAGED


def test_it_tells_the_second_of_two_triaging_at_once(acme, delivery, api_key, api_client):
    report = a_report(delivery)
    client = api_client(api_key(acme, Role.SECURITY))
    version = client.get(f"{API}/reports/{report.public_id}").json()["version"]
    assert triage(client, report, status="closed", note="Spam").status_code == 200

    response = triage(client, report, status="triaged", note="Mine", seen=version)

    assert response.status_code == 409
    assert "Someone else changed" in response.json()["detail"]
    report.refresh_from_db()
    assert (report.status, report.triage_note) == (Status.CLOSED, "Spam")


def test_a_key_without_the_reports_capability_sees_none(acme, delivery, api_key, api_client):
    report = a_report(delivery)
    client = api_client(api_key(acme, [Capability.VIEW_DASHBOARD, Capability.MANAGE_NOTICES]))

    assert client.get(f"{API}/reports").status_code == 403
    assert client.get(f"{API}/reports/{report.public_id}").status_code == 403
    assert triage(client, report, status="triaged").status_code == 403
    report.refresh_from_db()
    assert report.status == Status.NEW


def test_another_accounts_report_is_not_found(globex, delivery, api_key, api_client):
    report = a_report(delivery)
    client = api_client(api_key(globex))

    assert client.get(f"{API}/reports/{report.public_id}").status_code == 404
    assert triage(client, report, status="triaged").status_code == 404
    report.refresh_from_db()
    assert report.status == Status.NEW
