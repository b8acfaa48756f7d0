import csv
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core import mail

from portal.audit.models import AuditEvent
from portal.incidents.models import MessageLogRecord
from portal.logcopies import services
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.services import LogCopyRefusedError, logcopy_generate, logcopy_retry
from tests import factories

pytestmark = pytest.mark.django_db

SAMPLE = Path("/work/shared/samples/duo-telephony-v2.json")
DUO_KEYS = ["context", "credits", "phone", "telephony_id", "ts", "txid", "type"]
EXTRA_KEYS = ["carrier", "country", "region"]
T0 = datetime(2024, 3, 4, 14, 22, 10, 125000, tzinfo=UTC)
NASTY_CARRIERS = ['=HYPERLINK("http://x")', "@SUM(1)", "+1", "-2", "\tTab", "\rReturn"]


@pytest.fixture
def acme():
    return factories.organization("Acme Corp", log_copy_retention_days=7)


@pytest.fixture
def breach():
    return factories.incident(slug="march-logs")


@pytest.fixture
def rows(acme, breach):
    """Six rows of Acme's (one per nasty carrier) and one of Globex's."""
    made = [
        factories.log_record(
            breach, acme, provider_message_id=f"msg-{n}", sent_at=T0 + timedelta(hours=n),
            phone="+12125550143" if n % 2 else "+447700900123", carrier=carrier,
            message_type="voice" if n == 1 else "sms", context="authentication", credits=n,
        )
        for n, carrier in enumerate(NASTY_CARRIERS)
    ]  # fmt: skip
    globex = factories.organization("Globex")
    factories.log_record(breach, globex, provider_message_id="globex-1", carrier="Globex tel")
    return made


def approved(acme, breach, sam, **fields) -> LogCopyRequest:
    values = {"scope": "account", "format": "csv", "reason": "SOC", "status": "approved"}
    return LogCopyRequest.objects.create(
        organization=acme, incident=breach, requested_by=sam, **{**values, **fields}
    )


