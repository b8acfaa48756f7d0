"""Project-wide tasks: the minute sweep that finds due work in the tables, and ping."""

import logging

from celery import shared_task

from notifications.sweep import NOTICE_STEPS
from portal.incidents.imports.tasks import import_batches_resume_stale
from portal.logcopies.services import logcopy_expire_due
from portal.logcopies.tasks import logcopies_resume_stale

logger = logging.getLogger(__name__)


@shared_task(ignore_result=False)
def ping() -> str:
    """A round trip through a worker: proves the broker and a worker answer."""
    return "pong"


SWEEP_STEPS = {
    "log_copies_expired": logcopy_expire_due,
    "import_batches_requeued": import_batches_resume_stale,
    "log_copies_requeued": logcopies_resume_stale,
    **NOTICE_STEPS,
}


@shared_task
def sweep_due_work() -> dict:
    # Runs every minute from beat. Everything scheduled is found here by reading the
    # database, so a broker message that was lost only delays work by a minute.
    # Each step on its own: one that fails (a bad row, a database hiccup) is logged
    # and tried again next minute, and does not keep the others from running.
    done: dict[str, int | None] = {}
    for name, step in SWEEP_STEPS.items():
        try:
            done[name] = step()
        except Exception:
            logger.exception("sweep: %s failed", name)
            done[name] = None
    if any(done.values()):
        logger.info("sweep: %s", done)
    return done
