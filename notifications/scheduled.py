"""Scheduled emails (DESIGN.md flow 2): the customer notice when an incident is
published, the daily reminder of exposed users not yet notified, and the operator
staff's weekly summary.

Each email is a ScheduledEmail row first, unique per (kind, key), and only then a
message: the row is the outbox. Publishing makes the customer-notice rows in its own
transaction; the minute sweep makes the reminder and summary rows that are due, and
sends every pending row. A send that fails leaves the row pending with its error, for
a later sweep, up to MAX_ATTEMPTS. Words are written when the email is sent, not when
the row is made, so a retry tells the state of things at that moment.
"""

import contextlib
import logging
import smtplib
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from notifications.email_tasks import scheduled_emails_send as scheduled_emails_send_task
from notifications.models import ScheduledEmail, SuspicionReport
from notifications.reports import error_without_addresses
from portal.accounts.models import Membership, Organization, User
from portal.accounts.roles import Role
from portal.incidents.models import Exposure, Incident
from portal.logcopies.models import LogCopyRequest

logger = logging.getLogger(__name__)

Kind = ScheduledEmail.Kind
Status = ScheduledEmail.Status

# One try a minute (each sweep): five tries ride out a mail server restart; a row that
# still fails after them is left failed, with its error, for a person to look at.
MAX_ATTEMPTS = 5
# The daily reminder leaves at or after this hour in the account's own time zone: the
# start of their working day, not the middle of their night.
REMINDER_LOCAL_HOUR = 9
# The weekly summary leaves on Monday at or after this hour (UTC), or later in the same
# ISO week if the sweep did not run then.
SUMMARY_UTC_HOUR = 8
# Rows a sweep sends at most; the rest wait a minute. A publish touching thousands of
# accounts also enqueues its own rows at once (email_tasks), so they do not wait.
SEND_BATCH = 500

# The roles that hear about incidents: those who can act on them.
NOTIFIED_ROLES = (Role.OWNER, Role.ADMIN)
OPEN_LOG_COPY = (
    LogCopyRequest.Status.REQUESTED,
    LogCopyRequest.Status.APPROVED,
    LogCopyRequest.Status.GENERATING,
    LogCopyRequest.Status.FAILED,
)


# --- Making the rows -----------------------------------------------------------------


def customer_notices_create(*, incident: Incident) -> list[int]:
    """One customer-notice row for each account with exposures in the incident, and
    their sending queued once the caller's transaction commits. Idempotent: a second
    call makes no second row. Returns the pending rows' ids."""
    affected = Organization.objects.filter(
        Exists(Exposure.objects.filter(incident=incident, organization=OuterRef("pk")))
    ).values_list("pk", "public_id")
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
    ids = list(
        ScheduledEmail.objects.filter(
            kind=Kind.CUSTOMER_NOTICE, incident=incident, status=Status.PENDING
        ).values_list("pk", flat=True)
    )
    if ids:
        # The sweep would find them within a minute anyway; this only spares the wait.
        transaction.on_commit(lambda: scheduled_emails_send_task.delay(ids), robust=True)
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
    """The sweep's step: make the rows that are due, then send the pending ones.
    Returns how many emails left."""
    now = now or timezone.now()
    daily_reminders_create_due(now=now)
    weekly_summary_create_due(now=now)
    pending = list(
        ScheduledEmail.objects.filter(status=Status.PENDING)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:SEND_BATCH]
    )
    return scheduled_emails_send(email_ids=pending, now=now)


def scheduled_emails_send(*, email_ids, now: datetime | None = None) -> int:
    """Send these rows, those still pending, over one connection. Returns how many left."""
    if not email_ids:
        return 0  # no connection to open every minute for nothing
    now = now or timezone.now()
    sent = 0
    mailer = mailers.default
    # Opened here so the batch shares one connection (a backend opens and closes its
    # own per call otherwise). If the server is down, each row's send fails on its own
    # and is recorded; nothing is lost by not raising here.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        mailer.open()
    try:
        for email_id in email_ids:
            sent += scheduled_email_send(email_id=email_id, now=now, mailer=mailer)
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mailer.close()
    return sent


@dataclass(frozen=True)
class _Email:
    recipients: list[str]
    subject: str
    body: str


class _NothingToSay(Exception):  # noqa: N818 - a signal, not an error
    """The email is no longer needed (a reminder with nobody left to notify)."""


def scheduled_email_send(*, email_id: int, now: datetime, mailer=None) -> bool:
    """Send one row if it is still pending and nobody else is sending it.

    The row stays locked while its message goes out: on PostgreSQL a second sweep
    skips it (SKIP LOCKED) and the conditional update on `attempts` refuses it even
    so; SQLite's transactions take the write lock up front (IMMEDIATE), so there the
    second sweep waits and then finds it sent. A crash between the send and the
    commit rolls the row back to pending: the email may leave twice then, never zero
    times.
    """
    with transaction.atomic():
        row = (
            ScheduledEmail.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("organization", "incident")
            .filter(pk=email_id, status=Status.PENDING)
            .first()
        )
        if row is None:
            return False
        claimed = ScheduledEmail.objects.filter(
            pk=row.pk, status=Status.PENDING, attempts=row.attempts
        ).update(attempts=row.attempts + 1)
        if claimed != 1:
            return False
        row.attempts += 1
        try:
            email = _compose(row, now=now)
        except _NothingToSay:
            row.delete()
            return False
        except Exception as error:
            logger.exception("scheduled email %s (%s): could not be written", row.pk, row.kind)
            _record_failure(row, error)
            return False
        if not email.recipients:
            row.status = Status.FAILED
            row.last_error = _NOBODY[row.kind]
            row.save(update_fields=["status", "last_error"])
            logger.warning("scheduled email %s (%s): nobody to send it to", row.pk, row.kind)
            return False
        message = EmailMessage(
            subject=email.subject,
            body=email.body,
            to=email.recipients,
            headers={"Message-ID": _message_id(row), "Auto-Submitted": "auto-generated"},
        )
        mailer = mailer or mailers.default
        try:
            mailer.send_messages([message])
        except Exception as error:  # any failure is recorded and retried
            if not isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
                # Not an answer from the server: the connection may be broken, so the
                # next message starts on a fresh one.
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    mailer.close()
                    mailer.open()
            _record_failure(row, error)
            return False
        row.status, row.sent_at, row.last_error = Status.SENT, now, ""
        row.recipients_count = len(email.recipients)
        row.save(update_fields=["status", "sent_at", "last_error", "recipients_count"])
        if row.kind == Kind.DAILY_REMINDER and row.organization_id:
            Organization.objects.filter(pk=row.organization_id).update(last_reminder_sent_at=now)
    return True


