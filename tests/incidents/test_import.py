"""The import engine (DESIGN.md flow 1): samples, formats, re-runs, kills and resumes.

Runs on SQLite by default and on PostgreSQL with DATABASE_URL set, where the rows go
through COPY into an UNLOGGED staging table.
"""

import itertools
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.incidents.exposures.services import exposure_rebuild
from portal.incidents.imports import services, tasks
from portal.incidents.imports.services import (
    ImportProgress,
    ImportRefusedError,
    import_batch_run,
)
from portal.incidents.models import (
    DirectoryPhone,
    Exposure,
    ImportBatch,
    MessageLogRecord,
    MessageRollup,
)
from tests import factories
from tests.incidents.imports import (
    DUO_LOG,
    HEADER,
    PROVIDER_DUMP,
    counts,
    created,
    imported,
    report,
)
from tests.statistics import analyzed


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


@pytest.fixture
def acme(db):
    return factories.organization("Acme Corp", account_id="DA7QK4M2ZP")


@pytest.fixture
def globex(db):
    return factories.organization("Globex", account_id="DA3HN8WQ1C")


@pytest.fixture
def breach(db):
    return factories.incident(slug="march-2024")


def log_rows(incident) -> dict[str, MessageLogRecord]:
    return {
        row.provider_message_id: row
        for row in MessageLogRecord.objects.filter(incident=incident).select_related("organization")
    }


def exposures(incident) -> dict[str, Exposure]:
    return {exposure.phone: exposure for exposure in Exposure.objects.filter(incident=incident)}


def staging_tables() -> list[str]:
    return [name for name in connection.introspection.table_names() if "import_stage" in name]


# --- The samples ------------------------------------------------------------------


def test_it_imports_the_sample_dump_with_the_counts_its_readme_states(breach, acme, globex):
    batch = imported(breach, PROVIDER_DUMP)

    assert batch.status == ImportBatch.Status.COMPLETED
    assert batch.phase == ImportBatch.Phase.DONE
    assert counts(batch) == {
        "seen": 8,
        "imported": 5,
        "duplicate": 1,
        "rejected": 1,
        "unknown_account": 1,
    }
    assert batch.bytes_read == batch.bytes_total == len(PROVIDER_DUMP.encode())
    assert batch.started_at <= batch.finished_at
    assert sorted(log_rows(breach)) == ["m-000001", "m-000002", "m-000003", "m-000004", "m-000005"]
    assert staging_tables() == []


def test_it_normalizes_the_samples_fields(breach, acme, globex):
    imported(breach, PROVIDER_DUMP)

    rows = log_rows(breach)
    # The same phone written two ways, and a national number with its country as hint.
    assert rows["m-000001"].phone == rows["m-000002"].phone == "+12125550143"
    assert rows["m-000003"].phone == "+447700900123"
    assert rows["m-000005"].phone == "+14155550199"
    # Unix seconds, Z and -05:00.
    assert rows["m-000003"].sent_at == datetime.fromtimestamp(1709290000, UTC)
    assert rows["m-000005"].sent_at == datetime(2024, 3, 31, 12, 0, tzinfo=UTC)
    assert rows["m-000004"].sent_at == datetime(2024, 3, 3, 4, 59, 59, tzinfo=UTC)
    assert rows["m-000003"].message_type == "voice"  # written "phone"
    assert rows["m-000001"].message_type == "sms"
    assert rows["m-000001"].extra == {"route": "r12"}
    assert rows["m-000003"].credits == 2
    assert rows["m-000004"].context == "administrator login"
    assert rows["m-000004"].organization == globex
    assert rows["m-000001"].organization == acme
    assert (rows["m-000004"].country, rows["m-000004"].region) == ("DE", "Bayern")
    assert rows["m-000004"].region_code == "DE-BY"
    assert rows["m-000002"].region_code == "US-NY"  # written "NY"
    assert {row.import_batch_id for row in rows.values()} == {ImportBatch.objects.get().pk}


