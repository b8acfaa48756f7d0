"""Pages that another process changes update without a reload (issue 15 point 4), and
the response plan at both widths (point 1).

Each test opens a page, marks the window (a reload would lose the mark), changes the
state through the ORM as a worker or the operator's browser would, and waits for the
page to show it. `transaction=True`: the live server's thread has its own connection.
"""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import NoticeCampaign, NoticeTemplate, SuspicionReport
from notifications.notice_templates import rendering
from portal.accounts.roles import Role
from portal.incidents.directory.services import directory_import_check
from portal.incidents.models import DirectoryImport
from portal.logcopies.models import LogCopyRequest
from tests import factories
from tests.browser.test_logcopies import signed_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# htmx polls every 2 to 10 seconds: a change shows within one interval and a request.
SHOWS_WITHIN = 15_000


def mark_the_window(page) -> None:
    page.evaluate("window.vigilNotReloaded = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.vigilNotReloaded === true")


@pytest.fixture
def acme(db):
    return factories.organization("Acme Corp", time_zone="America/New_York")


@pytest.fixture
def breach(acme):
    incident = factories.incident(title="Telephony provider breach")
    person = factories.directory_user(acme, "jdoe", name="Jane Doe", email="jane@acme.example")
    factories.exposure(incident, acme, phone="+12125550143", directory_user=person)
    factories.exposure(incident, acme, phone="+14155550199")
    return incident


def test_a_log_copy_page_follows_the_operators_decision_and_the_worker(
    page, live_server, acme, breach, media_root, screenshot
):
    sam = factories.member(acme, "sam@acme.example", Role.SECURITY)
    copy = LogCopyRequest.objects.create(
        organization=acme, incident=breach, requested_by=sam, reason="Our SOC"
    )
    signed_in_browser(page, live_server, sam)
    page.goto(f"{live_server.url}/o/{acme.public_id}/log-copies/{copy.public_id}/")
    expect(page.get_by_text("Waiting for the operator to approve it.")).to_be_visible()
    mark_the_window(page)

    # The operator approves it in their browser; a worker starts on it.
    LogCopyRequest.objects.filter(pk=copy.pk).update(
        status=LogCopyRequest.Status.GENERATING,
        decided_at=timezone.now(),
        total_rows=1000,
        progress_rows=250,
    )

    expect(page.get_by_text("Rows written")).to_be_visible(timeout=SHOWS_WITHIN)
    expect(page.locator("[data-decision]")).to_contain_text("Approved")
    screenshot(page, "generating")

    LogCopyRequest.objects.filter(pk=copy.pk).update(
        status=LogCopyRequest.Status.REJECTED, decision_reason="Not this one"
    )

    expect(page.get_by_text("The operator rejected this request.")).to_be_visible(
        timeout=SHOWS_WITHIN
    )
    # Final: the page has stopped asking.
    expect(page.locator("#copy-live[hx-trigger]")).to_have_count(0)
    assert_not_reloaded(page)


def test_the_log_copy_list_follows_the_operator_and_the_worker_then_stops(
    page, live_server, acme, breach, media_root, screenshot
):
    sam = factories.member(acme, "sam@acme.example", Role.SECURITY)
    copy = LogCopyRequest.objects.create(
        organization=acme, incident=breach, requested_by=sam, reason="Our SOC"
    )
    signed_in_browser(page, live_server, sam)
    page.goto(f"{live_server.url}/o/{acme.public_id}/log-copies/")
    row = page.locator(f'[data-copy="{copy.public_id}"]')
    expect(row).to_contain_text("Waiting for approval")
    mark_the_window(page)

    # The operator approves it in their browser; a worker makes it.
    LogCopyRequest.objects.filter(pk=copy.pk).update(
        status=LogCopyRequest.Status.GENERATING, decided_at=timezone.now()
    )
    expect(row).to_contain_text("Generating", timeout=SHOWS_WITHIN)

    LogCopyRequest.objects.filter(pk=copy.pk).update(
        status=LogCopyRequest.Status.READY, rows=1234, size=2048, sha256="ab" * 32
    )
    expect(row).to_contain_text("Ready", timeout=SHOWS_WITHIN)
    expect(row).to_contain_text("1,234")
    assert_not_reloaded(page)
    screenshot(page, "log-copy-list-ready")
    # Every copy is final: the list no longer asks.
    assert page.locator("#copies-live").get_attribute("hx-trigger") is None


