"""An incident's exposures for the key's account, as the exposed-users page lists them:
the same filters and search (exposures.selectors.exposures_filtered), numbers masked
unless the call asks `reveal=true` with a key holding REVEAL_PHONE, people's names and
emails masked unless the key holds EXPORT_EXPOSED. Each reveal is audited as the page
audits it (`phone.reveal`, naming the exposures), and so is a search by more digits
than the mask shows.

Mounted under /incidents (main.py): /incidents/{id}/exposures, .../exposures.jsonl (the
whole list, streamed in constant memory), .../exposures/{id} and its timeline.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from portal.accounts.roles import Capability
from portal.api.access import api_key_of, can, require, requires
from portal.api.auth import key_label
from portal.api.errors import Problem
from portal.api.pagination import CursorQuery, json_value, keyset_page, page_response
from portal.audit.services import audit_record
from portal.incidents.exposures.selectors import (
    ExposureFilters,
    exposure_timeline,
    exposures_filtered,
    exposures_of,
    incident_of_account,
)
from portal.incidents.models import Exposure, Incident
from portal.incidents.phones_display import email_masked, name_masked, phone_masked

router = Router(tags=["exposures"])

# The list's orders that an index serves with the id as tie-break (Exposure.Meta).
SORTS: dict[str, list[str]] = {
    "-last_seen": ["-last_seen_at", "-id"],
    "last_seen": ["last_seen_at", "id"],
    "-first_seen": ["-first_seen_at", "-id"],
    "first_seen": ["first_seen_at", "id"],
    "-messages": ["-message_count", "-id"],
    "messages": ["message_count", "id"],
}
# The columns a row needs, read as dicts: no model instances for a page of 1,000.
ROW_FIELDS = (
    "id",
    "public_id",
    "phone",
    "country",
    "region",
    "carrier",
    "sms_count",
    "voice_count",
    "message_count",
    "first_seen_at",
    "last_seen_at",
    "last_notified_at",
    "directory_user_id",
    "directory_user__name",
    "directory_user__username",
    "directory_user__email",
)
STREAM_CHUNK = 2000
JSONL_TYPE = "application/jsonl"


class ExposureQuery(CursorQuery):
    q: str = Field(
        "",
        max_length=100,
        description="Search: name, email or username (with EXPORT_EXPOSED), the last four "
        "digits of the number, or all of it (any digits with REVEAL_PHONE).",
    )
    country: str = Field("", pattern=r"^([A-Z]{2})?$", description="ISO 3166 code, e.g. US.")
    region: str = Field("", max_length=100)
    carrier: str = Field("", max_length=100)
    message_type: Literal["", "sms", "voice", "both"] = Field(
        "", description="sms: got any SMS; voice: any call; both: both."
    )
    matched: Literal["", "yes", "no"] = Field("", description="Matched to a directory user.")
    notified: Literal["", "yes", "no"] = ""
    sort: Literal[
        "-last_seen", "last_seen", "-first_seen", "first_seen", "-messages", "messages"
    ] = "-last_seen"
    reveal: bool = Field(
        False, description="Full phone numbers (needs REVEAL_PHONE; each reveal is audited)."
    )


class StreamQuery(Schema):
    q: str = Field("", max_length=100)
    country: str = Field("", pattern=r"^([A-Z]{2})?$")
    region: str = Field("", max_length=100)
    carrier: str = Field("", max_length=100)
    message_type: Literal["", "sms", "voice", "both"] = ""
    matched: Literal["", "yes", "no"] = ""
    notified: Literal["", "yes", "no"] = ""
    reveal: bool = False


class PersonOut(Schema):
    name: str
    email: str
    username: str | None = Field(description="Absent when names and emails are masked.")


class ExposureOut(Schema):
    id: UUID
    phone: str = Field(description="E.164 when revealed, else masked: +1 ••• ••• 0143.")
    phone_revealed: bool
    country: str
    region: str
    carrier: str
    sms_count: int
    voice_count: int
    message_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    last_notified_at: datetime | None
    person: PersonOut | None = Field(description="The matched directory user, if any.")


class ExposurePage(Schema):
    items: list[ExposureOut]
    next_cursor: str | None


class TimelineMessageOut(Schema):
    sent_at: datetime
    message_type: str
    carrier: str
    country: str
    region: str
    context: str


class TimelinePage(Schema):
    items: list[TimelineMessageOut]
    next_cursor: str | None


def _incident(request: HttpRequest, incident_id: UUID) -> Incident:
    found = incident_of_account(api_key_of(request).organization, incident_id)
    if found is None:
        raise Problem(404, "Not Found", detail="No such incident in this account.")
    return found


def _reveal_wanted(request: HttpRequest, reveal: bool) -> bool:
    if reveal:
        require(request, Capability.REVEAL_PHONE)
    return reveal


def _filters(query) -> ExposureFilters:
    values = {
        name: getattr(query, name)
        for name in ExposureFilters.__dataclass_fields__
        if getattr(query, name, "")
    }
    return ExposureFilters(**values)


def _filtered(request: HttpRequest, incident: Incident, filters: ExposureFilters):
    organization = api_key_of(request).organization
    return exposures_filtered(
        exposures_of(organization, incident),
        filters,
        reveal=can(request, Capability.REVEAL_PHONE),
        people=can(request, Capability.EXPORT_EXPOSED),
        organization_id=organization.pk,
    )


def _row(row: tuple, *, reveal: bool, mask_people: bool) -> dict[str, Any]:
    """One ExposureOut of a ROW_FIELDS tuple, of plain values ready for json.dumps: a
    page holds 1,000 of them, so no model, no dict per row read, no validation."""
    (
        _pk,
        public_id,
        phone,
        country,
        region,
        carrier,
        sms_count,
        voice_count,
        message_count,
        first_seen_at,
        last_seen_at,
        last_notified_at,
        person_id,
        name,
        username,
        email,
    ) = row
    person = None
    if person_id is not None:
        shown_name, email = name or username, email or ""
        if mask_people:
            person = {
                "name": name_masked(shown_name),
                "email": email_masked(email),
                "username": None,
            }
        else:
            person = {"name": shown_name, "email": email, "username": username}
    return {
        "id": str(public_id),
        "phone": phone if reveal else phone_masked(phone, country),
        "phone_revealed": reveal,
        "country": country,
        "region": region,
        "carrier": carrier,
        "sms_count": sms_count,
        "voice_count": voice_count,
        "message_count": message_count,
        "first_seen_at": json_value(first_seen_at),
        "last_seen_at": json_value(last_seen_at),
        "last_notified_at": json_value(last_notified_at),
        "person": person,
    }


def _audit_reveal(
    request: HttpRequest,
    *,
    target,
    filters: ExposureFilters | None,
    revealed: bool,
    exposure_ids: list,
    via: str,
) -> None:
    """As the pages do: a `phone.reveal` when numbers are shown in full, or when a
    search by more digits than the mask shows tells those digits of every number it
    keeps."""
    searched = (
        filters is not None
        and can(request, Capability.REVEAL_PHONE)
        and filters.searches_past_the_mask()
    )
    if not (revealed or searched):
        return
    key = api_key_of(request)
    details: dict[str, Any] = {
        "via": via,
        "revealed": revealed,
        "exposures": [str(public_id) for public_id in exposure_ids],
    }
    if searched and filters is not None:
        details |= {"phone_search": filters.q, "digits": len(filters.phone_digits)}
    audit_record(
        action="phone.reveal",
        actor_label=key_label(key),
        organization=key.organization_id,
        target=target,
        request=request,
        details=details,
    )


@router.get(
    "/{incident_id}/exposures",
    response=ExposurePage,
    summary="An incident's exposed phones in the account (cursor pages)",
)
@requires(Capability.VIEW_DASHBOARD)
def exposures_list(request: HttpRequest, incident_id: UUID, query: Query[ExposureQuery]):
    incident = _incident(request, incident_id)
    reveal = _reveal_wanted(request, query.reveal)
    filters = _filters(query)
    rows, next_cursor = keyset_page(
        _filtered(request, incident, filters).order_by(),
        listing=f"exposures:{incident.public_id}:{query.sort}",
        order=SORTS[query.sort],
        cursor=query.cursor,
        limit=query.limit,
        fields=ROW_FIELDS,
        tuples=True,
    )
    _audit_reveal(
        request,
        target=incident,
        filters=filters,
        revealed=reveal,
        exposure_ids=[row[1] for row in rows],
        via="api",
    )
    mask_people = not can(request, Capability.EXPORT_EXPOSED)
    return page_response(
        [_row(row, reveal=reveal, mask_people=mask_people) for row in rows], next_cursor
    )


@router.get(
    "/{incident_id}/exposures.jsonl",
    summary="Every exposed phone of the incident in the account, as JSON Lines",
    description="The whole list in one response, one exposure (ExposureOut) a line, in "
    "the order of their ids; read in chunks, so the server holds one chunk at a time.",
    openapi_extra={
        "responses": {
            "200": {
                "description": "One ExposureOut a line.",
                "content": {JSONL_TYPE: {"schema": {"$ref": "#/components/schemas/ExposureOut"}}},
            }
        }
    },
)
@requires(Capability.VIEW_DASHBOARD)
def exposures_stream(request: HttpRequest, incident_id: UUID, query: Query[StreamQuery]):
    incident = _incident(request, incident_id)
    reveal = _reveal_wanted(request, query.reveal)
    filters = _filters(query)
    exposures = _filtered(request, incident, filters).order_by()
    mask_people = not can(request, Capability.EXPORT_EXPOSED)
    if reveal or (can(request, Capability.REVEAL_PHONE) and filters.searches_past_the_mask()):
        # The whole list: audited once, by count rather than by a list of 100,000 ids.
        key = api_key_of(request)
        audit_record(
            action="phone.reveal",
            actor_label=key_label(key),
            organization=key.organization_id,
            target=incident,
            request=request,
            details={
                "via": "api-stream",
                "revealed": reveal,
                "filters": filters.as_details(),
                "rows": exposures.count(),
            },
        )
    return StreamingHttpResponse(
        _stream(exposures, reveal=reveal, mask_people=mask_people), content_type=JSONL_TYPE
    )


def _stream(exposures, *, reveal: bool, mask_people: bool) -> Iterator[str]:
    """Keyset reads of STREAM_CHUNK rows by id, written a chunk at a time: one chunk in
    memory, and no transaction or server-side cursor held open while a slow client
    reads."""
    last_id = 0
    while True:
        chunk = list(
            exposures.filter(id__gt=last_id).order_by("id").values_list(*ROW_FIELDS)[:STREAM_CHUNK]
        )
        if chunk:
            yield "".join(
                json.dumps(_row(row, reveal=reveal, mask_people=mask_people), separators=(",", ":"))
                + "\n"
                for row in chunk
            )
        if len(chunk) < STREAM_CHUNK:
            return
        last_id = chunk[-1][0]


def _exposure(request: HttpRequest, incident: Incident, exposure_id: UUID) -> Exposure:
    found = (
        Exposure.objects.select_related("directory_user")
        .filter(
            organization=api_key_of(request).organization, incident=incident, public_id=exposure_id
        )
        .first()
    )
    if found is None:
        raise Problem(404, "Not Found", detail="No such exposure in this incident and account.")
    return found


class RevealQuery(Schema):
    reveal: bool = Field(False, description="The full phone number (needs REVEAL_PHONE; audited).")


@router.get(
    "/{incident_id}/exposures/{exposure_id}",
    response=ExposureOut,
    summary="One exposed phone",
)
@requires(Capability.VIEW_DASHBOARD)
def exposure_detail(
    request: HttpRequest, incident_id: UUID, exposure_id: UUID, query: Query[RevealQuery]
):
    incident = _incident(request, incident_id)
    reveal = _reveal_wanted(request, query.reveal)
    shown = _exposure(request, incident, exposure_id)
    _audit_reveal(
        request,
        target=shown,
        filters=None,
        revealed=reveal,
        exposure_ids=[shown.public_id],
        via="api",
    )
    person = shown.directory_user
    row = (
        *(getattr(shown, name) for name in ROW_FIELDS if "__" not in name),
        *((person.name, person.username, person.email) if person else ("", "", "")),
    )
    return _row(row, reveal=reveal, mask_people=not can(request, Capability.EXPORT_EXPOSED))


@router.get(
    "/{incident_id}/exposures/{exposure_id}/timeline",
    response=TimelinePage,
    summary="The messages to one exposed phone, oldest first (metadata only)",
)
@requires(Capability.VIEW_DASHBOARD)
def exposure_timeline_list(
    request: HttpRequest, incident_id: UUID, exposure_id: UUID, page: Query[CursorQuery]
):
    incident = _incident(request, incident_id)
    shown = _exposure(request, incident, exposure_id)
    rows, next_cursor = keyset_page(
        exposure_timeline(shown),
        listing=f"timeline:{shown.public_id}",
        order=["sent_at", "id"],
        cursor=page.cursor,
        limit=page.limit,
        fields=("id", "sent_at", "message_type", "carrier", "country", "region", "context"),
    )
    return {"items": rows, "next_cursor": next_cursor}