def test_it_builds_the_samples_exposures(breach, acme, globex):
    directory = factories.directory_user(acme, "jdoe", phones=["+12125550143"])
    DirectoryPhone.objects.create(organization=acme, directory_user=directory, phone="+12125550143")

    imported(breach, PROVIDER_DUMP)

    found = exposures(breach)
    assert set(found) == {"+12125550143", "+447700900123", "+4915123456789", "+14155550199"}
    same_phone = found["+12125550143"]
    assert (same_phone.message_count, same_phone.sms_count, same_phone.voice_count) == (2, 2, 0)
    assert same_phone.organization == acme
    assert same_phone.first_seen_at == datetime(2024, 3, 1, 8, 14, 2, tzinfo=UTC)
    assert same_phone.last_seen_at == datetime(2024, 3, 1, 8, 15, 40, tzinfo=UTC)
    assert same_phone.directory_user == directory
    gb = found["+447700900123"]
    assert (gb.voice_count, gb.country, gb.organization) == (1, "GB", acme)
    assert found["+4915123456789"].organization == globex


def test_it_adds_to_one_accounts_exposures_and_makes_anothers_in_the_same_import(
    breach, acme, globex
):
    first = "a-1,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms\n"
    imported(breach, HEADER + first)
    kept = Exposure.objects.get()

    imported(
        breach,
        HEADER
        + "a-2,DA7QK4M2ZP,2024-03-02T08:00:00Z,+12125550143,AT&T,US,NY,voice\n"
        + "g-1,DA3HN8WQ1C,2024-03-03T08:00:00Z,+4915123456789,O2,DE,Bayern,sms\n",
    )

    found = exposures(breach)
    assert set(found) == {"+12125550143", "+4915123456789"}
    again = found["+12125550143"]
    assert again.public_id == kept.public_id  # the upsert kept it
    assert (again.sms_count, again.voice_count, again.carrier) == (1, 1, "AT&T")
    assert found["+4915123456789"].organization == globex  # a plain insert made it


def test_it_reports_the_samples_rejected_and_unknown_rows_by_line(breach, acme, globex):
    batch = imported(breach, PROVIDER_DUMP)

    assert report(batch) == [
        {
            "line": "7",
            "message_id": "m-000006",
            "account_id": "DA3HN8WQ1C",
            "reason": 'phone "not-a-number" is not a phone number',
        },
        {
            "line": "8",
            "message_id": "m-000007",
            "account_id": "DAUNKNOWN00",
            "reason": "account DAUNKNOWN00 is not known to the portal",
        },
    ]
    assert [(error["line"], error["account_id"]) for error in batch.first_errors] == [
        (7, "DA3HN8WQ1C"),
        (8, "DAUNKNOWN00"),
    ]
    assert batch.error_report.name.endswith(f"{batch.public_id}-errors.csv")


def test_it_imports_the_duo_sample_into_the_chosen_account(breach, acme):
    batch = imported(breach, DUO_LOG, format="duo", organization=acme)

    assert counts(batch) == {
        "seen": 2,
        "imported": 2,
        "duplicate": 0,
        "rejected": 0,
        "unknown_account": 0,
    }
    rows = log_rows(breach)
    sms = rows["4b3b1e7a-0c1d-4a0e-9a51-2f7f3f1d9c01"]
    call = rows["0e9f8d7c-6b5a-4938-8271-605f4e3d2c1b"]
    assert (sms.organization, sms.phone, sms.country, sms.message_type) == (
        acme,
        "+12125550143",
        "US",
        "sms",
    )
    assert sms.sent_at == datetime(2024, 3, 4, 14, 22, 10, 125000, tzinfo=UTC)
    assert sms.extra == {"txid": "9d1f0c4e-5b7a-4f2e-8c3d-1a2b3c4d5e6f"}
    assert (call.message_type, call.country, call.credits, call.context) == (
        "voice",
        "GB",
        2,
        "enrollment",
    )
    assert set(exposures(breach)) == {"+12125550143", "+447700900123"}


def test_it_imports_a_bare_list_of_duo_items(breach, acme):
    items = DUO_LOG[DUO_LOG.index("[") : DUO_LOG.index("]") + 1]

    batch = imported(breach, items, format="duo", organization=acme)

    assert (batch.seen, batch.imported) == (2, 2)


