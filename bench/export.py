"""`export`: a log copy (CSV) end to end against a raw COPY of the same rows.

`rows` log rows (1,000,000 by default) of one account in one incident are loaded
with one INSERT ... SELECT over generate_series, in a shuffled time order (so the
table's physical order is not the export's), with carriers of which one in fifty
starts like a formula; another account's rows (a tenth as many) share the incident
and must be left out.

- project: `logcopy_generate` on an approved CSV copy of the whole account: count,
  stream, make cells formula-safe, hash, zip, store through the storage API, record.
- baseline: `COPY (SELECT <the same columns> FROM ... WHERE organization_id = ...
  AND incident_id = ... ORDER BY sent_at, id) TO STDOUT WITH CSV` into a temporary
  file, in the same process.

Each is timed twice and the faster run counts. ratio = baseline seconds / project
seconds; the goal is >= 0.7. The generation also runs in a child process for a
tenth of the rows and for all of them: memory_ratio is the second's peak resident
memory over the first's (goal <= 1.2, flat memory). Needs DATABASE_URL on
PostgreSQL; uses (and drops) a database of its own, `vigil_bench_export`.
"""

import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Stopwatch, drop_database, fresh_database, peak_rss_mb, result

DATABASE_NAME = "vigil_bench_export"
DEFAULT_ROWS = 1_000_000
COLUMNS = (
    "provider_message_id, sent_at, phone, message_type, context, credits, carrier, country,"
    " region, region_code"
)


def run(rows: int = DEFAULT_ROWS) -> dict:
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-export-"))
    os.environ["MEDIA_ROOT"] = str(work / "media")
    fresh_database(DATABASE_NAME)
    try:
        return _measure(rows, work)
    finally:
        drop_database(DATABASE_NAME)
        shutil.rmtree(work, ignore_errors=True)


def _measure(rows: int, work: Path) -> dict:
    from django.db import connection

    from portal.accounts.models import Organization

    acme = Organization.objects.create(name="Acme Corp", account_id="DABENCH0001")
    globex = Organization.objects.create(name="Globex", account_id="DABENCH0002")
    big = _incident("bench-export")
    small = _incident("bench-export-tenth")
    small_rows = max(rows // 10, 1)
    with Stopwatch() as loading:
        _load(big, acme, rows, "a")
        _load(big, globex, max(rows // 10, 1), "g")
        _load(small, acme, small_rows, "s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE incidents_messagelogrecord")

    baseline_runs, project_runs = [], []
    for _ in range(2):
        baseline_runs.append(_baseline(big, acme, work))
        seconds, copy = _project(big, acme)
        project_runs.append(seconds)
    if copy.status != "ready" or copy.rows != rows:
        raise SystemExit(f"bench: the export failed: {copy.status} {copy.failure}")

    small_peak, _ = _in_child(small.pk, acme.pk)
    big_peak, child_seconds = _in_child(big.pk, acme.pk)
    baseline_seconds, project_seconds = min(baseline_runs), min(project_runs)
    return result(
        "export",
        project_seconds,
        baseline_seconds,
        "s",
        lower_is_better=True,
        goal_ratio=0.7,
        rows=rows,
        project_seconds_runs=[round(s, 2) for s in project_runs],
        baseline_seconds_runs=[round(s, 2) for s in baseline_runs],
        project_rows_per_s=round(rows / project_seconds),
        baseline_rows_per_s=round(rows / baseline_seconds),
        zip_mb=round(copy.size / (1 << 20), 1),
        child_seconds=round(child_seconds, 2),
        child_peak_rss_mb={str(small_rows): small_peak, str(rows): big_peak},
        memory_ratio=round(big_peak / small_peak, 3),
        goal_memory_ratio=1.2,
        loading_seconds=round(loading.seconds, 2),
        **peak_rss_mb(),
    )


def _incident(slug: str):
    from portal.incidents.models import Incident

    return Incident.objects.create(
        slug=slug,
        title="Benchmark breach",
        provider="the telephony provider",
        window_start=datetime(2024, 3, 1, tzinfo=UTC),
        window_end=datetime(2024, 4, 1, tzinfo=UTC),
        status="published",
    )


def _load(incident, organization, rows: int, prefix: str) -> None:
    from django.db import connection

    # Times spread over the month in a shuffled order (7919 is prime to most counts):
    # the export has to sort, as it would on a real table loaded day by day.
    sql = """
        INSERT INTO incidents_messagelogrecord (incident_id, organization_id,
            provider_message_id, sent_at, phone, carrier, country, region, region_code,
            message_type, context, credits, extra)
        SELECT %(incident)s, %(organization)s, %(prefix)s || '-' || i,
            timestamptz '2024-03-01 00:00:00+00'
                + ((i::bigint * 7919) %% %(rows)s) * (interval '2678399 seconds' / %(rows)s),
            '+1212' || lpad(((i * 37) %% 9000000 + 1000000)::text, 7, '0'),
            (ARRAY['Verizon Wireless', 'AT&T Mobility', 'T-Mobile USA', 'Sprint, Inc.',
                   '"Quoted" Carrier', '=HYPERLINK("http://x")'])[1 + (i %% 50 = 0)::int * 5
                                                                   + (i %% 5)::int %% 5],
            'US', 'New York', 'US-NY',
            CASE WHEN i %% 7 = 0 THEN 'voice' ELSE 'sms' END,
            (ARRAY['authentication', 'enrollment', 'administrator login'])[1 + i %% 3],
            1 + i %% 3, '{}'::jsonb
        FROM generate_series(1, %(rows)s) AS i
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {"incident": incident.pk, "organization": organization.pk, "rows": rows,
             "prefix": prefix},
        )  # fmt: skip


def _baseline(incident, organization, work: Path) -> float:
    from django.db import connection

    sql = (
        f"COPY (SELECT {COLUMNS} FROM incidents_messagelogrecord"
        f" WHERE organization_id = {int(organization.pk)} AND incident_id = {int(incident.pk)}"
        " ORDER BY sent_at, id) TO STDOUT WITH CSV"
    )
    path = work / "baseline.csv"
    with (
        Stopwatch() as baseline,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql) as copy,
        path.open("wb") as out,
    ):
        for data in copy:
            out.write(data)
    path.unlink()
    return baseline.seconds


def _project(incident, organization):
    from portal.logcopies.models import LogCopyRequest
    from portal.logcopies.services import logcopy_generate

    copy = LogCopyRequest.objects.create(
        organization=organization, incident=incident, reason="benchmark", status="approved",
        format="csv",
    )  # fmt: skip
    with Stopwatch() as project:
        copy = logcopy_generate(copy=copy)
    return project.seconds, copy


def _child(incident_id: int, organization_id: int, answers) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from portal.accounts.models import Organization
    from portal.incidents.models import Incident

    seconds, copy = _project(
        Incident.objects.get(pk=incident_id), Organization.objects.get(pk=organization_id)
    )
    scale = 1 / (1 << 20) if sys.platform == "darwin" else 1 / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    answers.put((round(peak, 1), seconds, copy.status))


def _in_child(incident_id: int, organization_id: int) -> tuple[float, float]:
    """Run one generation in a fresh process; returns (its peak RSS in MB, seconds)."""
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    child = context.Process(target=_child, args=(incident_id, organization_id, answers))
    child.start()
    peak, seconds, status = answers.get()
    child.join()
    if child.exitcode or status != "ready":
        raise SystemExit(f"bench: the export in a child process failed ({status})")
    return peak, seconds
