"""The README's run command on the embedded default: web, worker and beat on SQLite and
the filesystem broker, answering /healthz, running a task, and stopping on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import BASE_DIR, free_port

EMBEDDED_UNSET = (
    "DATABASE_URL",
    "MIGRATE_DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "DEBUG",
)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _healthz(port: int):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.fixture
def embedded(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_UNSET}
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port), PYTHONUNBUFFERED="1")
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_portal", "--no-seed"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so we can see every child go
    )
    try:
        yield process, port, env, tmp_path / "run.log"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_it_runs_web_worker_and_beat_and_stops_them_all_on_ctrl_c(embedded):
    process, port, env, log_path = embedded

    health = _wait_for(lambda: _healthz(port), 90, "/healthz on the embedded portal")
    assert health == {"status": "ok", "database": "ok", "broker": "ok"}
    assert f"Vigil is running at http://127.0.0.1:{port}/" in log_path.read_text()

    # A task sent through the filesystem broker is run by the worker.
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from portal.tasks import ping; ping.delay()"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=60,
    )
    _wait_for(
        lambda: "portal.tasks.ping" in log_path.read_text() and "succeeded" in log_path.read_text(),
        60,
        "the worker to run ping",
    )
    _wait_for(lambda: "beat: Starting" in log_path.read_text(), 60, "beat to start")

    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    assert process.wait(timeout=30) == 0
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no web, worker or beat left behind
    assert "Stopped web, worker and beat." in log_path.read_text()
