"""What every benchmark shares: its database, the clock, memory, and the JSON it prints.

A benchmark is a module with `run(rows=None) -> dict` (and `DEFAULT_ROWS`), registered
in `bench/__main__.py`. It measures the project and a raw baseline of the same work in
the same run and returns `result(...)`, which `python -m bench NAME` prints as one
JSON object: name, project, baseline, unit, ratio (higher is better) and anything else
worth knowing (rows, seconds, peak memory).

    from bench.common import Stopwatch, fresh_database, peak_rss_mb, result

    def run(rows=None):
        fresh_database("vigil_bench_mine")  # before any Django import that hits the db
        with Stopwatch() as project:
            ...
        with Stopwatch() as baseline:
            ...
        return result("mine", rows / project.seconds, rows / baseline.seconds, "rows/s",
                      rows=rows, **peak_rss_mb())
"""

import os
import resource
import sys
import time
from urllib.parse import urlsplit, urlunsplit


class BenchmarkError(SystemExit):
    """The benchmark cannot run here; the message says what to set up."""

    def __init__(self, message: str):
        super().__init__(f"bench: {message}")


class Stopwatch:
    """`with Stopwatch() as watch: ...` then `watch.seconds` (a monotonic clock)."""

    def __enter__(self) -> "Stopwatch":
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory so far, in MB, of this process and of its largest waited-for
    child (ru_maxrss: kilobytes on Linux, bytes on macOS)."""
    scale = 1 / (1 << 20) if sys.platform == "darwin" else 1 / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale
    return {"peak_rss_mb": round(own, 1), "peak_rss_children_mb": round(children, 1)}


def result(
    name: str, project: float, baseline: float, unit: str, *, lower_is_better=False, **extra
) -> dict:
    """The benchmark's JSON. `ratio` is project / baseline for rates (higher is
    better); with `lower_is_better` (times), baseline / project, so it still is."""
    if lower_is_better:
        ratio = baseline / project if project else 0.0
    else:
        ratio = project / baseline if baseline else 0.0
    return {
        "name": name,
        "project": _rounded(project),
        "baseline": _rounded(baseline),
        "unit": unit,
        "ratio": round(ratio, 3),
        **extra,
    }


def _rounded(value: float) -> float:
    return round(value, 1) if abs(value) >= 100 else round(value, 3)


def postgres_server_url() -> str:
    """DATABASE_URL without its database name; refuses anything but PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BenchmarkError(
            "this benchmark needs PostgreSQL: set DATABASE_URL=postgres://USER@HOST:PORT/DB "
            "(the server is used; the benchmark creates and drops a database of its own)."
        )
    return urlunsplit(parts._replace(path=""))


def fresh_database(name: str) -> str:
    """Drop and create the PostgreSQL database `name` on DATABASE_URL's server, point
    Django at it, set Django up and migrate. Returns its URL. Call before anything
    touches the database. A name of the run's own (with the pid in it) keeps two runs
    at once from dropping each other's database."""
    import psycopg

    server = postgres_server_url()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "warning")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return url


def drop_database(name: str) -> None:
    """Drop a database made by `fresh_database` (closing Django's connection first)."""
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{postgres_server_url()}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