def test_it_imports_json_lines(breach, acme, globex):
    content = (
        '{"message_id": "j-1", "account_id": "DA7QK4M2ZP", "sent_at": 1709290000, '
        '"phone": "+1 212 555 0143", "carrier": "Verizon", "country": "US", "state": "NY", '
        '"message_type": "sms", "credits": 1, "route": "r01"}\n'
        "\n"
        '{"message_id": "j-2", "account_id": "DA3HN8WQ1C", "sent_at": "2024-03-02T10:00:00Z", '
        '"phone": "07700 900123", "carrier": "EE", "country": "GB", "state": "Wales", '
        '"message_type": "phone", "context": "enrollment"}\n'
        '{"message_id": "j-3", "account_id": "DA3HN8WQ1C"}\n'
        "[1, 2]\n"
    )

    batch = imported(breach, content, format="jsonl")

    assert counts(batch) == {
        "seen": 4,
        "imported": 2,
        "duplicate": 0,
        "rejected": 2,
        "unknown_account": 0,
    }
    rows = log_rows(breach)
    assert rows["j-1"].extra == {"route": "r01"}
    assert rows["j-1"].credits == 1
    assert rows["j-1"].sent_at == datetime.fromtimestamp(1709290000, UTC)
    assert (rows["j-2"].phone, rows["j-2"].message_type, rows["j-2"].region_code) == (
        "+447700900123",
        "voice",
        "GB-WLS",
    )
    assert rows["j-2"].credits is None
    assert [(error["line"], error["reason"]) for error in report(batch)] == [
        ("4", "misses sent_at, phone, carrier, country, state, message_type"),
        ("5", "is not a JSON object"),
    ]


def test_it_reads_tabs_a_bom_and_header_names_in_any_case(breach, acme):
    content = (
        "\ufeffMessage_ID\tAccount_Id\tSENT_AT\tPhone\tCarrier\tCountry\tState\tMessage_Type\n"
        "t-1\tDA7QK4M2ZP\t2024-03-01T00:00:00Z\t+12125550143\tVerizon, Inc.\tus\tNew York\tSMS\n"
    )

    batch = imported(breach, content)

    assert (batch.imported, batch.rejected) == (1, 0)
    row = log_rows(breach)["t-1"]
    assert (row.carrier, row.country, row.message_type) == ("Verizon, Inc.", "US", "sms")
    assert row.context == ""
    assert row.credits is None
    assert row.extra == {}


def test_it_reads_windows_line_endings(breach, acme, globex):
    batch = imported(breach, PROVIDER_DUMP.replace("\n", "\r\n"))

    assert counts(batch)["imported"] == 5
    assert log_rows(breach)["m-000001"].extra == {"route": "r12"}
    assert [error["line"] for error in batch.first_errors] == [7, 8]


def test_it_fills_context_when_only_credits_is_given(breach, acme):
    content = (
        "message_id,account_id,sent_at,phone,carrier,country,state,message_type,credits\n"
        "c-1,DA7QK4M2ZP,2024-03-01T00:00:00Z,+12125550143,Verizon,US,NY,sms,3\n"
    )

    imported(breach, content)

    row = log_rows(breach)["c-1"]
    assert (row.context, row.credits) == ("", 3)


# --- Twice, killed, resumed -------------------------------------------------------


def test_it_changes_nothing_when_the_same_file_comes_twice(breach, acme, globex):
    first = imported(breach, PROVIDER_DUMP)
    before_rows = {key: row.pk for key, row in log_rows(breach).items()}
    before = {
        phone: (exposure.public_id, exposure.message_count, exposure.last_seen_at)
        for phone, exposure in exposures(breach).items()
    }

    second = imported(breach, PROVIDER_DUMP)

    assert second.sha256 == first.sha256
    assert second.pk != first.pk
    assert counts(second) == {
        "seen": 8,
        "imported": 0,
        "duplicate": 6,
        "rejected": 1,
        "unknown_account": 1,
    }
    assert {key: row.pk for key, row in log_rows(breach).items()} == before_rows
    assert {
        phone: (exposure.public_id, exposure.message_count, exposure.last_seen_at)
        for phone, exposure in exposures(breach).items()
    } == before


