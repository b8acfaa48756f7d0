"""The public report form belongs to the account, in the language of the notice that
linked to it, and takes times in the reporter's own zone."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from notifications.models import SuspicionReport
from notifications.reports import views as report_views
from tests.notifications.test_reports import a_delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(acme):
    # The account's own designated contact and zone, which the form shows.
    acme.contact_name = "Acme IT security"
    acme.contact_email = "security@acme.example"
    acme.time_zone = "America/New_York"
    acme.save(update_fields=["contact_name", "contact_email", "time_zone"])
    return acme


def a_notice_in(acme, language: str, *, written_in: dict | None = None):
    delivery = a_delivery(acme)
    delivery.language = language
    delivery.save(update_fields=["language"])
    if written_in is not None:
        delivery.campaign.template_snapshot = written_in
        delivery.campaign.save(update_fields=["template_snapshot"])
    return delivery


def form_url(delivery) -> str:
    return reverse("report_form:form", kwargs={"token": delivery.report_token})


@pytest.mark.parametrize(
    ("language", "heading", "button"),
    [
        ("en", "Report a suspicious call or message", "Send the report"),
        ("fr", "Signaler un appel ou un message suspect", "Envoyer le signalement"),
        ("es", "Informar de una llamada o un mensaje sospechoso", "Enviar el informe"),
        ("de", "Verdächtigen Anruf oder verdächtige Nachricht melden", "Meldung senden"),
    ],
)
def test_it_speaks_the_language_of_the_notice(client, acme, language, heading, button):
    response = client.get(form_url(a_notice_in(acme, language)))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'<html lang="{language}">' in html
    assert heading in html
    assert button in html
    assert response["Content-Language"] == language


def test_it_takes_the_language_the_notice_was_written_in(client, acme):
    # An Italian reader of a notice that exists in English and French got the French
    # template's language (the campaign's chosen one): the form follows the notice.
    snapshot = {"name": "March", "language": "fr", "languages": {"en": {}, "fr": {}}}
    delivery = a_notice_in(acme, "it", written_in=snapshot)

    html = client.get(form_url(delivery)).content.decode()

    assert "Signaler un appel ou un message suspect" in html


def test_it_switches_language_with_the_links_and_keeps_it_after_filing(client, acme):
    delivery = a_notice_in(acme, "de")
    html = client.get(form_url(delivery)).content.decode()
    assert f'href="{form_url(delivery)}?lang=es"' in html

    response = client.post(
        form_url(delivery) + "?lang=es",
        {"channel": "sms", "occurred_at": "2025-03-14T09:30", "zone": "Europe/Madrid"},
    )

    assert response.status_code == 302
    assert response["Location"] == form_url(delivery) + "?filed=1&lang=es"
    thanks = client.get(response["Location"]).content.decode()
    assert "Gracias: su informe se ha enviado" in thanks


def test_it_shows_the_account_not_the_portal(client, acme):
    html = client.get(form_url(a_notice_in(acme, "en"))).content.decode()

    assert "Sign in" not in html
    assert "Vigil" not in html
    assert "<title>Report a suspicious call or message · Acme Corp</title>" in html
    assert "Acme IT security" in html
    assert "security@acme.example" in html


def test_it_reads_the_time_in_the_reporters_zone_and_names_it(client, acme):
    delivery = a_notice_in(acme, "en")

    with time_machine.travel(datetime(2025, 3, 15, 12, 0, tzinfo=UTC), tick=False):
        response = client.post(
            form_url(delivery),
            {"channel": "call", "occurred_at": "2025-03-14T22:30", "zone": "Asia/Tokyo"},
        )

    assert response.status_code == 302
    report = SuspicionReport.objects.get()
    assert report.occurred_at == datetime(2025, 3, 14, 13, 30, tzinfo=UTC)
    assert report.occurred_zone == "Asia/Tokyo"


def test_it_shows_the_account_the_time_in_both_zones(client, acme, alice):
    delivery = a_notice_in(acme, "en")
    with time_machine.travel(datetime(2025, 3, 15, 12, 0, tzinfo=UTC), tick=False):
        client.post(
            form_url(delivery),
            {"channel": "call", "occurred_at": "2025-03-14T22:30", "zone": "Asia/Tokyo"},
        )
    report = SuspicionReport.objects.get()
    client.force_login(alice)

    html = client.get(
        reverse("reports:detail", kwargs={"org": acme.public_id, "report": report.public_id})
    ).content.decode()

    assert "2025-03-14 09:30" in html
    assert "(America/New_York)" in html
    assert "2025-03-14 22:30 in the reporter's zone, Asia/Tokyo" in html


def test_it_falls_back_to_the_accounts_zone_and_says_so(client, acme):
    delivery = a_notice_in(acme, "en")

    html = client.get(form_url(delivery)).content.decode()
    assert 'name="zone" value="America/New_York"' in html
    assert "Times are in <span data-zone-name>America/New_York</span>." in html

    with time_machine.travel(datetime(2025, 3, 15, 12, 0, tzinfo=UTC), tick=False):
        client.post(form_url(delivery), {"channel": "call", "occurred_at": "2025-03-14T09:30"})
    report = SuspicionReport.objects.get()
    assert report.occurred_at == datetime(2025, 3, 14, 13, 30, tzinfo=UTC)
    assert report.occurred_zone == "America/New_York"


def test_it_refuses_a_zone_it_does_not_know(client, acme):
    delivery = a_notice_in(acme, "fr")

    response = client.post(
        form_url(delivery),
        {"channel": "call", "occurred_at": "2025-03-14T09:30", "zone": "Mars/Olympus"},
    )

    assert response.status_code == 400
    assert "Mars/Olympus n\u2019est pas un fuseau horaire que ce formulaire connaît." in (
        response.content.decode()
    )
    assert not SuspicionReport.objects.exists()


def test_it_says_too_many_reports_in_the_notices_language(client, acme, monkeypatch):
    monkeypatch.setattr(report_views, "REPORTS_PER_TOKEN", 1)
    delivery = a_notice_in(acme, "de")
    client.post(form_url(delivery), {"channel": "call", "occurred_at": "2025-03-14T09:30"})

    response = client.get(form_url(delivery))

    html = response.content.decode()
    assert response.status_code == 429
    assert "Vorerst zu viele Meldungen" in html
    assert '<span class="navbar-brand" data-account-name>Acme Corp</span>' in html
    assert "Sign in" not in html
    assert "Anmelden" not in html
