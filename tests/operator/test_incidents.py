"""The operator console's incidents: create, edit, publish and close them; upload log
dumps into them and watch each import to its counts and first errors.

Olivia is staff. Alice (Acme) and Charlie (Globex) are customers and see none of it.
"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from portal.audit.models import AuditEvent
from portal.incidents.imports.services import _failure_text
from portal.incidents.models import ImportBatch, Incident
from portal.incidents.operator import services as operator_services
from tests import factories
from tests.accounts.auth import signed_in
from tests.core.test_layout import assert_nothing_inline_without_the_nonce

SAMPLES = Path("/work/shared/samples")
# The two accounts samples/provider-dump.csv names that the portal knows (README there).
SAMPLE_ACCOUNTS = {"DA7QK4M2ZP": "Northwind", "DA3HN8WQ1C": "Contoso"}


@pytest.fixture
def sample_accounts(db):
    return [factories.organization(name, account_id=aid) for aid, name in SAMPLE_ACCOUNTS.items()]


@pytest.fixture
def staff_client(client, olivia):
    signed_in(client, olivia)
    return client


@pytest.fixture
def draft(db):
    return factories.incident(
        title="March 2024 SMS logs", slug="march-2024", status=Incident.Status.DRAFT
    )


def detail_url(incident) -> str:
    return f"/operator/incidents/{incident.public_id}/"


def batch_url(batch, suffix: str = "") -> str:
    return f"/operator/incidents/batches/{batch.public_id}/{suffix}"


def form_data(**overrides) -> dict:
    data = {
        "title": "April 2024 voice logs",
        "slug": "",
        "provider": "Telco Ltd",
        "summary": "An employee was phished.",
        "window_start": "2024-04-01T00:00",
        "window_end": "2024-05-01T00:00",
        "became_aware_at": "2024-05-03T09:30",
        "disclosed_at": "",
        "sent_at_tolerance_hours": "48",
    }
    return {**data, **overrides}


def batch_of(incident, **fields) -> ImportBatch:
    defaults = {
        "original_name": "dump.csv",
        "format": ImportBatch.Format.CSV,
        "sha256": "ab" * 32,
        "upload": "imports/dump.csv",
        "bytes_total": 100,
    }
    return ImportBatch.objects.create(incident=incident, **{**defaults, **fields})


def upload(client, incident, path: Path, *, format: str = "csv", account=None):
    with path.open("rb") as file:
        data = {"format": format, "upload": file}
        if account is not None:
            data["organization"] = str(account.public_id)
        return client.post(f"{detail_url(incident)}upload/", data)


def outcome_counts(html: str) -> dict[str, str]:
    """The counts in a finished batch's panel, by their label."""
    return dict(re.findall(r"<dt[^>]*>([a-z ]+)</dt><dd[^>]*>([\d,]+)</dd>", html))


# The list --------------------------------------------------------------------------


def test_it_lists_incidents_with_accounts_touched_rows_and_last_import(staff_client, acme, globex):
    march = factories.incident(title="March logs")
    for n in range(3):  # many phones of one account still make one account
        factories.exposure(march, acme, f"+1212555010{n}")
    factories.exposure(march, globex)
    for n in range(12):  # the rows the incident holds, whatever the uploads counted
        factories.log_record(march, acme if n % 2 else globex, phone=f"+1212555010{n % 3}")
    batch_of(march, imported=120, status=ImportBatch.Status.COMPLETED)
    last = batch_of(march, imported=5, status=ImportBatch.Status.FAILED)
    factories.incident(title="Nothing yet", status=Incident.Status.DRAFT)

    response = staff_client.get("/operator/incidents/")

    assert response.status_code == 200
    listed = {incident.title: incident for incident in response.context["page"]}
    assert listed["March logs"].account_count == 2
    assert listed["March logs"].log_rows == 12
    assert listed["March logs"].last_import_at == last.created_at
    assert (listed["Nothing yet"].account_count, listed["Nothing yet"].log_rows) == (0, 0)
    assert listed["Nothing yet"].last_import_at is None
    html = response.content.decode()
    assert detail_url(march) in html
    assert 'href="/operator/incidents/new/"' in html
    assert "Failed" in html
    assert "none yet" in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_costs_the_same_queries_for_2_or_6_incidents(staff_client, acme):
    def add_incidents(n):
        for _ in range(n):
            incident = factories.incident()
            factories.exposure(incident, acme)
            batch_of(incident, imported=3)

    add_incidents(2)
    staff_client.get("/operator/incidents/")  # warm up

    with CaptureQueriesContext(connection) as few:
        assert len(staff_client.get("/operator/incidents/").context["page"]) == 2
    add_incidents(4)
    with CaptureQueriesContext(connection) as many:
        assert len(staff_client.get("/operator/incidents/").context["page"]) == 6

    assert len(many) == len(few)


