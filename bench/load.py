"""`load`: fifty signed-in people at once against gunicorn, as the Dockerfile runs it.

The data of `bench pages` (1,000,000 log rows by default, in its database, seeded once
and kept), gunicorn with its two sync workers and DEBUG=false, and a bounded client:
SESSIONS threads, each with a session of its own, each requesting the pages of
`bench pages` and /healthz in turn, one request at a time, for DURATION seconds. The
result is, per page, the requests, errors and p50/p95 latency, and each page's p95
against /healthz's p95 in the same run (the goal: under 10x).

Used by tests/load/test_load.py (marked `load`: `make test PYTEST_ARGS="-m load"`) and
as `python -m bench load`. Needs DATABASE_URL on PostgreSQL with a role that may
create databases (MIGRATE_DATABASE_URL's is used when set), and REDIS_URL if the
portal should use Redis as production does.
"""

import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.common import BenchmarkError, peak_rss_mb, result

DEFAULT_ROWS = 1_000_000
SESSIONS = 50
DURATION = 60.0
GOAL = 10.0  # a page's p95 under this many times /healthz's
BASE_DIR = Path(__file__).resolve().parent.parent
# The sessions are made in one process and used by gunicorn: both sign with this.
SECRET_KEY = "load-test-" + "k3y" * 20


