"""`pages`: the exposed-users page and the dashboard against the bare layout.

One account with `rows` log rows (1,000,000 by default) to rows / 10 phones (100,000),
its directory and exposures, in a dedicated PostgreSQL database. In one process, with
one signed-in member (an owner: the heaviest page, with a reveal button on every row),
Django's test client requests each page after a few warm-ups, interleaved so that
noise from the machine falls on all three alike:

- `exposed`: the first page of the exposed users, unfiltered (the count of every
  phone, the filter choices and a page of 50);
- `dashboard`: every number and breakdown, and the per-day chart;
- `baseline`: a view that renders the same layout (base.html: navigation, account
  switcher, messages) and runs no query of its own. The middleware (session, sign-in,
  second-factor check, session tracking) runs for it as for the pages.

ratio = baseline / the slower page's median: 1 would be free, the goal is >= 0.33
(a page at most three times the bare layout). `dashboard_first` is the dashboard's
first view after the cache is emptied, when it sums the exposures and reads the log
table for its per-day chart; later views read those sums from the cache (see
portal/incidents/exposures/selectors.py).

Needs DATABASE_URL on PostgreSQL; uses (and drops) a database of its own,
`vigil_bench_pages`. With BENCH_PAGES_KEEP=1 the database stays, and a later run with
the same --rows measures it again without seeding (seeding a million rows takes about
a minute).
"""

import os
import random
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

DATABASE_NAME = "vigil_bench_pages"
DEFAULT_ROWS = 1_000_000
WARMUPS = 3
TIMED = 30
SEED = 2024
OWNER_EMAIL = "owner@bench-pages.example"
ACCOUNT_ID = "DABENCHPAGES"
NOTIFIED_SHARE = 0.6  # of matched phones, so the "notified" numbers are not all zero


def _database(rows: int) -> bool:
    """Set Django up on the benchmark's database; True if it already holds the data."""
    if os.environ.get("BENCH_PAGES_KEEP"):
        import psycopg

        server = postgres_server_url()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
        if exists:
            os.environ["DATABASE_URL"] = f"{server}/{DATABASE_NAME}"
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
            os.environ.setdefault("LOG_LEVEL", "warning")
            import django
            from django.core.management import call_command

            django.setup()
            call_command("migrate", interactive=False, verbosity=0)
            if _seeded(rows):
                return True
    fresh_database(DATABASE_NAME)
    return False


# --- Data ---------------------------------------------------------------------------


def _seeded(rows: int):
    """The benchmark's account if it already holds exactly this many rows."""
    from portal.accounts.models import Organization
    from portal.incidents.models import Exposure, MessageLogRecord

    organization = Organization.objects.filter(account_id=ACCOUNT_ID).first()
    if organization is None or organization.name != _account_name(rows):
        return None
    if not Exposure.objects.filter(organization=organization).exists():
        return None
    # Counting a million rows costs a second; done once per run, it is worth knowing.
    if MessageLogRecord.objects.filter(organization=organization).count() != rows:
        return None
    return organization


def _account_name(rows: int) -> str:
    return f"Bench Pages ({rows} rows)"


def _seed(rows: int):
    """One account: its log rows (COPY), directory, exposures; most matched, some
    notified. Drawn from the demo's generators, so the data looks like a real month."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.db import connection, transaction

    from portal.accounts.models import Membership, Organization, User
    from portal.accounts.roles import Role
    from portal.incidents.demo.directory import seed_directory
    from portal.incidents.demo.logs import load_log_rows, log_rows
    from portal.incidents.demo.people import DEMO_ACCOUNTS
    from portal.incidents.demo.phones import WINDOW_END, WINDOW_START, plan_phones
    from portal.incidents.exposures.services import exposure_match_directory, exposure_rebuild
    from portal.incidents.models import Exposure, Incident

    rng = random.Random(SEED)
    with transaction.atomic():
        organization = Organization.objects.create(
            name=_account_name(rows), account_id=ACCOUNT_ID, time_zone="America/New_York"
        )
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
        used: set[str] = set()
        account = DEMO_ACCOUNTS[0]
        phones = plan_phones(rng, account, rows, used)
        load_log_rows(incident=incident, organization=organization, rows=log_rows(rng, phones))
        seed_directory(rng, account, organization, phones, used)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        exposure_rebuild(incident=incident, organization_ids=[organization.pk])
        exposure_match_directory(organization_ids=[organization.pk])
        matched = Exposure.objects.filter(organization=organization, directory_user__isnull=False)
        notified_ids = [
            pk for pk in matched.values_list("pk", flat=True) if rng.random() < NOTIFIED_SHARE
        ]
        Exposure.objects.filter(pk__in=notified_ids).update(
            last_notified_at=datetime(2024, 4, 13, 9, tzinfo=UTC)
        )
    # A table at rest has been vacuumed by autovacuum: the visibility map lets counts
    # use index-only scans. Outside the transaction: VACUUM cannot run inside one.
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


def _measure_pages(client, urls: dict[str, str]) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in urls}
    for round_number in range(WARMUPS + TIMED):
        for name, url in urls.items():
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{name}: HTTP {response.status_code} for {url}")
            if round_number >= WARMUPS:
                timings[name].append(elapsed * 1000)
    return timings


def run(rows: int = DEFAULT_ROWS) -> dict:
    with Stopwatch() as seeding:
        reused = _database(rows)
        if not reused:
            _seed(rows)
    try:
        return _measure(rows, seeding="reused" if reused else round(seeding.seconds, 1))
    finally:
        if not os.environ.get("BENCH_PAGES_KEEP"):
            drop_database(DATABASE_NAME)


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

    prefix = f"/o/{organization.public_id}/incidents/{incident.public_id}/"
    urls = {
        "baseline": "/__bench__/baseline/",
        "exposed": prefix + "exposed/",
        "dashboard": prefix,
    }
    with override_settings(ROOT_URLCONF=_BenchUrls(), ALLOWED_HOSTS=["testserver"]):
        client = Client()
        client.force_login(owner)
        client.get(f"/o/{organization.public_id}/")  # the account switcher's current account
        cache.clear()
        with Stopwatch() as first:
            client.get(urls["dashboard"])
        queries = {}
        for name, url in urls.items():
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            queries[name] = len(captured)
        timings = _measure_pages(client, urls)

    medians = {name: statistics.median(values) for name, values in timings.items()}
    slower = max(("exposed", "dashboard"), key=lambda name: medians[name])
    return result(
        "pages",
        medians[slower],
        medians["baseline"],
        "ms",
        lower_is_better=True,
        project_page=slower,
        goal_ratio=0.33,
        exposed_median=round(medians["exposed"], 2),
        exposed_p95=round(_percentile(timings["exposed"], 0.95), 2),
        exposed_ratio=round(medians["baseline"] / medians["exposed"], 3),
        dashboard_median=round(medians["dashboard"], 2),
        dashboard_p95=round(_percentile(timings["dashboard"], 0.95), 2),
        dashboard_ratio=round(medians["baseline"] / medians["dashboard"], 3),
        dashboard_first=round(first.seconds * 1000, 2),
        baseline_p95=round(_percentile(timings["baseline"], 0.95), 2),
        queries=queries,
        rows=rows,
        phones=phones,
        requests=TIMED,
        seeding_seconds=seeding,
        **peak_rss_mb(),
    )
