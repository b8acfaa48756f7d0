"""Exports of exposed users past EXPORT_STREAM_MAX rows are jobs: a worker writes the
file through storage with progress, the member downloads it through a short-lived
signed link; both are audited. Small ones stream in chunks of at least 64 KB."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.incidents.exposures import views
from portal.incidents.exposures.exports import CHUNK_BYTES, csv_chunks
from portal.logcopies.exposure_exports import exposure_exports_expire_due
from portal.logcopies.models import ExposureExport
from tests import factories
from tests.incidents.exposures_world import export_url, exposure

pytestmark = pytest.mark.django_db


@pytest.fixture
def breach(acme, incident):
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe", phones=[])
    for n in range(7):
        exposure(incident, acme, f"+1212555010{n}", sms=n + 1, country="US",
                 directory_user=jane if n == 0 else None)  # fmt: skip
    return incident


@pytest.fixture
def small_streams(monkeypatch):
    """Three rows at most stream; the seven phones of `breach` make a job."""
    monkeypatch.setattr(views, "EXPORT_STREAM_MAX", 3)


def _rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def _job(client, django_capture_on_commit_callbacks, url):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url)
    assert response.status_code == 302
    export = ExposureExport.objects.get()
    assert response["Location"] == reverse(
        "logcopies:export",
        kwargs={"org": export.organization.public_id, "export": export.public_id},
    )
    return export, response["Location"]


def test_a_large_export_is_written_by_a_worker_and_downloaded_by_link(
    client,
    sign_in,
    bob,
    acme,
    breach,
    small_streams,
    media_root,
    django_capture_on_commit_callbacks,
):
    sign_in(bob)

    export, page_url = _job(client, django_capture_on_commit_callbacks, export_url(acme, breach))
    page = client.get(page_url)

    export.refresh_from_db()
    assert export.status == ExposureExport.Status.READY
    assert (export.rows, export.progress_rows, export.total_rows) == (7, 7, 7)
    assert export.file.name.startswith("exposure-exports/")
    html = page.content.decode()
    assert "The file is ready: 7 rows" in html
    link = page.context["token"]
    download = client.get(
        reverse(
            "logcopies:export_download",
            kwargs={"org": acme.public_id, "export": export.public_id, "export_token": link},
        )
    )
    assert download.status_code == 200
    rows = _rows(b"".join(download.streaming_content))
    assert len(rows) == 7
    assert all("•••" in row["phone"] for row in rows)
    assert [row["name"] for row in rows].count("Jane Doe") == 1
    actions = list(
        AuditEvent.objects.filter(action__startswith="exposure.")
        .order_by("id")
        .values_list("action", "details")
    )
    assert [action for action, _ in actions] == ["exposure.export", "exposure.export_download"]
    assert actions[0][1]["how"] == "job"
    assert actions[1][1]["rows"] == 7


def test_the_job_writes_the_same_rows_as_the_stream(
    client, sign_in, bob, acme, breach, media_root, django_capture_on_commit_callbacks, monkeypatch
):
    sign_in(bob)
    streamed = b"".join(client.get(export_url(acme, breach) + "?sort=-messages").streaming_content)
    monkeypatch.setattr(views, "EXPORT_STREAM_MAX", 3)

    export, _ = _job(
        client, django_capture_on_commit_callbacks, export_url(acme, breach) + "?sort=-messages"
    )

    export.refresh_from_db()
    with export.file.open("rb") as written:
        assert written.read() == streamed


def test_someone_else_cannot_open_or_download_the_export(
    client, sign_in, bob, alice, charlie, acme, breach, small_streams, media_root,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    sign_in(bob)
    export, page_url = _job(client, django_capture_on_commit_callbacks, export_url(acme, breach))
    token = client.get(page_url).context["token"]
    download_url = reverse(
        "logcopies:export_download",
        kwargs={"org": acme.public_id, "export": export.public_id, "export_token": token},
    )

    for other in (alice, charlie):  # a colleague, and a stranger
        client.logout()
        sign_in(other)
        assert client.get(page_url).status_code == 404
        assert client.get(download_url).status_code == 404
    assert not AuditEvent.objects.filter(action="exposure.export_download").exists()


def test_a_forged_link_is_refused(
    client,
    sign_in,
    bob,
    acme,
    breach,
    small_streams,
    media_root,
    django_capture_on_commit_callbacks,
):
    sign_in(bob)
    export, _ = _job(client, django_capture_on_commit_callbacks, export_url(acme, breach))

    response = client.get(
        reverse(
            "logcopies:export_download",
            kwargs={
                "org": acme.public_id,
                "export": export.public_id,
                "export_token": "forged:token",
            },
        )
    )

    assert response.status_code == 403
    assert "This link is not valid for you." in response.content.decode()


def test_the_sweep_deletes_an_expired_export(
    client,
    sign_in,
    bob,
    acme,
    breach,
    small_streams,
    media_root,
    django_capture_on_commit_callbacks,
):
    sign_in(bob)
    export, page_url = _job(client, django_capture_on_commit_callbacks, export_url(acme, breach))
    export.refresh_from_db()
    stored = media_root / export.file.name
    assert stored.exists()

    assert exposure_exports_expire_due(now=timezone.now() + timedelta(days=2)) == 1

    assert not stored.exists()
    assert ExposureExport.objects.get().status == ExposureExport.Status.EXPIRED
    assert "has expired" in client.get(page_url).content.decode()


def test_a_small_export_streams_in_chunks_of_at_least_64_kb():
    rows = ([f"row {n}", "x" * 100, *[""] * 13] for n in range(5_000))

    chunks = list(csv_chunks(rows))

    assert len(chunks) > 2
    assert all(len(chunk) >= CHUNK_BYTES for chunk in chunks[:-1])
    assert "".join(chunks).count("\n") == 5_001


def test_a_failed_export_says_why_in_the_members_language(
    client,
    sign_in,
    bob,
    acme,
    breach,
    small_streams,
    media_root,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    def broken(export):
        raise OSError("disk full")

    monkeypatch.setattr("portal.logcopies.exposure_exports._write", broken)
    bob.language = "fr"
    bob.save(update_fields=["language"])
    sign_in(bob)

    with pytest.raises(OSError, match="disk full"):  # the worker's task fails, and is logged
        _job(client, django_capture_on_commit_callbacks, export_url(acme, breach))

    export = ExposureExport.objects.get()
    page = client.get(
        reverse(
            "logcopies:export",
            kwargs={"org": acme.public_id, "export": export.public_id},
        )
    ).content.decode()
    assert export.status == ExposureExport.Status.FAILED
    assert export.failure == "An unexpected error stopped the export (OSError)."
    assert "Une erreur inattendue a arrêté l" in page
    assert "(OSError)" in page
