"""A suspicion report end to end in a real browser, under the enforced Content Security
Policy: a person opens the link of the notice they got, files a report without signing
in, and sees the thank-you page; the account's admin finds it in the list and triages
it.

`transaction=True`: the live server's thread has its own database connection.
"""

import pytest
from django.core import mail
from playwright.sync_api import expect

from notifications.models import NoticeCampaign, SuspicionReport
from portal.accounts.roles import Role
from tests import factories
from tests.browser.test_logcopies import signed_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_report_is_filed_through_a_notice_and_triaged(
    page, another_browser, live_server, screenshot
):
    acme = factories.organization(
        "Acme Corp",
        contact_name="Acme IT security",
        contact_email="security@acme.example",
        contact_phone="+1 212 555 0100",
        time_zone="Europe/Berlin",
    )
    breach = factories.incident(title="Telephony provider breach")
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe")
    exposure = factories.exposure(breach, acme, directory_user=jane)
    campaign = NoticeCampaign.objects.create(
        organization=acme,
        incident=breach,
        name="March notice",
        status=NoticeCampaign.Status.COMPLETED,
        contact_snapshot={"name": "Acme IT security", "email": "security@acme.example"},
    )
    delivery = factories.sent_delivery(campaign, exposure)
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN, name="Bob Brown")

    # Jane opens the link in her notice: no sign-in, and she sees whom it goes to.
    page.goto(f"{live_server.url}/report/{delivery.report_token}/")
    expect(page.get_by_role("heading", name="Report a suspicious call or message")).to_be_visible()
    expect(page.locator("[data-contact]")).to_contain_text("Acme IT security")
    expect(page.locator("[data-contact]")).to_contain_text("security@acme.example")
    screenshot(page, "form")

    page.get_by_label("Phone call").check()
    page.get_by_label("When did it happen?").fill("2025-03-14T09:30")
    page.get_by_label("What did they ask for?").fill("The code from a text message")
    page.get_by_label("Their phone number, address or account").fill("+1 202 555 0199")
    page.get_by_label("Anything else?").fill("He said he was from the service desk.")
    page.get_by_role("button", name="Send the report").click()

    expect(page.get_by_role("heading", name="Thank you: your report is sent")).to_be_visible()
    screenshot(page, "thanks")
    report = SuspicionReport.objects.get()
    assert report.delivery == delivery
    assert report.incident == breach
    assert [message.to for message in mail.outbox] == [["security@acme.example"]]

    # Bob, an admin of Acme, finds it in the account's reports and triages it.
    admin = another_browser()
    signed_in_browser(admin, live_server, bob)
    admin.goto(f"{live_server.url}/o/{acme.public_id}/")
    admin.get_by_role("link", name="Reports").click()
    row = admin.locator(f'tr[data-report="{report.public_id}"]')
    expect(row).to_contain_text("Jane Doe")
    expect(row).to_contain_text("The code from a text message")
    expect(row.locator("[data-status]")).to_have_text("New")
    screenshot(admin, "list")

    row.get_by_role("link").first.click()
    expect(admin.locator("[data-reporter]")).to_contain_text("Jane Doe")
    expect(admin.get_by_text("He said he was from the service desk.")).to_be_visible()
    admin.get_by_label("Triaged: looked at, being handled").check()
    admin.get_by_label("Note").fill("Called Jane: she shared nothing. Number blocked.")
    admin.get_by_role("button", name="Save").click()

    expect(admin.locator(".vigil-messages")).to_contain_text("The report is now triaged.")
    expect(admin.locator("#report-status [data-status]")).to_have_text("Triaged")
    expect(admin.locator("[data-triage-note]")).to_contain_text("Number blocked.")
    screenshot(admin, "triaged")
    report.refresh_from_db()
    assert (report.status, report.triaged_by) == (SuspicionReport.Status.TRIAGED, bob)
