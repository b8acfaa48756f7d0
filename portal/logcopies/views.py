"""The account's log-copy pages (DESIGN.md flow 6): the list, the request form, one
copy with its live progress, retrying a failed one, and the download.

Every view passes the access gate, so another account's copy is a 404. The download
takes two steps: a POST makes a link signed for this person and this copy, good for a
few minutes (portal.logcopies.signing); the GET of that link checks it, and the gate
and the capability check the membership again, so a link outlives neither.
"""

from pathlib import Path, PurePath

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from portal.accounts.gate import Member, account_view
from portal.accounts.reauth import reauthentication_if_stale
from portal.accounts.roles import Capability
from portal.logcopies import keys, services, verify
from portal.logcopies.forms import LogCopyRequestForm
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.signing import (
    DownloadLinkExpired,
    DownloadLinkInvalid,
    download_token_check,
    download_token_make,
)

PAGE_SIZE = 50
# The copy's page polls its progress every 2 s while the copy is in one of these,
ACTIVE = (LogCopyRequest.Status.APPROVED, LogCopyRequest.Status.GENERATING)
# and every 5 s while it waits for the operator, whose decision comes from another
# browser (issue 15 point 4). The other states are final: the page stops asking.
WAITING = (LogCopyRequest.Status.REQUESTED,)


def _require_log_copies(member: Member) -> None:
    # Before any lookup, so a viewer gets the same 403 for every id, real or made up.
    if not (member.can(Capability.REQUEST_LOG_COPY) or member.can(Capability.DOWNLOAD_LOG_COPY)):
        raise PermissionDenied(_("Your role in this account does not include log copies."))


def _copy(member: Member, public_id) -> LogCopyRequest:
    return member.get(
        LogCopyRequest.objects.select_related("incident", "requested_by", "decided_by"),
        public_id=public_id,
    )


