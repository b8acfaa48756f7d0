import logging

from django.db import transaction
from django.utils import timezone

from portal.audit.services import audit_record
from portal.logcopies.models import LogCopyRequest

logger = logging.getLogger(__name__)


def logcopy_expire_due(*, now=None) -> int:
    """Expire ready copies past their expiry and delete their files. Returns how many."""
    now = now or timezone.now()
    due_ids = list(
        LogCopyRequest.objects.filter(
            status=LogCopyRequest.Status.READY, expires_at__lte=now
        ).values_list("id", flat=True)
    )
    expired = 0
    for copy_id in due_ids:
        with transaction.atomic():
            copy = (
                LogCopyRequest.objects.select_for_update()
                .filter(id=copy_id, status=LogCopyRequest.Status.READY)
                .first()
            )
            if copy is None:  # another sweep took it
                continue
            name = copy.file.name
            copy.status = LogCopyRequest.Status.EXPIRED
            copy.file = ""
            copy.save(update_fields=["status", "file"])
            audit_record(
                action="logcopy.expire",
                organization=copy.organization_id,
                target=copy,
                details={"rows": copy.rows, "sha256": copy.sha256},
            )
        # Delete the file only once the row says it is gone: a crash in between leaves
        # an orphan file, never a "ready" copy without its file.
        if name:
            copy.file.storage.delete(name)
        expired += 1
        logger.info("log copy %s expired", copy.public_id)
    return expired
