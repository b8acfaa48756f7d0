"""The operator console's writes on incidents and imports (DESIGN.md flow 1): create,
change and close an incident, store an upload as a batch and queue its import, queue a
failed batch again. Each is audited. The import itself is the engine's
(`portal.incidents.imports`); these only hand it the upload and enqueue the run.
"""

from pathlib import PurePath

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal.accounts.models import Organization, User
from portal.audit.services import audit_record
from portal.incidents.imports.services import import_batch_create
from portal.incidents.imports.tasks import import_batch_run
from portal.incidents.models import ImportBatch, Incident


def incident_create(*, fields: dict, by: User, request: HttpRequest) -> Incident:
    """A new incident, in draft: customers see nothing of it until it is published."""
    with transaction.atomic():
        incident = Incident.objects.create(**fields, status=Incident.Status.DRAFT)
        audit_record(
            action="incident.create",
            actor=by,
            target=incident,
            request=request,
            details={"slug": incident.slug},
        )
    return incident


def incident_update(
    *, incident: Incident, changes: dict, by: User, request: HttpRequest
) -> Incident:
    with transaction.atomic():
        for name, value in changes.items():
            setattr(incident, name, value)
        incident.save(update_fields=list(changes))
        audit_record(
            action="incident.update",
            actor=by,
            target=incident,
            request=request,
            details={"changed": sorted(changes)},
        )
    return incident


def incident_close(*, incident: Incident, by: User, request: HttpRequest) -> bool:
    with transaction.atomic():
        closed = (
            Incident.objects.filter(pk=incident.pk)
            .exclude(status=Incident.Status.CLOSED)
            .update(status=Incident.Status.CLOSED)
            == 1
        )
        if closed:
            previous, incident.status = incident.status, Incident.Status.CLOSED
            audit_record(
                action="incident.close",
                actor=by,
                target=incident,
                request=request,
                details={"was": previous},
            )
    return closed


def import_upload(
    *,
    incident: Incident,
    upload,
    format: str,
    organization: Organization | None,
    by: User,
    request: HttpRequest,
) -> ImportBatch:
    """Store the upload as a batch and queue its import. Raises ImportRefusedError when
    the file's header or shape is wrong, before any batch exists."""
    # Outside a transaction: streaming a gigabyte into storage must not hold one open.
    batch = import_batch_create(
        incident=incident,
        upload=upload,
        original_name=PurePath(upload.name).name,
        format=format,
        organization=organization,
        by=by,
    )
    with transaction.atomic():
        audit_record(
            action="import.upload",
            actor=by,
            target=batch,
            request=request,
            details={
                "incident": incident.slug,
                "format": batch.format,
                "file": batch.original_name,
                "bytes": batch.bytes_total,
                "sha256": batch.sha256,
                "account": organization.account_id if organization else "",
            },
        )
        # After commit, so the worker never looks for a row it cannot see yet.
        transaction.on_commit(lambda: import_batch_run.delay(batch.pk), robust=True)
    return batch


def import_retry(*, batch: ImportBatch, by: User, request: HttpRequest) -> bool:
    """Queue a failed batch again. False if it is not failed (any more): the
    conditional update keeps a double click from queuing it twice."""
    with transaction.atomic():
        queued = (
            # progress_at now: the stale-batch sweep (tasks.import_batches_resume_stale)
            # would otherwise see an old stamp and queue it a second time.
            ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.FAILED).update(
                status=ImportBatch.Status.PENDING,
                phase=ImportBatch.Phase.QUEUED,
                progress_at=timezone.now(),
                # A worker's from here on, even if `import_logs` made it.
                run_by_command=False,
            )
            == 1
        )
        if queued:
            audit_record(
                action="import.retry",
                actor=by,
                target=batch,
                request=request,
                details={"failure": batch.failure[:500]},
            )
            transaction.on_commit(lambda: import_batch_run.delay(batch.pk), robust=True)
    return queued


def import_errors_download_record(*, batch: ImportBatch, by: User, request: HttpRequest) -> None:
    """Audit a download of a batch's error report: its rows quote the dump's lines,
    phone numbers included."""
    audit_record(
        action="import.errors_download",
        actor=by,
        target=batch,
        request=request,
        details={"incident": batch.incident.slug, "rejected": batch.rejected},
    )