def test_it_has_an_incidents_entry_in_the_console_navigation(staff_client):
    html = staff_client.get("/operator/").content.decode()

    assert 'href="/operator/incidents/"' in html


# Create and edit -------------------------------------------------------------------


def test_it_creates_a_draft_with_a_slug_from_its_title_and_audits_it(staff_client, olivia):
    response = staff_client.post("/operator/incidents/new/", form_data())

    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response.url == detail_url(incident)
    assert incident.status == Incident.Status.DRAFT
    assert incident.slug == "april-2024-voice-logs"
    assert incident.window_start == datetime(2024, 4, 1, tzinfo=UTC)
    assert incident.became_aware_at == datetime(2024, 5, 3, 9, 30, tzinfo=UTC)
    assert incident.disclosed_at is None
    assert incident.published_at is None
    event = AuditEvent.objects.get(action="incident.create")
    assert (event.actor, event.target_id) == (olivia, str(incident.public_id))


def test_it_makes_a_slug_from_the_title_unique(staff_client):
    factories.incident(slug="april-2024-voice-logs")

    staff_client.post("/operator/incidents/new/", form_data())

    assert Incident.objects.filter(slug="april-2024-voice-logs-2").exists()


def test_it_refuses_a_window_that_ends_before_it_starts(staff_client):
    response = staff_client.post(
        "/operator/incidents/new/",
        form_data(window_start="2024-04-02T00:00", window_end="2024-04-01T00:00"),
    )

    assert response.status_code == 200
    assert response.context["form"].errors["window_end"] == [
        "The end of the window must be after its start."
    ]
    assert "The end of the window must be after its start." in response.content.decode()
    assert not Incident.objects.exists()


def test_it_refuses_a_slug_another_incident_has(staff_client, draft):
    response = staff_client.post("/operator/incidents/new/", form_data(slug="march-2024"))

    assert response.context["form"].errors["slug"] == [
        "Another incident already has this short name."
    ]
    assert Incident.objects.count() == 1


