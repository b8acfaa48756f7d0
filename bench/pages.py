"""`pages`: every page a member opens, against the bare layout, at a million rows.

One account with `rows` log rows (1,000,000 by default) to rows / 10 phones (100,000),
as many directory users (and another account's 80,000, so that a search that forgot
the account would read them too), exposures, rollups and 100,000 audit events, in a
dedicated PostgreSQL database, generated in SQL (generate_series) in a minute rather
than through the importer. In one process, with one signed-in member (an owner: the
heaviest pages, with a reveal button on every row), Django's test client requests each
page after a few warm-ups, interleaved so that noise from the machine falls on all alike:

- `home`: the account home (its incidents with their counts);
- `dashboard`: every number and breakdown, and the per-day chart; `dashboard_cold`
  the same after emptying the cache before each request (the rollups need none);
- `list`, `page_500`: the exposed users, page 1 and page 500 (OFFSET 24,950);
- `search_name`: a search by name ("Thompson"), `search_phone`: by the last digits;
- `filter`: one country; `sort_messages`: by message count;
- `timeline`: one exposed phone's page with its messages;
- `audit`: the account's audit log, page 1;
- `baseline`: a view that renders the same layout (base.html: navigation, account
  switcher, messages) and runs no query of its own. The middleware (session, sign-in,
  second-factor check, session tracking) runs for it as for the pages.

Each page's ratio = baseline median / the page's median: 1 would be free, the goal is
>= 0.33 (no page more than three times the bare layout); `dashboard_cold`'s baseline is
the one timed in its own rounds (`baseline_cold_rounds`). The JSON has them all under
`pages` (name -> ratio, median, p95, queries, and the first view's time with an empty
cache); its top-level `ratio` is the worst page's.

Needs DATABASE_URL on PostgreSQL (a role that may create databases); uses (and drops) a
database of its own, `vigil_bench_pages_<rows>` (BENCH_DATABASE_PREFIX replaces
`vigil_bench`). With BENCH_PAGES_KEEP=1 the database stays, and a later run with the
same --rows measures it again without seeding.
"""

import os
import statistics
import time
from datetime import UTC, datetime

from bench.common import (
    Stopwatch,
    drop_database,
    fresh_database,
    peak_rss_mb,
    postgres_server_url,
    result,
)

DEFAULT_ROWS = 1_000_000
WARMUPS = 3
TIMED = 30
OWNER_EMAIL = "owner@bench-pages.example"
ACCOUNT_ID = "DABENCHPAGES"
OTHER_ACCOUNT_ID = "DABENCHOTHER"
OTHER_DIRECTORY = 80_000
AUDIT_EVENTS = 100_000
NOTIFIED_SHARE = 0.6  # of matched phones, so the "notified" numbers are not all zero
WINDOW_START = datetime(2024, 3, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 4, 1, tzinfo=UTC)


def _database_name(rows: int) -> str:
    return f"{os.environ.get('BENCH_DATABASE_PREFIX', 'vigil_bench')}_pages_{rows}"


def _database(rows: int) -> bool:
    """Set Django up on the benchmark's database; True if it already holds the data."""
    name = _database_name(rows)
    if os.environ.get("BENCH_PAGES_KEEP"):
        import psycopg

        server = postgres_server_url()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
        if exists:
            os.environ["DATABASE_URL"] = f"{server}/{name}"
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
            os.environ.setdefault("LOG_LEVEL", "warning")
            import django
            from django.core.management import call_command

            django.setup()
            call_command("migrate", interactive=False, verbosity=0)
            if _seeded(rows):
                return True
    fresh_database(name)
    return False


# --- Data ---------------------------------------------------------------------------


def _seeded(rows: int):
    """The benchmark's account if it was seeded to the end with this many rows."""
    from portal.accounts.models import Organization

    organization = Organization.objects.filter(account_id=ACCOUNT_ID).first()
    if organization is None or organization.name != _account_name(rows):
        return None
    return organization


def _account_name(rows: int) -> str:
    return f"Bench Pages ({rows} rows)"


