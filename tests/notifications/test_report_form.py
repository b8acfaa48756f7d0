"""The public report form behind a notice's link: /report/<token>/, no sign-in.

Token-bound, rate-limited per link and per address, CSRF-protected, and silent about
whose a link that does not work might have been.
"""

import logging
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from notifications.models import NoticeCampaign, SuspicionReport
from notifications.reports import views as report_views
from tests import factories
from tests.notifications.test_reports import a_delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return factories.organization(
        "Acme Corp",
        contact_name="Acme IT security",
        contact_email="security@acme.example",
        contact_phone="+1 212 555 0100",
        contact_url="https://it.acme.example/report",
        time_zone="America/New_York",
    )


@pytest.fixture
def delivery(acme):
    return a_delivery(acme)


def form_url(delivery) -> str:
    return reverse("report_form:form", kwargs={"token": delivery.report_token})


def answers(**fields) -> dict:
    values = {
        "channel": "call",
        "occurred_at": "2025-03-14T09:30",
        "asked_for": "the code from a text message",
        "contact_detail": "+1 202 555 0199",
        "description": "He said he was from the service desk.",
    }
    return {**values, **fields}


def test_it_shows_whom_the_report_goes_to(client, delivery):
    response = client.get(form_url(delivery))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Report a suspicious call or message" in html
    assert "Acme Corp" in html
    assert "Acme IT security" in html
    assert "security@acme.example" in html
    assert "+1 212 555 0100" in html
    assert "No sign-in is needed" in html


def test_it_shows_the_contact_the_notice_named(client, acme):
    delivery = a_delivery(acme, contact={"name": "Night desk", "email": "night@acme.example"})

    html = client.get(form_url(delivery)).content.decode()

    assert "Night desk" in html
    assert "night@acme.example" in html
    assert "Acme IT security" not in html


@time_machine.travel(datetime(2025, 3, 14, 18, 45, 30, tzinfo=UTC), tick=False)
def test_it_proposes_now_in_the_accounts_time_zone(client, delivery):
    html = client.get(form_url(delivery)).content.decode()

    assert 'value="2025-03-14T14:45"' in html  # New York, daylight saving time
    assert "America/New_York" in html


@time_machine.travel(datetime(2025, 3, 14, 18, 0, tzinfo=UTC), tick=False)
def test_it_files_a_report_and_thanks_the_person(client, delivery):
    response = client.post(form_url(delivery), answers())

    assert response.status_code == 302
    assert response["Location"] == form_url(delivery) + "?filed=1&lang=en"
    report = SuspicionReport.objects.get()
    assert report.delivery == delivery
    assert report.organization == delivery.organization
    assert report.incident == delivery.campaign.incident
    assert report.channel == SuspicionReport.Channel.CALL
    # 09:30 in New York (EDT since 9 March) is 13:30 UTC.
    assert report.occurred_at == datetime(2025, 3, 14, 13, 30, tzinfo=UTC)
    assert report.asked_for == "the code from a text message"
    assert report.contact_detail == "+1 202 555 0199"

    thanks = client.get(response["Location"]).content.decode()
    assert "Thank you: your report is sent" in thanks
    assert "Report another call or message" in thanks


