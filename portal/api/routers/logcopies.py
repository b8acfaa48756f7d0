"""Log copies through the API (issue 16): the account's copies, a request, one copy's
status, and its download through a short-lived signed link.

As on the log-copy pages (portal.logcopies.views): listing and reading a copy need
REQUEST_LOG_COPY or DOWNLOAD_LOG_COPY, a request REQUEST_LOG_COPY, a link and the
download DOWNLOAD_LOG_COPY, and another account's copy is a 404. A request is checked
by the page's own form (LogCopyRequestForm: a published incident of the account, the
scope's dates or phones, a reason) and recorded by the page's service, which audits it.

The download takes two steps, as the page's does: POST .../link answers a URL signed
for this copy, good for five minutes (portal.logcopies.signing); the GET of that URL
needs a key of the account holding the download capability again, so a link copied
into a ticket is dead in minutes and opens nothing without a key. The GET counts and
audits the download and streams the zip.
"""

from datetime import datetime
from pathlib import PurePath
from typing import Literal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja import Status as Answer

from portal.accounts.roles import Capability
from portal.api.access import api_key_of, requires
from portal.api.errors import Problem
from portal.api.fields import IsoMoment
from portal.api.pagination import CursorQuery, keyset_page
from portal.api.routers.shared import (
    IncidentRef,
    acting_user,
    incident_ref,
    problem_responses,
)
from portal.logcopies import services
from portal.logcopies.forms import MAX_CHOSEN, LogCopyRequestForm
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.signing import (
    MAX_AGE,
    DownloadLinkExpired,
    DownloadLinkInvalid,
    api_download_token_check,
    api_download_token_make,
)

router = Router(tags=["log copies"])

Status = LogCopyRequest.Status
CopyStatus = Literal[
    "requested", "approved", "rejected", "generating", "ready", "expired", "failed"
]
Scope = Literal["account", "date_range", "chosen"]
Format = Literal["csv", "jsonl", "duo"]


class ManifestFile(Schema):
    name: str
    size: int
    sha256: str


class LogCopyOut(Schema):
    id: UUID
    incident: IncidentRef
    status: CopyStatus
    scope: Scope
    scope_start: datetime | None
    scope_end: datetime | None
    phones: int = Field(description="How many phones a `chosen` scope names.")
    format: Format
    reason: str
    requested_by: str | None = Field(description="The requester's email, if still a person.")
    created_at: datetime
    decided_at: datetime | None
    decision_reason: str
    percent: int | None = Field(description="Progress of the generation, when it is known.")
    progress_rows: int
    total_rows: int | None
    rows: int | None
    size: int | None = Field(description="The zip's size in bytes, once ready.")
    sha256: str = Field(
        description="The SHA-256 of the downloaded zip (what `sha256sum` prints), once ready."
    )
    files: list[ManifestFile] = Field(
        description="The files the signed manifest lists, each with its size and SHA-256."
    )
    key_fingerprint: str = Field(
        description="Of the operator's Ed25519 key that signed the manifest (empty for a "
        "copy made before manifests were signed); docs/logcopy-formats.md says how to verify."
    )
    generated_at: datetime | None
    expires_at: datetime | None = Field(description="When a ready copy's file is deleted.")
    download_count: int
    failure: str


class LogCopyPage(Schema):
    items: list[LogCopyOut]
    next_cursor: str | None


class LogCopyIn(Schema):
    incident: UUID = Field(description="A published incident of the account (its id).")
    scope: Scope = "account"
    scope_start: IsoMoment | None = Field(
        None, description="For `date_range`: the start, with its offset (RFC 3339)."
    )
    scope_end: IsoMoment | None = Field(
        None, description="For `date_range`: the end, after the start, within the incident."
    )
    chosen: list[str] = Field(
        default_factory=list,
        max_length=MAX_CHOSEN,
        description="For `chosen`: phones in international form (+12125550143) or "
        "usernames of your directory, whose phones are included.",
    )
    format: Format = Field(
        "csv",
        description="`csv`, `jsonl` (JSON Lines) or `duo` (Duo telephony log v2); "
        "docs/logcopy-formats.md describes each.",
    )
    reason: str = Field(
        max_length=2000, description="Why you need the rows: the operator reads it."
    )


