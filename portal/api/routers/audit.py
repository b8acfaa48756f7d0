"""The account's audit log, newest first, in cursor pages: the events its audit page
shows (audit.selectors.audit_events_of_account), with its filters, details redacted as
on the page and in its CSV export."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from portal.accounts.roles import Capability
from portal.api.access import api_key_of, requires
from portal.api.fields import IsoDay
from portal.api.pagination import CursorQuery, keyset_page
from portal.audit.display import action_label, details_redacted
from portal.audit.selectors import AuditFilters, audit_events_filtered, audit_events_of_account

router = Router(tags=["audit"])


class AuditQuery(CursorQuery):
    who: str = Field("", max_length=254, description="The actor's email, or part of it.")
    action: str = Field("", max_length=64, description="One action, e.g. phone.reveal.")
    action_prefix: str = Field("", max_length=64, description="e.g. `api.` or `logcopy.`.")
    date_from: IsoDay | None = Field(None, description="From this day (account's time zone).")
    date_to: IsoDay | None = Field(None, description="To this day, included.")


class AuditEventOut(Schema):
    id: int
    created_at: datetime
    actor: str = Field(description="Email of the person, `API key <name> (<prefix>)`, or system.")
    action: str
    action_label: str
    target_type: str
    target_id: str
    target: str
    ip: str | None
    user_agent: str
    details: dict[str, Any]


class AuditEventPage(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None


FIELDS = (
    "id",
    "created_at",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "details",
)


@router.get("/events", response=AuditEventPage, summary="The account's audit events")
@requires(Capability.VIEW_AUDIT)
def audit_events_list(request: HttpRequest, query: Query[AuditQuery]):
    organization = api_key_of(request).organization
    filters = AuditFilters(
        who=query.who,
        action=query.action,
        action_prefix=query.action_prefix,
        date_from=query.date_from,
        date_to=query.date_to,
    )
    events = audit_events_filtered(
        audit_events_of_account(organization), filters, zone=organization.zone
    )
    rows, next_cursor = keyset_page(
        events.select_related(None),
        listing="audit",
        order=["-created_at", "-id"],
        cursor=query.cursor,
        limit=query.limit,
        fields=FIELDS,
    )
    return {
        "items": [
            {
                "id": row["id"],
                "created_at": row["created_at"],
                "actor": row["actor_label"],
                "action": row["action"],
                "action_label": str(action_label(row["action"])),
                "target_type": row["target_type"],
                "target_id": row["target_id"],
                "target": row["target_label"],
                "ip": row["ip"],
                "user_agent": row["user_agent"],
                "details": details_redacted(row["details"] or {}),
            }
            for row in rows
        ],
        "next_cursor": next_cursor,
    }
