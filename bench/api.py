"""`api`: a cursor page of 1,000 exposures through the API, against raw SQL of the same rows.

One account with `rows` exposures (100,000 by default) in one incident, nine in ten
matched to a directory user, generated in SQL in a dedicated PostgreSQL database. An
API key of the account's owner (every capability: people unmasked, numbers masked as
the list shows them unless asked to reveal) calls the portal's WSGI application in
process, as gunicorn's worker calls it for each request (the whole middleware stack,
the request signals with the connection's health check, the API's authentication,
rate limit, per-call audit and JSON rendering; no socket and no HTTP parsing),
interleaved after a few warm-ups:

- `first`: `GET /api/v1/incidents/<id>/exposures?limit=1000`, the first page;
- `deep`: the same with the cursor of the row at the middle of the list (a keyset
  read: no OFFSET);
- the baselines: the same two pages as one raw SQL statement each (the same columns,
  the directory user joined, the same keyset condition and order), executed and
  fetched on the same connection: what any API over this table must at least do.

`ratio` = baseline median / API median of the slower of the two pages (goal >= 0.5,
and the API's median under 150 ms). The same pages through Django's test client are
reported beside (`test_client`): it wraps each request in work a server does not do
(signals connected and disconnected to record templates, the request kept on the
response), which cost 0.3-0.6 ms a call here. Then the whole list as JSON Lines
(`.../exposures.jsonl`, keyset chunks of 2,000): its time and the peak of memory the
stream allocated (tracemalloc), which stays that of a chunk, not of the list.

Needs DATABASE_URL on PostgreSQL (a role that may create databases); uses (and drops)
`vigil_bench_api_<rows>` (BENCH_DATABASE_PREFIX replaces `vigil_bench`). With
BENCH_API_KEEP=1 the database stays, and a later run with the same --rows measures it
again without seeding (as bench/pages.py's BENCH_PAGES_KEEP).
"""

import io
import json
import os
import statistics
import time
import tracemalloc
from datetime import UTC, datetime
from urllib.parse import urlencode

from bench.common import (
    Stopwatch,
    drop_database,
    fresh_database,
    peak_rss_mb,
    postgres_server_url,
    result,
)

DEFAULT_ROWS = 100_000
PAGE = 1000
WARMUPS = 3
TIMED = 25
ACCOUNT_ID = "DABENCHAPI01"
OWNER_EMAIL = "owner@bench-api.example"
WINDOW_START = datetime(2024, 3, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 4, 1, tzinfo=UTC)

_COUNTRIES = "ARRAY['US','US','US','US','US','US','US','US','US','US','US','US','US','US','GB','GB','DE','FR','CA','IN']"
_PREFIX = "ARRAY['+1212','+1213','+1312','+1415','+1617','+1702','+1206','+1305','+1404','+1503','+1512','+1615','+1720','+1919','+4477','+4478','+4915','+336','+1416','+9198']"
_CARRIERS = "ARRAY['Verizon Wireless','AT&T Mobility','T-Mobile USA','US Cellular','Vodafone UK','EE','Telekom Deutschland','Orange','Rogers','Jio']"
_FIRST = "ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth']"
_LAST = "ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Thompson','Wilson']"


def _database_name(rows: int) -> str:
    return f"{os.environ.get('BENCH_DATABASE_PREFIX', 'vigil_bench')}_api_{rows}"


