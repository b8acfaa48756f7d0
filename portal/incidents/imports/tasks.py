"""Celery tasks of the incidents app: thin, by id, on the `imports` queue (settings)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from portal.incidents.imports import services as imports
from portal.incidents.models import ImportBatch
from portal.leases import lease_lapsed, owners_gone

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


# What a batch shows when the `import_logs` run that owned it stopped (killed, or the
# machine went down) before it finished.
COMMAND_INTERRUPTED = (
    "The `manage.py import_logs` run of this batch stopped before it finished; nothing "
    "was loaded. Run the same command again: it picks this batch up."
)


def import_batches_resume_stale(
    *, older_than: timedelta = timedelta(minutes=5), gone: bool = False
) -> int:
    """Queue again the batches a worker should be running and is not: those running
    whose lease has lapsed (their worker died; with `gone`, also those whose owner was
    a process of this machine that no longer exists: a worker starting up), and those
    waiting with no progress for `older_than` (a lost broker message). Returns how many.

    A batch `manage.py import_logs` runs is never a worker's: once its command stopped
    renewing the lease, it is marked failed, for the operator to run the command again
    (which picks it up: the command's own batch, not a second one).

    Each batch queued is stamped with a lease of `older_than` and no owner, so the next
    sweeps leave it while the task waits in the queue; a run still alive holds the
    batch's lock, and an extra task finds it taken and returns.
    """
    now = timezone.now()
    cutoff = now - older_than
    running = ImportBatch.objects.filter(status=ImportBatch.Status.RUNNING)
    lost = lease_lapsed(now)
    if gone:
        owners = set(running.filter(leased_until__gte=now).values_list("lease_owner", flat=True))
        dead = owners_gone(owners)
        if dead:
            lost |= Q(lease_owner__in=dead)
    interrupted = running.filter(run_by_command=True).filter(lost)
    for pk in list(interrupted.values_list("pk", flat=True)):
        if (
            running.filter(pk=pk)
            .filter(lost)
            .update(
                status=ImportBatch.Status.FAILED,
                failure=COMMAND_INTERRUPTED,
                finished_at=now,
                progress_at=now,
            )
        ):
            logger.warning("import batch %s: its import_logs run stopped; marked failed", pk)
    waiting = Q(status=ImportBatch.Status.PENDING) & (
        Q(progress_at__lt=cutoff) | Q(progress_at__isnull=True, created_at__lt=cutoff)
    )
    stale = ImportBatch.objects.filter(run_by_command=False).filter(
        (Q(status=ImportBatch.Status.RUNNING) & lost) | waiting
    )
    queued = 0
    for pk, progress_at, leased_until in stale.values_list("pk", "progress_at", "leased_until"):
        taken = ImportBatch.objects.filter(
            pk=pk, progress_at=progress_at, leased_until=leased_until
        ).update(progress_at=now, leased_until=now + older_than, lease_owner="")
        if taken:
            import_batch_run.delay(pk)
            queued += 1
    if queued:
        logger.info("import batches queued again (lapsed lease or lost message): %d", queued)
    return queued
