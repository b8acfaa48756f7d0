"""A real Celery worker for the tests that kill one (notices, log copies, webhooks): the
worker as production runs it (prefork), on the test database and a Redis of the test's
own (the `broker` fixture in tests/conftest.py), in a process group of its own so that a
kill takes its pool processes with it."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app
from tests.conftest import BASE_DIR


def database_url() -> str:
    """The test database's URL, for a process of its own."""
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


class CeleryWorker:
    """`celery worker` on `queues` with `processes` pool processes; `env` adds to (or
    overrides) the environment it is given, which names the test database and broker.
    Each start has a host name of its own (`name`-<pid>-<n>), as a new container would."""

    def __init__(
        self,
        broker_url: str,
        tmp_path: Path,
        *,
        queues: str,
        processes: int,
        name: str,
        env: dict[str, str] | None = None,
    ):
        self.queues, self.processes, self.name = queues, processes, name
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            # A worker never has the owner's URL (and CI's names the database the test
            # database was made from, not this one).
            "MIGRATE_DATABASE_URL": "",
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "VAR_DIR": str(tmp_path / "var"),
            # The web's key, as production's web and worker share it: what one seals
            # (webhook secrets, portal.sealing) the other opens.
            "SECRET_KEY": settings.SECRET_KEY,
            "LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.log = tmp_path / "worker.log"
        self.process: subprocess.Popen | None = None
        self.started = 0

    def start(self) -> None:
        self.started += 1
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "portal",
                    "worker",
                    "--queues",
                    self.queues,
                    "--pool",
                    "prefork",
                    "--concurrency",
                    str(self.processes),
                    "--hostname",
                    f"{self.name}-{os.getpid()}-{self.started}@%h",
                    "--loglevel",
                    "WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            if celery_app.control.ping(timeout=0.5):
                return
        raise AssertionError("the worker did not answer a ping in 60 s")

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes at once: nothing is cleaned up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every=0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
