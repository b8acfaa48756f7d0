"""Celery tasks of the log copies app: thin, by id, on the `exports` queue (settings)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from portal.leases import lease_lapsed, owners_gone
from portal.logcopies import services
from portal.logcopies.models import LogCopyRequest

logger = logging.getLogger(__name__)
Status = LogCopyRequest.Status

# A million rows take well under a minute; the limit is for a stuck database or
# storage, and stays below the broker's visibility timeout (2 h on Redis).
GENERATE_SOFT_TIME_LIMIT = 50 * 60
GENERATE_TIME_LIMIT = 55 * 60


@shared_task(
    acks_late=True, time_limit=GENERATE_TIME_LIMIT, soft_time_limit=GENERATE_SOFT_TIME_LIMIT
)
def logcopy_generate(copy_id: int) -> None:
    copy = LogCopyRequest.objects.filter(pk=copy_id).first()
    if copy is None:
        logger.warning("log copy %s no longer exists: nothing to generate", copy_id)
        return
    services.logcopy_generate(copy=copy)


def logcopies_resume_stale(
    *, approved_for: timedelta = timedelta(minutes=5), gone: bool = False
) -> int:
    """Queue again the copies approved whose generation has not started for
    `approved_for` (a lost broker message), and those generating whose lease has lapsed
    (their worker died; with `gone`, also those whose owner was a process of this
    machine that no longer exists: a worker starting up). Returns how many.

    `generated_at` is the copy's last sign of life while it waits (services); each copy
    is stamped as it is queued, so the next sweep gives it as long again. A generating
    copy goes back to approved first, since only that can be claimed.
    """
    now = timezone.now()
    generating = LogCopyRequest.objects.filter(status=Status.GENERATING)
    lost = lease_lapsed(now)
    if gone:
        owners = set(generating.filter(leased_until__gte=now).values_list("lease_owner", flat=True))
        dead = owners_gone(owners)
        if dead:
            lost |= Q(lease_owner__in=dead)
    stale = LogCopyRequest.objects.filter(
        Q(
            status=Status.APPROVED,
            generated_at__isnull=True,
            decided_at__lt=now - approved_for,
        )
        | Q(status=Status.APPROVED, generated_at__lt=now - approved_for)
        | (Q(status=Status.GENERATING) & lost)
    )
    queued = 0
    for pk, status, seen, leased in stale.values_list(
        "pk", "status", "generated_at", "leased_until"
    ):
        taken = LogCopyRequest.objects.filter(
            pk=pk, status=status, generated_at=seen, leased_until=leased
        ).update(status=Status.APPROVED, generated_at=now, leased_until=None, lease_owner="")
        if taken:
            logcopy_generate.delay(pk)
            queued += 1
    if queued:
        logger.info("log copies queued again after a lapsed lease or a lost message: %d", queued)
    return queued


@shared_task(acks_late=True, time_limit=15 * 60, soft_time_limit=14 * 60)
def exposure_export_generate(export_id: int) -> None:
    from portal.logcopies.exposure_exports import exposure_export_generate as generate
    from portal.logcopies.models import ExposureExport

    export = ExposureExport.objects.filter(pk=export_id).first()
    if export is None:
        logger.warning("exposure export %s no longer exists: nothing to write", export_id)
        return
    generate(export=export)
