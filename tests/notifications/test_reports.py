"""Suspicion reports: filing (the service), the email to the designated contact, and
the account's list, detail and triage pages. The public form is in test_report_form.py.

Alice owns Acme; Bob is an admin there; Vera only views; Charlie owns Globex, outside.
"""

import logging
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import Delivery, NoticeCampaign, ScheduledEmail, SuspicionReport
from notifications.outbox import services as outbox
from notifications.outbox.scheduled import scheduled_emails_send_due
from notifications.reports import services as reports
from portal.audit.models import AuditEvent
from tests import factories
from tests.accounts.auth import signed_in
from tests.email_links import assert_links_open

pytestmark = pytest.mark.django_db
Status = SuspicionReport.Status


def a_delivery(
    organization,
    *,
    username: str = "jdoe",
    name: str = "Jane Doe",
    incident=None,
    contact: dict | None = None,
    campaign_status: str = NoticeCampaign.Status.COMPLETED,
) -> Delivery:
    """A notice sent to one person of `organization`, with the contact its campaign froze."""
    incident = incident or factories.incident(title="Telephony provider breach")
    person = factories.directory_user(organization, username, name=name)
    campaign = NoticeCampaign.objects.create(
        organization=organization,
        incident=incident,
        name="March notice",
        status=campaign_status,
        contact_snapshot=contact if contact is not None else {},
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
    }
    return SuspicionReport.objects.create(**{**values, **fields})


@pytest.fixture
def acme():
    return factories.organization(
        "Acme Corp",
        contact_name="Acme IT security",
        contact_email="security@acme.example",
        contact_phone="+1 212 555 0100",
        time_zone="Europe/Berlin",
    )


@pytest.fixture
def delivery(acme):
    return a_delivery(acme)


def file(delivery, **fields):
    values = {
        "delivery": delivery,
        "channel": SuspicionReport.Channel.CALL,
        "occurred_at": timezone.now() - timedelta(minutes=30),
        "asked_for": "the code from a text message",
        "contact_detail": "+1 202 555 0199",
        "description": "A man said he was from the service desk.",
    }
    return reports.suspicion_report_file(**{**values, **fields})


def list_url(acme, **query):
    url = reverse("reports:list", kwargs={"org": acme.public_id})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def detail_url(report):
    return reverse(
        "reports:detail", kwargs={"org": report.organization.public_id, "report": report.public_id}
    )


def triage_url(report):
    return reverse(
        "reports:triage", kwargs={"org": report.organization.public_id, "report": report.public_id}
    )


# Filing -------------------------------------------------------------------------------


def test_it_stores_a_report_with_its_account_delivery_and_incident(delivery):
    report = file(delivery)

    stored = SuspicionReport.objects.get()
    assert stored == report
    assert stored.organization == delivery.organization
    assert stored.delivery == delivery
    assert stored.incident == delivery.campaign.incident
    assert stored.status == Status.NEW
    assert stored.contact_detail == "+1 202 555 0199"


def test_it_audits_the_report_as_the_system(delivery):
    report = file(delivery)

    event = AuditEvent.objects.get(action="report.filed")
    assert event.actor is None
    assert event.actor_label == "system"
    assert event.organization_id == delivery.organization_id
    assert event.target_id == str(report.public_id)
    assert event.details == {"channel": "call", "delivery": delivery.pk}


