"""Incidents visible to the key's account: published ones it has exposures in, exactly
as the account's pages list them (exposures.selectors.incidents_of_account)."""

from datetime import datetime
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from portal.accounts.roles import Capability
from portal.api.access import api_key_of, requires
from portal.api.errors import Problem
from portal.api.pagination import CursorQuery, keyset_page
from portal.incidents.exposures.selectors import incident_of_account, incidents_of_account
from portal.incidents.models import Incident

router = Router(tags=["incidents"])


class IncidentOut(Schema):
    id: UUID = Field(validation_alias="public_id")
    slug: str
    title: str
    provider: str
    summary: str
    status: str
    window_start: datetime = Field(description="Start of the exposure window.")
    window_end: datetime = Field(description="End of the exposure window.")
    became_aware_at: datetime | None
    disclosed_at: datetime | None
    published_at: datetime | None


class IncidentPage(Schema):
    items: list[IncidentOut]
    next_cursor: str | None


@router.get("", response=IncidentPage, summary="Incidents visible to the account")
@requires(Capability.VIEW_DASHBOARD)
def incidents_list(request: HttpRequest, page: Query[CursorQuery]):
    organization = api_key_of(request).organization
    rows, next_cursor = keyset_page(
        incidents_of_account(organization),
        listing="incidents",
        order=["-window_start", "-id"],
        cursor=page.cursor,
        limit=page.limit,
    )
    return {"items": rows, "next_cursor": next_cursor}


@router.get("/{incident_id}", response=IncidentOut, summary="One incident")
@requires(Capability.VIEW_DASHBOARD)
def incident_detail(request: HttpRequest, incident_id: UUID) -> Incident:
    found = incident_of_account(api_key_of(request).organization, incident_id)
    if found is None:
        raise Problem(404, "Not Found", detail="No such incident in this account.")
    return found