# Phones, people and places, generated in SQL from a phone's number n (1..phones):
# its country, region and carrier follow from n, so the log rows and the directory
# agree without a join. Most phones are American, as in the real dumps.
_COUNTRIES = "ARRAY['US','US','US','US','US','US','US','US','US','US','US','US','US','US','GB','GB','DE','FR','CA','IN']"
_PREFIX = "ARRAY['+1212','+1213','+1312','+1415','+1617','+1702','+1206','+1305','+1404','+1503','+1512','+1615','+1720','+1919','+4477','+4478','+4915','+336','+1416','+9198']"
_REGIONS = "ARRAY['New York','California','Illinois','California','Massachusetts','Nevada','Washington','Florida','Georgia','Oregon','Texas','Tennessee','Colorado','North Carolina','England','Scotland','Bayern','Ile-de-France','Ontario','Karnataka']"
_CARRIERS = "ARRAY['Verizon Wireless','AT&T Mobility','T-Mobile USA','US Cellular','Vodafone UK','EE','Telekom Deutschland','Orange','Rogers','Jio']"
_FIRST = "ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth','William','Barbara','Richard','Susan','Joseph','Jessica','Thomas','Sarah','Charles','Karen','Daniel','Nancy','Matthew','Lisa','Anthony','Betty','Mark','Sandra','Donald','Ashley','Steven','Emily','Paul','Donna','Andrew','Michelle','Joshua','Carol','Kenneth','Amanda']"
_LAST = "ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez','Hernandez','Lopez','Gonzalez','Wilson','Anderson','Thomas','Taylor','Moore','Jackson','Martin','Lee','Perez','Thompson','White','Harris','Sanchez','Clark','Ramirez','Lewis','Robinson','Walker','Young','Allen','King','Wright','Scott','Torres','Nguyen','Hill','Flores','Green','Adams','Nelson','Baker','Hall','Rivera','Campbell','Mitchell','Carter','Roberts','Gomez','Phillips','Evans','Turner','Diaz','Parker','Cruz','Edwards','Collins','Reyes','Stewart','Morris','Morales','Murphy','Cook','Rogers','Gutierrez','Ortiz','Morgan','Cooper','Peterson','Bailey','Reed','Kelly','Howard','Ramos','Kim','Cox','Ward','Richardson','Watson','Brooks','Chavez','Wood','James','Bennett','Gray','Mendoza','Ruiz','Hughes','Price','Alvarez','Castillo','Sanders','Patel','Myers','Long','Ross','Foster','Jimenez']"


def _phone_sql(n: str) -> str:
    return f"({_PREFIX})[1 + {n} %% 20] || lpad(({n})::text, 9, '0')"