def test_it_adds_only_what_a_later_file_has_new(breach, acme, globex):
    imported(breach, PROVIDER_DUMP)
    later = HEADER + (
        "m-000001,DA7QK4M2ZP,2024-03-01T08:14:02Z,+12125550143,Verizon,US,NY,sms\n"
        "m-000100,DA7QK4M2ZP,2024-03-20T08:00:00Z,+12125550143,Verizon,US,NY,voice\n"
    )

    batch = imported(breach, later)

    assert (batch.imported, batch.duplicate) == (1, 1)
    exposure = exposures(breach)["+12125550143"]
    assert (exposure.message_count, exposure.voice_count) == (3, 1)
    assert exposure.last_seen_at == datetime(2024, 3, 20, 8, 0, tzinfo=UTC)


def test_it_leaves_the_live_tables_alone_when_killed_and_completes_when_run_again(
    breach, acme, globex, olivia, monkeypatch
):
    batch = created(breach, PROVIDER_DUMP)
    batch.created_by = olivia
    batch.save(update_fields=["created_by"])

    def killed(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(services, "exposure_rebuild", killed)
    with pytest.raises(RuntimeError):
        import_batch_run(batch=batch)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED
    assert "RuntimeError" in batch.failure
    assert "nothing was loaded" in batch.failure
    assert not MessageLogRecord.objects.exists()
    assert not Exposure.objects.exists()
    assert not batch.error_report
    assert staging_tables() == []
    failed = AuditEvent.objects.get(action="import.failed")
    assert failed.actor == olivia
    assert failed.target_id == str(batch.public_id)

    monkeypatch.undo()
    batch = import_batch_run(batch=batch)

    assert batch.status == ImportBatch.Status.COMPLETED
    assert batch.failure == ""
    assert counts(batch)["imported"] == 5
    assert MessageLogRecord.objects.count() == 5
    assert len(exposures(breach)) == 4
    completed = AuditEvent.objects.get(action="import.completed")
    assert completed.details["imported"] == 5
    assert completed.details["unknown_account"] == 1


def test_it_runs_a_batch_a_killed_worker_left_running(breach, acme, globex):
    batch = created(breach, PROVIDER_DUMP)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.RUNNING,
        phase=ImportBatch.Phase.LOADING,
        seen=3,
        started_at=timezone.now() - timedelta(hours=1),
    )

    batch = import_batch_run(batch=batch)

    assert batch.status == ImportBatch.Status.COMPLETED
    assert counts(batch)["seen"] == 8


def test_it_does_not_run_a_completed_batch_again(breach, acme, globex):
    batch = imported(breach, PROVIDER_DUMP)
    MessageLogRecord.objects.all().delete()

    again = import_batch_run(batch=batch)

    assert again.finished_at == batch.finished_at
    assert counts(again)["imported"] == 5
    assert not MessageLogRecord.objects.exists()


def test_it_leaves_a_batch_that_another_process_is_running(breach, acme, globex):
    batch = created(breach, PROVIDER_DUMP)

    with services._run_lock(batch) as mine:
        assert mine
        if connection.vendor == "postgresql":
            # The advisory lock is per session: a second one must not get it. Ours
            # does (locks are re-entrant), so the run is tested from another session.
            _assert_locked_elsewhere(batch)
        else:
            with services._run_lock(batch) as again:
                assert not again
            batch = import_batch_run(batch=batch)
            assert batch.status == ImportBatch.Status.PENDING
            assert not MessageLogRecord.objects.exists()


def _assert_locked_elsewhere(batch) -> None:
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"],
    ) as other:
        locked = other.execute(
            "SELECT pg_try_advisory_lock(%s)", [services._RUN_LOCK_BASE + batch.pk]
        ).fetchone()[0]
    assert locked is False


def test_it_takes_no_batch_from_a_run_that_claimed_it_since(breach, acme, globex):
    batch = created(breach, PROVIDER_DUMP)
    original_claim = services._claim

    def claimed_twice(batch):
        token = original_claim(batch)
        original_claim(batch)  # another run claims it right after this one
        return token

    with mock.patch.object(services, "_claim", claimed_twice):
        batch = import_batch_run(batch=batch)

    assert batch.status == ImportBatch.Status.RUNNING
    assert not MessageLogRecord.objects.exists()
    assert staging_tables() == []


