"""Reliability (issue 6 point 7), with a real Celery worker on PostgreSQL and Redis and a
local SMTP server:

- the worker killed with SIGKILL in the middle of a 2,000-recipient campaign, then
  restarted: every recipient ends with exactly one sent delivery, and the server holds
  every Message-ID at least once and at most one extra copy per kill;
- Redis stopped for 30 seconds during a campaign: it completes after Redis returns,
  nothing lost;
- a server that answers 4xx and then 2xx: retried and sent; 5xx: failed once.

Each test runs its own redis-server (so stopping it touches no one else's) as broker
and cache of the worker and of this process. The minute sweep is called here directly,
as beat would call it, with limits that suit a test instead of a production minute.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection

from notifications.delivery.dispatch import deliveries_requeue_stale
from notifications.delivery.sending import RECORD_GROUP
from notifications.delivery.tasks import campaigns_dispatch
from notifications.models import Delivery, NoticeCampaign
from notifications.notice_templates.rendering import message_id_for
from portal.celery import app as celery_app
from tests.conftest import BASE_DIR
from tests.notifications.engine_world import campaign_world
from tests.notifications.smtp_sink import SmtpSink

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

Status = Delivery.Status
WORKER_PROCESSES = 2


def _database_url() -> str:
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


class Worker:
    """`celery worker` on the notices queue, as production runs it (prefork), in a
    process group of its own so that a kill takes its children with it."""

    def __init__(self, broker_url: str, sink: SmtpSink, tmp_path, **settings: str):
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            # A worker never has the owner's URL (and CI's names the database the test
            # database was made from, not this one).
            "MIGRATE_DATABASE_URL": "",
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "EMAIL_MODE": "smtp",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
            "VAR_DIR": str(tmp_path / "var"),
            "LOG_LEVEL": "warning",
            "NOTICE_SENDERS": str(WORKER_PROCESSES),
            **settings,
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
                    "notices",
                    "--pool",
                    "prefork",
                    "--concurrency",
                    str(WORKER_PROCESSES),
                    "--hostname",
                    f"engine-{os.getpid()}-{self.started}@%h",
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


@pytest.fixture
def broker(own_redis):
    """This process publishes to the test's own Redis (and no longer runs tasks eagerly)."""
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
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def worker(broker, sink, tmp_path, transactional_db):
    workers: list[Worker] = []

    def make(**settings: str) -> Worker:
        made = Worker(broker.url, sink, tmp_path, **settings)
        workers.append(made)
        made.start()
        return made

    yield make
    for made in workers:
        made.stop()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every=0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sent() -> int:
    return Delivery.objects.filter(status=Status.SENT).count()


def completed(campaign: NoticeCampaign) -> bool:
    campaign.refresh_from_db()
    return campaign.status == NoticeCampaign.Status.COMPLETED


def test_it_sends_every_notice_once_after_the_worker_is_killed_mid_campaign(worker, sink):
    world = campaign_world(2000)
    running = worker(NOTICE_BATCH_SIZE="100")

    campaigns_dispatch.delay()
    wait_for(lambda: sent() >= 500, 90, "500 notices sent")
    running.kill()
    killed_at = sent()

    # Beat's sweep, once the claims of the dead worker are old enough (here: at once).
    requeued = deliveries_requeue_stale(sending_for=timedelta(0), silent_for=timedelta(0))
    running.start()
    wait_for(lambda: completed(world.campaign), 120, "the campaign to complete")

    assert killed_at < 2000, "the kill came too late to test anything"
    assert requeued > 0
    deliveries = Delivery.objects.filter(campaign=world.campaign)
    assert deliveries.count() == 2000
    assert set(deliveries.values_list("status", flat=True)) == {Status.SENT}
    assert deliveries.values("directory_user").distinct().count() == 2000
    copies = sink.copies()
    expected = {message_id_for(pk) for pk in deliveries.values_list("pk", flat=True)}
    assert set(copies) == expected
    # One kill: at most one extra copy of any message; and only of messages the dead
    # processes had sent but not yet recorded (a group each, see sending._Recorder).
    assert max(copies.values()) <= 2
    assert sum(copies.values()) - len(expected) <= WORKER_PROCESSES * RECORD_GROUP
    world.campaign.refresh_from_db()
    assert (world.campaign.sent_count, world.campaign.failed_count) == (2000, 0)


def test_it_completes_a_campaign_after_redis_was_stopped_for_30_seconds(worker, sink, broker):
    # A slower server and short sender turns: the campaign is under way when Redis
    # stops, and its senders hand over through the broker that is gone.
    sink.delay = 0.01
    world = campaign_world(1000)
    worker(NOTICE_BATCH_SIZE="100", NOTICE_TASK_SECONDS="1")

    campaigns_dispatch.delay()
    wait_for(lambda: sent() >= 150, 60, "150 notices sent")
    broker.stop()
    stopped_at = sent()
    time.sleep(30)
    during = sent()
    broker.start()

    def swept_and_completed() -> bool:
        # Beat's minute sweep, every few seconds here: the senders queued before the
        # outage were lost with Redis (it keeps nothing on disk).
        deliveries_requeue_stale(silent_for=timedelta(seconds=3))
        return completed(world.campaign)

    wait_for(swept_and_completed, 90, "the campaign to complete", every=3)

    # Under way when Redis stopped, and stalled without it: what finished the campaign
    # is the sweep finding it in the database once Redis was back.
    assert stopped_at < 1000
    assert during < 1000
    deliveries = Delivery.objects.filter(campaign=world.campaign)
    assert set(deliveries.values_list("status", flat=True)) == {Status.SENT}
    copies = sink.copies()
    assert set(copies) == {message_id_for(pk) for pk in deliveries.values_list("pk", flat=True)}
    assert max(copies.values()) == 1
    assert world.campaign.sent_count == 1000


def test_it_retries_4xx_until_sent_and_fails_5xx_once(worker, sink):
    refused = {f"jdoe-{n:04d}@acme.example" for n in range(0, 300, 30)}

    def answer(address: str, seen: int) -> str | None:
        if address in refused:
            return "550 5.1.1 No such user here"
        return "451 4.3.0 Try again later" if seen == 0 else None

    sink.rcpt_answer = answer
    world = campaign_world(300)
    worker(NOTICE_BATCH_SIZE="100", NOTICE_RETRY_SECONDS="1")

    campaigns_dispatch.delay()
    wait_for(lambda: completed(world.campaign), 60, "the campaign to complete")

    deliveries = Delivery.objects.filter(campaign=world.campaign)
    failed = deliveries.filter(status=Status.FAILED)
    assert set(failed.values_list("email", flat=True)) == refused
    assert set(failed.values_list("attempts", flat=True)) == {1}
    assert all(d.last_error.startswith("550 5.1.1") for d in failed)
    assert all(sink.offered[address] == 1 for address in refused)
    delivered = deliveries.filter(status=Status.SENT)
    assert delivered.count() == 290
    assert set(delivered.values_list("attempts", flat=True)) == {2}
    assert sorted(sink.copies().values()) == [1] * 290
    world.campaign.refresh_from_db()
    assert (world.campaign.sent_count, world.campaign.failed_count) == (290, 10)