def _seed(rows: int):
    """Both accounts, their directories, log rows, exposures, rollups and audit log."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.db import connection, transaction

    from portal.accounts.models import Membership, Organization, User
    from portal.accounts.roles import Role
    from portal.incidents.demo.phones import WINDOW_END, WINDOW_START
    from portal.incidents.exposures.services import (
        exposure_match_directory,
        exposure_rebuild,
        exposure_rollup_refresh,
    )
    from portal.incidents.models import Incident

    phones = rows // 10
    with transaction.atomic():
        organization = Organization.objects.create(
            name=_account_name(rows), account_id=ACCOUNT_ID, time_zone="America/New_York"
        )
        other = Organization.objects.create(name="Bench Other", account_id=OTHER_ACCOUNT_ID)
        owner = User.objects.create_user(email=OWNER_EMAIL, password=None, name="Bench Owner")
        TOTP.activate(owner, generate_totp_secret())
        Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
        incident = Incident.objects.create(
            slug="bench-pages",
            title="Benchmark breach",
            provider="the telephony provider",
            window_start=WINDOW_START,
            window_end=WINDOW_END,
            disclosed_at=datetime(2024, 4, 12, 15, tzinfo=UTC),
            status=Incident.Status.PUBLISHED,
            published_at=datetime(2024, 4, 12, 15, tzinfo=UTC),
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2024)")
        # People: one per phone in the account, a tenth of them without an exposed
        # phone (their number is past the last exposed one), so most phones match.
        for account, count, offset in (
            (organization, phones, 0),
            (other, OTHER_DIRECTORY, 50_000_000),
        ):
            cursor.execute(
                f"""
                INSERT INTO incidents_directoryuser
                    (public_id, organization_id, username, name, email, phones, language,
                     created_at, updated_at)
                SELECT gen_random_uuid(), %s, 'user' || n,
                    first || ' ' || last,
                    lower(first || '.' || last || n) || '@bench.example',
                    jsonb_build_array({_phone_sql("num")}), 'en', now(), now()
                FROM (
                    SELECT n,
                        ({_FIRST})[1 + floor(random() * 40)::int] AS first,
                        ({_LAST})[1 + floor(random() * 100)::int] AS last,
                        %s + CASE WHEN n %% 10 = 0 THEN n + 90000000 ELSE n END AS num
                    FROM generate_series(1, %s) AS n
                ) AS people
                """,
                [account.pk, offset, count],
            )
        cursor.execute(
            """
            INSERT INTO incidents_directoryphone (organization_id, directory_user_id, phone)
            SELECT organization_id, id, phones ->> 0 FROM incidents_directoryuser
            """
        )
        # Log rows: every phone once, the rest on a skewed draw (a few phones get
        # hundreds of messages, most a handful), spread over the month.
        cursor.execute(
            f"""
            INSERT INTO incidents_messagelogrecord
                (incident_id, organization_id, provider_message_id, sent_at, phone, carrier,
                 country, region, region_code, message_type, context, credits, extra)
            SELECT %s, %s, 'bench-' || g, %s + random() * (%s - %s), {_phone_sql("p")},
                ({_CARRIERS})[1 + (p %% 20) / 2], ({_COUNTRIES})[1 + p %% 20],
                ({_REGIONS})[1 + p %% 20], '',
                CASE WHEN random() < 0.8 THEN 'sms' ELSE 'voice' END,
                'authentication', 1, '{{}}'::jsonb
            FROM (
                SELECT g, CASE WHEN g <= %s THEN g
                    ELSE 1 + floor(%s * power(random(), 3))::int END AS p
                FROM generate_series(1, %s) AS g
            ) AS drawn
            """,
            [
                incident.pk,
                organization.pk,
                WINDOW_START,
                WINDOW_END,
                WINDOW_START,
                phones,
                phones,
                rows,
            ],
        )
        # Another account's events too: the audit page must find the account's own.
        cursor.execute(
            """
            INSERT INTO audit_auditevent
                (created_at, actor_id, actor_label, organization_id, action, target_type,
                 target_id, target_label, ip, user_agent, details)
            SELECT now() - g * interval '1 minute', %s, %s,
                CASE WHEN g %% 2 = 0 THEN %s ELSE %s END,
                (ARRAY['phone.reveal','exposure.export','notice.launch','logcopy.download'])[1 + g %% 4],
                'incident', 'x', 'Benchmark breach', '192.0.2.1', 'bench', '{}'::jsonb
            FROM generate_series(1, %s) AS g
            """,
            [owner.pk, OWNER_EMAIL, organization.pk, other.pk, AUDIT_EVENTS],
        )
        cursor.execute("ANALYZE")
    with transaction.atomic():
        exposure_rebuild(incident=incident, organization_ids=[organization.pk])
        exposure_match_directory(organization_ids=[organization.pk])
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE incidents_exposure SET last_notified_at = %s
                WHERE organization_id = %s AND directory_user_id IS NOT NULL
                    AND random() < %s
                """,
                [datetime(2024, 4, 13, 9, tzinfo=UTC), organization.pk, NOTIFIED_SHARE],
            )
        exposure_rollup_refresh(incident_id=incident.pk, organization_ids=[organization.pk])
    # A table at rest has been vacuumed by autovacuum: the visibility map lets counts
    # and id pages use index-only scans. Outside the transaction: VACUUM cannot run in one.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return organization


# --- Measuring ----------------------------------------------------------------------


def _baseline_view(request):
    """The layout and nothing else: no query of its own."""
    from django.shortcuts import render

    return render(request, "base.html", {})


class _BenchUrls:
    """The portal's URLs plus the baseline, without adding it to the product's."""

    def __init__(self):
        from django.urls import path

        import portal.urls

        self.urlpatterns = [
            path("__bench__/baseline/", _baseline_view, name="bench_baseline"),
            *portal.urls.urlpatterns,
        ]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _measure_pages(client, urls: dict[str, str], cold: set[str]) -> dict[str, list[float]]:
    """Each page in turn, WARMUPS + TIMED rounds; the `cold` ones in rounds of their
    own afterwards, the cache emptied before each request (emptying it in the shared
    rounds would make every other page after it cold too). The cold rounds time the
    baseline too, as `baseline_cold`: the cold pages are measured against the layout of
    their own rounds, so that the machine's load changing in between (it is shared)
    does not move their ratio."""
    from django.core.cache import cache

    timings: dict[str, list[float]] = {name: [] for name in urls}
    timings["baseline_cold"] = []
    warm = {name: url for name, url in urls.items() if name not in cold}
    cold_urls = {
        "baseline_cold": urls["baseline"],
        **{name: url for name, url in urls.items() if name in cold},
    }
    for pages_of_round, clear in ((warm, False), (cold_urls, True)):
        _rounds(client, pages_of_round, timings, clear=clear, cache=cache)
    return timings


