"""`manage.py import_logs`: the same import from the command line, for large dumps."""

import io
import json
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.files import File
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from portal.incidents.imports import tasks
from portal.incidents.imports.services import import_batch_create
from portal.incidents.models import ImportBatch, MessageLogRecord
from tests import factories
from tests.incidents.imports import DUO_LOG, HEADER, PROVIDER_DUMP


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


@pytest.fixture
def accounts(db):
    return (
        factories.organization("Acme Corp", account_id="DA7QK4M2ZP"),
        factories.organization("Globex", account_id="DA3HN8WQ1C"),
    )


@pytest.fixture
def breach(db):
    return factories.incident(slug="march-2024")


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_logs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_a_dump_and_prints_its_counts_as_json(breach, accounts, tmp_path):
    dump = tmp_path / "provider-dump.csv"
    dump.write_text(PROVIDER_DUMP)

    out, err = run(str(dump), "--incident", "march-2024")

    assert json.loads(out) == {
        "seen": 8,
        "imported": 5,
        "duplicate": 1,
        "rejected": 1,
        "unknown_account": 1,
    }
    assert "rows" in err
    assert "100% of the file" in err
    assert "Error report: import-errors/" in err
    batch = ImportBatch.objects.get()
    assert batch.original_name == "provider-dump.csv"
    assert batch.created_by is None
    assert MessageLogRecord.objects.count() == 5


def test_it_imports_a_duo_log_into_the_account_given(breach, accounts, tmp_path):
    log = tmp_path / "telephony.json"
    log.write_text(DUO_LOG)

    out, _ = run(str(log), "--incident", "march-2024", "--account", "DA3HN8WQ1C")

    assert json.loads(out)["imported"] == 2
    assert {row.organization for row in MessageLogRecord.objects.all()} == {accounts[1]}


def test_it_takes_the_format_it_is_given(breach, accounts, tmp_path):
    dump = tmp_path / "dump.txt"
    dump.write_text(
        '{"message_id": "j-1", "account_id": "DA7QK4M2ZP", "sent_at": 1709290000, '
        '"phone": "+12125550143", "carrier": "V", "country": "US", "state": "NY", '
        '"message_type": "sms"}\n'
    )

    out, _ = run(str(dump), "--incident", "march-2024", "--format", "jsonl")

    assert json.loads(out)["imported"] == 1


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("message_id,phone\nm-1,+12125550143\n", [], "Refused: The file is missing required"),
        (DUO_LOG, ["--format", "duo"], "Refused: Choose the account"),
        (HEADER, [], "Refused: The file has a header but no rows."),
        (PROVIDER_DUMP, ["--incident", "nope"], "No incident with the slug 'nope'."),
        (PROVIDER_DUMP, ["--account", "DA0000000X"], "No account with the id 'DA0000000X'."),
        (PROVIDER_DUMP, ["--format", "csv", "--account", "DA7QK4M2ZP"], "only for Duo"),
    ],
)
def test_it_refuses_with_a_clear_message(breach, accounts, tmp_path, content, args, message):
    dump = tmp_path / "dump.csv"
    dump.write_text(content)
    if "--incident" not in args:
        args = [*args, "--incident", "march-2024"]

    with pytest.raises(CommandError, match=message):
        run(str(dump), *args)

    assert not ImportBatch.objects.exists()