_NOBODY = {
    Kind.CUSTOMER_NOTICE: "The account has no owner or admin with an email address.",
    Kind.DAILY_REMINDER: "The account has no owner or admin with an email address.",
    Kind.WEEKLY_SUMMARY: "There is no active operator staff member with an email address.",
}


def _record_failure(row: ScheduledEmail, error: BaseException) -> None:
    row.last_error = error_without_addresses(error)
    row.status = Status.FAILED if row.attempts >= MAX_ATTEMPTS else Status.PENDING
    row.save(update_fields=["status", "last_error"])
    logger.warning(
        "scheduled email %s (%s): attempt %d of %d failed (%s)%s",
        row.pk,
        row.kind,
        row.attempts,
        MAX_ATTEMPTS,
        type(error).__name__,
        "; giving up" if row.status == Status.FAILED else "; the sweep tries again",
    )


def _message_id(row: ScheduledEmail) -> str:
    # The same on every attempt: a message that left twice is recognisably one.
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2] or urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<{row.kind.replace('_', '-')}-{row.pk}@{domain}>"


def _compose(row: ScheduledEmail, *, now: datetime) -> _Email:
    if row.kind == Kind.CUSTOMER_NOTICE:
        return _customer_notice(row)
    if row.kind == Kind.DAILY_REMINDER:
        return _daily_reminder(row, now=now)
    if row.kind == Kind.WEEKLY_SUMMARY:
        return _weekly_summary(row, now=now)
    raise ValueError(f"unknown scheduled email kind {row.kind!r}")


def _render(name: str, context: dict, recipients: list[str]) -> _Email:
    # In the account's zone where there is one: |date shows an aware time in the
    # active zone, which is UTC otherwise.
    with timezone.override(context.get("zone") or UTC):
        subject = render_to_string(f"emails/{name}-subject.txt", context)
        body = render_to_string(f"emails/{name}-body.txt", context)
    # A header cannot hold a line break.
    return _Email(recipients=recipients, subject=" ".join(subject.split()), body=body)


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


def _site_url(name: str, **kwargs) -> str:
    return settings.SITE_URL + reverse(name, kwargs=kwargs)


def _compose_url(organization: Organization) -> str:
    return _site_url("campaigns:new", org=organization.public_id)


def _customer_notice(row: ScheduledEmail) -> _Email:
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
        # Days, not times: the window's stored end is exclusive (midnight after its
        # last day), so the last day is the one just before it.
        "window_start": timezone.localtime(incident.window_start, zone).date(),
        "window_end": timezone.localtime(
            incident.window_end - timedelta(microseconds=1), zone
        ).date(),
        "phones": counts["phones"],
        "messages": counts["messages"] or 0,
        "people": counts["people"],
        "dashboard_url": _site_url(
            "incidents:dashboard", org=organization.public_id, incident=incident.public_id
        ),
        "home_url": _site_url("accounts:home", org=organization.public_id),
    }
    return _render("customer-notice", context, _account_recipients(organization.pk))


@dataclass(frozen=True)
class _IncidentToNotify:
    incident: Incident
    people: int  # not yet notified, with an email
    without_email: int  # not yet notified, and no email in the directory
    dashboard_url: str


def _daily_reminder(row: ScheduledEmail, *, now: datetime) -> _Email:
    organization = row.organization
    if organization is None or not organization.daily_reminder_enabled:
        raise _NothingToSay
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
        raise _NothingToSay
    incidents = Incident.objects.filter(pk__in=list(counts)).order_by("-window_start")
    to_notify = [
        _IncidentToNotify(
            incident=incident,
            people=counts[incident.pk]["people"],
            without_email=counts[incident.pk]["without_email"],
            dashboard_url=_site_url(
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
        "settings_url": _site_url("accounts:settings", org=organization.public_id),
        "local_hour": REMINDER_LOCAL_HOUR,
        "zone": organization.zone,
    }
    return _render("daily-reminder", context, _account_recipients(organization.pk))


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


def _weekly_summary(row: ScheduledEmail, *, now: datetime) -> _Email:
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
                url=_site_url("operator_incidents:detail", incident=incident.public_id),
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
        "queue_url": _site_url("operator_logcopies:queue"),
    }
    return _render("weekly-summary", context, _staff_recipients())


def _staff_recipients() -> list[str]:
    return sorted(
        set(
            User.objects.filter(is_staff=True, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
