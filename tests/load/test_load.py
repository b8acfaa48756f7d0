"""Fifty signed-in people at once for a minute, against gunicorn as the Dockerfile runs
it, at a million log rows: no error, and every page's p95 under ten times /healthz's.

Marked `load`: not in the default run (pyproject.toml), run with
`make test PYTEST_ARGS="-m load"` and DATABASE_URL on PostgreSQL (README "Load test").
The data is `bench pages`' database, seeded once (a minute) and kept for the next run.
"""

import os

import pytest

from bench import load

pytestmark = [pytest.mark.load, pytest.mark.postgres]


def test_fifty_sessions_for_a_minute_get_every_page_without_error_and_in_time():
    rows = int(os.environ.get("LOAD_ROWS", load.DEFAULT_ROWS))

    outcome = load.run(rows, duration=float(os.environ.get("LOAD_SECONDS", load.DURATION)))

    print("\n" + outcome["table"])  # noqa: T201 (the table, shown with -s)
    assert outcome["errors"] == 0, outcome["table"]
    for name, row in outcome["pages"].items():
        assert row["requests"] > 0, name
        assert row["p95_vs_healthz"] < load.GOAL, outcome["table"]
