"""A log copy end to end in a real browser, under the enforced Content Security Policy:
security staff request it, the operator approves it in their own browser, the copy is
generated (Celery runs eagerly in the live server's thread), and the downloaded zip has
the SHA-256 the copy's page shows, its data file the one the manifest lists.

`transaction=True`: the live server's thread has its own database connection.
"""

import hashlib
import zipfile

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.logcopies.models import LogCopyRequest
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def signed_in_browser(page, live_server, user) -> None:
    """A session as after password and second factor, just now, handed to the browser."""
    client = Client()
    signed_in(client, user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_a_copy_is_requested_approved_and_downloaded_with_its_checksum(
    request, page, another_browser, live_server, media_root, tmp_path, screenshot
):
    acme = factories.organization("Acme Corp")
    breach = factories.incident(title="Telephony provider breach")
    factories.exposure(breach, acme, phone="+12125550143")
    for phone in ("+12125550143", "+447700900123", "+12125550100"):
        factories.log_record(breach, acme, phone=phone)
    sam = factories.member(acme, "sam@acme.example", Role.SECURITY)
    ops = factories.staff()

    # Sam asks for a copy.
    signed_in_browser(page, live_server, sam)
    page.goto(f"{live_server.url}/o/{acme.public_id}/")
    page.get_by_role("link", name="Log copies").click()
    page.get_by_role("link", name="Request a copy").click()
    page.get_by_label("Incident").select_option(label="Telephony provider breach")
    page.get_by_label("The whole account").check()
    page.get_by_label("JSON Lines").check()
    page.get_by_label("Reason").fill("Our SOC investigates case 4711")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#copy-progress [data-status]")).to_have_text("Waiting for approval")
    copy = LogCopyRequest.objects.get()
    screenshot(page, "requested")

    # The operator approves it from their queue.
    operator = another_browser()
    signed_in_browser(operator, live_server, ops)
    operator.goto(f"{live_server.url}/operator/log-copies/")
    queue_row = operator.locator(f'tr[data-copy="{copy.public_id}"]')
    expect(queue_row).to_contain_text("Our SOC investigates case 4711")
    queue_row.get_by_role("link").click()
    operator.get_by_label("Reason").first.fill("Case 4711 confirmed by phone")
    operator.get_by_role("button", name="Approve").click()
    expect(operator.locator(".vigil-messages")).to_contain_text("Approved")

    # Generation ran eagerly with the approval; Sam's page shows the copy ready.
    copy.refresh_from_db()
    assert copy.status == LogCopyRequest.Status.READY
    page.reload()
    shown = page.locator("[data-zip-sha256]")
    expect(shown).to_have_text(copy.sha256)
    expect(page.get_by_text("SHA-256 of the downloaded .zip")).to_be_visible()
    listed = page.locator("[data-file-sha256]")
    expect(listed).to_have_count(1)
    screenshot(page, "ready")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download").click()
    download = download_info.value
    saved = tmp_path / "copy.zip"
    download.save_as(saved)

    # The page's hash is the downloaded file's own (what sha256sum prints), and the
    # manifest's hash of the data file is the one listed beside it.
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == shown.inner_text().strip()
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        data_names = [name for name in names if not name.startswith("manifest.json")]
        assert len(data_names) == 1
        assert "manifest.json.sig" in names
        data = archive.read(data_names[0])
    assert hashlib.sha256(data).hexdigest() == listed.inner_text().strip()
    assert data.count(b"\n") == 3
    event = AuditEvent.objects.get(action="logcopy.download")
    assert event.actor == sam
    assert event.details["sha256"] == copy.sha256
    page.wait_for_load_state("networkidle")  # the aborted navigation is reported by now
