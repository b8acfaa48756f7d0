"""Project-wide tasks: the minute sweep that finds due work in the tables, and ping."""

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import timedelta

from celery import shared_task
from django.db import connection

from notifications.delivery.dispatch import deliveries_requeue_stale
from notifications.sweep import NOTICE_STEPS
from portal.database import process_lock
from portal.incidents.imports.tasks import import_batches_resume_stale
from portal.logcopies.exposure_exports import exposure_exports_expire_due
from portal.logcopies.services import logcopy_expire_due
from portal.logcopies.tasks import logcopies_resume_stale
from portal.webhooks.services import (
    webhook_deliveries_send_due,
    webhook_deliveries_take_over,
    webhook_events_prune,
)

logger = logging.getLogger(__name__)


@shared_task(ignore_result=False)
def ping() -> str:
    """A round trip through a worker: proves the broker and a worker answer."""
    return "pong"


SWEEP_STEPS = {
    "log_copies_expired": logcopy_expire_due,
    "exposure_exports_expired": exposure_exports_expire_due,
    "import_batches_requeued": import_batches_resume_stale,
    "log_copies_requeued": logcopies_resume_stale,
    **NOTICE_STEPS,
    "webhook_deliveries_queued": webhook_deliveries_send_due,
    "webhook_events_pruned": webhook_events_prune,
}


def work_take_over_on_start() -> dict:
    """What a worker does as it starts (the worker_ready signal, portal/celery.py):
    take over at once the work of processes of this machine that are gone (its own
    predecessor, killed a moment ago: their leases have not lapsed yet) and any whose
    lease has lapsed, and queue a sender for every campaign with due deliveries, whose
    senders may have died with that predecessor. Returns what it moved, by kind."""
    done = {
        "deliveries_taken_over": deliveries_requeue_stale(silent_for=timedelta(0), gone=True),
        "log_copies_requeued": logcopies_resume_stale(gone=True),
        "import_batches_requeued": import_batches_resume_stale(gone=True),
        "webhook_deliveries_taken_over": webhook_deliveries_take_over(gone=True),
    }
    logger.info("worker start: %s", done)
    return done


# Each of the sweep's statements gives up after this long: a step that cannot finish
# (a plan gone wrong on a table without statistics) fails alone and is tried next
# minute, instead of holding a worker process while the next sweeps pile up.
SWEEP_STATEMENT_TIMEOUT_MS = 30_000
# Held while a sweep runs: a second sweep (beat's next minute, a worker starting up)
# finds it taken and leaves the work to the first.
_SWEEP_LOCK_KEY = 0x56494753 << 32


@shared_task
def sweep_due_work() -> dict:
    # Runs every minute from beat. Everything scheduled is found here by reading the
    # database, so a broker message that was lost only delays work by a minute.
    # Each step on its own: one that fails (a bad row, a database hiccup, its statement
    # timeout) is logged and tried again next minute, and does not keep the others from
    # running. One sweep at a time: the steps are not meant to race each other.
    with sweep_lock() as mine:
        if not mine:
            logger.info("sweep: another sweep is running; this one leaves it the work")
            return {}
        return _sweep_steps()


def _sweep_steps() -> dict:
    done: dict[str, int | None] = {}
    took: dict[str, float] = {}
    for name, step in SWEEP_STEPS.items():
        started = time.monotonic()
        try:
            with statement_timeout(SWEEP_STATEMENT_TIMEOUT_MS):
                done[name] = step()
        except Exception:
            logger.exception("sweep: %s failed", name)
            done[name] = None
        took[name] = time.monotonic() - started
    total = sum(took.values())
    logger.info(
        "sweep: %.2f s: %s",
        total,
        ", ".join(f"{name} {done[name]} in {took[name]:.2f} s" for name in SWEEP_STEPS),
    )
    return done


def sweep_lock():
    """True when no other sweep runs (portal.database.process_lock)."""
    return process_lock(_SWEEP_LOCK_KEY, "sweep")


@contextlib.contextmanager
def statement_timeout(milliseconds: int) -> Iterator[None]:
    """Every statement of the block on this connection gives up after `milliseconds`
    (PostgreSQL; SQLite has no such limit, and one process at a time writes there)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [str(milliseconds)])
    try:
        yield
    finally:
        if connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
