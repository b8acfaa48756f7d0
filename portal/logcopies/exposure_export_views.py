"""An export of exposed users that a worker writes: its progress page, and the file
through a short-lived signed link (portal/logcopies/exposure_exports.py)."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from portal.accounts.gate import Member, account_view
from portal.accounts.roles import Capability
from portal.logcopies.exposure_exports import exposure_export_download_record
from portal.logcopies.models import ExposureExport
from portal.logcopies.signing import (
    DownloadLinkExpired,
    DownloadLinkInvalid,
    export_token_check,
    export_token_make,
)

Status = ExposureExport.Status


def _export(member: Member, public_id) -> ExposureExport:
    # The account's exports, and only the requester's: the file is theirs to fetch.
    return get_object_or_404(
        member.scoped(ExposureExport).select_related("incident"),
        public_id=public_id,
        requested_by=member.user,
    )


def _context(request, member: Member, export: ExposureExport) -> dict:
    active = export.status in (Status.PENDING, Status.GENERATING)
    percent = None
    if export.total_rows:
        percent = min(100, round(100 * export.progress_rows / export.total_rows))
    token = None
    if export.status == Status.READY:
        token = export_token_make(export=export, user=request.user)
    return {
        "organization": member.organization,
        "incident": export.incident,
        "export": export,
        "active": active,
        "percent": percent,
        "token": token,
        "zone": member.organization.zone,
    }


@account_view(Capability.EXPORT_EXPOSED)
@never_cache
@require_safe
def export_detail(request, member: Member, export):
    found = _export(member, export)
    return render(request, "logcopies/exposure_export.html", _context(request, member, found))


@account_view(Capability.EXPORT_EXPOSED)
@never_cache
@require_safe
def export_progress(request, member: Member, export):
    found = _export(member, export)
    context = _context(request, member, found)
    return render(request, "logcopies/_exposure_export_progress.html", context)


@account_view(Capability.EXPORT_EXPOSED)
@never_cache
@require_GET  # not HEAD: every download is audited
def export_download(request, member: Member, export, export_token):
    found = _export(member, export)
    try:
        export_token_check(token=export_token, export=found, user=request.user)
    except DownloadLinkExpired:
        return _problem(
            request, member, found, "The link has expired: open it again from this page.", 410
        )
    except DownloadLinkInvalid:
        return _problem(request, member, found, "This link is not valid for you.", 403)
    if found.status != Status.READY or not found.file:
        return _problem(request, member, found, "The file is not ready, or has expired.", 409)
    try:
        stream = found.file.open("rb")
    except FileNotFoundError:
        return _problem(request, member, found, "The file is gone: export the list again.", 410)
    exposure_export_download_record(export=found, by=request.user, request=request)
    filename = f"vigil-exposed-{member.organization.account_id}-{found.incident.slug}-{found.created_at:%Y-%m-%d}.csv"
    return FileResponse(
        stream, as_attachment=True, filename=filename, content_type="text/csv; charset=utf-8"
    )


def _problem(request, member: Member, export: ExposureExport, problem: str, status: int):
    context = {**_context(request, member, export), "problem": problem}
    return render(request, "logcopies/exposure_export.html", context, status=status)