def test_it_emails_the_designated_contact_once_committed(
    delivery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = file(delivery)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["security@acme.example"]
    assert message.subject.startswith("Suspicious contact reported to Acme Corp: phone call")
    assert "Jane Doe (jdoe in your directory)" in message.body
    assert "What they asked for: the code from a text message" in message.body
    assert "Their number or address: +1 202 555 0199" in message.body
    assert "A man said he was from the service desk." in message.body
    assert detail_url(report) in message.body
    assert "(Europe/Berlin)" in message.body


def test_it_sends_nothing_before_the_commit(delivery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        file(delivery)

    assert mail.outbox == []
    assert len(callbacks) == 1


def test_it_writes_to_the_contact_the_notice_named_and_to_todays(
    acme, django_capture_on_commit_callbacks
):
    # The notice told the person "Night desk"; the settings page says reports go to
    # the account's contact of today. Both hear of it.
    delivery = a_delivery(
        acme, contact={"name": "Night desk", "email": "night@acme.example", "phone": ""}
    )

    with django_capture_on_commit_callbacks(execute=True):
        file(delivery)

    assert mail.outbox[0].to == ["night@acme.example", acme.contact_email]
    assert mail.outbox[0].body.startswith("Hello Night desk,")


def test_it_falls_back_to_the_accounts_contact_field_by_field(acme):
    delivery = a_delivery(acme, contact={"name": "Night desk", "email": ""})

    contact = reports.report_contact(delivery)

    assert contact == {
        "name": "Night desk",
        "email": "security@acme.example",
        "phone": "+1 212 555 0100",
        "url": "",
    }


def test_it_keeps_the_report_and_retries_the_email_when_the_server_refuses_it(
    delivery, django_capture_on_commit_callbacks, caplog
):
    refused = OSError("451 4.3.0 <security@acme.example>: try again later")
    with (
        mock.patch(
            "django.core.mail.backends.locmem.EmailBackend.send_messages", side_effect=refused
        ),
        caplog.at_level(logging.INFO),
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = file(delivery)

    assert SuspicionReport.objects.filter(pk=report.pk).exists()
    row = ScheduledEmail.objects.get(kind=ScheduledEmail.Kind.REPORT_FILED)
    assert (row.status, row.attempts) == (ScheduledEmail.Status.PENDING, 1)
    assert row.last_error == "OSError: 451 4.3.0 <[address]>: try again later"
    assert "attempt 1 of 5 failed (OSError)" in caplog.text
    assert "@" not in caplog.text
    assert "555" not in caplog.text
    assert mail.outbox == []

    # The sweep a minute later finds it due, and the server takes it.
    with time_machine.travel(row.next_attempt_at, tick=False):
        assert scheduled_emails_send_due() == 1

    assert mail.outbox[0].to == ["security@acme.example"]
    assert f"<report-filed-{row.pk}@" in mail.outbox[0].extra_headers["Message-ID"]


def test_it_stores_a_report_when_the_account_has_no_contact_email(
    django_capture_on_commit_callbacks, caplog
):
    bare = factories.organization("Bare Inc")
    delivery = a_delivery(bare)

    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        file(delivery)

    assert SuspicionReport.objects.count() == 1
    assert mail.outbox == []
    row = ScheduledEmail.objects.get(kind=ScheduledEmail.Kind.REPORT_FILED)
    assert row.status == ScheduledEmail.Status.FAILED
    assert row.last_error == "The account has no designated contact email."
    assert "nobody to send it to" in caplog.text


def test_it_takes_a_report_through_a_notice_whose_campaign_was_cancelled(acme):
    delivery = a_delivery(acme, campaign_status=NoticeCampaign.Status.CANCELLED)

    report = file(delivery)

    assert report.pk is not None


def test_it_refuses_a_time_in_the_future(delivery):
    with pytest.raises(reports.ReportRefusedError, match="cannot be in the future"):
        file(delivery, occurred_at=timezone.now() + timedelta(hours=1))

    assert SuspicionReport.objects.count() == 0


def test_it_refuses_an_unknown_channel(delivery):
    with pytest.raises(reports.ReportRefusedError, match="Unknown channel"):
        file(delivery, channel="carrier pigeon")


def test_it_keeps_no_address_in_a_stored_send_error():
    error = OSError("550 <jane@acme.example> rejected; so is bob@x.example")

    text = outbox.error_without_addresses(error)

    assert "@" not in text
    assert text == "OSError: 550 <[address]> rejected; so is [address]"


# Triage (the service) ----------------------------------------------------------------


def test_it_triages_a_new_report_and_audits_it(delivery, bob):
    report = a_report(delivery)

    reports.suspicion_report_triage(
        report=report, status=Status.TRIAGED, note="Called Jane back", by=bob
    )

    report.refresh_from_db()
    assert (report.status, report.triage_note, report.triaged_by) == (
        Status.TRIAGED,
        "Called Jane back",
        bob,
    )
    assert report.triaged_at is not None
    event = AuditEvent.objects.get(action="report.triage")
    assert (event.actor, event.organization_id) == (bob, delivery.organization_id)
    assert event.details == {"from": "new", "to": "triaged", "note": True}


def test_it_wants_a_note_to_close(delivery, bob):
    report = a_report(delivery)

    with pytest.raises(reports.ReportRefusedError, match="Say what was done"):
        reports.suspicion_report_triage(report=report, status=Status.CLOSED, note=" ", by=bob)


def test_it_never_sends_a_report_back_to_new(delivery, bob):
    report = a_report(delivery, status=Status.TRIAGED)

    with pytest.raises(reports.ReportRefusedError, match="cannot be marked new"):
        reports.suspicion_report_triage(report=report, status=Status.NEW, note="", by=bob)


def test_it_reopens_a_closed_report(delivery, bob):
    report = a_report(delivery, status=Status.CLOSED, triage_note="Spam")

    reports.suspicion_report_triage(report=report, status=Status.TRIAGED, note="Again", by=bob)

    report.refresh_from_db()
    assert report.status == Status.TRIAGED


def test_it_tells_the_second_of_two_people_triaging_at_once(delivery, alice, bob):
    report = a_report(delivery)
    seen_by_bob = SuspicionReport.objects.get(pk=report.pk)
    reports.suspicion_report_triage(report=report, status=Status.CLOSED, note="Spam", by=alice)

    with pytest.raises(reports.ReportRefusedError, match="Someone else changed"):
        reports.suspicion_report_triage(
            report=seen_by_bob, status=Status.TRIAGED, note="Mine", by=bob
        )

    report.refresh_from_db()
    assert (report.status, report.triaged_by) == (Status.CLOSED, alice)


# The account's pages ------------------------------------------------------------------


def test_it_lists_the_accounts_reports_newest_first_with_who_filed_them(client, acme, bob):
    older = a_report(a_delivery(acme, username="jdoe", name="Jane Doe"))
    newer = a_report(a_delivery(acme, username="rroe", name="Richard Roe"))
    SuspicionReport.objects.filter(pk=older.pk).update(
        created_at=datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
    )
    signed_in(client, bob)

    response = client.get(list_url(acme))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(f'data-report="{newer.public_id}"') < html.index(
        f'data-report="{older.public_id}"'
    )
    assert "Richard Roe" in html
    assert "rroe" in html
    assert "Jane Doe" in html
    assert "2025-01-02 10:00" in html  # in the account's time zone, Berlin


def test_it_filters_the_list_by_status(client, acme, bob, delivery):
    new = a_report(delivery)
    closed = a_report(delivery, status=Status.CLOSED)
    signed_in(client, bob)

    html = client.get(list_url(acme, status="closed")).content.decode()

    assert str(closed.public_id) in html
    assert str(new.public_id) not in html
    assert 'aria-current="page">Closed' in html


def test_it_ignores_an_unknown_status_filter(client, acme, bob, delivery):
    report = a_report(delivery)
    signed_in(client, bob)

    html = client.get(list_url(acme, status="nonsense")).content.decode()

    assert str(report.public_id) in html


def test_it_pages_the_list(client, acme, bob, delivery):
    for _ in range(55):
        a_report(delivery)
    signed_in(client, bob)

    first = client.get(list_url(acme)).content.decode()
    second = client.get(list_url(acme, page=2)).content.decode()

    assert first.count("data-report=") == 50
    assert second.count("data-report=") == 5
    assert "1\N{EN DASH}50 of 55 reports" in first


def test_it_reads_the_list_in_the_same_number_of_queries_however_many_rows(client, acme, bob):
    signed_in(client, bob)
    a_report(a_delivery(acme, username="u0"))
    client.get(list_url(acme))  # warm the session and the caches
    with CaptureQueriesContext(connection) as few:
        client.get(list_url(acme))
    for n in range(1, 8):
        a_report(a_delivery(acme, username=f"u{n}", incident=factories.incident()))
    with CaptureQueriesContext(connection) as many:
        client.get(list_url(acme))

    assert len(many) == len(few)


def test_it_shows_another_accounts_report_to_nobody(client, acme, charlie, delivery):
    report = a_report(delivery)
    signed_in(client, charlie)

    assert client.get(list_url(acme)).status_code == 404
    assert client.get(detail_url(report)).status_code == 404
    globex = charlie.memberships.get().organization
    own = reverse("reports:detail", kwargs={"org": globex.public_id, "report": report.public_id})
    assert client.get(own).status_code == 404
    assert client.post(triage_url(report), {"status": "triaged"}).status_code == 404


def test_it_shows_the_list_to_security_staff_but_not_to_viewers(client, acme, sam, vera):
    signed_in(client, sam)
    assert client.get(list_url(acme)).status_code == 200

    signed_in(client, vera)
    assert client.get(list_url(acme)).status_code == 403


def test_it_shows_one_report_with_its_reporter_and_notice(client, acme, bob, delivery):
    report = a_report(delivery, contact_detail="+1 202 555 0199", description="Said he was IT")
    signed_in(client, bob)

    html = client.get(detail_url(report)).content.decode()

    assert "Jane Doe" in html
    assert "(jdoe)" in html
    assert "+1 202 555 0199" in html
    assert "Said he was IT" in html
    assert "March notice" in html
    assert "Telephony provider breach" in html
    assert "Nobody has looked at this report yet." in html


def test_it_triages_from_the_report_page(client, acme, bob, delivery):
    report = a_report(delivery)
    signed_in(client, bob)

    response = client.post(
        triage_url(report), {"status": "triaged", "note": "Jane confirmed"}, follow=True
    )

    html = response.content.decode()
    assert "The report is now triaged." in html
    assert "Jane confirmed" in html
    report.refresh_from_db()
    assert (report.status, report.triaged_by) == (Status.TRIAGED, bob)
    assert AuditEvent.objects.filter(action="report.triage").count() == 1


def test_it_refuses_a_triage_drawn_before_someone_elses(client, acme, bob, delivery):
    report = a_report(delivery)
    signed_in(client, bob)
    page = client.get(detail_url(report)).content.decode()
    seen = page.split('name="seen" value="', 1)[1].split('"', 1)[0]
    # Meanwhile a colleague triages it.
    reports.suspicion_report_triage(report=report, status="triaged", note="Calling Jane", by=bob)

    response = client.post(
        triage_url(report), {"status": "closed", "note": "False alarm", "seen": seen}, follow=True
    )

    assert "Someone else changed this report meanwhile" in response.content.decode()
    report.refresh_from_db()
    assert (report.status, report.triage_note) == (Status.TRIAGED, "Calling Jane")


def test_it_asks_for_a_note_before_closing_from_the_page(client, acme, bob, delivery):
    report = a_report(delivery)
    signed_in(client, bob)

    response = client.post(triage_url(report), {"status": "closed", "note": ""})

    assert response.status_code == 400
    assert "Say what was done before closing the report." in response.content.decode()
    report.refresh_from_db()
    assert report.status == Status.NEW


def test_it_offers_only_the_moves_a_status_allows(client, acme, bob, delivery):
    report = a_report(delivery, status=Status.CLOSED, triage_note="Spam")
    signed_in(client, bob)

    html = client.get(detail_url(report)).content.decode()

    assert "Reopen: it needs more work" in html
    assert 'value="closed"' not in html


def test_it_lets_no_viewer_triage(client, acme, vera, delivery):
    report = a_report(delivery)
    signed_in(client, vera)

    assert client.post(triage_url(report), {"status": "triaged"}).status_code == 403
    report.refresh_from_db()
    assert report.status == Status.NEW


def test_it_links_the_account_home_to_the_reports(client, acme, bob, vera):
    signed_in(client, bob)
    assert list_url(acme) in client.get(f"/o/{acme.public_id}/").content.decode()

    signed_in(client, vera)
    assert list_url(acme) not in client.get(f"/o/{acme.public_id}/").content.decode()


def test_the_link_in_the_report_email_opens_for_the_accounts_owner(
    delivery, alice, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        file(delivery)

    assert_links_open(client, alice, mail.outbox[0].body)


def test_the_first_page_of_reports_polls_for_new_ones(client, acme, bob):
    """Issue 15 point 4: reports arrive from the public form at any time."""
    signed_in(client, bob)

    html = client.get(reverse("reports:list", kwargs={"org": acme.public_id})).content.decode()

    assert 'hx-trigger="every 10s" hx-select="#report-list-live"' in html
