"""Celery wiring: routing, reliability settings, and a round trip through a real worker."""

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from portal.celery import app as celery_app
from portal.tasks import ping
from tests.conftest import BASE_DIR


def test_it_routes_each_app_to_its_queue():
    router = celery_app.amqp.router
    for task_name, queue in [
        ("portal.incidents.imports.tasks.import_batch_run", "imports"),
        ("portal.logcopies.tasks.logcopy_generate", "exports"),
        ("notifications.delivery.tasks.deliveries_send_batch", "notices"),
        ("portal.tasks.sweep_due_work", "default"),
    ]:
        route = router.route({}, task_name)
        assert route["queue"].name == queue, task_name


def test_it_acknowledges_late_and_takes_one_task_at_a_time():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit


def test_it_sweeps_due_work_every_minute_from_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-due-work"]
    assert entry["task"] == "portal.tasks.sweep_due_work"
    assert entry["schedule"].total_seconds() == 60
    assert entry["task"] in celery_app.tasks


@pytest.fixture
def worker_queue():
    """A real worker process on the configured Redis, listening on a queue of its own
    so it never takes another checkout's tasks (or they its)."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "REDIS_URL": settings.REDIS_URL}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "portal",
            "worker",
            "--queues",
            queue,
            "--pool",
            "solo",
            "--hostname",
            f"{queue}@%h",
            "--loglevel",
            "WARNING",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    celery_app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        celery_app.conf.task_always_eager = True
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.redis
def test_it_makes_a_round_trip_through_a_real_worker_on_redis(worker_queue):
    result = ping.apply_async(queue=worker_queue)
    assert result.get(timeout=60) == "pong"
    assert result.successful()
