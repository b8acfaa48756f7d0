"""The incident dashboard and the exposed users in a real browser, under the enforced
Content Security Policy (the `page` fixture fails a test on any console error or
violation): the numbers and the chart, filtering the list, revealing a number.

The live server runs in a thread of this process, so the tests read the database
directly; `transaction=True` because that thread has its own connection.
"""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.incidents.exposures import views as incident_views
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def exposure(incident, org, phone, *, sms=1, voice=0, **fields):
    return factories.exposure(
        incident, org, phone=phone, sms_count=sms, voice_count=voice,
        message_count=sms + voice, **fields,
    )  # fmt: skip


@pytest.fixture
def acme():
    return factories.organization("Acme Corp", time_zone="America/New_York")


@pytest.fixture
def breach(acme):
    """Jane (two phones, notified), John (one), and one phone nobody has."""
    incident = factories.incident(
        title="Telephony provider breach", disclosed_at=datetime(2024, 4, 12, 15, tzinfo=UTC)
    )
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe", phones=[])
    john = factories.directory_user(acme, "jsmith", name="John Smith", phones=[])
    notified = datetime(2024, 4, 13, 9, tzinfo=UTC)
    exposure(incident, acme, "+12125550143", sms=5, voice=1, country="US", region="New York",
             carrier="Verizon Wireless", directory_user=jane, last_notified_at=notified,
             last_seen_at=at(20))  # fmt: skip
    exposure(incident, acme, "+12125550100", sms=3, country="US", region="New York",
             carrier="AT&T Mobility", directory_user=jane, last_notified_at=notified,
             last_seen_at=at(18))  # fmt: skip
    exposure(incident, acme, "+447700900123", voice=2, sms=0, country="GB", region="England",
             carrier="Vodafone UK", directory_user=john, last_seen_at=at(25))  # fmt: skip
    exposure(incident, acme, "+4915123456789", sms=4, country="DE", region="Bayern",
             carrier="Telekom Deutschland", last_seen_at=at(10))  # fmt: skip
    for day, phone in ((2, "+12125550143"), (2, "+12125550143"), (9, "+447700900123")):
        factories.log_record(incident, acme, phone=phone, sent_at=at(day))
    return incident


def signed_in_browser(browser_context, live_server, user) -> None:
    """A session as after password and second factor, just now, handed to the browser."""
    client = Client()
    signed_in(client, user)
    browser_context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def stat(page, name: str):
    return page.locator(f'[data-stat="{name}"] [data-value]')


def test_the_dashboard_shows_the_numbers(
    page, browser_context, live_server, acme, breach, screenshot
):
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    signed_in_browser(browser_context, live_server, bob)

    page.goto(f"{live_server.url}/o/{acme.public_id}/")
    # The incident's card is a link to the response plan on its dashboard.
    page.get_by_role("link", name=breach.title).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("heading", name="Your response plan")).to_be_in_viewport()
    expect(stat(page, "exposed-users")).to_have_text("2")
    expect(stat(page, "phones")).to_have_text("4")
    expect(stat(page, "messages")).to_have_text("15")
    expect(stat(page, "notified")).to_have_text("67%")
    expect(page.locator('[data-stat="phones"]')).to_contain_text("1 without a match")
    chart = page.get_by_role("img", name="Messages per day")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() == 2 * 32  # SMS and voice for each day
    by_country = page.get_by_role("region", name="By country")
    expect(by_country.get_by_role("row")).to_have_count(1 + 3)
    expect(by_country.get_by_role("row").nth(1)).to_contain_text("United States (US)")
    # The bars are SVG sized by attributes: the CSP forbids style attributes.
    width = by_country.locator("svg rect").nth(1).get_attribute("width")
    assert width == "50.00"
    screenshot(page, "dashboard")

    by_country.get_by_role("link", name="United Kingdom (GB)").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Exposed users")
    expect(page.get_by_label("Country")).to_have_value("GB")
    expect(page.locator("table.vigil-exposures tbody tr")).to_have_count(1)


def test_filtering_the_list(page, browser_context, live_server, acme, breach, screenshot):
    vera = factories.member(acme, "vera@acme.example", Role.VIEWER)
    signed_in_browser(browser_context, live_server, vera)
    rows = page.locator("table.vigil-exposures tbody tr")

    page.goto(f"{live_server.url}/o/{acme.public_id}/incidents/{breach.public_id}/exposed/")

    expect(rows).to_have_count(4)
    # Messaged most recently; a viewer sees the person masked (issue 15 point 9).
    expect(rows.first).to_contain_text("J. S.")
    expect(rows.first).not_to_contain_text("John Smith")
    expect(page.get_by_text("+1 ••• ••• 0143")).to_be_visible()
    expect(page.get_by_role("button", name="Reveal the number ending 0143")).to_have_count(0)

    page.get_by_label("Country").select_option("US")
    page.get_by_label("Notified").select_option("yes")
    page.get_by_role("button", name="Filter").click()

    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("J. D.")
    expect(page.get_by_text("2 phones match these filters")).to_be_visible()
    assert "country=US" in page.url
    screenshot(page, "filtered")

    page.get_by_role("searchbox", name="Search").fill("0100")
    page.get_by_role("button", name="Filter").click()

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("+1 ••• ••• 0100")

    page.get_by_role("link", name="Clear").click()

    expect(rows).to_have_count(4)


def test_revealing_a_phone_as_security_staff(
    page, browser_context, live_server, acme, breach, screenshot
):
    sam = factories.member(acme, "sam@acme.example", Role.SECURITY)
    signed_in_browser(browser_context, live_server, sam)
    page.goto(f"{live_server.url}/o/{acme.public_id}/incidents/{breach.public_id}/exposed/")
    target = breach.exposures.get(phone="+12125550143")
    phone = page.locator(f"#phone-{target.public_id}")  # htmx swaps it, id and all
    expect(phone).to_contain_text("+1 ••• ••• 0143")

    phone.get_by_role("button", name="Reveal the number ending 0143").click()

    expect(phone.locator("[data-revealed-phone]")).to_have_text("+1 212-555-0143")
    expect(phone).not_to_contain_text("•••")
    # Only that one: the others stay masked.
    expect(page.get_by_text("+44 ••• ••• 0123")).to_be_visible()
    screenshot(page, "revealed")
    event = AuditEvent.objects.get(action="phone.reveal")
    assert event.actor == sam
    assert event.target_id == str(target.public_id)


def test_a_large_export_is_made_by_a_worker_and_downloaded(
    page, browser_context, live_server, acme, breach, screenshot, monkeypatch, media_root
):
    monkeypatch.setattr(incident_views, "EXPORT_STREAM_MAX", 2)  # four phones: a job
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    signed_in_browser(browser_context, live_server, bob)
    page.goto(f"{live_server.url}/o/{acme.public_id}/incidents/{breach.public_id}/exposed/")

    page.get_by_role("link", name="Export all as CSV").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Export of exposed users")
    expect(page.get_by_text("The file is ready: 4 rows")).to_be_visible()
    screenshot(page, "ready")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the CSV").click()
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert content.startswith("phone,phone_last_digits,")
    assert content.count("\n") == 5