def test_it_needs_a_file_whose_format_it_can_tell(breach, accounts, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(str(tmp_path / "missing.csv"), "--incident", "march-2024")
    unknown = tmp_path / "dump.xml"
    unknown.write_text("<xml/>")
    with pytest.raises(CommandError, match="give --format"):
        run(str(unknown), "--incident", "march-2024")


def test_it_exits_non_zero_when_the_import_fails(breach, accounts, tmp_path, monkeypatch):
    from portal.incidents.imports import services

    def refused(**kwargs):
        raise services.ImportRefusedError("The dump is not what it said it was.")

    dump = tmp_path / "dump.csv"
    dump.write_text(PROVIDER_DUMP)
    monkeypatch.setattr(services, "stage_publish", refused)

    with pytest.raises(CommandError, match="The import failed: The dump is not what"):
        run(str(dump), "--incident", "march-2024")

    assert ImportBatch.objects.get().status == ImportBatch.Status.FAILED


def _mostly_wrong(tmp_path):
    rows = "".join(
        f"h-{n},DA7QK4M2ZP,2024-03-01T08:00:00Z,{'12' if n < 12 else f'+1212555{n:04d}'},V,US,NY,sms\n"
        for n in range(40)
    )
    dump = tmp_path / "mostly-wrong.csv"
    dump.write_text(HEADER + rows)
    return dump


def test_it_holds_a_dump_with_too_many_rejected_rows_and_says_how_to_publish(
    breach, accounts, tmp_path
):
    out = io.StringIO()
    with pytest.raises(CommandError, match="Held for review, nothing published: 12 of 40"):
        call_command(
            "import_logs", str(_mostly_wrong(tmp_path)), "--incident", "march-2024",
            stdout=out, stderr=io.StringIO(),
        )  # fmt: skip

    assert json.loads(out.getvalue())["rejected"] == 12
    assert ImportBatch.objects.get().status == ImportBatch.Status.HELD
    assert not MessageLogRecord.objects.exists()


def test_it_publishes_a_dump_with_many_rejected_rows_when_told_to(breach, accounts, tmp_path):
    out, err = run(str(_mostly_wrong(tmp_path)), "--incident", "march-2024", "--accept-rejected")

    assert json.loads(out)["imported"] == 28
    assert "12  phone “…” is too short for US (first: line 2)" in err
    assert ImportBatch.objects.get().status == ImportBatch.Status.COMPLETED


def test_it_speaks_the_language_the_shell_names_and_english_otherwise(
    breach, accounts, tmp_path, monkeypatch
):
    dump = _mostly_wrong(tmp_path)
    monkeypatch.setenv("LANGUAGE", "fr_FR:en")

    _out, err = run(str(dump), "--incident", "march-2024", "--accept-rejected")

    assert "12  le téléphone “…” est trop court pour US (première : ligne 2)" in err
    assert "Rapport d\u2019erreurs : import-errors/" in err
    monkeypatch.delenv("LANGUAGE")
    with pytest.raises(CommandError, match="No incident with the slug 'nowhere'"):
        run(str(dump), "--incident", "nowhere")
    monkeypatch.setenv("LANGUAGE", "de")
    with pytest.raises(CommandError, match="Kein Vorfall mit dem Kurznamen 'nowhere'"):
        run(str(dump), "--incident", "nowhere")


# --- One owner per batch (issue 13 point 5) ------------------------------------------


def killed_run_of(dump: Path, breach, *, lease_left: timedelta, owner="elsewhere:4242"):
    """The batch an `import_logs` run of `dump` left when it was killed while reading."""
    with dump.open("rb") as stream:
        batch = import_batch_create(
            incident=breach,
            upload=File(stream, name=dump.name),
            original_name=dump.name,
            format="csv",
            run_by_command=True,
        )
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.RUNNING,
        phase=ImportBatch.Phase.READING,
        started_at=timezone.now() - timedelta(minutes=10),
        progress_at=timezone.now() - timedelta(minutes=10),
        seen=3,
        lease_owner=owner,
        leased_until=timezone.now() + lease_left,
    )
    return batch


def test_running_the_command_again_after_a_kill_picks_up_the_same_batch(breach, accounts, tmp_path):
    dump = tmp_path / "provider-dump.csv"
    dump.write_text(PROVIDER_DUMP)
    killed = killed_run_of(dump, breach, lease_left=timedelta(seconds=-1))

    out, err = run(str(dump), "--incident", "march-2024")

    assert json.loads(out)["imported"] == 5
    assert f"Batch {killed.public_id} of this file did not finish" in err
    batch = ImportBatch.objects.get()
    assert batch.pk == killed.pk
    assert (batch.status, batch.phase) == (ImportBatch.Status.COMPLETED, ImportBatch.Phase.DONE)
    assert MessageLogRecord.objects.count() == 5


def test_it_refuses_a_file_another_run_is_importing_right_now(breach, accounts, tmp_path):
    dump = tmp_path / "provider-dump.csv"
    dump.write_text(PROVIDER_DUMP)
    live = killed_run_of(dump, breach, lease_left=timedelta(seconds=20))

    with pytest.raises(CommandError, match=f"Batch {live.public_id} of this file is being"):
        run(str(dump), "--incident", "march-2024")

    assert ImportBatch.objects.get().status == ImportBatch.Status.RUNNING


def test_the_worker_never_runs_a_batch_the_command_owns(breach, accounts, tmp_path):
    dump = tmp_path / "provider-dump.csv"
    dump.write_text(PROVIDER_DUMP)
    live = killed_run_of(dump, breach, lease_left=timedelta(seconds=20))

    with mock.patch.object(tasks.import_batch_run, "delay") as delay:
        assert tasks.import_batches_resume_stale() == 0
        live.refresh_from_db()
        assert live.status == ImportBatch.Status.RUNNING  # its command is alive
        ImportBatch.objects.filter(pk=live.pk).update(leased_until=timezone.now())
        assert tasks.import_batches_resume_stale() == 0

    delay.assert_not_called()
    live.refresh_from_db()
    # Its command stopped: the operator is told to run it again, the worker stays out.
    assert live.status == ImportBatch.Status.FAILED
    assert "Run the same command again" in live.failure
