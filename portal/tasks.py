"""Project-wide tasks: the minute sweep that finds due work in the tables, and ping."""

import logging

from celery import shared_task

from notifications.sweep import notices_sweep_due
from portal.incidents.tasks import import_batches_resume_stale
from portal.logcopies.services import logcopy_expire_due
from portal.logcopies.tasks import logcopies_resume_stale

logger = logging.getLogger(__name__)


@shared_task(ignore_result=False)
def ping() -> str:
    """A round trip through a worker: proves the broker and a worker answer."""
    return "pong"


@shared_task
def sweep_due_work() -> dict:
    # Runs every minute from beat. Everything scheduled is found here by reading the
    # database, so a broker message that was lost only delays work by a minute.
    done = {
        "log_copies_expired": logcopy_expire_due(),
        "import_batches_requeued": import_batches_resume_stale(),
        "log_copies_requeued": logcopies_resume_stale(),
        **notices_sweep_due(),
    }
    if any(done.values()):
        logger.info("sweep: %s", done)
    return done