def test_a_campaign_page_counts_as_notices_leave_and_says_when_the_rate_holds_it(
    page, live_server, acme, breach, screenshot
):
    acme.notice_rate_per_minute = 1
    acme.save(update_fields=["notice_rate_per_minute"])
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    template = NoticeTemplate.objects.create(
        organization=acme, name="Notice", subject="Be vigilant", body_text="{{ report_link }}"
    )
    now = timezone.now()
    campaign = NoticeCampaign.objects.create(
        organization=acme,
        incident=breach,
        template=template,
        name="First notice",
        status=NoticeCampaign.Status.SENDING,
        template_snapshot=rendering.template_snapshot(template),
        contact_snapshot=rendering.contact_snapshot(acme),
        launched_at=now,
        scheduled_at=now,
        dispatched_at=now,
        recipients_total=770,
        sent_count=640,
    )
    signed_in_browser(page, live_server, bob)
    page.goto(f"{live_server.url}/o/{acme.public_id}/notices/{campaign.public_id}/")
    expect(page.locator('[data-count="sent"]')).to_have_text("640")
    mark_the_window(page)

    NoticeCampaign.objects.filter(pk=campaign.pk).update(sent_count=645)

    expect(page.locator('[data-count="sent"]')).to_have_text("645", timeout=SHOWS_WITHIN)
    pace = page.locator("[data-pace]")
    expect(pace).to_contain_text("Sending at up to 1 notice a minute")
    expect(pace).to_contain_text("125 to go: expected to finish around")
    screenshot(page, "sending")
    assert_not_reloaded(page)


def test_the_report_list_shows_a_new_report_without_a_reload(
    page, live_server, acme, breach, screenshot
):
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    signed_in_browser(page, live_server, bob)
    page.goto(f"{live_server.url}/o/{acme.public_id}/reports/")
    expect(page.get_by_text("No reports yet.")).to_be_visible()
    mark_the_window(page)

    SuspicionReport.objects.create(
        organization=acme,
        incident=breach,
        channel=SuspicionReport.Channel.CALL,
        occurred_at=timezone.now() - timedelta(hours=1),
        description="Someone asked for my code",
    )

    rows = page.locator("#report-list-live tbody tr")
    expect(rows.first).to_contain_text("Phone call", timeout=SHOWS_WITHIN)
    expect(page.get_by_text("No reports yet.")).to_have_count(0)
    screenshot(page, "new-report")
    assert_not_reloaded(page)


def test_a_directory_preview_shows_another_admin_discarding_it(
    page, live_server, acme, breach, media_root, screenshot
):
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    upload = SimpleUploadedFile(
        "directory.csv",
        b"username,name,email,phones\nlsmith,Luc Smith,luc@acme.example,+14155550199\n",
    )
    checked = directory_import_check(
        organization=acme, upload=upload, original_name=upload.name, by=bob
    )
    signed_in_browser(page, live_server, bob)
    page.goto(f"{live_server.url}/o/{acme.public_id}/directory/{checked.public_id}/")
    expect(page.get_by_text("Waiting to be applied").first).to_be_visible()
    mark_the_window(page)

    # Another admin discards it in their browser.
    DirectoryImport.objects.filter(pk=checked.pk).update(status=DirectoryImport.Status.DISCARDED)

    expect(page.get_by_text("Discarded").first).to_be_visible(timeout=SHOWS_WITHIN)
    expect(page.locator("#directory-import-live[hx-trigger]")).to_have_count(0)
    screenshot(page, "discarded")
    assert_not_reloaded(page)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_response_plan_at_both_widths(page, live_server, acme, breach, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    signed_in_browser(page, live_server, bob)

    page.goto(f"{live_server.url}/o/{acme.public_id}/")
    screenshot(page, f"account-home-{width}")
    page.get_by_role("link", name="Telephony provider breach").click()

    plan = page.get_by_role("region", name="Your response plan")
    expect(plan).to_be_in_viewport()
    expect(plan.locator("[data-step]")).to_have_count(5)
    expect(page.locator("[data-next-step]")).to_contain_text("Match your user directory")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    screenshot(page, f"plan-{width}")