def test_it_shows_the_empty_form(staff_client):
    response = staff_client.get("/operator/incidents/new/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="datetime-local"' in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_edits_an_incident_and_audits_what_changed(staff_client, draft):
    data = form_data(
        title=draft.title,
        slug=draft.slug,
        provider=draft.provider,
        summary="Now with a summary.",
        window_start="2024-03-01T00:00",
        window_end="2024-04-01T00:00",
        became_aware_at="",
        disclosed_at="2024-04-10T12:00",
    )

    response = staff_client.post(f"{detail_url(draft)}edit/", data)

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.summary == "Now with a summary."
    assert draft.disclosed_at == datetime(2024, 4, 10, 12, tzinfo=UTC)
    event = AuditEvent.objects.get(action="incident.update")
    assert event.details["changed"] == ["disclosed_at", "summary"]


# Publish and close -----------------------------------------------------------------


def test_it_publishes_a_draft_and_audits_it(staff_client, olivia, draft):
    response = staff_client.post(f"{detail_url(draft)}publish/")

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Incident.Status.PUBLISHED
    assert draft.published_at is not None
    assert draft.disclosed_at is None  # an operator input, not set by publishing
    event = AuditEvent.objects.get(action="incident.publish")
    assert (event.actor, event.target_id) == (olivia, str(draft.public_id))


def test_it_refuses_to_publish_twice(staff_client, draft):
    staff_client.post(f"{detail_url(draft)}publish/")
    draft.refresh_from_db()
    first = draft.published_at

    response = staff_client.post(f"{detail_url(draft)}publish/", follow=True)

    draft.refresh_from_db()
    assert draft.published_at == first
    assert AuditEvent.objects.filter(action="incident.publish").count() == 1
    assert "Only a draft can be published, and this incident is published." in (
        response.content.decode()
    )


def test_it_asks_to_reauthenticate_before_publishing_when_sign_in_is_stale(client, olivia, draft):
    signed_in(client, olivia, seconds_ago=60 * 60)

    response = client.post(f"{detail_url(draft)}publish/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/")
    draft.refresh_from_db()
    assert draft.status == Incident.Status.DRAFT


def test_it_warns_that_customers_will_see_a_published_incident(staff_client, draft, acme):
    factories.exposure(draft, acme)

    html = staff_client.get(detail_url(draft)).content.decode()

    assert "Customers will see this incident" in html
    assert "(1 account so far" in html
    assert f'action="{detail_url(draft)}publish/"' in html


def test_it_closes_an_incident_and_audits_it(staff_client, draft):
    staff_client.post(f"{detail_url(draft)}close/")

    draft.refresh_from_db()
    assert draft.status == Incident.Status.CLOSED
    assert AuditEvent.objects.get(action="incident.close").details == {"was": "draft"}
    html = staff_client.get(detail_url(draft)).content.decode()
    assert "publish/" not in html
    assert "close/" not in html


# The incident's page ---------------------------------------------------------------


def test_it_shows_the_incident_its_batches_and_the_upload_form(staff_client, draft, acme):
    batch_of(draft, original_name="march.csv", seen=10, imported=9, rejected=1)
    batch_of(
        draft,
        original_name="acme-duo.json",
        format=ImportBatch.Format.DUO,
        organization=acme,
        status=ImportBatch.Status.FAILED,
    )

    response = staff_client.get(detail_url(draft))

    assert response.status_code == 200
    html = response.content.decode()
    assert "march.csv" in html
    assert "acme-duo.json" in html
    assert "Acme Corp (DA9XK2ACME)" in html
    assert 'enctype="multipart/form-data"' in html
    assert f'action="{detail_url(draft)}upload/"' in html
    assert f'href="{detail_url(draft)}edit/"' in html
    assert_nothing_inline_without_the_nonce(response)


# Uploads ---------------------------------------------------------------------------


def test_it_imports_the_sample_csv_and_shows_its_counts_and_first_errors(
    staff_client, olivia, draft, sample_accounts, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(staff_client, draft, SAMPLES / "provider-dump.csv")

    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response.url == batch_url(batch)
    assert len(callbacks) >= 1
    assert batch.status == ImportBatch.Status.COMPLETED
    assert batch.original_name == "provider-dump.csv"
    assert batch.created_by == olivia
    upload_event = AuditEvent.objects.get(action="import.upload")
    assert upload_event.target_id == str(batch.public_id)
    assert upload_event.details["format"] == "csv"

    page = staff_client.get(response.url)

    html = page.content.decode()
    assert outcome_counts(html) == {
        "rows seen": "8",
        "imported": "5",
        "duplicate": "1",
        "rejected": "1",
        "unknown account": "1",
    }
    assert "hx-trigger" not in html
    lines = {error["line"] for error in batch.first_errors}
    assert 7 in lines  # not-a-number, README says
    for error in batch.first_errors:
        assert f'<td class="text-end font-monospace text-nowrap">{error["line"]}</td>' in html
        assert escape(error["message_id"]) in html
        assert escape(error["reason"]) in html
    assert batch.sha256 in html
    assert batch_url(batch, "errors.csv") in html
    assert_nothing_inline_without_the_nonce(page)


def test_it_hands_a_large_upload_over_as_a_temporary_file(
    staff_client, draft, sample_accounts, media_root, tmp_path, settings
):
    """Above FILE_UPLOAD_MAX_MEMORY_SIZE Django spools the body to disk; the view passes
    that file on as it is, for the engine to stream."""
    header, *rows = (SAMPLES / "provider-dump.csv").read_text().splitlines(keepends=True)
    big = tmp_path / "big.csv"
    with big.open("w") as file:
        file.write(header)
        while file.tell() <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
            file.writelines(rows[:5])
    received = {}

    def create(**kwargs):
        received.update(kwargs)
        return batch_of(kwargs["incident"])

    with mock.patch.object(operator_services, "import_batch_create", side_effect=create):
        upload(staff_client, draft, big)

    assert isinstance(received["upload"], TemporaryUploadedFile)
    assert received["original_name"] == "big.csv"
    assert received["organization"] is None


def test_it_asks_for_the_account_of_a_duo_upload(staff_client, draft, media_root):
    response = upload(staff_client, draft, SAMPLES / "duo-telephony-v2.json", format="duo")

    assert response.status_code == 200
    assert response.context["upload_form"].errors["organization"] == [
        "Choose the account these Duo logs belong to."
    ]
    assert "Choose the account these Duo logs belong to." in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_it_imports_a_duo_log_into_the_chosen_account(
    staff_client, draft, acme, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            staff_client, draft, SAMPLES / "duo-telephony-v2.json", format="duo", account=acme
        )

    batch = ImportBatch.objects.get()
    assert response.url == batch_url(batch)
    assert batch.organization == acme
    assert batch.format == ImportBatch.Format.DUO
    assert AuditEvent.objects.get(action="import.upload").details["account"] == "DA9XK2ACME"


def test_it_refuses_a_csv_without_the_required_columns_and_names_them(
    staff_client, draft, media_root, tmp_path
):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("message_id,account_id,carrier\nm-1,DA7QK4M2ZP,EE\n")

    response = upload(staff_client, draft, wrong)

    assert response.status_code == 200
    [error] = response.context["upload_form"].errors["upload"]
    for column in ("sent_at", "phone", "message_type"):
        assert column in error
    assert "sent_at" in response.content.decode()
    assert not ImportBatch.objects.exists()
    assert not AuditEvent.objects.filter(action="import.upload").exists()


def test_it_refuses_a_file_in_the_operators_language(
    staff_client, olivia, draft, media_root, tmp_path
):
    olivia.language = "es"
    olivia.save(update_fields=["language"])
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("message_id,account_id,carrier\nm-1,DA7QK4M2ZP,EE\n")

    response = upload(staff_client, draft, wrong)

    [error] = response.context["upload_form"].errors["upload"]
    assert error.startswith("Al archivo le faltan columnas obligatorias: sent_at, phone")
    assert not ImportBatch.objects.exists()


def test_it_shows_why_a_batch_failed_in_the_operators_language(staff_client, olivia, draft):
    reason = _failure_text(KeyboardInterrupt())
    batch = batch_of(
        draft, status=ImportBatch.Status.FAILED, failure=reason, failure_reason=reason.as_data()
    )
    olivia.language = "de"
    olivia.save(update_fields=["language"])

    html = staff_client.get(batch_url(batch)).content.decode()

    assert "Der Import wurde unterbrochen; nichts wurde geladen." in html
    assert "The import was interrupted" not in html


def test_it_names_a_duo_item_in_the_operators_language(staff_client, olivia, draft):
    from portal.incidents.imports.parsers import duo_check_item
    from portal.incidents.reasons import reason_data

    reason = duo_check_item({"telephony_id": "t-3"})
    batch = batch_of(
        draft,
        status=ImportBatch.Status.COMPLETED,
        format=ImportBatch.Format.DUO,
        rejected=1,
        error_groups=[{"reason": str(reason), "count": 1, "line": "item 3", **reason_data(reason)}],
        first_errors=[
            {"line": "item 3", "message_id": "t-3", "account_id": "", "reason": str(reason)}
            | reason_data(reason)
        ],
    )
    olivia.language = "fr"
    olivia.save(update_fields=["language"])

    html = staff_client.get(batch_url(batch)).content.decode()

    assert html.count("élément 3") == 2
    assert html.count("il manque ts, phone, type") == 2
    assert "item 3" not in html


def test_it_requires_a_file(staff_client, draft):
    response = staff_client.post(f"{detail_url(draft)}upload/", {"format": "csv"})

    assert response.status_code == 200
    assert "upload" in response.context["upload_form"].errors
    assert not ImportBatch.objects.exists()


# The batch page and its progress ---------------------------------------------------


def test_it_polls_the_progress_of_a_running_batch(staff_client, draft):
    now = timezone.now()
    batch = batch_of(
        draft,
        status=ImportBatch.Status.RUNNING,
        phase=ImportBatch.Phase.READING,
        bytes_read=50,
        bytes_total=100,
        seen=1200,
        started_at=now - timedelta(seconds=4),
        progress_at=now,
    )

    page = staff_client.get(batch_url(batch))
    partial = staff_client.get(batch_url(batch, "progress/"))

    for response in (page, partial):
        html = response.content.decode()
        assert response.status_code == 200
        assert f'hx-get="{batch_url(batch, "progress/")}"' in html
        assert 'hx-trigger="every 1s"' in html
        assert 'hx-swap="outerHTML"' in html
        assert "50%" in html
        assert 'aria-valuenow="50"' in html
        assert 'width="50%"' in html
        assert "300 rows/s" in html
        assert "Reading and checking rows" in html
    assert "<html" not in partial.content.decode()
    assert "no-cache" in partial["Cache-Control"]
    assert_nothing_inline_without_the_nonce(page)


def test_it_keeps_polling_a_batch_waiting_for_a_worker(staff_client, draft):
    batch = batch_of(draft)

    html = staff_client.get(batch_url(batch, "progress/")).content.decode()

    assert 'hx-trigger="every 1s"' in html
    assert "0%" in html
    assert "Waiting for an import worker" in html


def test_it_stops_polling_and_shows_the_counts_once_finished(staff_client, draft, media_root):
    started = timezone.now() - timedelta(seconds=10)
    batch = batch_of(
        draft,
        status=ImportBatch.Status.COMPLETED,
        phase=ImportBatch.Phase.DONE,
        bytes_read=100,
        seen=8,
        imported=5,
        duplicate=1,
        rejected=1,
        unknown_account=1,
        first_errors=[
            {"line": 7, "reason": "phone: not-a-number is not a phone number"},
            {"line": 8, "reason": "account_id: DAUNKNOWN00 is not an account the portal knows"},
        ],
        started_at=started,
        progress_at=started + timedelta(seconds=2),
        finished_at=started + timedelta(seconds=2),
    )
    batch.error_report.save("errors.csv", ContentFile(b"line,reason\n"))

    html = staff_client.get(batch_url(batch, "progress/")).content.decode()

    assert "hx-trigger" not in html
    assert "hx-get" not in html
    assert outcome_counts(html) == {
        "rows seen": "8",
        "imported": "5",
        "duplicate": "1",
        "rejected": "1",
        "unknown account": "1",
    }
    assert "phone: not-a-number is not a phone number" in html
    assert "DAUNKNOWN00 is not an account the portal knows" in html
    assert batch_url(batch, "errors.csv") in html
    assert "4 rows/s" in html


def test_it_shows_why_a_batch_failed_and_offers_a_retry(staff_client, draft):
    batch = batch_of(
        draft, status=ImportBatch.Status.FAILED, failure="The worker ran out of disk space."
    )

    html = staff_client.get(batch_url(batch)).content.decode()

    assert "The worker ran out of disk space." in html
    assert f'action="{batch_url(batch, "retry/")}"' in html
    assert "hx-trigger" not in html


def test_it_queues_a_failed_batch_again_after_commit(
    staff_client, olivia, draft, django_capture_on_commit_callbacks
):
    batch = batch_of(draft, status=ImportBatch.Status.FAILED, failure="Lost the worker.")

    with mock.patch.object(operator_services, "import_batch_run") as task:
        with django_capture_on_commit_callbacks() as callbacks:
            response = staff_client.post(batch_url(batch, "retry/"))
            task.delay.assert_not_called()
        for callback in callbacks:
            callback()

    task.delay.assert_called_once_with(batch.pk)
    assert response.url == batch_url(batch)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PENDING
    event = AuditEvent.objects.get(action="import.retry")
    assert (event.actor, event.target_id) == (olivia, str(batch.public_id))


def test_it_retries_a_failed_import_to_the_end(
    staff_client, draft, sample_accounts, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(staff_client, draft, SAMPLES / "provider-dump.csv")
    batch = ImportBatch.objects.get()
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.FAILED, failure="Lost the worker."
    )

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(batch_url(batch, "retry/"))

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMPLETED
    assert batch.seen == 8


def test_it_refuses_to_retry_a_batch_that_did_not_fail(staff_client, draft):
    batch = batch_of(draft, status=ImportBatch.Status.RUNNING)

    with mock.patch.object(operator_services, "import_batch_run") as task:
        response = staff_client.post(batch_url(batch, "retry/"), follow=True)

    task.delay.assert_not_called()
    assert "Only a failed import can be retried." in response.content.decode()
    assert not AuditEvent.objects.filter(action="import.retry").exists()


def test_it_downloads_the_error_report_and_audits_it(staff_client, olivia, draft, media_root):
    batch = batch_of(draft, original_name="march dump.csv", rejected=1)
    batch.error_report.save("errors.csv", ContentFile(b"line,reason\n7,bad phone\n"))

    response = staff_client.get(batch_url(batch, "errors.csv"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"line,reason\n7,bad phone\n"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="march dump-errors.csv"' in response["Content-Disposition"]
    event = AuditEvent.objects.get(action="import.errors_download")
    assert (event.actor, event.target_id) == (olivia, str(batch.public_id))


def test_it_is_a_404_for_a_batch_without_an_error_report(staff_client, draft):
    batch = batch_of(draft)

    assert staff_client.get(batch_url(batch, "errors.csv")).status_code == 404
    assert not AuditEvent.objects.filter(action="import.errors_download").exists()


# Who may see it --------------------------------------------------------------------

URLS = [
    "/operator/incidents/",
    "/operator/incidents/new/",
    "/operator/incidents/{incident}/",
    "/operator/incidents/{incident}/edit/",
    "/operator/incidents/{incident}/publish/",
    "/operator/incidents/{incident}/close/",
    "/operator/incidents/{incident}/upload/",
    "/operator/incidents/batches/{batch}/",
    "/operator/incidents/batches/{batch}/progress/",
    "/operator/incidents/batches/{batch}/errors.csv",
    "/operator/incidents/batches/{batch}/retry/",
]


@pytest.fixture
def paths(draft, media_root):
    batch = batch_of(draft, status=ImportBatch.Status.FAILED)
    batch.error_report.save("errors.csv", ContentFile(b"line,reason\n"))
    return {"incident": draft.public_id, "batch": batch.public_id}


@pytest.mark.parametrize("path", URLS)
@pytest.mark.parametrize("who", ["alice", "charlie"])
def test_it_is_a_404_for_everyone_but_staff(client, request, paths, who, path):
    client.force_login(request.getfixturevalue(who))

    assert client.get(path.format(**paths)).status_code == 404
    assert client.post(path.format(**paths)).status_code == 404
    assert Incident.objects.get().status == Incident.Status.DRAFT
    assert ImportBatch.objects.get().status == ImportBatch.Status.FAILED
    assert not AuditEvent.objects.filter(action__regex=r"^(incident|import)\.").exists()


@pytest.mark.parametrize("path", URLS)
def test_it_sends_anonymous_visitors_to_sign_in(client, paths, path):
    for response in (client.get(path.format(**paths)), client.post(path.format(**paths))):
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_it_is_a_404_for_an_unknown_incident_or_batch(staff_client):
    unknown = "00000000-0000-0000-0000-000000000000"

    assert staff_client.get(f"/operator/incidents/{unknown}/").status_code == 404
    assert staff_client.get(f"/operator/incidents/batches/{unknown}/").status_code == 404


# Who is emailed, said before it happens (issue 15 point 10) ------------------------


def who_is_emailed(html: str, when: str) -> str:
    """The note that says who gets the customer notice, before publishing or importing."""
    note = html[html.index(f'data-who-is-emailed="{when}"') :]
    return note[: note.index("</div>")]


def test_it_counts_rows_that_came_without_an_upload(staff_client, acme):
    seeded = factories.incident(title="Seeded")
    factories.exposure(seeded, acme)
    for _ in range(3):
        factories.log_record(seeded, acme)

    response = staff_client.get("/operator/incidents/")

    html = response.content.decode()
    assert {i.title: i.log_rows for i in response.context["page"]}["Seeded"] == 3
    assert "no upload: rows loaded another way" in html
    assert "Rows imported" not in html


def test_the_publish_dialog_names_the_accounts_and_people_it_emails(
    staff_client, draft, acme, globex
):
    factories.exposure(draft, acme)
    factories.exposure(draft, globex, phone="+33612345678")
    factories.member(acme, "owner@acme.example", "owner")
    factories.member(acme, "admin@acme.example", "admin")
    factories.member(acme, "viewer@acme.example", "viewer")  # not told: cannot act

    html = staff_client.get(detail_url(draft)).content.decode()

    publish = who_is_emailed(html, "publish")
    assert "these 2 accounts (2 people)" in publish
    assert "Acme Corp" in publish
    assert "2 people" in publish
    assert "Globex" in publish
    assert "0 people" in publish
    assert "nobody to tell" in publish
    assert "Importing emails nobody: the incident is a draft." in html


def test_the_upload_form_of_a_published_incident_says_who_is_not_emailed_again(staff_client, acme):
    published = factories.incident(title="Out", status=Incident.Status.PUBLISHED)
    factories.exposure(published, acme)
    factories.member(acme, "owner@acme.example", "owner")

    html = staff_client.get(detail_url(published)).content.decode()

    upload = who_is_emailed(html, "import")
    assert "brings into it for the first time get the customer notice" in upload
    assert "The account already in it is not emailed again" in upload
    assert "Acme Corp" in upload


def test_the_incident_page_polls_its_imports_while_one_runs(staff_client, draft):
    running = batch_of(draft, status=ImportBatch.Status.RUNNING)

    html = staff_client.get(detail_url(draft)).content.decode()

    assert 'hx-trigger="every 3s" hx-select="#batches-live"' in html
    ImportBatch.objects.filter(pk=running.pk).update(status=ImportBatch.Status.COMPLETED)
    assert 'hx-select="#batches-live"' not in staff_client.get(detail_url(draft)).content.decode()