def _rounds(client, urls: dict[str, str], timings, *, clear: bool, cache) -> None:
    for round_number in range(WARMUPS + TIMED):
        for name, url in urls.items():
            if clear:
                cache.clear()  # not timed; the session lives in the database
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{name}: HTTP {response.status_code} for {url}")
            if round_number >= WARMUPS:
                timings[name].append(elapsed * 1000)


def page_urls(organization, incident) -> dict[str, str]:
    """The pages of point 1, by name (the load test requests the same)."""
    from portal.incidents.models import Exposure

    prefix = f"/o/{organization.public_id}/incidents/{incident.public_id}/"
    exposed = prefix + "exposed/"
    busiest = (
        Exposure.objects.filter(organization=organization, incident=incident)
        .order_by("-message_count", "-id")
        .values_list("public_id", flat=True)[20]  # a busy phone: a full first page
    )
    return {
        "home": f"/o/{organization.public_id}/",
        "dashboard": prefix,
        "list": exposed,
        "page_500": exposed + "?page=500",
        "search_name": exposed + "?q=Thompson",
        "search_phone": exposed + "?q=4321",
        "filter": exposed + "?country=GB",
        "sort_messages": exposed + "?sort=-messages",
        "timeline": f"{exposed}{busiest}/",
        "audit": f"/o/{organization.public_id}/audit/",
    }


def run(rows: int = DEFAULT_ROWS) -> dict:
    with Stopwatch() as seeding:
        reused = _database(rows)
        if not reused:
            _seed(rows)
    try:
        return _measure(rows, seeding="reused" if reused else round(seeding.seconds, 1))
    finally:
        if not os.environ.get("BENCH_PAGES_KEEP"):
            drop_database(_database_name(rows))


def _measure(rows: int, *, seeding) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from portal.accounts.models import Organization, User
    from portal.incidents.models import Incident

    organization = Organization.objects.get(account_id=ACCOUNT_ID)
    incident = Incident.objects.get(slug="bench-pages")
    owner = User.objects.get(email=OWNER_EMAIL)
    phones = incident.exposures.filter(organization=organization).count()

    urls = {"baseline": "/__bench__/baseline/", **page_urls(organization, incident)}
    urls["dashboard_cold"] = urls["dashboard"] + "?cold"
    cold = {"dashboard_cold"}
    with override_settings(ROOT_URLCONF=_BenchUrls(), ALLOWED_HOSTS=["testserver"]):
        client = Client()
        client.force_login(owner)
        client.get(f"/o/{organization.public_id}/")  # the account switcher's current account
        # Each page's first view with nothing in the cache (a search counts then; its
        # later pages and repeats read the count), then its queries on a second view
        # (the first also records the session's activity, once a minute).
        queries, first = {}, {}
        for name, url in urls.items():
            cache.clear()
            with Stopwatch() as watch:
                client.get(url)
            first[name] = round(watch.seconds * 1000, 2)
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            queries[name] = len(captured)
        timings = _measure_pages(client, urls, cold=cold)

    medians = {name: statistics.median(values) for name, values in timings.items()}
    baseline = medians.pop("baseline")
    baseline_cold = medians.pop("baseline_cold")
    pages = {
        name: {
            "ratio": round((baseline_cold if name in cold else baseline) / median, 3),
            "median_ms": round(median, 2),
            "p95_ms": round(_percentile(timings[name], 0.95), 2),
            "queries": queries[name],
            "first_view_ms": first[name],
        }
        for name, median in medians.items()
    }
    worst = min(pages, key=lambda name: pages[name]["ratio"])
    return result(
        "pages",
        medians[worst],
        baseline_cold if worst in cold else baseline,  # so `ratio` is the worst page's
        "ms",
        lower_is_better=True,
        worst_page=worst,
        goal_ratio=0.33,
        pages=pages,
        baseline_p95=round(_percentile(timings["baseline"], 0.95), 2),
        baseline_cold_rounds=round(baseline_cold, 2),
        baseline_queries=queries["baseline"],
        rows=rows,
        phones=phones,
        requests=TIMED,
        seeding_seconds=seeding,
        **peak_rss_mb(),
    )
