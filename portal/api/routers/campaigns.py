"""Notice campaigns through the API (issue 16): the account's campaigns, one campaign's
status with its counts and pace, and the launch of a draft.

As on the campaign pages (notifications.campaigns.views): following campaigns needs
VIEW_DASHBOARD, launching MANAGE_NOTICES, and another account's campaign is a 404.
The launch is the page's service (notice_campaign_launch), with its checks (a draft
only, once; a designated contact; a template; a published incident; someone to reach)
and its audit event; a refusal is a 409 that says which.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from notifications.campaigns import services
from notifications.campaigns.selectors import campaign_pace, campaign_progress, campaigns_of
from notifications.models import NoticeCampaign
from portal.accounts.roles import Capability
from portal.api.access import api_key_of, requires
from portal.api.errors import Problem
from portal.api.pagination import CursorQuery, keyset_page
from portal.api.routers.shared import CONFLICT, IncidentRef, acting_user, incident_ref

router = Router(tags=["campaigns"])

CampaignStatus = Literal["draft", "scheduled", "sending", "paused", "completed", "cancelled"]


class Counts(Schema):
    """The campaign's notices, as its page counts them (the engine's counters)."""

    total: int = Field(description="Notices the campaign makes, once dispatched.")
    sent: int
    failed: int
    skipped: int = Field(description="Not sent: no email address, cancelled, ...")
    pending: int = Field(description="Still to go out.")
    percent: int | None = Field(description="Done (sent, failed or skipped), in percent.")


class Pace(Schema):
    """How fast a sending campaign with notices to go can go."""

    rate_per_minute: int = Field(description="The account's rate, all its campaigns together.")
    held_by_rate: bool = Field(
        description="The last minute's notices used the rate up: waiting, not stuck."
    )
    expected_finish: datetime


class CampaignOut(Schema):
    id: UUID
    name: str
    status: CampaignStatus
    incident: IncidentRef
    audience: Literal["all_matched", "not_notified", "filter", "chosen"]
    template: str | None = Field(description="The template's name, if it still exists.")
    scheduled_at: datetime | None = Field(description="Empty on a draft means at launch.")
    launched_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    counts: Counts
    pace: Pace | None = Field(
        description="Only while sending with notices to go (the campaign's status read)."
    )
    created_at: datetime


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_cursor: str | None


def campaign_out(campaign: NoticeCampaign, *, with_pace: bool = False) -> dict:
    progress = campaign_progress(campaign)
    pace = campaign_pace(campaign, progress, now=timezone.now()) if with_pace else None
    return {
        "id": campaign.public_id,
        "name": campaign.name,
        "status": campaign.status,
        "incident": incident_ref(campaign.incident),
        "audience": campaign.audience,
        "template": campaign.template.name if campaign.template is not None else None,
        "scheduled_at": campaign.scheduled_at,
        "launched_at": campaign.launched_at,
        "completed_at": campaign.completed_at,
        "cancelled_at": campaign.cancelled_at,
        "counts": {
            "total": progress.total,
            "sent": progress.sent,
            "failed": progress.failed,
            "skipped": progress.skipped,
            "pending": progress.pending,
            "percent": progress.percent,
        },
        "pace": (
            {
                "rate_per_minute": pace.rate,
                "held_by_rate": pace.held,
                "expected_finish": pace.expected_finish,
            }
            if pace is not None
            else None
        ),
        "created_at": campaign.created_at,
    }


def _campaign(request: HttpRequest, campaign_id: UUID) -> NoticeCampaign:
    found = campaigns_of(api_key_of(request).organization).filter(public_id=campaign_id).first()
    if found is None:
        raise Problem(404, "Not Found", detail="No such campaign in this account.")
    return found


@router.get(
    "",
    response=CampaignPage,
    summary="The account's campaigns, newest first, with their counts",
    description="`pace` is given by the one campaign's read, not in the list.",
)
@requires(Capability.VIEW_DASHBOARD)
def campaigns_list(request: HttpRequest, query: Query[CursorQuery]):
    rows, next_cursor = keyset_page(
        campaigns_of(api_key_of(request).organization),
        listing="campaigns",
        order=["-created_at", "-id"],
        cursor=query.cursor,
        limit=query.limit,
    )
    return {"items": [campaign_out(campaign) for campaign in rows], "next_cursor": next_cursor}


@router.get("/{campaign_id}", response=CampaignOut, summary="One campaign's status and counts")
@requires(Capability.VIEW_DASHBOARD)
def campaign_get(request: HttpRequest, campaign_id: UUID):
    return campaign_out(_campaign(request, campaign_id), with_pace=True)


@router.post(
    "/{campaign_id}/launch",
    response=CampaignOut,
    summary="Launch a draft: now, or at its scheduled time",
    description="As the page's Launch button: the template and the designated contact "
    "are frozen, and the notices leave once it is due. Refused (409) when it is not a "
    "draft, or the account has no designated contact, or no one can receive it.",
    openapi_extra=CONFLICT,
)
@requires(Capability.MANAGE_NOTICES)
def campaign_launch(request: HttpRequest, campaign_id: UUID):
    found = _campaign(request, campaign_id)
    try:
        launched = services.notice_campaign_launch(
            campaign=found, by=acting_user(request), request=request
        )
    except ValidationError as error:
        raise Problem(409, "Conflict", detail=" ".join(error.messages)) from error
    return campaign_out(launched, with_pace=True)
