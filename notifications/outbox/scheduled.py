"""Scheduled emails (DESIGN.md flow 2): the customer notice when an incident is
published, the daily reminder of exposed users not yet notified, and the operator
staff's weekly summary; their rows and their words. The outbox (`outbox.py`) sends
them and retries them.

Publishing makes the customer-notice rows in its own transaction (the receiver of
`incident_exposures_published`); the minute sweep makes the reminder and summary rows
that are due, and sends every pending row that is due.
"""

import logging
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from notifications.models import ScheduledEmail, SuspicionReport
from notifications.outbox.services import (
    Email,
    NothingToSay,
    composer,
    email_render,
    outbox_send_due,
    outbox_send_soon,
    site_url,
)
from portal.accounts.models import Membership, Organization, User
from portal.accounts.roles import INCIDENT_CONTACT_ROLES
from portal.incidents.models import Exposure, Incident
from portal.incidents.windows import exposure_window
from portal.logcopies.models import LogCopyRequest

logger = logging.getLogger(__name__)

Kind = ScheduledEmail.Kind
Status = ScheduledEmail.Status

# The daily reminder leaves at or after this hour in the account's own time zone: the
# start of their working day, not the middle of their night.
REMINDER_LOCAL_HOUR = 9
# The weekly summary leaves on Monday at or after this hour (UTC), or later in the same
# ISO week if the sweep did not run then.
SUMMARY_UTC_HOUR = 8

NOTIFIED_ROLES = INCIDENT_CONTACT_ROLES
OPEN_LOG_COPY = (
    LogCopyRequest.Status.REQUESTED,
    LogCopyRequest.Status.APPROVED,
    LogCopyRequest.Status.GENERATING,
    LogCopyRequest.Status.FAILED,
)


# --- Making the rows -----------------------------------------------------------------


def customer_notices_create(
    *, incident: Incident, organization_ids: Iterable[int] | None = None
) -> list[int]:
    """One customer-notice row for each account with exposures in the incident (or
    only those of `organization_ids`: an import names the accounts it brought in), and
    their sending queued once the caller's transaction commits. Idempotent: a second
    call makes no second row. Returns the ids of the pending rows it is about."""
    affected = Organization.objects.filter(
        Exists(Exposure.objects.filter(incident=incident, organization=OuterRef("pk")))
    )
    if organization_ids is not None:
        affected = affected.filter(pk__in=list(organization_ids))
    affected = affected.values_list("pk", "public_id")
    ScheduledEmail.objects.bulk_create(
        [
            ScheduledEmail(
                kind=Kind.CUSTOMER_NOTICE,
                key=f"{incident.public_id}:{public_id}",
                organization_id=pk,
                incident=incident,
            )
            for pk, public_id in affected
        ],
        ignore_conflicts=True,
    )
    pending = ScheduledEmail.objects.filter(
        kind=Kind.CUSTOMER_NOTICE, incident=incident, status=Status.PENDING
    )
    if organization_ids is not None:
        pending = pending.filter(organization_id__in=list(organization_ids))
    ids = list(pending.values_list("pk", flat=True))
    outbox_send_soon(ids)
    return ids


def _not_notified(**lookups) -> QuerySet[Exposure]:
    """Exposures of people (matched, with an email) not yet notified in a published
    incident: no exposure of theirs in that incident carries a notified stamp.

    People without an email are left out: no notice can reach them, and counting them
    would keep the reminder going forever. The reminder names them separately.
    """
    notified = Exposure.objects.filter(
        organization_id=OuterRef("organization_id"),
        incident_id=OuterRef("incident_id"),
        directory_user_id=OuterRef("directory_user_id"),
        last_notified_at__isnull=False,
    )
    return (
        Exposure.objects.filter(
            incident__status=Incident.Status.PUBLISHED,
            directory_user__isnull=False,
            last_notified_at__isnull=True,
            **lookups,
        )
        .exclude(Exists(notified))
        .order_by()
    )


def _reminder_key(organization: Organization, now: datetime) -> str | None:
    """The account's reminder key for today in its time zone, or None before the hour."""
    local = timezone.localtime(now, organization.zone)
    if local.hour < REMINDER_LOCAL_HOUR:
        return None
    return f"{organization.public_id}:{local.date().isoformat()}"