# --- Progress, tasks, the sweep ---------------------------------------------------


def test_it_writes_progress_as_it_reads(breach, acme, globex, monkeypatch):
    monkeypatch.setattr(services, "PROGRESS_EVERY_ROWS", 2)
    monkeypatch.setattr(services, "PROGRESS_SECONDS", 0)
    seen: list[ImportProgress] = []
    snapshots: list[tuple] = []

    def on_progress(progress: ImportProgress) -> None:
        seen.append(progress)
        snapshots.append(
            ImportBatch.objects.filter(status=ImportBatch.Status.RUNNING)
            .values_list("phase", "seen", "progress_at")
            .get()
        )

    import_batch_run(batch=created(breach, PROVIDER_DUMP), on_progress=on_progress)

    assert [progress.seen for progress in seen] == [2, 4, 6, 8, 8]
    assert seen[-1].phase == ImportBatch.Phase.LOADING
    assert seen[-1].unknown_account == 1
    assert seen[-1].bytes_total == len(PROVIDER_DUMP.encode())
    assert [(phase, count) for phase, count, _ in snapshots] == [
        ("reading", 2),
        ("reading", 4),
        ("reading", 6),
        ("reading", 8),
        ("loading", 8),
    ]
    assert all(progress_at is not None for *_, progress_at in snapshots)


def test_it_does_not_queue_the_run_when_creating_a_batch(breach, acme):
    with mock.patch.object(tasks.import_batch_run, "delay") as delay:
        batch = created(breach, PROVIDER_DUMP)

    delay.assert_not_called()
    assert batch.status == ImportBatch.Status.PENDING
    assert batch.phase == ImportBatch.Phase.QUEUED
    assert batch.bytes_total == len(PROVIDER_DUMP.encode())
    assert len(batch.sha256) == 64
    assert batch.upload.read() == PROVIDER_DUMP.encode()


def test_the_task_runs_the_batch_by_id(breach, acme, globex):
    batch = created(breach, PROVIDER_DUMP)

    tasks.import_batch_run.delay(batch.pk)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMPLETED
    assert tasks.import_batch_run.acks_late is True
    assert 0 < tasks.import_batch_run.soft_time_limit < tasks.import_batch_run.time_limit


def test_the_task_shrugs_at_a_batch_that_is_gone(db):
    tasks.import_batch_run.delay(123456)


def test_it_queues_stale_batches_again(breach, acme, globex):
    long_ago = timezone.now() - timedelta(minutes=10)
    stuck = created(breach, PROVIDER_DUMP)
    ImportBatch.objects.filter(pk=stuck.pk).update(
        status=ImportBatch.Status.RUNNING, progress_at=long_ago
    )
    lost = created(breach, PROVIDER_DUMP)
    ImportBatch.objects.filter(pk=lost.pk).update(created_at=long_ago)
    fresh = created(breach, PROVIDER_DUMP)
    failed = created(breach, PROVIDER_DUMP)
    ImportBatch.objects.filter(pk=failed.pk).update(
        status=ImportBatch.Status.FAILED, progress_at=long_ago
    )

    with mock.patch.object(tasks.import_batch_run, "delay") as delay:
        queued = tasks.import_batches_resume_stale(older_than=timedelta(minutes=5))
        again = tasks.import_batches_resume_stale(older_than=timedelta(minutes=5))

    assert queued == 2
    assert again == 0  # stamped when queued: the next sweep waits as long again
    assert sorted(call.args[0] for call in delay.call_args_list) == sorted([stuck.pk, lost.pk])
    fresh.refresh_from_db()
    assert fresh.status == ImportBatch.Status.PENDING


