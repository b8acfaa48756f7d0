"""An operator uploads a provider dump and watches it import, in a real browser under
the enforced Content Security Policy (the `page` fixture fails the test on any console
error or CSP violation).

The live server runs in a thread of this process with Celery eager, so the import runs
inside the upload request, after its commit; `transaction=True` because that thread has
its own connection.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from portal.incidents.models import ImportBatch, Incident
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLE = Path("/work/shared/samples/provider-dump.csv")


@pytest.fixture
def operator_page(page, browser_context, live_server):
    olivia = factories.staff("olivia@vigil.example")
    client = Client()
    signed_in(client, olivia)
    browser_context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


@pytest.fixture
def incident(transactional_db):
    return factories.incident(title="March 2024 SMS logs", status=Incident.Status.DRAFT)


def counts(page) -> dict[str, str]:
    groups = page.locator("#batch-progress dl[data-counts] > div")
    return {
        group.locator("dt").inner_text(): group.locator("dd").inner_text() for group in groups.all()
    }


def test_it_uploads_the_sample_csv_and_shows_the_final_counts(
    operator_page, live_server, incident, media_root, screenshot
):
    factories.organization("Northwind", account_id="DA7QK4M2ZP")
    factories.organization("Contoso", account_id="DA3HN8WQ1C")
    page = operator_page

    page.goto(f"{live_server.url}/operator/incidents/")
    page.get_by_role("link", name="March 2024 SMS logs").click()
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("File").set_input_files(SAMPLE)
    page.get_by_role("button", name="Upload and import").click()

    batch = ImportBatch.objects.get()
    expect(page).to_have_url(f"{live_server.url}/operator/incidents/batches/{batch.public_id}/")
    expect(page.get_by_role("heading", name="provider-dump.csv", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Outcome")).to_be_visible()
    assert counts(page) == {
        "rows seen": "8",
        "imported": "5",
        "duplicate": "1",
        "rejected": "1",
        "unknown account": "1",
    }
    errors = page.get_by_role("table", name="Rows of provider-dump.csv that were not imported")
    expect(errors.get_by_role("cell", name="7", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Download the full error report (CSV)")).to_be_visible()
    screenshot(page, "finished")


def test_it_polls_a_running_import_until_it_finishes(
    operator_page, live_server, incident, screenshot
):
    started = timezone.now() - timedelta(seconds=5)
    batch = ImportBatch.objects.create(
        incident=incident,
        original_name="march-2024.csv",
        format=ImportBatch.Format.CSV,
        upload="imports/march-2024.csv",
        sha256="ab" * 32,
        status=ImportBatch.Status.RUNNING,
        phase=ImportBatch.Phase.READING,
        bytes_total=1000,
        bytes_read=500,
        seen=50_000,
        started_at=started,
        progress_at=started + timedelta(seconds=5),
    )
    page = operator_page
    polls = []
    page.on(
        "request",
        lambda request: polls.append(request.url) if "/progress/" in request.url else None,
    )

    page.goto(f"{live_server.url}/operator/incidents/batches/{batch.public_id}/")

    panel = page.locator("#batch-progress")
    expect(panel).to_contain_text("50%")
    expect(panel).to_contain_text("10,000 rows/s")
    expect(page.get_by_role("progressbar", name="Share of the file read")).to_have_attribute(
        "aria-valuenow", "50"
    )
    screenshot(page, "running")

    # The worker moves on: the next poll shows it, without a reload.
    ImportBatch.objects.filter(pk=batch.pk).update(bytes_read=900, seen=90_000)
    expect(panel).to_contain_text("90%")

    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.COMPLETED,
        phase=ImportBatch.Phase.DONE,
        bytes_read=1000,
        seen=100_000,
        imported=99_990,
        duplicate=10,
        finished_at=timezone.now(),
    )
    expect(page.get_by_role("heading", name="Outcome")).to_be_visible()
    assert counts(page)["imported"] == "99,990"
    # Finished: the panel carries no trigger any more, so the polling has stopped.
    expect(page.locator("#batch-progress")).not_to_have_attribute("hx-trigger", "every 1s")
    polled = len(polls)
    page.wait_for_timeout(2500)
    assert len(polls) == polled
    screenshot(page, "finished")


def test_it_holds_a_file_with_too_many_rejected_rows_until_the_operator_publishes_it(
    operator_page, live_server, incident, media_root, tmp_path, screenshot
):
    factories.organization("Northwind", account_id="DA7QK4M2ZP")
    rows = "".join(
        f"h-{n},DA7QK4M2ZP,2024-03-01T08:00:00Z,{'12' if n < 15 else f'+1212555{n:04d}'},"
        "Verizon,US,NY,sms\n"
        for n in range(60)
    )
    dump = tmp_path / "mostly-wrong.csv"
    dump.write_text(
        "message_id,account_id,sent_at,phone,carrier,country,state,message_type\n" + rows
    )
    page = operator_page

    page.goto(f"{live_server.url}/operator/incidents/")
    page.get_by_role("link", name="March 2024 SMS logs").click()
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("File").set_input_files(dump)
    page.get_by_role("button", name="Upload and import").click()

    panel = page.locator("#batch-progress")
    expect(panel).to_contain_text("Held for your review: nothing was published.")
    expect(panel).to_contain_text("15 of 60 rows (25%) were rejected")
    reasons = page.get_by_role("table", name="Reasons rows of mostly-wrong.csv were not imported")
    expect(reasons.get_by_role("cell", name="phone “…” is too short for US")).to_be_visible()
    assert counts(page)["imported"] == "0"
    expect(page.get_by_text("Read as")).to_be_visible()
    screenshot(page, "held")

    page.get_by_role("button", name="Publish the 45 rows that could be read").click()

    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_be_visible()
    expect(panel).to_contain_text("Published although 15 rows were rejected")
    assert counts(page)["imported"] == "45"
    screenshot(page, "published")
