"""`import`: a provider dump end to end against a raw COPY of the same rows.

The dump (`rows` lines, 1,000,000 by default) is generated with the demo's generators:
the three demo accounts, valid mobile numbers of a dozen countries, about ten messages
a phone, in time order (so a phone recurs throughout the file, as in a real dump).
Phones are written as the provider might (E.164 mostly, some with spaces and dashes,
some national with the country column as the only hint); sent_at as ISO 8601 with Z
or an offset, or as Unix seconds; two extra columns. A few rows repeat a message id,
name an unknown account or hold no phone number, as real dumps do.

The case measured is the one an operator meets on a Tuesday: the database already
holds an incident of the same size (imported first, untimed, and analyzed, as
autovacuum would have), and the dump goes into a second incident. `--empty` measures
the first import into an empty database instead.

- project: `import_batch_run` on the stored dump: read, check, normalize, stage,
  publish into the big table, rebuild the exposures, commit.
- baseline: the rows the import ends up loading, already normalized, COPYed from a
  file into a table of the big table's shape and indexes
  (`LIKE incidents_messagelogrecord INCLUDING ALL`, which has no foreign keys) that
  holds the same rows the big table held before the import (none with `--empty`).

ratio = project rows/s / baseline rows/s; the goal is >= 0.5. Needs DATABASE_URL on
PostgreSQL; uses (and drops) a database of its own, `vigil_bench_import_<pid>`.

`python -m bench.imports --write FILE --rows N` only writes a dump (for import_logs).
"""

import argparse
import json
import multiprocessing
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import (
    Stopwatch,
    drop_database,
    fresh_database,
    peak_rss_mb,
    postgres_server_url,
    result,
)

DATABASE_NAME = f"{os.environ.get('BENCH_DATABASE_PREFIX', 'vigil_bench')}_import"
DEFAULT_ROWS = 1_000_000
SEED = 2024
INCIDENT_SLUG = "bench-import"
BUSY_INCIDENT_SLUG = "bench-already-there"
DUPLICATE_SHARE = 0.002
UNKNOWN_ACCOUNT_SHARE = 0.001
NOT_A_PHONE_SHARE = 0.001
HEADER = (
    "message_id,account_id,sent_at,phone,carrier,country,state,message_type,"
    "context,credits,route,delivery\n"
)


# --- The dump ---------------------------------------------------------------------