def test_a_worker_starting_up_takes_over_at_once_a_batch_whose_worker_is_gone(breach, acme, globex):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stuck = created(breach, PROVIDER_DUMP)
    ImportBatch.objects.filter(pk=stuck.pk).update(
        status=ImportBatch.Status.RUNNING,
        progress_at=timezone.now(),
        lease_owner=f"{socket.gethostname()}:{dead.pid}",
        leased_until=timezone.now() + timedelta(seconds=25),
    )

    with mock.patch.object(tasks.import_batch_run, "delay") as delay:
        # The sweep waits for the lease to lapse; a worker starting up need not.
        assert tasks.import_batches_resume_stale() == 0
        assert tasks.import_batches_resume_stale(gone=True) == 1

    delay.assert_called_once_with(stuck.pk)


def test_a_progress_write_that_comes_after_the_completion_leaves_the_batch_done(
    breach, acme, globex
):
    batch = imported(breach, PROVIDER_DUMP)
    # The reader's last progress write, racing the publisher's completion.
    late = services._Run(batch, batch.started_at, None)
    late.phase = ImportBatch.Phase.EXPOSURES

    late._progress(force=True)

    batch.refresh_from_db()
    assert (batch.status, batch.phase) == (ImportBatch.Status.COMPLETED, ImportBatch.Phase.DONE)


@pytest.mark.postgres
def test_it_leaves_statistics_on_the_exposures_it_wrote(breach, acme, globex):
    imported(breach, PROVIDER_DUMP)

    assert analyzed(Exposure)


def test_a_queued_stale_batch_completes(breach, acme, globex):
    stuck = created(breach, PROVIDER_DUMP)
    ImportBatch.objects.filter(pk=stuck.pk).update(
        status=ImportBatch.Status.RUNNING, progress_at=timezone.now() - timedelta(hours=1)
    )

    assert tasks.import_batches_resume_stale() == 1

    stuck.refresh_from_db()
    assert stuck.status == ImportBatch.Status.COMPLETED
    assert stuck.imported == 5


# --- Creating: what it refuses ----------------------------------------------------


def test_it_asks_for_the_account_of_duo_logs_only(breach, acme):
    with pytest.raises(ImportRefusedError, match="Choose the account"):
        created(breach, DUO_LOG, format="duo")
    with pytest.raises(ImportRefusedError, match="only for Duo"):
        created(breach, PROVIDER_DUMP, organization=acme)
    with pytest.raises(ImportRefusedError, match="Unknown format"):
        created(breach, PROVIDER_DUMP, format="xml", name="dump.xml")
    assert not ImportBatch.objects.exists()


# --- The exposures of a first import, from the staged rows ---------------------------


def _rebuilt_from_the_log(incident, organization_ids) -> tuple[int, list[tuple]]:
    """What rebuilding from the log table would still change, and the message rollup
    it would leave."""
    changed = exposure_rebuild(incident=incident, organization_ids=organization_ids)
    return changed, sorted(
        MessageRollup.objects.filter(incident=incident).values_list(
            "organization_id", "quarter_hour", "message_type", "messages"
        )
    )


def test_it_gives_first_exposures_that_the_log_table_agrees_with(breach, acme, globex):
    dump = HEADER + (
        "a-1,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550101,Verizon,US,NY,sms\n"
        # Sent at the same second as a-3, with another carrier: of the two, the greater
        # message id is the phone's latest row.
        "a-2,DA7QK4M2ZP,2024-03-02T09:00:00Z,+12125550101,Sprint,US,NY,voice\n"
        "a-3,DA7QK4M2ZP,2024-03-02T09:00:00Z,+12125550101,AT&T,US,NY,sms\n"
        # a-1 again, later in the file: the first one stays, this phone gets nothing.
        "a-1,DA7QK4M2ZP,2024-03-05T08:00:00Z,+12125550999,Verizon,US,NY,sms\n"
        "g-1,DA3HN8WQ1C,2024-03-03T10:14:00Z,+4915123495004,Telekom,DE,Berlin,sms\n"
        "g-2,DA3HN8WQ1C,2024-03-03T10:16:00Z,+4915123495004,Vodafone,DE,Berlin,phone\n"
    )
    batch = imported(breach, dump)

    assert counts(batch)["imported"] == 5
    assert counts(batch)["duplicate"] == 1
    found = exposures(breach)
    assert sorted(found) == ["+12125550101", "+4915123495004"]
    us, de = found["+12125550101"], found["+4915123495004"]
    assert (us.sms_count, us.voice_count, us.message_count) == (2, 1, 3)
    assert us.first_seen_at == datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert us.last_seen_at == datetime(2024, 3, 2, 9, tzinfo=UTC)
    assert us.carrier == "AT&T"
    assert (de.sms_count, de.voice_count, de.carrier) == (1, 1, "Vodafone")
    rollup_before = _rebuilt_from_the_log(breach, [])[1]
    changed, rollup_after = _rebuilt_from_the_log(breach, [acme.pk, globex.pk])
    assert changed == 0
    assert rollup_after == rollup_before
    assert sum(row[3] for row in rollup_after) == 5


