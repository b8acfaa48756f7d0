"""Suspicion reports (DESIGN.md flow 8): a person who got a vigilance notice reports a
suspicious call or message through the notice's own link; the account triages it.

The link names a delivery (its `report_token`), so a report knows its account, its
incident and who filed it without asking the person for any of that, and without a
sign-in. The designated contact the notice named hears of it by email, through the
outbox; the email is a convenience, never the record: the report is saved with it.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import Delivery, ScheduledEmail, SuspicionReport
from notifications.outbox.services import Email, NothingToSay, composer, email_render, outbox_add
from notifications.signals import report_filed
from portal.audit.services import audit_record

logger = logging.getLogger(__name__)

# A phone whose clock runs a little ahead of ours still gets to say "just now".
FUTURE_SLACK = timedelta(minutes=5)
Status = SuspicionReport.Status
Kind = ScheduledEmail.Kind

# Where a report may go from each status. Going back to "new" is not offered: once
# someone looked at a report, it has been looked at. A closed report can be reopened.
TRIAGE_MOVES: dict[str, tuple[str, ...]] = {
    Status.NEW: (Status.TRIAGED, Status.CLOSED),
    Status.TRIAGED: (Status.TRIAGED, Status.CLOSED),
    Status.CLOSED: (Status.TRIAGED,),
}


class ReportRefusedError(ValidationError):
    """A report or a triage step that cannot be taken; the message says why, for a person."""


def report_contact(delivery: Delivery) -> dict[str, str]:
    """Whom a report through this delivery goes to: the designated contact the notice
    named (the campaign's snapshot), field by field else the account's current one."""
    snapshot = delivery.campaign.contact_snapshot or {}
    organization = delivery.organization
    current = {
        "name": organization.contact_name,
        "email": organization.contact_email,
        "phone": organization.contact_phone,
        "url": organization.contact_url,
    }
    return {key: (snapshot.get(key) or value or "") for key, value in current.items()}


def suspicion_report_file(
    *,
    delivery: Delivery,
    channel: str,
    occurred_at,
    occurred_zone: str = "",
    asked_for: str = "",
    contact_detail: str = "",
    description: str = "",
    request=None,
) -> SuspicionReport:
    """Store a report filed through a notice's link, audit it, and email the designated
    contact once it is committed.

    The campaign's status does not matter: a notice that went out before its campaign
    was cancelled still reached someone who may be called tomorrow.
    """
    if channel not in SuspicionReport.Channel.values:
        raise ReportRefusedError(_("Unknown channel %(channel)r.") % {"channel": channel})
    if occurred_at is None or timezone.is_naive(occurred_at):
        raise ReportRefusedError(_("Say when it happened, with a time zone."))
    if occurred_at > timezone.now() + FUTURE_SLACK:
        raise ReportRefusedError(_("The time it happened cannot be in the future."))
    with transaction.atomic():
        report = SuspicionReport.objects.create(
            organization_id=delivery.organization_id,
            delivery=delivery,
            incident_id=delivery.campaign.incident_id,
            channel=channel,
            occurred_at=occurred_at,
            occurred_zone=occurred_zone,
            asked_for=asked_for.strip(),
            contact_detail=contact_detail.strip(),
            description=description.strip(),
        )
        # The actor is "system": the person has no account here. What they wrote stays
        # in the report; the audit trail says only that one was filed, and through what.
        audit_record(
            action="report.filed",
            organization=delivery.organization_id,
            target=report,
            request=request,
            details={"channel": channel, "delivery": delivery.pk},
        )
        # The email to the designated contact, through the outbox: retried if the mail
        # server fails, and the report is stored and listed whatever happens to it.
        outbox_add(
            kind=ScheduledEmail.Kind.REPORT_FILED,
            key=str(report.pk),
            organization_id=report.organization_id,
            incident_id=report.incident_id,
        )
        report_filed.send(sender=SuspicionReport, report=report)
    return report


def report_page_url(report: SuspicionReport) -> str:
    return settings.SITE_URL + reverse(
        "reports:detail",
        kwargs={"org": report.organization.public_id, "report": report.public_id},
    )


@composer(Kind.REPORT_FILED, nobody="The account has no designated contact email.")
def _report_filed(row: ScheduledEmail, now: datetime) -> Email:
    """The report, to the contact the notice named and to the account's contact today
    if that changed since: the settings page promises reports go there."""
    report = (
        SuspicionReport.objects.select_related(
            "organization", "incident", "delivery__campaign", "delivery__directory_user"
        )
        .filter(pk=int(row.key))
        .first()
    )
    if report is None:
        raise NothingToSay
    delivery = report.delivery
    contact = (
        report_contact(delivery)
        if delivery is not None
        else {"name": report.organization.contact_name, "email": report.organization.contact_email}
    )
    to = [contact["email"]] if contact.get("email") else []
    current = report.organization.contact_email
    if current and all(current.casefold() != address.casefold() for address in to):
        to.append(current)
    zone = report.organization.zone
    context = {
        "report": report,
        "organization": report.organization,
        "incident": report.incident,
        "reporter": delivery.directory_user if delivery is not None else None,
        "contact": contact,
        "zone": zone,
        "occurred_at": timezone.localtime(report.occurred_at, zone),
        "url": report_page_url(report),
    }
    return email_render("report-filed", context, to)


def report_version(report: SuspicionReport) -> str:
    """What a triage form remembers of the report it was drawn for."""
    moment = report.triaged_at.isoformat() if report.triaged_at else ""
    return f"{report.status}|{moment}"


_CHANGED_MEANWHILE = "Someone else changed this report meanwhile. Reload the page to see it."


def suspicion_report_triage(
    *, report: SuspicionReport, status: str, note: str, by, seen: str | None = None, request=None
) -> SuspicionReport:
    """Move a report on (new -> triaged -> closed, or reopen a closed one) with a note.

    `seen` is report_version() of the report as the person's page showed it: a step
    taken over someone else's since then is refused, and the update itself is
    conditional on the status and triage time loaded here, so two people triaging at
    once do not overwrite each other silently: the second is told.
    """
    if seen is not None and seen != report_version(report):
        raise ReportRefusedError(_CHANGED_MEANWHILE)
    note = (note or "").strip()
    if status not in TRIAGE_MOVES.get(report.status, ()):
        wanted = Status(status).label if status in Status.values else status
        raise ReportRefusedError(
            _("A report that is %(status)s cannot be marked %(wanted)s.")
            % {"status": report.get_status_display().lower(), "wanted": str(wanted).lower()}
        )
    if status == Status.CLOSED and not note:
        raise ReportRefusedError(_("Say what was done before closing the report."))
    if status == report.status and note == report.triage_note:
        raise ReportRefusedError(_("Nothing changed: the status and the note are as they were."))
    now = timezone.now()
    previous = report.status
    with transaction.atomic():
        moved = SuspicionReport.objects.filter(
            pk=report.pk, status=previous, triaged_at=report.triaged_at
        ).update(status=status, triage_note=note, triaged_by=by, triaged_at=now)
        if moved != 1:
            raise ReportRefusedError(_CHANGED_MEANWHILE)
        report.status, report.triage_note, report.triaged_by, report.triaged_at = (
            status,
            note,
            by,
            now,
        )
        audit_record(
            action="report.triage",
            actor=by,
            organization=report.organization_id,
            target=report,
            request=request,
            details={"from": previous, "to": status, "note": bool(note)},
        )
    return report