def _csv_cell(value: str) -> str:
    if any(char in value for char in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _copy_cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def write_dump(path: Path, rows: int, baseline_path: Path | None = None, seed: int = SEED):
    """Write a dump of `rows` lines (and, if asked, the normalized rows it should load,
    in COPY text format with organization ids 1, 2, 3 for the demo accounts in order).
    Streams through one temporary file per day of the month, so memory stays at about
    a day's rows whatever `rows` is."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    import phonenumbers

    from portal.incidents.demo.data import ACCOUNT_ROW_SHARES
    from portal.incidents.demo.logs import log_rows
    from portal.incidents.demo.people import DEMO_ACCOUNTS
    from portal.incidents.demo.phones import WINDOW_START, plan_phones

    rng = random.Random(seed)
    used: set[str] = set()
    shares = [int(rows * share) for share in ACCOUNT_ROW_SHARES[:-1]]
    shares.append(rows - sum(shares))
    written_forms: dict[str, str] = {}
    extras: dict[str, dict] = {}
    start = int(WINDOW_START.timestamp())
    folder = Path(tempfile.mkdtemp(prefix="vigil-bench-days-", dir=path.parent))
    days = [(folder / f"{day:02d}").open("w", encoding="utf-8") for day in range(32)]
    try:
        for number, (account, share) in enumerate(zip(DEMO_ACCOUNTS, shares, strict=True), start=1):
            phones = plan_phones(rng, account, share, used)
            for (message_id, moment, e164, carrier, country, region, region_code, kind,
                 context, credits, extra) in log_rows(rng, phones):  # fmt: skip
                written = written_forms.get(e164)
                if written is None:
                    written = _written_phone(rng, phonenumbers, e164)
                    written_forms[e164] = written
                epoch = start + moment
                pick = rng.random()
                if pick < 0.75:
                    sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
                elif pick < 0.9:
                    sent_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))
                else:
                    sent_at = str(epoch)
                written_kind = "phone" if kind == "voice" and rng.random() < 0.3 else kind
                account_id = account.account_id
                good = True
                pick = rng.random()
                if pick < UNKNOWN_ACCOUNT_SHARE:
                    account_id, good = "DAUNKNOWN00", False
                elif pick < UNKNOWN_ACCOUNT_SHARE + NOT_A_PHONE_SHARE:
                    written, good = "not-a-number", False
                if extra not in extras:
                    extras[extra] = json.loads(extra)
                route, delivery = extras[extra]["route"], extras[extra]["delivery"]
                dump = ",".join(
                    _csv_cell(value)
                    for value in (
                        message_id, account_id, sent_at, written, carrier, country, region,
                        written_kind, context, str(credits), route, delivery,
                    )
                )  # fmt: skip
                line = f"{moment:07d}\x00{dump}"
                if good:
                    normalized = "\t".join(
                        _copy_cell(value)
                        for value in (
                            str(number), message_id,
                            time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch)),
                            e164, carrier, country, region, region_code, kind, context,
                            str(credits), f'{{"route": "{route}", "delivery": "{delivery}"}}',
                        )
                    )  # fmt: skip
                    line += f"\x00{normalized}"
                day = days[moment // 86400]
                day.write(line + "\n")
                if rng.random() < DUPLICATE_SHARE:
                    later = min(moment + 3600, 31 * 86400 - 1)
                    days[later // 86400].write(f"{later:07d}\x00{dump}\n")
        for day in days:
            day.close()
        with path.open("w", encoding="utf-8") as out:
            baseline = baseline_path.open("w", encoding="utf-8") if baseline_path else None
            out.write(HEADER)
            for day in range(32):
                with (folder / f"{day:02d}").open(encoding="utf-8") as file:
                    lines = file.read().splitlines()
                lines.sort()  # in time order, as a provider exports them
                for line in lines:
                    _, dump, *normalized = line.split("\x00")
                    out.write(dump + "\n")
                    if baseline and normalized:
                        baseline.write(normalized[0] + "\n")
                del lines
            if baseline:
                baseline.close()
    finally:
        for day in days:
            day.close()
        shutil.rmtree(folder, ignore_errors=True)


def _written_phone(rng: random.Random, phonenumbers, e164: str) -> str:
    """How the provider writes this phone: E.164 mostly, else with spaces and dashes,
    else national (the country column is then the only hint)."""
    pick = rng.random()
    if pick < 0.7:
        return e164
    number = phonenumbers.parse(e164)
    style = (
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
        if pick < 0.85
        else phonenumbers.PhoneNumberFormat.NATIONAL
    )
    return phonenumbers.format_number(number, style)


# --- The run ----------------------------------------------------------------------


def run(rows: int = DEFAULT_ROWS, *, empty: bool = False) -> dict:
    postgres_server_url()  # refuses at once, not after generating the dump
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-import-"))
    os.environ["MEDIA_ROOT"] = str(work / "media")
    try:
        return _run(rows, work, empty=empty)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _written(target, *args) -> None:
    # In a child process, so that the peak memory measured here is the import's.
    child = multiprocessing.get_context("spawn").Process(target=target, args=args)
    child.start()
    child.join()
    if child.exitcode:
        raise SystemExit(f"bench: generating a dump failed ({child.exitcode})")


def _run(rows: int, work: Path, *, empty: bool) -> dict:
    dump, normalized = work / "dump.csv", work / "normalized.tsv"
    with Stopwatch() as generating:
        _written(write_dump, dump, rows, normalized)
    busy_dump = None
    if not empty:
        # The incident already there: as many rows, other phones and message ids.
        busy_dump = work / "already-there.csv"
        _written(write_dump, busy_dump, rows, None, SEED + 1)
    # One database per run: two runs at once (two people's `make bench`) must not
    # drop each other's.
    database = f"{DATABASE_NAME}_{os.getpid()}"
    fresh_database(database)
    try:
        return _measure(rows, dump, normalized, generating.seconds, busy_dump)
    finally:
        drop_database(database)


def _measure(
    rows: int, dump: Path, normalized: Path, generating_seconds: float, busy_dump: Path | None
) -> dict:
    from datetime import UTC, datetime

    from django.core.files import File
    from django.db import connection

    from portal.accounts.models import Organization
    from portal.incidents.demo.people import DEMO_ACCOUNTS
    from portal.incidents.imports.services import import_batch_create, import_batch_run
    from portal.incidents.models import Exposure, Incident, MessageLogRecord

    for number, account in enumerate(DEMO_ACCOUNTS, start=1):
        organization = Organization.objects.create(name=account.name, account_id=account.account_id)
        # A fresh database: primary keys 1, 2, 3, as the normalized file has them.
        assert organization.pk == number

    def incident_named(slug: str) -> Incident:
        return Incident.objects.create(
            slug=slug,
            title="Benchmark breach",
            provider="the telephony provider",
            window_start=datetime(2024, 3, 1, tzinfo=UTC),
            window_end=datetime(2024, 4, 1, tzinfo=UTC),
        )

    def stored(path: Path, incident: Incident):
        with path.open("rb") as stream:
            return import_batch_create(
                incident=incident, upload=File(stream, name=path.name),
                original_name=path.name, format="csv",
            )  # fmt: skip

    rows_before = 0
    if busy_dump is not None:
        busy = incident_named(BUSY_INCIDENT_SLUG)
        loaded = import_batch_run(batch=stored(busy_dump, busy))
        if loaded.status != "completed":
            raise SystemExit(f"bench: loading the incident already there failed: {loaded.failure}")
        with connection.cursor() as cursor:
            # What autovacuum would have done by the time the next dump comes in.
            cursor.execute("VACUUM ANALYZE incidents_messagelogrecord")
            cursor.execute("VACUUM ANALYZE incidents_exposure")
        rows_before = MessageLogRecord.objects.count()
    incident = incident_named(INCIDENT_SLUG)
    # The baseline runs before and after the import, and the faster of the two counts:
    # the machine may be busy with something else for a while, and the ratio should
    # not flatter the import when the baseline is what got slowed down.
    before, loaded_rows = _baseline(incident.pk, normalized, "bench_baseline_before")

    with Stopwatch() as storing:
        batch = stored(dump, incident)
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    phases: dict[str, float] = {}
    with Stopwatch() as project:
        batch = import_batch_run(
            batch=batch,
            on_progress=lambda progress: phases.setdefault(progress.phase, time.perf_counter()),
        )
    if batch.status != "completed":
        raise SystemExit(f"bench: the import failed: {batch.failure}")
    reading_seconds = phases.get("loading", project.started) - project.started
    after, _ = _baseline(incident.pk, normalized, "bench_baseline_after")

    baseline_seconds = min(before, after)
    baseline_rate = loaded_rows / baseline_seconds
    project_rate = rows / project.seconds
    return result(
        "import",
        project_rate,
        baseline_rate,
        "rows/s",
        goal_ratio=0.5,
        case="empty database" if busy_dump is None else "second incident on a busy table",
        project_rows_per_second=round(project_rate),
        baseline_rows_per_second=round(baseline_rate),
        rows=rows,
        imported=batch.imported,
        duplicate=batch.duplicate,
        rejected=batch.rejected,
        unknown_account=batch.unknown_account,
        baseline_rows=loaded_rows,
        log_rows_before=rows_before,
        log_rows=MessageLogRecord.objects.count(),
        exposures=Exposure.objects.filter(incident=incident).count(),
        project_seconds=round(project.seconds, 2),
        project_reading_seconds=round(reading_seconds, 2),
        project_publishing_seconds=round(project.seconds - reading_seconds, 2),
        baseline_seconds=round(baseline_seconds, 2),
        baseline_seconds_before_and_after=[round(before, 2), round(after, 2)],
        storing_seconds=round(storing.seconds, 2),
        generating_seconds=round(generating_seconds, 2),
        dump_mb=round(dump.stat().st_size / (1 << 20), 1),
        **peak_rss_mb(),
    )


def _baseline(incident_id: int, normalized: Path, table: str) -> tuple[float, int]:
    """COPY the normalized rows into a new table of the big table's shape and indexes
    (LIKE ... INCLUDING ALL copies no foreign keys) that already holds the rows of the
    other incidents, analyzed; returns (seconds, rows)."""
    from django.db import connection

    columns = (
        "incident_id, organization_id, provider_message_id, sent_at, phone, carrier, country,"
        " region, region_code, message_type, context, credits, extra"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (LIKE incidents_messagelogrecord INCLUDING ALL)")
        # Not the ids: the copy's identity column counts from 1 on its own.
        cursor.execute(
            f"INSERT INTO {table} (import_batch_id, {columns}) "
            f"SELECT import_batch_id, {columns} FROM incidents_messagelogrecord "
            "WHERE incident_id <> %s",
            [incident_id],
        )
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")
    loaded = 0
    prefix = f"{incident_id}\t".encode()
    with (
        Stopwatch() as baseline,
        connection.cursor() as cursor,
        normalized.open("rb") as source,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for line in source:
            copy.write(prefix + line)
            loaded += 1
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    return baseline.seconds, loaded


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--write", type=Path, required=True, help="write a dump to FILE")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    args = parser.parse_args()
    write_dump(args.write, args.rows)


if __name__ == "__main__":
    main()