def test_it_counts_only_the_rows_it_inserted_for_an_account_new_to_the_incident(
    breach, acme, globex
):
    imported(breach, HEADER + "m-1,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550101,V,US,NY,sms\n")
    # Globex is new to the incident, but m-1 is already there (Acme's): only g-2 goes in.
    batch = imported(
        breach,
        HEADER
        + "m-1,DA3HN8WQ1C,2024-03-02T08:00:00Z,+4915123495004,Telekom,DE,Berlin,sms\n"
        + "g-2,DA3HN8WQ1C,2024-03-02T09:00:00Z,+4915123000371,Telekom,DE,Berlin,voice\n",
    )

    assert (batch.imported, batch.duplicate) == (1, 1)
    globex_phones = {
        exposure.phone: exposure.message_count
        for exposure in Exposure.objects.filter(incident=breach, organization=globex)
    }
    assert globex_phones == {"+4915123000371": 1}
    assert MessageRollup.objects.get(incident=breach, organization=globex).messages == 1
    assert _rebuilt_from_the_log(breach, [globex.pk])[0] == 0


# --- PostgreSQL: publishing while reading -----------------------------------------


def _pipelined_dump() -> str:
    rows = [
        f"p-{number:03d},DA7QK4M2ZP,2024-03-01T08:{number:02d}:00Z,+1212555{number:04d},V,US,NY,sms\n"
        for number in range(40)
    ]
    # A message id seen again later in the file (another range): the first one stays.
    rows.append("p-003,DA7QK4M2ZP,2024-03-31T08:00:00Z,+12125559999,V,US,NY,voice\n")
    rows.insert(20, "p-bad,DA7QK4M2ZP,2024-03-01T08:00:00Z,not-a-number,V,US,NY,sms\n")
    return HEADER + "".join(rows)


@pytest.fixture
def pipelined(transactional_db, monkeypatch):
    """Outside a transaction, as a worker runs it: the big table is filled by a
    second connection, a few lines at a time, while the first still reads."""
    from portal.incidents.imports import loader

    monkeypatch.setattr(loader, "FLUSH_ROWS", 4)
    # One statement per staged chunk, however far the publisher falls behind: the
    # tests below count ranges, and coalescing would make that a race.
    monkeypatch.setattr(services, "MAX_RANGE_LINES", 1)
    publishers = []
    original = services._ThreadedPublisher

    def recorded(run):
        publishers.append(original(run))
        return publishers[-1]

    monkeypatch.setattr(services, "_ThreadedPublisher", recorded)
    factories.organization("Acme Corp", account_id="DA7QK4M2ZP")
    return publishers


@pytest.mark.postgres
def test_it_publishes_ranges_on_a_second_connection_while_reading(pipelined):
    breach = factories.incident()
    seen_ranges = []
    original = services.stage_publish

    def spied(**kwargs):
        seen_ranges.append((kwargs["after_line"], kwargs["upto_line"]))
        return original(**kwargs)

    with mock.patch.object(services, "stage_publish", spied):
        batch = imported(breach, _pipelined_dump())

    assert len(pipelined) == 1
    assert len(seen_ranges) > 1
    assert seen_ranges[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(seen_ranges))
    assert counts(batch) == {
        "seen": 42,
        "imported": 40,
        "duplicate": 1,
        "rejected": 1,
        "unknown_account": 0,
    }
    assert log_rows(breach)["p-003"].phone == "+12125550003"  # line 5, not the last line
    assert len(exposures(breach)) == 40
    # Summed from the staged rows while the last ranges went in: as the log table has it.
    account_ids = list(Exposure.objects.values_list("organization_id", flat=True).distinct())
    assert exposure_rebuild(incident=breach, organization_ids=account_ids) == 0
    assert [error["line"] for error in batch.first_errors] == [22]
    assert staging_tables() == []


