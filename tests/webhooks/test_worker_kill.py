"""At least once through a SIGKILL (issue 16 points 3 and 5): a real Celery worker on
PostgreSQL and a Redis of the test's own delivers to the tests' receiver; the receiver
holds one request while the worker's whole process group is killed; a new worker
starts. No event is lost, every delivery ends delivered, and the one that was in flight
arrives again with the same webhook-id and body."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from portal.celery import app as celery_app
from portal.webhooks.models import EventType, WebhookDelivery, WebhookEvent
from portal.webhooks.services import event_record
from tests.conftest import BASE_DIR

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

EVENTS = 20


def _database_url() -> str:
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


class Worker:
    """`celery worker` on the default queue (where webhooks go), prefork as in
    production, in a process group of its own so that a kill takes its pool too."""

    def __init__(self, broker_url: str, tmp_path):
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "MIGRATE_DATABASE_URL": "",
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "VAR_DIR": str(tmp_path / "var"),
            "LOG_LEVEL": "warning",
            # The receiver is on this machine, over http: allowed here only.
            "WEBHOOKS_ALLOW_HTTP": "true",
            "WEBHOOKS_ALLOW_LOOPBACK": "true",
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
                    "default",
                    "--pool",
                    "prefork",
                    "--concurrency",
                    "1",
                    "--hostname",
                    f"webhooks-{os.getpid()}-{self.started}@%h",
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


@pytest.fixture
def broker(own_redis):
    """This process publishes to the test's own Redis, and no longer runs tasks eagerly."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager)

    def fresh_pools():
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    conf.broker_url = own_redis.url
    conf.task_always_eager = False
    fresh_pools()
    yield own_redis
    conf.broker_url, conf.task_always_eager = saved
    fresh_pools()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_no_event_is_lost_through_a_sigkill_and_duplicates_keep_their_id(
    broker, receiver, endpoint, acme, tmp_path, capsys
):
    receiver.hold = True  # the first request waits: the worker is killed meanwhile
    worker = Worker(broker.url, tmp_path)
    worker.start()
    try:
        for n in range(EVENTS):
            with transaction.atomic():
                event_record(
                    organization_id=acme.pk,
                    event_type=EventType.REPORT_FILED,
                    key=f"report-{n}",
                    data={"report": {"id": f"report-{n}"}},
                )
        assert receiver.arrived.wait(30), worker.log.read_text()[-3000:]
        in_flight = receiver.got[0].webhook_id
        killed_at = time.monotonic()
        worker.kill()
        receiver.hold = False
        receiver.release.set()
        assert WebhookDelivery.objects.filter(status="delivered").count() < EVENTS

        worker.start()
        wait_for(
            lambda: WebhookDelivery.objects.filter(status="delivered").count() == EVENTS,
            90,
            f"all {EVENTS} deliveries delivered",
        )
        recovered = time.monotonic() - killed_at
    finally:
        worker.stop()

    sent_ids = set(WebhookEvent.objects.values_list("message_id", flat=True))
    received = Counter(got.webhook_id for got in receiver.got)
    assert all(got.verified for got in receiver.got)
    # Nothing lost: every event arrived; nothing made up.
    assert set(received) == sent_ids
    assert len(sent_ids) == EVENTS
    # The request in flight at the kill came again, with the same id and body.
    assert received[in_flight] == 2
    bodies = {got.body for got in receiver.got if got.webhook_id == in_flight}
    assert len(bodies) == 1
    # At most that one duplicate: the others were sent once.
    assert sum(received.values()) == EVENTS + 1
    with capsys.disabled():
        sys.stdout.write(
            f"\n[webhooks] SIGKILL mid-delivery: {EVENTS} events, all delivered "
            f"{recovered:.1f} s after the kill, {sum(received.values()) - EVENTS} duplicate\n"
        )