def daily_reminders_create_due(*, now: datetime) -> int:
    """A reminder row for each account whose day has reached the hour, that has none
    for today yet, wants reminders, and has people still to notify. Returns how many."""
    keyed = {}
    for organization in Organization.objects.filter(daily_reminder_enabled=True).only(
        "pk", "public_id", "time_zone"
    ):
        key = _reminder_key(organization, now)
        if key is not None:
            keyed[key] = organization.pk
    if not keyed:
        return 0
    done = set(
        ScheduledEmail.objects.filter(kind=Kind.DAILY_REMINDER, key__in=list(keyed)).values_list(
            "key", flat=True
        )
    )
    waiting = {key: pk for key, pk in keyed.items() if key not in done}
    if not waiting:
        return 0
    with_people_left = set(
        _not_notified(organization_id__in=list(waiting.values()), directory_user__email__gt="")
        .values_list("organization_id", flat=True)
        .distinct()
    )
    rows = [
        ScheduledEmail(kind=Kind.DAILY_REMINDER, key=key, organization_id=pk)
        for key, pk in waiting.items()
        if pk in with_people_left
    ]
    ScheduledEmail.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _week_key(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_summary_create_due(*, now: datetime) -> int:
    """The week's summary row, from Monday SUMMARY_UTC_HOUR on, when any incident is
    published. Returns 1 if it made it now."""
    now = now.astimezone(zoneinfo.ZoneInfo("UTC"))
    if now.weekday() == 0 and now.hour < SUMMARY_UTC_HOUR:
        return 0
    key = _week_key(now)
    if ScheduledEmail.objects.filter(kind=Kind.WEEKLY_SUMMARY, key=key).exists():
        return 0
    if not Incident.objects.filter(status=Incident.Status.PUBLISHED).exists():
        return 0
    if not _staff_recipients():
        return 0
    made = ScheduledEmail.objects.bulk_create(
        [ScheduledEmail(kind=Kind.WEEKLY_SUMMARY, key=key)], ignore_conflicts=True
    )
    return len(made)


# --- Sending -------------------------------------------------------------------------


def scheduled_emails_send_due(*, now: datetime | None = None) -> int:
    """The sweep's step: make the rows that are due, then send the pending ones whose
    time has come (every kind's). Returns how many emails left."""
    now = now or timezone.now()
    daily_reminders_create_due(now=now)
    weekly_summary_create_due(now=now)
    return outbox_send_due(now=now)


# --- Writing ---------------------------------------------------------------------------


def _account_recipients(organization_id: int) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(
                organization_id=organization_id,
                role__in=NOTIFIED_ROLES,
                user__is_active=True,
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def _compose_url(organization: Organization) -> str:
    return site_url("campaigns:new", org=organization.public_id)


@composer(Kind.CUSTOMER_NOTICE, nobody="The account has no owner or admin with an email address.")
def _customer_notice(row: ScheduledEmail, now: datetime) -> Email:
    organization, incident = row.organization, row.incident
    zone = organization.zone
    exposures = Exposure.objects.filter(organization=organization, incident=incident)
    counts = exposures.aggregate(
        phones=Count("id"),
        messages=Sum("message_count"),
        people=Count("directory_user", distinct=True),
    )
    context = {
        "organization": organization,
        "incident": incident,
        "zone": zone,
        # As every page writes it: the provider's UTC window, then the account's.
        "exposure_window": lambda: exposure_window(incident, zone),
        "phones": counts["phones"],
        "messages": counts["messages"] or 0,
        "people": counts["people"],
        "dashboard_url": site_url(
            "incidents:dashboard", org=organization.public_id, incident=incident.public_id
        ),
        "home_url": site_url("accounts:home", org=organization.public_id),
    }
    return email_render("customer-notice", context, _account_recipients(organization.pk))


@dataclass(frozen=True)
class _IncidentToNotify:
    incident: Incident
    people: int  # not yet notified, with an email
    without_email: int  # not yet notified, and no email in the directory
    dashboard_url: str


@composer(Kind.DAILY_REMINDER, nobody="The account has no owner or admin with an email address.")
def _daily_reminder(row: ScheduledEmail, now: datetime) -> Email:
    organization = row.organization
    if organization is None or not organization.daily_reminder_enabled:
        raise NothingToSay
    rows = (
        _not_notified(organization=organization)
        .values("incident_id")
        .annotate(
            people=Count("directory_user", distinct=True, filter=~Q(directory_user__email="")),
            without_email=Count(
                "directory_user", distinct=True, filter=Q(directory_user__email="")
            ),
        )
    )
    counts = {item["incident_id"]: item for item in rows}
    if not any(item["people"] for item in counts.values()):
        raise NothingToSay
    incidents = Incident.objects.filter(pk__in=list(counts)).order_by("-window_start")
    to_notify = [
        _IncidentToNotify(
            incident=incident,
            people=counts[incident.pk]["people"],
            without_email=counts[incident.pk]["without_email"],
            dashboard_url=site_url(
                "incidents:dashboard", org=organization.public_id, incident=incident.public_id
            ),
        )
        for incident in incidents
    ]
    context = {
        "organization": organization,
        "incidents": to_notify,
        "people": sum(item.people for item in to_notify),
        "without_email": sum(item.without_email for item in to_notify),
        "compose_url": _compose_url(organization),
        "settings_url": site_url("accounts:settings", org=organization.public_id),
        "local_hour": REMINDER_LOCAL_HOUR,
        "zone": organization.zone,
    }
    return email_render("daily-reminder", context, _account_recipients(organization.pk))


@dataclass(frozen=True)
class _IncidentWeek:
    incident: Incident
    accounts: int
    phones: int
    matched_phones: int
    notified_phones: int
    open_log_copies: int
    log_copies_waiting: int
    reports: int
    url: str

    @property
    def notified_percent(self) -> int:
        if not self.matched_phones:
            return 0
        return round(100 * self.notified_phones / self.matched_phones)


@composer(
    Kind.WEEKLY_SUMMARY, nobody="There is no active operator staff member with an email address."
)
def _weekly_summary(row: ScheduledEmail, now: datetime) -> Email:
    week_ago = now - timedelta(days=7)
    incidents = list(Incident.objects.filter(status=Incident.Status.PUBLISHED))
    ids = [incident.pk for incident in incidents]
    exposures = {
        item["incident_id"]: item
        for item in Exposure.objects.filter(incident_id__in=ids)
        .order_by()
        .values("incident_id")
        .annotate(
            accounts=Count("organization", distinct=True),
            phones=Count("id"),
            matched=Count("id", filter=Q(directory_user__isnull=False)),
            notified=Count(
                "id", filter=Q(directory_user__isnull=False, last_notified_at__isnull=False)
            ),
        )
    }
    copies = {
        item["incident_id"]: item
        for item in LogCopyRequest.objects.filter(incident_id__in=ids, status__in=OPEN_LOG_COPY)
        .order_by()
        .values("incident_id")
        .annotate(
            open=Count("id"),
            waiting=Count("id", filter=Q(status=LogCopyRequest.Status.REQUESTED)),
        )
    }
    reports = dict(
        SuspicionReport.objects.filter(incident_id__in=ids, created_at__gte=week_ago)
        .order_by()
        .values_list("incident_id")
        .annotate(count=Count("id"))
        .values_list("incident_id", "count")
    )
    weeks = sorted(
        (
            _IncidentWeek(
                incident=incident,
                accounts=exposures.get(incident.pk, {}).get("accounts", 0),
                phones=exposures.get(incident.pk, {}).get("phones", 0),
                matched_phones=exposures.get(incident.pk, {}).get("matched", 0),
                notified_phones=exposures.get(incident.pk, {}).get("notified", 0),
                open_log_copies=copies.get(incident.pk, {}).get("open", 0),
                log_copies_waiting=copies.get(incident.pk, {}).get("waiting", 0),
                reports=reports.get(incident.pk, 0),
                url=site_url("operator_incidents:detail", incident=incident.public_id),
            )
            for incident in incidents
        ),
        key=lambda week: week.incident.published_at or week.incident.created_at,
        reverse=True,
    )
    context = {
        "week": row.key,
        "incidents": weeks,
        "since": week_ago,
        "queue_url": site_url("operator_logcopies:queue"),
    }
    return email_render("weekly-summary", context, _staff_recipients())


def _staff_recipients() -> list[str]:
    return sorted(
        set(
            User.objects.filter(is_staff=True, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