def _percent(copy: LogCopyRequest) -> int | None:
    if copy.status == LogCopyRequest.Status.READY:
        return 100
    if not copy.total_rows:
        return None
    return max(0, min(100, copy.progress_rows * 100 // copy.total_rows))


def _copy_context(member: Member, copy: LogCopyRequest, **extra) -> dict:
    return {
        "member": member,
        "organization": member.organization,
        "copy": copy,
        "active": copy.status in ACTIVE,
        "poll_every": "2s" if copy.status in ACTIVE else "5s" if copy.status in WAITING else "",
        "percent": _percent(copy),
        "can_request": member.can(Capability.REQUEST_LOG_COPY),
        "can_download": member.can(Capability.DOWNLOAD_LOG_COPY),
        "zone": member.organization.zone,
        **extra,
    }


def _detail_url(copy: LogCopyRequest, member: Member) -> str:
    return reverse(
        "logcopies:detail", kwargs={"org": member.organization.public_id, "copy": copy.public_id}
    )


# Pages ----------------------------------------------------------------------------


@account_view()
@require_GET
def copy_list(request, member: Member):
    _require_log_copies(member)
    copies = member.scoped(LogCopyRequest).select_related("incident", "requested_by")
    page = Paginator(copies, PAGE_SIZE).get_page(request.GET.get("page"))
    # The list asks again, as the copy's own page does, while a copy on it is not final
    # (issue 15 point 4): every 2 s while one is made, every 5 s while one only waits
    # for the operator; once all are final the list carries no hx-trigger and stops.
    statuses = {copy.status for copy in page}
    poll_every = "2s" if statuses & set(ACTIVE) else "5s" if statuses & set(WAITING) else ""
    return render(
        request,
        "logcopies/list.html",
        {
            "member": member,
            "organization": member.organization,
            "page": page,
            "can_request": member.can(Capability.REQUEST_LOG_COPY),
            "zone": member.organization.zone,
            "poll_every": poll_every,
        },
    )


@account_view(Capability.REQUEST_LOG_COPY)
@require_http_methods(["GET", "HEAD", "POST"])
def copy_request(request, member: Member):
    zone = member.organization.zone
    form = LogCopyRequestForm(
        request.POST if request.method == "POST" else None,
        organization=member.organization,
        zone=zone,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            copy = services.logcopy_request(
                organization=member.organization,
                incident=data["incident"],
                requester=request.user,
                scope=data["scope"],
                format=data["format"],
                reason=data["reason"],
                scope_start=data["scope_start"],
                scope_end=data["scope_end"],
                scope_phones=tuple(form.phones),
                request=request,
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, _("Your request is with the operator for approval."))
            return redirect(_detail_url(copy, member))
    return render(
        request,
        "logcopies/request.html",
        {
            "member": member,
            "organization": member.organization,
            "form": form,
            "zone": zone,
        },
        status=400 if form.errors else 200,
    )


@account_view()
@require_GET
def copy_detail(request, member: Member, copy):
    _require_log_copies(member)
    found = _copy(member, copy)
    return render(request, "logcopies/detail.html", _copy_context(member, found))


@account_view()
@never_cache
@require_GET
def copy_progress(request, member: Member, copy):
    _require_log_copies(member)
    found = _copy(member, copy)
    return render(request, "logcopies/_live.html", _copy_context(member, found))


@account_view(Capability.REQUEST_LOG_COPY)
@require_POST
def copy_retry(request, member: Member, copy):
    found = _copy(member, copy)
    try:
        services.logcopy_retry(copy=found, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The copy is being generated again."))
    return redirect(_detail_url(found, member))


@account_view(Capability.DOWNLOAD_LOG_COPY)
@require_POST
def copy_link(request, member: Member, copy):
    # The gate first, so another account's copy is a 404 before any re-authentication.
    return _copy_link(request, member=member, copy=_copy(member, copy))


@reauthentication_if_stale
def _copy_link(request, *, member: Member, copy: LogCopyRequest):
    if copy.status != LogCopyRequest.Status.READY or not copy.file:
        messages.error(request, _("This copy cannot be downloaded: it is not ready, or expired."))
        return redirect(_detail_url(copy, member))
    token = download_token_make(copy=copy, user=request.user)
    return redirect(
        reverse(
            "logcopies:download",
            kwargs={
                "org": member.organization.public_id,
                "copy": copy.public_id,
                "token": token,
            },
        )
    )


def _link_problem(request, member: Member, copy: LogCopyRequest, *, problem: str, status: int):
    return render(
        request,
        "logcopies/link_problem.html",
        _copy_context(member, copy, problem=problem),
        status=status,
    )


@account_view(Capability.DOWNLOAD_LOG_COPY)
@never_cache
@require_GET  # not HEAD: every download is audited
def copy_download(request, member: Member, copy, token):
    found = _copy(member, copy)
    try:
        download_token_check(token=token, copy=found, user=request.user)
    except DownloadLinkExpired:
        return _link_problem(request, member, found, problem="expired", status=410)
    except DownloadLinkInvalid:
        return _link_problem(request, member, found, problem="invalid", status=403)
    if found.status == LogCopyRequest.Status.EXPIRED:
        return _link_problem(request, member, found, problem="copy_expired", status=410)
    if found.status != LogCopyRequest.Status.READY or not found.file:
        return _link_problem(request, member, found, problem="not_ready", status=409)
    try:
        stream = found.file.open("rb")
    except FileNotFoundError:
        return _link_problem(request, member, found, problem="missing", status=410)
    services.logcopy_download_record(copy=found, by=request.user, request=request)
    suffix = PurePath(found.file.name).suffix or ".zip"
    filename = f"vigil-log-copy-{member.organization.account_id}-{found.public_id}{suffix}"
    # FileResponse streams the file in chunks and sets Content-Length from it.
    return FileResponse(stream, as_attachment=True, filename=filename)


# The public key ---------------------------------------------------------------------


@require_safe
def signing_key_public(request):
    """The public half of the key that signs every manifest, for anyone to verify a
    copy with (no sign-in: a public key is public). Its fingerprint in a header, so a
    script can compare it with the one it pinned."""
    response = HttpResponse(keys.public_key_pem(), content_type="application/x-pem-file")
    response["X-Key-Fingerprint"] = keys.key_fingerprint()
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_safe
def checker_download(request):
    """The checker itself (portal/logcopies/verify.py), to run where the portal's code is
    not: `python3 vigil-logcopy-verify.py copy.zip --key vigil-logcopy-signing-key.pem`."""
    source = Path(verify.__file__).read_bytes()
    response = HttpResponse(source, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="vigil-logcopy-verify.py"'
    response["Cache-Control"] = "public, max-age=3600"
    return response