def test_it_emails_the_designated_contact(client, delivery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(form_url(delivery), answers())

    assert [message.to for message in mail.outbox] == [["security@acme.example"]]


@time_machine.travel(datetime(2025, 3, 14, 18, 0, tzinfo=UTC), tick=False)
def test_it_refuses_a_time_still_to_come(client, delivery):
    response = client.post(form_url(delivery), answers(occurred_at="2025-03-14T15:00"))

    assert response.status_code == 400
    assert "That time is still to come" in response.content.decode()
    assert SuspicionReport.objects.count() == 0


def test_it_asks_for_the_channel_and_the_time(client, delivery):
    response = client.post(form_url(delivery), answers(channel="", occurred_at=""))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose how you were contacted." in html
    assert "Say when it happened; roughly is fine." in html


def test_it_takes_a_report_with_only_the_channel_and_time(client, delivery):
    response = client.post(
        form_url(delivery),
        {"channel": "sms", "occurred_at": "2025-03-14T09:30"},
    )

    assert response.status_code == 302
    assert SuspicionReport.objects.get().channel == SuspicionReport.Channel.SMS


def test_it_works_for_a_notice_whose_campaign_was_cancelled(client, acme):
    delivery = a_delivery(acme, campaign_status=NoticeCampaign.Status.CANCELLED)

    assert client.get(form_url(delivery)).status_code == 200
    assert client.post(form_url(delivery), answers()).status_code == 302
    assert SuspicionReport.objects.count() == 1


def test_it_answers_an_unknown_link_with_a_404_that_names_nobody(client, delivery):
    response = client.get(reverse("report_form:form", kwargs={"token": "not-a-real-token"}))

    assert response.status_code == 404
    html = response.content.decode()
    assert "This report link does not work" in html
    assert "Acme" not in html
    assert "security@acme.example" not in html


def test_it_takes_no_report_through_an_unknown_link(client, delivery):
    response = client.post(reverse("report_form:form", kwargs={"token": "made-up"}), answers())

    assert response.status_code == 404
    assert SuspicionReport.objects.count() == 0


def test_it_wants_the_csrf_token(delivery):
    browser = Client(enforce_csrf_checks=True)

    refused = browser.post(form_url(delivery), answers())
    page = browser.get(form_url(delivery))
    token = page.cookies["csrftoken"].value
    accepted = browser.post(form_url(delivery), {**answers(), "csrfmiddlewaretoken": token})

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert SuspicionReport.objects.count() == 1


def test_it_limits_the_reports_through_one_link(client, delivery):
    for _ in range(report_views.REPORTS_PER_TOKEN):
        assert client.post(form_url(delivery), answers()).status_code == 302

    refused = client.post(form_url(delivery), answers())

    assert refused.status_code == 429
    html = refused.content.decode()
    assert "Too many reports for now" in html
    assert "security@acme.example" in html  # they can still reach someone
    assert SuspicionReport.objects.count() == report_views.REPORTS_PER_TOKEN
    assert client.get(form_url(delivery)).status_code == 429


def test_it_limits_the_reports_from_one_address_across_links(client, acme, monkeypatch):
    monkeypatch.setattr(report_views, "REPORTS_PER_IP", 3)
    links = [a_delivery(acme, username=f"u{n}") for n in range(4)]

    statuses = [client.post(form_url(link), answers()).status_code for link in links]

    assert statuses == [302, 302, 302, 429]
    other_address = client.post(form_url(links[3]), answers(), REMOTE_ADDR="198.51.100.7")
    assert other_address.status_code == 302


def test_it_counts_no_report_that_was_refused_for_its_answers(client, delivery):
    for _ in range(report_views.REPORTS_PER_TOKEN + 2):
        client.post(form_url(delivery), answers(channel=""))

    assert client.post(form_url(delivery), answers()).status_code == 302


def test_it_lets_the_limit_pass_with_the_hour(client, delivery):
    start = datetime(2025, 3, 14, 18, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(report_views.REPORTS_PER_TOKEN):
            client.post(form_url(delivery), answers())
        assert client.post(form_url(delivery), answers()).status_code == 429
    with time_machine.travel(datetime(2025, 3, 14, 19, 0, 1, tzinfo=UTC), tick=False):
        assert client.post(form_url(delivery), answers()).status_code == 302


def test_it_keeps_no_link_and_no_address_in_the_cache_keys(client, delivery, monkeypatch):
    seen: list[str] = []
    original = cache.add

    def spy(key, *args, **kwargs):
        seen.append(key)
        return original(key, *args, **kwargs)

    monkeypatch.setattr(cache, "add", spy)
    client.post(form_url(delivery), answers(), REMOTE_ADDR="203.0.113.9")

    assert len(seen) == 2
    assert not any(delivery.report_token in key or "203.0.113.9" in key for key in seen)


def test_it_logs_no_email_or_phone_while_filing(
    client, delivery, caplog, django_capture_on_commit_callbacks
):
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        client.post(form_url(delivery), answers())

    application = [
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith("django.db.backends")
    ]
    assert not any("@" in line or "555" in line for line in application)
