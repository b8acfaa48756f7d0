"""Suspicion reports through the API (issue 16): the account's list and one report, and
the triage, with the states and checks of the reports' pages (notifications.reports).

VIEW_REPORTS for all of it, as on the pages; another account's report is a 404. A
triage goes through the pages' service (suspicion_report_triage), so it is refused and
audited as theirs is: the same moves (new -> triaged -> closed, a closed one reopened),
a note to close, and a step over someone else's since `seen` refused.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from notifications.models import SuspicionReport
from notifications.reports import services as reports
from portal.accounts.roles import Capability
from portal.api.access import api_key_of, requires
from portal.api.errors import Problem
from portal.api.pagination import CursorQuery, keyset_page
from portal.api.routers.shared import CONFLICT, IncidentRef, acting_user, incident_ref

router = Router(tags=["reports"])

Status = SuspicionReport.Status
ReportStatus = Literal["new", "triaged", "closed"]


class Reporter(Schema):
    """The person of the account's directory whose notice's link the report came
    through."""

    username: str
    name: str


class ReportOut(Schema):
    id: UUID
    status: ReportStatus
    channel: Literal["call", "sms", "email", "chat", "in_person"]
    occurred_at: datetime
    occurred_zone: str = Field(description="The reporter's time zone, when they gave one.")
    asked_for: str = Field(description="What the caller or sender asked for.")
    contact_detail: str = Field(description="The number or address the suspect used.")
    description: str
    incident: IncidentRef | None
    reporter: Reporter | None
    triage_note: str
    triaged_at: datetime | None
    version: str = Field(
        description="The report as read now: send it back as `seen` with a triage, so a "
        "step taken over someone else's meanwhile is refused (409)."
    )
    created_at: datetime


class ReportPage(Schema):
    items: list[ReportOut]
    next_cursor: str | None


class ReportQuery(CursorQuery):
    status: ReportStatus | None = Field(None, description="Only the reports in this status.")


class TriageIn(Schema):
    status: Literal["triaged", "closed"] = Field(
        description="`triaged`: looked at, being handled (also reopens a closed report); "
        "`closed`: nothing more to do (needs a note)."
    )
    note: str = Field("", max_length=5000, description="What you found and did.")
    seen: str | None = Field(
        None, max_length=100, description="The report's `version` you triaged from."
    )


def report_out(report: SuspicionReport) -> dict:
    person = report.delivery.directory_user if report.delivery is not None else None
    return {
        "id": report.public_id,
        "status": report.status,
        "channel": report.channel,
        "occurred_at": report.occurred_at,
        "occurred_zone": report.occurred_zone,
        "asked_for": report.asked_for,
        "contact_detail": report.contact_detail,
        "description": report.description,
        "incident": incident_ref(report.incident) if report.incident is not None else None,
        "reporter": (
            {"username": person.username, "name": person.name} if person is not None else None
        ),
        "triage_note": report.triage_note,
        "triaged_at": report.triaged_at,
        "version": reports.report_version(report),
        "created_at": report.created_at,
    }


def _reports(request: HttpRequest):
    return SuspicionReport.objects.filter(
        organization=api_key_of(request).organization
    ).select_related("incident", "delivery__directory_user")


def _report(request: HttpRequest, report_id: UUID) -> SuspicionReport:
    found = _reports(request).filter(public_id=report_id).first()
    if found is None:
        raise Problem(404, "Not Found", detail="No such report in this account.")
    return found


@router.get("", response=ReportPage, summary="The account's suspicion reports, newest first")
@requires(Capability.VIEW_REPORTS)
def reports_list(request: HttpRequest, query: Query[ReportQuery]):
    shown = _reports(request)
    if query.status:
        shown = shown.filter(status=query.status)
    rows, next_cursor = keyset_page(
        shown,
        listing="reports" + (f":{query.status}" if query.status else ""),
        order=["-created_at", "-id"],
        cursor=query.cursor,
        limit=query.limit,
    )
    return {"items": [report_out(report) for report in rows], "next_cursor": next_cursor}


@router.get("/{report_id}", response=ReportOut, summary="One suspicion report")
@requires(Capability.VIEW_REPORTS)
def report_get(request: HttpRequest, report_id: UUID):
    return report_out(_report(request, report_id))


@router.post(
    "/{report_id}/triage",
    response=ReportOut,
    summary="Triage a report: mark it triaged, close it with a note, or reopen it",
    openapi_extra=CONFLICT,
)
@requires(Capability.VIEW_REPORTS)
def report_triage(request: HttpRequest, report_id: UUID, triage: TriageIn):
    found = _report(request, report_id)
    if triage.status == Status.CLOSED and not triage.note.strip():
        # The page's form says it on the note field; so does this.
        raise Problem(
            422,
            "Invalid input",
            detail="note: say what was done before closing the report.",
            errors=[
                {
                    "loc": ["body", "triage", "note"],
                    "msg": "Say what was done before closing the report.",
                    "type": "value_error",
                }
            ],
        )
    try:
        reports.suspicion_report_triage(
            report=found,
            status=triage.status,
            note=triage.note,
            by=acting_user(request),
            seen=triage.seen or None,
            request=request,
        )
    except ValidationError as error:
        raise Problem(409, "Conflict", detail=" ".join(error.messages)) from error
    return report_out(found)