def _seed(rows: int):
    from django.db import connection, transaction

    from portal.accounts.models import Membership, Organization, User
    from portal.accounts.roles import Role
    from portal.incidents.models import Incident

    with transaction.atomic():
        organization = Organization.objects.create(name="Bench API", account_id=ACCOUNT_ID)
        owner = User.objects.create_user(email=OWNER_EMAIL, password=None, name="Bench Owner")
        Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
        incident = Incident.objects.create(
            slug="bench-api",
            title="Benchmark breach",
            provider="the telephony provider",
            window_start=WINDOW_START,
            window_end=WINDOW_END,
            status=Incident.Status.PUBLISHED,
            published_at=WINDOW_END,
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(0.2024)")
            cursor.execute(
                f"""
                INSERT INTO incidents_directoryuser
                    (public_id, organization_id, username, name, email, phones, language,
                     created_at, updated_at)
                SELECT gen_random_uuid(), %s, 'user' || n, first || ' ' || last,
                    lower(first || '.' || last || n) || '@bench.example',
                    jsonb_build_array(({_PREFIX})[1 + n %% 20] || lpad(n::text, 9, '0')),
                    'en', now(), now()
                FROM (
                    SELECT n, ({_FIRST})[1 + n %% 10] AS first, ({_LAST})[1 + (n / 10) %% 10] AS last
                    FROM generate_series(1, %s) AS n WHERE n %% 10 <> 0
                ) AS people
                """,
                [organization.pk, rows],
            )
            # Counts skewed as in the dumps; times spread over the window, many phones
            # sharing a second (the id breaks the tie).
            cursor.execute(
                f"""
                INSERT INTO incidents_exposure
                    (public_id, organization_id, incident_id, phone, sms_count, voice_count,
                     message_count, first_seen_at, last_seen_at, carrier, country, region,
                     region_code, directory_user_id, last_notified_at)
                SELECT gen_random_uuid(), %s, %s, ({_PREFIX})[1 + n %% 20] || lpad(n::text, 9, '0'),
                    sms, voice, sms + voice, last_seen - interval '3 days', last_seen,
                    ({_CARRIERS})[1 + (n %% 20) / 2], ({_COUNTRIES})[1 + n %% 20], '', '',
                    NULL, NULL
                FROM (
                    SELECT n, 1 + floor(20 * power(random(), 4))::int AS sms,
                        floor(3 * random())::int AS voice,
                        %s + date_trunc('second', random() * (%s - %s)) AS last_seen
                    FROM generate_series(1, %s) AS n
                ) AS drawn
                """,
                [
                    organization.pk,
                    incident.pk,
                    WINDOW_START,
                    WINDOW_END,
                    WINDOW_START,
                    rows,
                ],
            )
            cursor.execute(
                """
                UPDATE incidents_exposure AS e SET directory_user_id = d.id
                FROM incidents_directoryuser AS d
                WHERE d.organization_id = e.organization_id AND d.phones ->> 0 = e.phone
                """
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return organization, incident, owner


_RAW = """
    SELECT e.id, e.public_id, e.phone, e.country, e.region, e.carrier, e.sms_count,
        e.voice_count, e.message_count, e.first_seen_at, e.last_seen_at,
        e.last_notified_at, e.directory_user_id, d.name, d.username, d.email
    FROM incidents_exposure AS e
    LEFT JOIN incidents_directoryuser AS d ON d.id = e.directory_user_id
    WHERE e.organization_id = %s AND e.incident_id = %s {after}
    ORDER BY e.last_seen_at DESC, e.id DESC
    LIMIT %s
"""


def _raw_page(cursor, organization_id: int, incident_id: int, after) -> int:
    if after is None:
        cursor.execute(_RAW.format(after=""), [organization_id, incident_id, PAGE])
    else:
        cursor.execute(
            _RAW.format(after="AND (e.last_seen_at, e.id) < (%s, %s)"),
            [organization_id, incident_id, *after, PAGE],
        )
    return len(cursor.fetchall())


class _Server:
    """The portal's WSGI application called as a WSGI server calls it: one environ per
    request, the body read to the end, then closed (request_finished)."""

    def __init__(self, authorization: str):
        from django.core.wsgi import get_wsgi_application

        self.application = get_wsgi_application()
        self.authorization = authorization

    def get(self, path: str, query: dict) -> tuple[int, bytes]:
        environ = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": urlencode(query),
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "HTTP_AUTHORIZATION": self.authorization,
            "HTTP_ACCEPT": "application/json",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        body = self.application(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            content = b"".join(body)
        finally:
            body.close()
        return int(status[0].split()[0]), content


def _kept(rows: int):
    """With BENCH_API_KEEP, the account of an earlier run on this database if it was
    seeded to the end with this many rows (Django set up on it); else None."""
    if not os.environ.get("BENCH_API_KEEP"):
        return None
    import psycopg

    name = _database_name(rows)
    server = postgres_server_url()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if not exists:
        return None
    os.environ["DATABASE_URL"] = f"{server}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "warning")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from portal.accounts.models import Organization, User
    from portal.incidents.models import Exposure, Incident

    organization = Organization.objects.filter(account_id=ACCOUNT_ID).first()
    incident = Incident.objects.filter(slug="bench-api").first()
    owner = User.objects.filter(email=OWNER_EMAIL).first()
    if organization is None or incident is None or owner is None:
        return None
    if Exposure.objects.filter(organization=organization, incident=incident).count() != rows:
        return None
    return organization, incident, owner


def run(rows: int = DEFAULT_ROWS) -> dict:
    name = _database_name(rows)
    with Stopwatch() as seeding:
        seeded = _kept(rows)
        reused = seeded is not None
        if seeded is None:
            fresh_database(name)
            seeded = _seed(rows)
    try:
        return _measure(rows, *seeded, seeding="reused" if reused else round(seeding.seconds, 1))
    finally:
        if not os.environ.get("BENCH_API_KEEP"):
            drop_database(name)


def _measure(rows: int, organization, incident, owner, *, seeding) -> dict:
    from django.db import connection
    from django.test import Client, override_settings

    from portal.accounts.api_keys import api_key_create
    from portal.accounts.roles import ROLE_CAPABILITIES, Role
    from portal.incidents.models import Exposure

    _key, presented = api_key_create(
        organization=organization,
        name="bench",
        capabilities=ROLE_CAPABILITIES[Role.OWNER],
        by=owner,
    )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {presented}")
    url = f"/api/v1/incidents/{incident.public_id}/exposures"
    middle = (
        Exposure.objects.filter(organization=organization, incident=incident)
        .order_by("-last_seen_at", "-id")
        .values_list("last_seen_at", "id")[rows // 2]
    )
    with override_settings(API_RATE_LIMIT_PER_MINUTE=1_000_000):
        # The deep page's cursor as the API makes it: one page before the middle row.
        from portal.api.pagination import cursor_make

        deep_cursor = cursor_make(f"exposures:{incident.public_id}:-last_seen", list(middle))
        pages = {
            "first": (url, {"limit": PAGE}, None),
            "deep": (url, {"limit": PAGE, "cursor": deep_cursor}, middle),
        }
        server = _Server(f"Bearer {presented}")
        callers = {"server": server.get, "test_client": _client_get(client)}
        timings: dict[str, dict[str, list[float]]] = {
            caller: {key: [] for name in pages for key in (name, f"{name}_baseline")}
            for caller in callers
        }
        sizes = {}
        for round_number in range(WARMUPS + TIMED):
            for caller, get in callers.items():
                for page_name, (path, query, after) in pages.items():
                    started = time.perf_counter()
                    status, content = get(path, query)
                    api_ms = (time.perf_counter() - started) * 1000
                    if status != 200:
                        raise RuntimeError(f"{page_name}: HTTP {status}")
                    items = len(json.loads(content)["items"])
                    with connection.cursor() as cursor:
                        started = time.perf_counter()
                        raw_rows = _raw_page(cursor, organization.pk, incident.pk, after)
                        raw_ms = (time.perf_counter() - started) * 1000
                    if items != raw_rows or items != PAGE:
                        raise RuntimeError(f"{page_name}: {items} items, {raw_rows} raw rows")
                    sizes[page_name] = len(content)
                    if round_number >= WARMUPS:
                        timings[caller][page_name].append(api_ms)
                        timings[caller][f"{page_name}_baseline"].append(raw_ms)

        # The whole list as JSON Lines: its time, then (again, traced: tracemalloc
        # slows everything down) the most the stream held allocated at once.
        with Stopwatch() as streaming:
            response = client.get(f"{url}.jsonl")
            lines, stream_bytes = 0, 0
            for chunk in response.streaming_content:
                lines += chunk.count(b"\n")
                stream_bytes += len(chunk)
        if lines != rows:
            raise RuntimeError(f"the stream gave {lines} lines for {rows} exposures")
        tracemalloc.start()
        for _chunk in client.get(f"{url}.jsonl").streaming_content:
            pass
        _current, stream_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    summaries = {caller: _summary(timings[caller], pages, sizes) for caller in callers}
    worst = min(pages, key=lambda name: summaries["server"][name]["ratio"])
    return result(
        "api",
        summaries["server"][worst]["median_ms"],
        summaries["server"][worst]["baseline_median_ms"],
        "ms",
        lower_is_better=True,
        goal_ratio=0.5,
        goal_ms=150,
        worst_page=worst,
        pages=summaries["server"],
        test_client=summaries["test_client"],
        client="the WSGI application (in process, as a WSGI server calls it, no socket)",
        page_rows=PAGE,
        rows=rows,
        requests=TIMED,
        stream_rows=lines,
        stream_seconds=round(streaming.seconds, 2),
        stream_rows_per_second=round(lines / streaming.seconds),
        stream_mb=round(stream_bytes / (1 << 20), 1),
        stream_peak_traced_mb=round(stream_peak / (1 << 20), 1),
        seeding_seconds=seeding,
        **peak_rss_mb(),
    )


def _client_get(client):
    def get(path: str, query: dict) -> tuple[int, bytes]:
        response = client.get(path, query)
        return response.status_code, response.content

    return get


def _summary(timings: dict[str, list[float]], pages, sizes) -> dict:
    medians = {name: statistics.median(values) for name, values in timings.items()}
    return {
        name: {
            "ratio": round(medians[f"{name}_baseline"] / medians[name], 3),
            "median_ms": round(medians[name], 2),
            "baseline_median_ms": round(medians[f"{name}_baseline"], 2),
            "p95_ms": round(sorted(timings[name])[int(0.95 * (len(timings[name]) - 1))], 2),
            "bytes": sizes[name],
        }
        for name in pages
    }
