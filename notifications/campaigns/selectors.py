"""Reads of the campaign pages: the account's campaigns, one campaign's progress and
deliveries, the templates a campaign may use, and the preview of a notice for one real
recipient (DESIGN.md flow 7).

The counters on a campaign (sent, failed, skipped) are the engine's; these only read
them, so the list and the live progress cost no count over the delivery rows.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.db.models import Q, QuerySet

from notifications.audience import Recipient, recipients_iter
from notifications.delivery.sending import RATE_WINDOW
from notifications.models import Delivery, NoticeCampaign, NoticeTemplate
from notifications.notice_templates import rendering
from portal.accounts.models import Organization
from portal.incidents.exposures.selectors import (
    FilterChoices,
    exposure_filter_choices,
    exposure_summary,
    incidents_of_account,
)
from portal.incidents.models import Incident

Status = NoticeCampaign.Status

# Statuses whose page polls for progress: something may change without anyone acting.
LIVE = (Status.SCHEDULED, Status.SENDING)
# A campaign whose notices are on their way or could be again.
UNDER_WAY = (Status.SCHEDULED, Status.SENDING, Status.PAUSED)
# The language a template name is represented by in the template choice, when it has it.
PREFERRED_LANGUAGE = "en"


def campaigns_of(organization: Organization) -> QuerySet[NoticeCampaign]:
    """The account's campaigns, newest first, with what the list shows joined."""
    return (
        NoticeCampaign.objects.filter(organization=organization)
        .select_related("incident", "template", "created_by", "launched_by")
        .order_by("-created_at", "-id")
    )


def campaign_incidents(organization: Organization) -> QuerySet[Incident]:
    """The incidents a campaign of the account may be about: the published ones it has
    exposures in, newest first."""
    return incidents_of_account(organization).order_by("-window_start", "-id")


@dataclass(frozen=True)
class Progress:
    """A campaign's counters as its page shows them."""

    total: int
    sent: int
    failed: int
    skipped: int

    @property
    def pending(self) -> int:
        return max(0, self.total - self.sent - self.failed - self.skipped)

    @property
    def done(self) -> int:
        return self.total - self.pending

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return max(0, min(100, self.done * 100 // self.total))

    @property
    def bar(self) -> list[tuple[str, str, str]]:
        """The parts of the progress bar, in order: (kind, x, width) in percent of the
        total, as SVG attributes (the Content Security Policy allows no inline style)."""
        parts = []
        x = 0.0
        for kind, count in (
            ("sent", self.sent),
            ("failed", self.failed),
            ("skipped", self.skipped),
        ):
            width = count * 100 / self.total if self.total else 0.0
            if width:
                parts.append((kind, f"{x:.2f}", f"{width:.2f}"))
            x += width
        return parts


def campaign_progress(campaign: NoticeCampaign) -> Progress:
    return Progress(
        total=campaign.recipients_total,
        sent=campaign.sent_count,
        failed=campaign.failed_count,
        skipped=campaign.skipped_count,
    )


@dataclass(frozen=True)
class Pace:
    """How fast a sending campaign can go: the account's rate, whether the last
    minute's claims have used it up (the campaign is held by it), and when the pending
    notices should be out at that rate."""

    rate: int  # notices a minute, for every campaign of the account together
    held: bool
    expected_finish: datetime


def campaign_pace(campaign: NoticeCampaign, progress: Progress, *, now: datetime) -> Pace | None:
    """The pace of a campaign that is sending with notices still to go, else None.

    The rate counts the account's claims of the last minute across its campaigns (the
    sender's own rule, notifications/delivery/sending.py); a campaign whose account
    has claimed that many is waiting for the window to move, not stuck.
    """
    if campaign.status != Status.SENDING or not progress.pending:
        return None
    rate = (
        Organization.objects.filter(pk=campaign.organization_id)
        .values_list("notice_rate_per_minute", flat=True)
        .get()
    )
    claimed = Delivery.objects.filter(
        campaign__organization_id=campaign.organization_id,
        campaign__status=Status.SENDING,
        claimed_at__gte=now - RATE_WINDOW,
    ).count()
    minutes = math.ceil(progress.pending / rate) if rate else 0
    return Pace(
        rate=rate,
        held=claimed >= rate,
        expected_finish=now + timedelta(minutes=minutes),
    )


def campaign_deliveries(campaign: NoticeCampaign, status: str) -> QuerySet[Delivery]:
    """One campaign's deliveries in `status`, with their person, in the order they were
    made (the (campaign, status) index, then the key)."""
    return (
        Delivery.objects.filter(campaign=campaign, status=status)
        .select_related("directory_user")
        .only(
            "id",
            "email",
            "status",
            "skip_reason",
            "attempts",
            "last_error",
            "next_attempt_at",
            "sent_at",
            "directory_user__name",
            "directory_user__username",
        )
        .order_by("id")
    )


# Templates ------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateChoice:
    """One template name a campaign may use: the account's own, or an operator default.
    `template` stands for every language of that name (rendering.template_snapshot
    gathers them); `languages` lists them."""

    template: NoticeTemplate
    label: str
    languages: tuple[str, ...]
    is_default: bool


def templates_for_campaign(organization: Organization) -> list[TemplateChoice]:
    """The account's templates, then the operator's defaults, one entry per name."""
    rows = NoticeTemplate.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True)
    ).order_by("organization_id", "name", "language")
    by_name: dict[tuple[bool, str], list[NoticeTemplate]] = {}
    for template in rows:
        by_name.setdefault((template.organization_id is None, template.name), []).append(template)
    choices = []
    # The account's own first: they are what its members wrote for this.
    for (is_default, name), versions in sorted(by_name.items(), key=lambda item: item[0]):
        shown = next((t for t in versions if t.language == PREFERRED_LANGUAGE), versions[0])
        languages = tuple(template.language for template in versions)
        label = f"{name} (operator default)" if is_default else name
        choices.append(
            TemplateChoice(template=shown, label=label, languages=languages, is_default=is_default)
        )
    return choices