def _admin_url() -> str:
    url = os.environ.get("MIGRATE_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BenchmarkError("the load run needs DATABASE_URL on PostgreSQL")
    return urlunsplit(parts._replace(path="/postgres"))


def prepare(rows: int, sessions: int) -> dict:
    """In a process of its own (it sets Django up on the benchmark's database): the
    seeded data, and `sessions` signed-in sessions of the account's owner."""
    os.environ["BENCH_PAGES_KEEP"] = "1"
    from bench import pages

    if not pages._database(rows):
        pages._seed(rows)
    from django.conf import settings
    from django.test import Client

    from portal.accounts.models import Organization, User
    from portal.incidents.models import Incident

    organization = Organization.objects.get(account_id=pages.ACCOUNT_ID)
    incident = Incident.objects.get(slug="bench-pages")
    owner = User.objects.get(email=pages.OWNER_EMAIL)
    keys = []
    for _ in range(sessions):
        client = Client()
        client.force_login(owner)
        keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return {
        "database_url": os.environ["DATABASE_URL"],
        "urls": pages.page_urls(organization, incident),
        "sessions": keys,
    }


def _portal_env(database_url: str, static_root: str) -> dict:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(
        DEBUG="false",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL="http://127.0.0.1",
        EMAIL_HOST="127.0.0.1",
        DATABASE_URL=database_url,
        STATIC_ROOT=static_root,
        VAR_DIR=static_root,
        # No TLS in front of it here: plain HTTP, as behind the proxy.
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        LOG_LEVEL="warning",
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, cookie: str | None) -> tuple[int, float]:
    headers = {"Host": "127.0.0.1"}
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        connection.close()
    return status, (time.perf_counter() - started) * 1000


def _clients(port: int, urls: dict[str, str], sessions: list[str], duration: float):
    """Each session in a thread of its own, one request at a time, the pages and
    /healthz in turn from a random start; returns {name: [(status, ms)]}."""
    names = [*urls, "healthz"]
    paths = {**urls, "healthz": "/healthz"}
    results: dict[str, list[tuple[int, float]]] = {name: [] for name in names}
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def one(cookie: str, start: int) -> None:
        turn = start
        while time.monotonic() < deadline:
            name = names[turn % len(names)]
            turn += 1
            outcome = _get(port, paths[name], None if name == "healthz" else cookie)
            with lock:
                results[name].append(outcome)

    rng = random.Random(14)
    threads = [
        threading.Thread(target=one, args=(cookie, rng.randrange(len(names))), daemon=True)
        for cookie in sessions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def table(results: dict[str, list[tuple[int, float]]]) -> dict[str, dict]:
    healthz_p95 = _percentile([ms for _, ms in results["healthz"]], 0.95)
    rows = {}
    for name, outcomes in results.items():
        times = [ms for _, ms in outcomes]
        p95 = _percentile(times, 0.95) if times else 0.0
        rows[name] = {
            "requests": len(outcomes),
            "errors": sum(1 for status, _ in outcomes if status != 200),
            "error_statuses": sorted({status for status, _ in outcomes if status != 200}),
            "p50_ms": round(statistics.median(times), 1) if times else 0.0,
            "p95_ms": round(p95, 1),
            "p95_vs_healthz": round(p95 / healthz_p95, 2) if healthz_p95 else 0.0,
        }
    return rows


def format_table(rows: dict[str, dict]) -> str:
    lines = [
        "| page | requests | errors | p50 ms | p95 ms | p95 / healthz p95 |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['requests']} | {row['errors']} | {row['p50_ms']} | "
            f"{row['p95_ms']} | {row['p95_vs_healthz']} |"
        )
    return "\n".join(lines)


def run(rows: int = DEFAULT_ROWS, *, sessions: int = SESSIONS, duration: float = DURATION) -> dict:
    env = {**os.environ, "DATABASE_URL": _admin_url(), "SECRET_KEY": SECRET_KEY}
    env.pop("MIGRATE_DATABASE_URL", None)  # the benchmark's database has one role
    prepared = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            f"import json, bench.load as l; print('@@' + json.dumps(l.prepare({rows}, {sessions})))",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if prepared.returncode:
        raise BenchmarkError(f"load: preparing the data failed:\n{prepared.stderr[-3000:]}")
    setup = json.loads(prepared.stdout.split("@@", 1)[1])
    with tempfile.TemporaryDirectory(prefix="vigil-load-") as static_root:
        portal_env = _portal_env(setup["database_url"], static_root)
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=BASE_DIR,
            env=portal_env,
            check=True,
        )
        port = _free_port()
        log = open(Path(static_root) / "gunicorn.log", "w+")  # noqa: SIM115 (closed below)
        # As the Dockerfile's CMD runs it (2 sync workers), on a free local port.
        server = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                os.environ.get("WEB_CONCURRENCY", "2"),
                "--worker-tmp-dir",
                "/dev/shm",  # noqa: S108 (as the Dockerfile: gunicorn's heartbeat files)
                "--no-control-socket",
            ],
            cwd=BASE_DIR,
            env=portal_env,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: nobody reads a pipe while the clients run.
            stderr=log,
        )
        try:
            _wait_until_up(port, server, log)
            # Each page once per session before timing: every worker has loaded it.
            _clients(port, setup["urls"], setup["sessions"][:4], 3.0)
            outcomes = _clients(port, setup["urls"], setup["sessions"], duration)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
    rows_table = table(outcomes)
    pages_only = {name: row for name, row in rows_table.items() if name != "healthz"}
    worst = max(pages_only, key=lambda name: pages_only[name]["p95_vs_healthz"])
    return result(
        "load",
        rows_table[worst]["p95_ms"],
        rows_table["healthz"]["p95_ms"],
        "ms (p95)",
        lower_is_better=True,
        worst_page=worst,
        goal_ratio=round(1 / GOAL, 3),
        pages=rows_table,
        errors=sum(row["errors"] for row in rows_table.values()),
        sessions=sessions,
        seconds=duration,
        rows=rows,
        table=format_table(rows_table),
        **peak_rss_mb(),
    )


def _wait_until_up(port: int, server: subprocess.Popen, log, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise BenchmarkError(f"gunicorn stopped:\n{log.read()[-3000:]}")
        if _get(port, "/healthz", None)[0] == 200:
            return
        time.sleep(0.3)
    raise BenchmarkError("gunicorn did not answer /healthz in a minute")
