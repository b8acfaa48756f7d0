"""Celery tasks of the incidents app: thin, by id, on the `imports` queue (settings)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from portal.incidents.imports import services as imports
from portal.incidents.models import ImportBatch

logger = logging.getLogger(__name__)

# Below the broker's visibility timeout (2 h on Redis, settings): a task still running
# when Redis hands it out again would only find its batch locked, but the time limit is
# what tells an operator to use `manage.py import_logs` for a file this large.
IMPORT_SOFT_TIME_LIMIT = 100 * 60
IMPORT_TIME_LIMIT = 105 * 60


@shared_task(
    bind=True,
    acks_late=True,
    time_limit=IMPORT_TIME_LIMIT,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
)
def import_batch_run(self, batch_id: int) -> None:
    batch = ImportBatch.objects.select_related("incident", "organization").filter(pk=batch_id)
    batch = batch.first()
    if batch is None:
        logger.warning("import batch %s no longer exists: nothing to run", batch_id)
        return
    imports.import_batch_run(batch=batch)


def import_batches_resume_stale(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Queue again the batches waiting or running with no progress for `older_than`:
    a lost broker message or a killed worker only delays an import. Returns how many.

    Each is stamped as it is queued, so the next sweep gives it as long again before
    queuing it once more; a run still alive (its final transaction writes no progress)
    holds the batch's lock, and the extra task finds it taken and returns.
    """
    now = timezone.now()
    cutoff = now - older_than
    stale = ImportBatch.objects.filter(
        Q(progress_at__lt=cutoff) | Q(progress_at__isnull=True, created_at__lt=cutoff),
        status__in=[ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING],
    )
    queued = 0
    for pk, progress_at in stale.values_list("pk", "progress_at"):
        if ImportBatch.objects.filter(pk=pk, progress_at=progress_at).update(progress_at=now):
            import_batch_run.delay(pk)
            queued += 1
    if queued:
        logger.info("import batches queued again after %s without progress: %d", older_than, queued)
    return queued