def contents(copy: LogCopyRequest) -> tuple[bytes, dict, list[str]]:
    with copy.file.open("rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        (listed,) = manifest["files"]
        data = zf.read(listed["name"])
    return data, manifest, names


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_it_generates_a_csv_copy_with_its_manifest(acme, breach, sam, rows, media_root):
    copy = logcopy_generate(copy=approved(acme, breach, sam))

    assert copy.status == LogCopyRequest.Status.READY
    data, manifest, names = contents(copy)
    assert names == ["messages.csv", "manifest.json", "manifest.json.sig"]
    assert manifest["schema_version"] == 1
    assert manifest["request_id"] == str(copy.public_id)
    assert manifest["incident"] == {
        "id": str(breach.public_id),
        "slug": "march-logs",
        "title": breach.title,
    }
    assert manifest["account"] == {"id": acme.account_id, "name": "Acme Corp"}
    assert manifest["scope"] == {"kind": "account"}
    assert manifest["format"] == "csv"
    assert manifest["row_count"] == 6 == copy.rows == copy.progress_rows == copy.total_rows
    assert manifest["files"] == [
        {"name": "messages.csv", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    ]
    assert copy.files == manifest["files"]
    with copy.file.open("rb") as fh:  # the copy's own hash is the zip's, as downloaded
        assert copy.sha256 == hashlib.sha256(fh.read()).hexdigest()
    assert datetime.fromisoformat(manifest["generated_at"]) == copy.generated_at
    assert copy.size == copy.file.size
    lines = csv_rows(data)
    assert [line["message_id"] for line in lines] == [f"msg-{n}" for n in range(6)]
    assert lines[0]["sent_at"] == "2024-03-04 14:22:10.125+00"
    assert lines[1]["sent_at"] == "2024-03-04 15:22:10.125+00"
    assert lines[1]["message_type"] == "voice"
    assert lines[2]["credits"] == "2"
    assert "globex" not in data.decode().lower()


def test_it_neutralizes_formulas_in_csv_cells(acme, breach, sam, rows, media_root):
    copy = logcopy_generate(copy=approved(acme, breach, sam))

    lines = csv_rows(contents(copy)[0])
    assert [line["carrier"] for line in lines] == ["'" + carrier for carrier in NASTY_CARRIERS]
    # Only free text is guarded: the phone is E.164 as the import validated it, and a
    # SIEM joins on it as written (issue 16), so its "+" stays first.
    assert {line["phone"] for line in lines} == {"+12125550143", "+447700900123"}
    assert lines[0]["country"] == "US"


def test_it_writes_duo_items_with_the_v2_names_and_types(acme, breach, sam, rows, media_root):
    copy = logcopy_generate(copy=approved(acme, breach, sam, format="duo"))

    data, manifest, names = contents(copy)
    assert names == ["telephony.json", "manifest.json", "manifest.json.sig"]
    document = json.loads(data)
    sample = json.loads(SAMPLE.read_text())["response"]["items"][0]
    assert document["stat"] == "OK"
    assert document["response"]["metadata"]["total_objects"] == {"value": 6, "relation": "eq"}
    items = document["response"]["items"]
    assert len(items) == 6
    for item in items:
        assert list(item) == DUO_KEYS + EXTRA_KEYS
        for key in DUO_KEYS:
            assert type(item[key]) is type(sample[key]), key
        assert datetime.fromisoformat(item["ts"]).tzinfo is not None
    assert items[0]["ts"] == "2024-03-04T14:22:10.125000+00:00"
    assert len(items[0]["ts"]) == len(sample["ts"])
    assert items[0]["telephony_id"] == "msg-0"
    assert items[0]["carrier"] == NASTY_CARRIERS[0]  # JSON is not a spreadsheet
    assert [item["type"] for item in items[:3]] == ["sms", "phone", "sms"]
    # txid is stable: a second copy of the same rows gives the same ids.
    again = logcopy_generate(copy=approved(acme, breach, sam, format="duo"))
    again_items = json.loads(contents(again)[0])["response"]["items"]
    assert [i["txid"] for i in again_items] == [i["txid"] for i in items]
    assert len({i["txid"] for i in items}) == 6
    assert manifest["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()


def test_it_writes_json_lines(acme, breach, sam, rows, media_root):
    copy = logcopy_generate(copy=approved(acme, breach, sam, format="jsonl"))

    data, manifest, _ = contents(copy)
    objects = [json.loads(line) for line in data.decode().splitlines()]
    assert len(objects) == 6 == manifest["row_count"]
    assert objects[0]["message_id"] == "msg-0"
    assert objects[0]["phone"] == "+447700900123"
    assert objects[0]["credits"] == 0
    assert objects[1]["message_type"] == "voice"


def test_it_copies_only_the_date_range(acme, breach, sam, rows, media_root):
    copy = approved(
        acme, breach, sam, scope="date_range", scope_start=T0 + timedelta(hours=1),
        scope_end=T0 + timedelta(hours=3),
    )  # fmt: skip
    copy = logcopy_generate(copy=copy)

    data, manifest, _ = contents(copy)
    assert [line["message_id"] for line in csv_rows(data)] == ["msg-1", "msg-2"]
    assert manifest["scope"]["kind"] == "date_range"
    assert datetime.fromisoformat(manifest["scope"]["start"]) == T0 + timedelta(hours=1)


def test_it_copies_only_the_chosen_phones(acme, breach, sam, rows, media_root):
    copy = approved(acme, breach, sam, scope="chosen", scope_phones=["+12125550143"])
    copy = logcopy_generate(copy=copy)

    data, manifest, _ = contents(copy)
    assert [line["message_id"] for line in csv_rows(data)] == ["msg-1", "msg-3", "msg-5"]
    assert manifest["scope"] == {"kind": "chosen", "phones": ["+12125550143"]}


def test_it_never_includes_another_account_or_incident(acme, breach, sam, rows, media_root):
    other = factories.incident()
    factories.log_record(other, acme, provider_message_id="other-incident")

    for fmt in ("csv", "jsonl", "duo"):
        data = contents(logcopy_generate(copy=approved(acme, breach, sam, format=fmt)))[0]
        assert b"globex" not in data.lower()
        assert b"other-incident" not in data


def test_it_sets_the_expiry_from_the_retention_days(acme, breach, sam, rows, media_root):
    copy = logcopy_generate(copy=approved(acme, breach, sam))

    assert copy.expires_at == copy.generated_at + timedelta(days=7)
    copy.refresh_from_db()
    assert copy.expires_at - copy.generated_at == timedelta(days=7)


def test_it_emails_and_audits_when_ready(
    acme, breach, sam, rows, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        copy = logcopy_generate(copy=approved(acme, breach, sam))

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sam@acme.example"]
    assert "ready" in mail.outbox[0].subject
    assert copy.sha256 in mail.outbox[0].body
    event = AuditEvent.objects.get(action="logcopy.ready")
    assert event.details["rows"] == 6


def test_it_does_nothing_for_a_copy_not_approved(acme, breach, sam, rows, media_root):
    copy = approved(acme, breach, sam, status="requested")

    copy = logcopy_generate(copy=copy)

    assert copy.status == LogCopyRequest.Status.REQUESTED
    assert not copy.file


def test_it_records_a_failure_and_a_retry_works(
    acme, breach, sam, rows, media_root, monkeypatch, django_capture_on_commit_callbacks
):
    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    copy = approved(acme, breach, sam)
    # The disk fills up as the manifest goes in, after the data file was written.
    monkeypatch.setattr("zipfile.ZipFile.writestr", disk_full)
    with (
        pytest.raises(OSError, match="disk full"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        logcopy_generate(copy=copy)
    copy.refresh_from_db()
    assert copy.status == LogCopyRequest.Status.FAILED
    assert "unexpected error" in copy.failure
    assert not copy.file
    assert "could not be generated" in mail.outbox[-1].subject
    assert not list(Path(media_root).rglob("*.zip"))

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        logcopy_retry(copy=copy, by=sam)

    copy.refresh_from_db()
    assert copy.status == LogCopyRequest.Status.READY
    assert copy.failure == ""
    assert copy.rows == 6
    assert AuditEvent.objects.filter(action="logcopy.retry").count() == 1
    with pytest.raises(LogCopyRefusedError):
        logcopy_retry(copy=copy, by=sam)


def test_it_writes_progress_as_it_goes(acme, breach, sam, rows, media_root, monkeypatch):
    seen = []
    monkeypatch.setattr(services, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(services, "ROWS_PER_BLOCK", 2)
    original = services._Progress.rows

    def spy(self, count):
        original(self, count)
        seen.append(count)

    monkeypatch.setattr(services._Progress, "rows", spy)
    for fmt in ("csv", "duo"):
        seen.clear()
        logcopy_generate(copy=approved(acme, breach, sam, format=fmt))
        # Rows come in blocks (and COPY's header counts in the first): the steps are
        # about every two rows, not exactly.
        assert len(seen) >= 2
        assert seen == sorted(seen)
        assert seen[-1] <= 6


def test_it_counts_only_the_scoped_rows_of_the_table(acme, breach, rows):
    copy = LogCopyRequest(organization=acme, incident=breach, scope="account")
    assert services.logcopy_scoped_records(copy).count() == 6
    assert MessageLogRecord.objects.count() == 7


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_records_a_database_error_in_the_middle_of_the_copy_and_goes_on(
    acme, breach, sam, rows, media_root, monkeypatch
):
    # A column whose value fails on the server for one row: the COPY breaks off after
    # rows have already arrived.
    failing = (*services.CSV_COLUMNS, ("boom", "1 / (credits - 2)", False))
    monkeypatch.setattr(services, "CSV_COLUMNS", failing)
    copy = approved(acme, breach, sam)

    with pytest.raises(Exception, match="division by zero"):
        logcopy_generate(copy=copy)

    copy.refresh_from_db()  # the connection works again
    assert copy.status == LogCopyRequest.Status.FAILED
    assert "unexpected error" in copy.failure
    assert not list(Path(media_root).rglob("*.zip"))