class DownloadLinkOut(Schema):
    url: str = Field(
        description="GET it, with a key that may download copies, before `expires_at`."
    )
    expires_at: datetime


def _percent(copy: LogCopyRequest) -> int | None:
    if copy.status == Status.READY:
        return 100
    if not copy.total_rows:
        return None
    return max(0, min(100, copy.progress_rows * 100 // copy.total_rows))


def logcopy_out(copy: LogCopyRequest) -> dict:
    return {
        "id": copy.public_id,
        "incident": incident_ref(copy.incident),
        "status": copy.status,
        "scope": copy.scope,
        "scope_start": copy.scope_start,
        "scope_end": copy.scope_end,
        "phones": len(copy.scope_phones or ()),
        "format": copy.format,
        "reason": copy.reason,
        "requested_by": copy.requested_by.email if copy.requested_by is not None else None,
        "created_at": copy.created_at,
        "decided_at": copy.decided_at,
        "decision_reason": copy.decision_reason,
        "percent": _percent(copy),
        "progress_rows": copy.progress_rows,
        "total_rows": copy.total_rows,
        "rows": copy.rows,
        "size": copy.size,
        "sha256": copy.sha256,
        "files": copy.files or [],
        "key_fingerprint": copy.key_fingerprint,
        "generated_at": copy.generated_at,
        "expires_at": copy.expires_at,
        "download_count": copy.download_count,
        "failure": copy.failure,
    }


def _copies(request: HttpRequest):
    return LogCopyRequest.objects.filter(
        organization=api_key_of(request).organization
    ).select_related("incident", "requested_by")


def _copy(request: HttpRequest, copy_id: UUID) -> LogCopyRequest:
    found = _copies(request).filter(public_id=copy_id).first()
    if found is None:
        raise Problem(404, "Not Found", detail="No such log copy in this account.")
    return found


@router.get("", response=LogCopyPage, summary="The account's log copies, newest first")
@requires(Capability.REQUEST_LOG_COPY, Capability.DOWNLOAD_LOG_COPY)
def logcopies_list(request: HttpRequest, query: Query[CursorQuery]):
    rows, next_cursor = keyset_page(
        _copies(request),
        listing="logcopies",
        order=["-created_at", "-id"],
        cursor=query.cursor,
        limit=query.limit,
    )
    return {"items": [logcopy_out(copy) for copy in rows], "next_cursor": next_cursor}


@router.post(
    "",
    response={201: LogCopyOut},
    summary="Request a copy of the account's rows in one incident",
    description="Checked as the request form checks it; approved at once when the "
    "operator's policy says so for the account, else it waits for the operator.",
)
@requires(Capability.REQUEST_LOG_COPY)
def logcopy_request(request: HttpRequest, copy_request: LogCopyIn):
    key = api_key_of(request)
    organization = key.organization
    form = LogCopyRequestForm(
        {
            "incident": str(copy_request.incident),
            "scope": copy_request.scope,
            "scope_start": _form_time(copy_request.scope_start),
            "scope_end": _form_time(copy_request.scope_end),
            # One entry an item: the form reads a line at a time and splits at spaces,
            # which would cut "+1 212 555 0143" in four.
            "chosen": "\n".join("".join(entry.split()) for entry in copy_request.chosen),
            "format": copy_request.format,
            "reason": copy_request.reason,
        },
        organization=organization,
        zone=organization.zone,
    )
    if not form.is_valid():
        raise _invalid(form.errors.get_json_data())
    data = form.cleaned_data
    try:
        copy = services.logcopy_request(
            organization=organization,
            incident=data["incident"],
            requester=acting_user(request),
            scope=data["scope"],
            format=data["format"],
            reason=data["reason"],
            scope_start=data["scope_start"],
            scope_end=data["scope_end"],
            scope_phones=tuple(form.phones),
            request=request,
        )
    except ValidationError as error:
        raise _invalid({"__all__": [{"message": m} for m in error.messages]}) from error
    return Answer(201, logcopy_out(copy))


def _form_time(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def _invalid(errors: dict) -> Problem:
    """The form's errors as the API's 422: where (the body's field) and why."""
    listed = [
        {
            "loc": ["body", "copy_request"] + ([] if field == "__all__" else [field]),
            "msg": error["message"],
            "type": "value_error",
        }
        for field, field_errors in errors.items()
        for error in field_errors
    ]
    detail = "; ".join(
        f"{'.'.join(error['loc'][2:]) or 'request'}: {error['msg']}" for error in listed[:5]
    )
    return Problem(422, "Invalid input", detail=detail, errors=listed)


@router.get("/{copy_id}", response=LogCopyOut, summary="One log copy and its progress")
@requires(Capability.REQUEST_LOG_COPY, Capability.DOWNLOAD_LOG_COPY)
def logcopy_get(request: HttpRequest, copy_id: UUID):
    return logcopy_out(_copy(request, copy_id))


@router.post(
    "/{copy_id}/link",
    response=DownloadLinkOut,
    summary="A download link for a ready copy, good for five minutes",
    openapi_extra=problem_responses(
        **{"409": "The copy is not ready, or expired: `detail` says which."}
    ),
)
@requires(Capability.DOWNLOAD_LOG_COPY)
def logcopy_link(request: HttpRequest, copy_id: UUID):
    found = _copy(request, copy_id)
    if found.status != Status.READY or not found.file:
        raise Problem(
            409,
            "Not downloadable",
            detail=f"This copy is {found.status}: only a ready copy can be downloaded.",
        )
    # Taken before signing: the token's own time is this or later, so the link lives
    # at least until the expiry it is given with.
    expires_at = timezone.now() + MAX_AGE
    token = api_download_token_make(copy=found)
    path = reverse("api:logcopy_download", kwargs={"copy_id": found.public_id, "token": token})
    return {"url": request.build_absolute_uri(path), "expires_at": expires_at}


@router.get(
    "/{copy_id}/download/{token}",
    response={200: None},
    url_name="logcopy_download",
    summary="The copy's zip, through a link from POST .../link",
    openapi_extra={
        "responses": {
            200: {
                "description": "The zip: the data file and its manifest.",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            },
            **problem_responses(
                **{
                    "409": "The copy is no longer ready.",
                    "410": "The link is older than five minutes, or the copy expired.",
                }
            )["responses"],
        }
    },
)
@requires(Capability.DOWNLOAD_LOG_COPY)
def logcopy_download(request: HttpRequest, copy_id: UUID, token: str):
    found = _copy(request, copy_id)
    key = api_key_of(request)
    try:
        api_download_token_check(token=token, copy=found)
    except DownloadLinkExpired as error:
        raise Problem(
            410, "Link expired", detail="This link is older than five minutes: ask for another."
        ) from error
    except DownloadLinkInvalid as error:
        raise Problem(
            403, "Invalid link", detail="This link is not one the API made for this copy."
        ) from error
    if found.status == Status.EXPIRED:
        raise Problem(410, "Copy expired", detail="This copy expired: its file is deleted.")
    if found.status != Status.READY or not found.file:
        raise Problem(409, "Not downloadable", detail=f"This copy is {found.status}.")
    try:
        stream = found.file.open("rb")
    except FileNotFoundError as error:
        raise Problem(410, "File gone", detail="The copy's file is no longer stored.") from error
    services.logcopy_download_record(copy=found, by=acting_user(request), request=request)
    suffix = PurePath(found.file.name or "").suffix or ".zip"
    filename = f"vigil-log-copy-{key.organization.account_id}-{found.public_id}{suffix}"
    return FileResponse(stream, as_attachment=True, filename=filename)