@pytest.mark.postgres
def test_it_rolls_back_what_was_published_when_the_reader_fails(pipelined, monkeypatch):
    breach = factories.incident()
    from portal.incidents.imports import parsers

    original = parsers.RowChecker.check

    def fails_late(self, row):
        if row[0] == 30:
            raise RuntimeError("worker killed")
        return original(self, row)

    monkeypatch.setattr(parsers.RowChecker, "check", fails_late)
    with pytest.raises(RuntimeError):
        imported(breach, _pipelined_dump())

    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.FAILED
    assert not MessageLogRecord.objects.exists()
    assert not Exposure.objects.exists()

    monkeypatch.setattr(parsers.RowChecker, "check", original)
    batch = import_batch_run(batch=batch)

    assert batch.status == ImportBatch.Status.COMPLETED
    assert batch.imported == 40
    assert staging_tables() == []


@pytest.mark.postgres
def test_it_rolls_back_when_the_publisher_fails(pipelined, monkeypatch):
    breach = factories.incident()

    def killed(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(services, "exposure_rebuild", killed)
    with pytest.raises(RuntimeError):
        imported(breach, _pipelined_dump())

    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.FAILED
    assert "RuntimeError" in batch.failure
    assert not MessageLogRecord.objects.exists()
    assert AuditEvent.objects.filter(action="import.failed").count() == 1


def test_it_sends_the_customer_notice_to_an_account_an_import_brings_into_a_published_incident(
    breach, acme, globex, mailoutbox, django_capture_on_commit_callbacks
):
    from notifications.models import ScheduledEmail

    factories.member(globex, "owner@globex.example", "owner")
    breach.status = breach.Status.PUBLISHED
    breach.save(update_fields=["status"])
    globex_row = "g-1,DA3HN8WQ1C,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms\n"

    with django_capture_on_commit_callbacks(execute=True):
        imported(breach, HEADER + globex_row)
    with django_capture_on_commit_callbacks(execute=True):
        imported(breach, HEADER + globex_row.replace("g-1", "g-2"))  # nothing new to say

    notices = ScheduledEmail.objects.filter(kind="customer_notice", incident=breach)
    assert list(notices.values_list("organization__name", "status")) == [("Globex", "sent")]
    assert [message.to for message in mailoutbox] == [["owner@globex.example"]]


def test_an_import_emails_only_the_accounts_new_to_the_published_incident(
    breach, acme, globex, mailoutbox, django_capture_on_commit_callbacks
):
    """Issue 15 point 10: the demo's rows were seeded, not imported, so its accounts had
    no customer-notice row; an import then emailed every account again, one with no row
    in the file too. Accounts already in the incident, however their rows came, are not
    emailed again."""
    from notifications.models import ScheduledEmail

    initech = factories.organization("Initech", account_id="DA7INITECH")
    for organization, email in (
        (acme, "owner@acme.example"),
        (globex, "owner@globex.example"),
        (initech, "owner@initech.example"),
    ):
        factories.member(organization, email, "owner")
    # Acme and Initech are in the incident already (seeded), with no notice row.
    factories.exposure(breach, acme, phone="+12125550100")
    factories.exposure(breach, initech, phone="+12125550101")
    breach.status = breach.Status.PUBLISHED
    breach.save(update_fields=["status"])
    acme_row = "a-1,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms\n"
    globex_row = "g-1,DA3HN8WQ1C,2024-03-01T08:00:00Z,+12125550144,Verizon,US,NY,sms\n"

    with django_capture_on_commit_callbacks(execute=True):
        batch = imported(breach, HEADER + acme_row + globex_row)

    assert batch.imported == 2
    notices = ScheduledEmail.objects.filter(kind="customer_notice", incident=breach)
    assert list(notices.values_list("organization__name", flat=True)) == ["Globex"]
    assert [message.to for message in mailoutbox] == [["owner@globex.example"]]
