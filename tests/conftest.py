"""Shared test set-up.

Where the suite runs on SQLite with no Redis, Celery uses an in-memory broker and runs
tasks eagerly. Tests that need PostgreSQL or Redis are marked; they skip with the reason
where those are absent, and fail instead when CI=true, so CI can never go green by
skipping them.
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from portal.celery import app as celery_app
from portal.database import database_role_use

CI = os.environ.get("CI", "").lower() == "true"
BASE_DIR = Path(__file__).resolve().parent.parent

# Property-based tests explore new inputs on every run on a developer's machine, and the
# same ones in CI, so that a CI run is repeatable (a failure found at a desk is kept by
# Hypothesis' example database and added as an @example).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if CI:
    hypothesis_settings.load_profile("ci")


def pytest_configure(config):
    # The translations the pages are tested in: compiled from the .po as `make test`
    # does, for a run started with pytest directly (make does nothing when up to date).
    subprocess.run(["make", "--silent", "messages"], cwd=BASE_DIR, check=True)
    config.addinivalue_line(
        "markers",
        "app_role: needs PostgreSQL with two roles, MIGRATE_DATABASE_URL the owner's "
        "(skips without, fails under CI=true)",
    )
    # A cache of the test run's own: allauth keeps rate limits and used TOTP codes in
    # it, and one test's failed sign-ins must not count against the next.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Real hashing costs a third of a second a password by design; tests make hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The tests that commit leave audit events behind; the flush after each of them
    # must empty the append-only log too, here and nowhere else (manage.py flush).
    settings.AUDIT_LOG_FLUSHABLE = True
    if not settings.REDIS_URL:
        celery_app.conf.broker_url = "memory://"
        celery_app.conf.result_backend = "cache+memory://"
    # Unit tests run tasks inline; the tests that need a real worker switch this off.
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    # On PostgreSQL with two roles (MIGRATE_DATABASE_URL set, as CI has it) the owner
    # creates and migrates the test database, and drops it after the run...
    database_role_use("owner")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    # ...and the tests connect as the app's role, which owns nothing, as web, worker
    # and beat do in production: what the app may not do fails here too.
    database_role_use("app")
    yield
    database_role_use("owner")


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _portal_language():
    """Each test starts in the portal's default language: a page in French leaves
    French active in the thread (as a web worker's next request would reset it), and a
    service called directly afterwards would answer in it."""
    from django.utils import translation

    yield
    translation.deactivate()


def _missing(reason: str) -> None:
    if CI:
        pytest.fail(f"{reason} (CI=true: this must not skip)")
    pytest.skip(reason)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and not settings.IS_POSTGRES:
        _missing("needs PostgreSQL: set DATABASE_URL=postgres://...")
    if item.get_closest_marker("app_role") and not settings.DATABASE_ROLES:
        _missing(
            "needs PostgreSQL with two roles: DATABASE_URL the app's, MIGRATE_DATABASE_URL "
            "the owner's (docs/database-roles.md)"
        )
    if item.get_closest_marker("redis") and not settings.REDIS_URL:
        _missing("needs Redis: set REDIS_URL=redis://...")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class RedisServer:
    """A Redis of the test's own on a free port, so a test can stop it without
    touching the machine's."""

    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tmp_path
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path):
    if not shutil.which("redis-server"):
        _missing("needs the redis-server program (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(own_redis):
    """This process publishes Celery tasks to the test's own Redis (and no longer runs
    them eagerly), for a real worker to take (tests/celery_worker.py)."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager)

    def fresh_pools():
        # Publishing connections are pooled per broker: drop those to the old one.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    conf.broker_url = own_redis.url
    conf.task_always_eager = False
    fresh_pools()
    yield own_redis
    conf.broker_url, conf.task_always_eager = saved
    fresh_pools()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


# --- The test people: one set for the whole suite ---------------------------------------
#
# Acme is the customer account most tests stand in: Alice owns it, Bob is an admin,
# Sam security staff and Vera a viewer. Charlie owns Globex, another account, from
# which nothing of Acme may be seen. Olivia runs the operator console (staff). A folder
# or module that needs Acme in another time zone overrides `acme` alone; the people
# then belong to that Acme, in the same roles.


@pytest.fixture
def acme(db):
    from tests import factories

    return factories.organization("Acme Corp", account_id="DA9XK2ACME")


@pytest.fixture
def globex(db):
    from tests import factories

    return factories.organization("Globex", account_id="DA7GLOBEX1")


def _member(organization, email: str, role: str, name: str):
    from tests import factories

    return factories.member(organization, email, role, name=name)


@pytest.fixture
def alice(acme):
    return _member(acme, "alice@acme.example", "owner", "Alice Adams")


@pytest.fixture
def bob(acme):
    return _member(acme, "bob@acme.example", "admin", "Bob Brown")


@pytest.fixture
def sam(acme):
    return _member(acme, "sam@acme.example", "security", "Sam Stone")


@pytest.fixture
def vera(acme):
    return _member(acme, "vera@acme.example", "viewer", "Vera Voss")


@pytest.fixture
def charlie(globex):
    return _member(globex, "charlie@globex.example", "owner", "Charlie Chen")


@pytest.fixture
def olivia(db):
    from tests import factories

    return factories.staff("olivia@vigil.example", name="Olivia Ops")


@pytest.fixture
def sign_in(client):
    """Signed in as allauth would have (password, then second factor), just now."""
    from tests.accounts.auth import signed_in

    def sign_in_as(user):
        signed_in(client, user)

    return sign_in_as