# Filters --------------------------------------------------------------------------


def campaign_filter_choices(organization: Organization) -> FilterChoices:
    """The countries, regions and carriers of the account's exposures, over every
    incident a campaign may choose: the audience filter offers the same values as the
    exposed-users list, whichever incident the form ends up with."""
    countries: dict[str, str] = {}
    regions: dict[str, str] = {}
    carriers: dict[str, str] = {}
    for incident in campaign_incidents(organization):
        choices = exposure_filter_choices(exposure_summary(organization, incident))
        countries.update(choices.countries)
        regions.update(choices.regions)
        carriers.update(choices.carriers)
    return FilterChoices(
        countries=sorted(countries.items(), key=lambda choice: choice[1]),
        regions=sorted(regions.items(), key=lambda choice: choice[1].lower()),
        carriers=sorted(carriers.items(), key=lambda choice: choice[1].lower()),
    )


# Preview --------------------------------------------------------------------------

# The report link in a preview: the form's address with a token that is nobody's.
PREVIEW_TOKEN = "preview"  # noqa: S105 (no delivery has it: it opens no form)


@dataclass(frozen=True)
class Preview:
    recipient: Recipient
    language: str  # the template language this recipient gets
    rendered: rendering.RenderedNotice


def campaign_sample(campaign: NoticeCampaign, index: int = 0) -> Recipient | None:
    """The `index`-th recipient of the campaign's audience (0 for the first), or None
    when the audience has fewer."""
    index = max(0, index)
    # A small chunk: the first page of the audience, not the first 2,000 people.
    return next(islice(recipients_iter(campaign, chunk_size=index + 1), index, None), None)


def campaign_snapshots(campaign: NoticeCampaign) -> tuple[dict | None, dict]:
    """The template and contact a campaign's notices are made of: frozen once it is
    launched, else what they would be if it were launched now. The template snapshot
    is None for a draft whose template is gone."""
    if campaign.status != Status.DRAFT and campaign.template_snapshot:
        return campaign.template_snapshot, campaign.contact_snapshot
    template = campaign.template
    snapshot = rendering.template_snapshot(template) if template is not None else None
    return snapshot, rendering.contact_snapshot(campaign.organization)


def campaign_preview(campaign: NoticeCampaign, recipient: Recipient) -> Preview | None:
    """The notice `recipient` gets from this campaign, rendered as it will leave, with
    a report link that leads nowhere."""
    snapshot, contact = campaign_snapshots(campaign)
    if snapshot is None:
        return None
    values = {
        **rendering.campaign_context(
            organization=campaign.organization, incident=campaign.incident, contact=contact
        ),
        **rendering.recipient_context(
            name=recipient.name,
            username=recipient.username,
            phone=recipient.phone or "",
            message_count=recipient.message_count,
        ),
        "report_link": rendering.report_link(PREVIEW_TOKEN),
    }
    return Preview(
        recipient=recipient,
        language=rendering.snapshot_language(snapshot, recipient.language),
        rendered=rendering.notice_render(
            snapshot=snapshot, language=recipient.language, values=values
        ),
    )
