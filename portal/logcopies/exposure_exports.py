"""Exports of exposed users as jobs, with the log copies' machinery: the `exports`
queue, a claim by conditional update, progress in the row, the file through Django's
storage, a short-lived signed download link re-checked against the member, expiry by
the minute sweep, and an audit event for the request and for each download."""

import logging
import tempfile
from datetime import timedelta

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from portal.audit.services import audit_record
from portal.incidents.exposures.exports import csv_chunks, export_rows
from portal.incidents.exposures.selectors import ExposureFilters, exposures_filtered, exposures_of
from portal.incidents.reasons import Reason
from portal.jobs import EXPOSURE_EXPORT_GENERATE, job
from portal.logcopies.models import ExposureExport

logger = logging.getLogger(__name__)
Status = ExposureExport.Status

PROGRESS_EVERY = 10_000
# Kept as long as a log copy would be, at most; an export is remade in seconds.
KEEP_DAYS = 1


def exposure_export_request(
    *, member, incident, filters: ExposureFilters, reveal: bool, total: int
):
    """A new export of the list as `filters` narrow it, queued once this commits."""

    export = ExposureExport.objects.create(
        organization=member.organization,
        incident=incident,
        requested_by=member.user,
        filters={name: value for name, value in vars(filters).items() if value},
        search_reveals=reveal,
        total_rows=total,
    )
    transaction.on_commit(lambda: job(EXPOSURE_EXPORT_GENERATE).delay(export.pk))
    return export


def exposure_export_generate(*, export: ExposureExport) -> ExposureExport:
    """Write the CSV to storage, with progress; claims the export first, so two
    workers handed the same task never both write it."""
    now = timezone.now()
    claimed = ExposureExport.objects.filter(
        pk=export.pk, status__in=[Status.PENDING, Status.FAILED]
    ).update(
        status=Status.GENERATING, progress_rows=0, failure="", failure_reason={}, progress_at=now
    )
    if claimed != 1:
        logger.info("exposure export %s is not waiting: nothing to do", export.public_id)
        export.refresh_from_db()
        return export
    export = ExposureExport.objects.select_related("organization", "incident").get(pk=export.pk)
    try:
        _write(export)
    except Exception as error:
        logger.exception("exposure export %s failed", export.public_id)
        reason = Reason(
            gettext_noop("An unexpected error stopped the export (%(error)s)."),
            error=type(error).__name__,
        )
        ExposureExport.objects.filter(pk=export.pk).update(
            status=Status.FAILED,
            failure=str(reason),
            failure_reason=reason.as_data(),
            finished_at=timezone.now(),
        )
        raise
    export.refresh_from_db()
    return export


def _write(export: ExposureExport) -> None:
    organization, incident = export.organization, export.incident
    filters = ExposureFilters(**export.filters)
    exposures = exposures_filtered(
        exposures_of(organization, incident),
        filters,
        reveal=export.search_reveals,
        organization_id=organization.pk,
    )
    zone = organization.zone
    next_progress = [PROGRESS_EVERY]

    def progress(count: int) -> None:
        if count >= next_progress[0]:
            next_progress[0] = count + PROGRESS_EVERY
            ExposureExport.objects.filter(pk=export.pk).update(
                progress_rows=count, progress_at=timezone.now()
            )

    written = [0]

    def counted(count: int) -> None:
        written[0] = count
        progress(count)

    with tempfile.TemporaryFile() as scratch:
        for chunk in csv_chunks(export_rows(exposures, zone), on_rows=counted):
            scratch.write(chunk.encode())
        size = scratch.tell()
        scratch.seek(0)
        today = timezone.localdate(timezone=zone)
        name = default_storage.save(
            f"exposure-exports/{today:%Y/%m}/{export.public_id}.csv", File(scratch)
        )
    now = timezone.now()
    ExposureExport.objects.filter(pk=export.pk).update(
        status=Status.READY,
        file=name,
        size=size,
        rows=written[0],
        progress_rows=written[0],
        progress_at=now,
        finished_at=now,
        expires_at=now + timedelta(days=KEEP_DAYS),
    )


def exposure_exports_expire_due(*, now=None) -> int:
    """Delete the files of exports past their expiry. Returns how many expired."""
    now = now or timezone.now()
    expired = 0
    for export in ExposureExport.objects.filter(status=Status.READY, expires_at__lte=now):
        if export.file and export.file.name:
            default_storage.delete(export.file.name)
        expired += ExposureExport.objects.filter(pk=export.pk, status=Status.READY).update(
            status=Status.EXPIRED, file=""
        )
    return expired


def exposure_export_download_record(*, export: ExposureExport, by, request) -> None:
    audit_record(
        action="exposure.export_download",
        actor=by,
        organization=export.organization,
        target=export.incident,
        request=request,
        details={"export": str(export.public_id), "rows": export.rows, "numbers": "masked"},
    )
