"""The outbox: every email the portal sends, but notices and test sends, is a
ScheduledEmail row first and a message only then (DESIGN.md flow 2).

A row is made in the transaction of what it tells (an invitation, a log copy's
decision, a filed report, a publication), or by the minute sweep when it falls due
(the daily reminder, the weekly summary), and is unique per (kind, key), so a re-run
never sends twice. Its sending is queued once that transaction commits (`outbox_add`);
the minute sweep sends whatever a lost message left behind. A send that fails leaves
the row pending with its error and a `next_attempt_at` further out each time (1, 2, 4,
8 minutes), up to MAX_ATTEMPTS; then it is failed, for a person to look at.

Words are written when the email is sent, not when the row is made, so a retry tells
the state of things at that moment: each kind has a composer (`composer(kind)`) in the
module that knows its subject, and every composer renders through `email_render`, in
the account's time zone and in each recipient's language (one message per language).

The task that sends lives here, on the default queue: the `notices` queue is kept
busy by campaigns, and an invitation must not wait behind 10,000 notices.
"""

import contextlib
import logging
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from notifications.models import ScheduledEmail
from portal.accounts.models import Organization, User

logger = logging.getLogger(__name__)

Kind = ScheduledEmail.Kind
Status = ScheduledEmail.Status

# Five tries over a quarter of an hour ride out a mail server restart; a row that still
# fails after them is left failed, with its error, for a person to look at.
MAX_ATTEMPTS = 5
RETRY_AFTER_MINUTES = (1, 2, 4, 8)
# Rows a sweep sends at most; the rest wait a minute. Rows made by a request or a
# publish are queued on their own at once, so they do not wait for it.
SEND_BATCH = 500


@dataclass(frozen=True)
class Message:
    """One email as it leaves: the words of one language, to those who read it."""

    language: str
    recipients: list[str]
    subject: str
    body: str


@dataclass(frozen=True)
class Email:
    """What a composer wrote: one message per language among its recipients."""

    messages: list[Message]

    @property
    def recipients(self) -> list[str]:
        return [address for message in self.messages for address in message.recipients]


class NothingToSay(Exception):  # noqa: N818 - a signal, not an error
    """The email is no longer needed (a reminder with nobody left to notify, an
    invitation revoked before it left): its row is dropped."""


Composer = Callable[[ScheduledEmail, datetime], Email]
_COMPOSERS: dict[str, Composer] = {}
# What a failed row says when its composer found nobody to write to.
_NOBODY: dict[str, str] = {}


def composer(kind: str, *, nobody: str) -> Callable[[Composer], Composer]:
    """Register the function that writes the emails of `kind`; `nobody` is the error
    a row keeps when there is no one to send it to."""

    def register(function: Composer) -> Composer:
        _COMPOSERS[kind] = function
        _NOBODY[kind] = nobody
        return function

    return register


# --- Making rows -----------------------------------------------------------------------


def outbox_add(
    *, kind: str, key: str, organization_id: int | None = None, incident_id: int | None = None
) -> int | None:
    """The row for (kind, key), made if new, and its sending queued once the caller's
    transaction commits. Returns its id while it is pending (None once sent/failed)."""
    ScheduledEmail.objects.bulk_create(
        [
            ScheduledEmail(
                kind=kind, key=key, organization_id=organization_id, incident_id=incident_id
            )
        ],
        ignore_conflicts=True,
    )
    pending = (
        ScheduledEmail.objects.filter(kind=kind, key=key, status=Status.PENDING)
        .values_list("pk", flat=True)
        .first()
    )
    if pending is not None:
        outbox_send_soon([pending])
    return pending


def outbox_send_soon(email_ids: list[int]) -> None:
    """Queue these rows' sending once the caller's transaction commits (at once
    outside one). The sweep would find them within a minute anyway."""
    if email_ids:
        transaction.on_commit(lambda: outbox_send_task.delay(email_ids), robust=True)


# --- Sending -------------------------------------------------------------------------


def outbox_send_due(*, now: datetime) -> int:
    """Send the pending rows whose time has come. Returns how many emails left."""
    due = list(
        ScheduledEmail.objects.filter(status=Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:SEND_BATCH]
    )
    return outbox_send(email_ids=due, now=now)


def outbox_send(*, email_ids, now: datetime | None = None) -> int:
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
            sent += outbox_email_send(email_id=email_id, now=now, mailer=mailer)
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mailer.close()
    return sent


@shared_task(name="notifications.outbox.services.send", acks_late=True)
def outbox_send_task(email_ids: list[int]) -> int:
    return outbox_send(email_ids=email_ids)


def outbox_email_send(*, email_id: int, now: datetime, mailer=None) -> bool:
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
            email = _COMPOSERS[row.kind](row, now)
        except NothingToSay:
            row.delete()
            return False
        except Exception as error:
            logger.exception("outbox email %s (%s): could not be written", row.pk, row.kind)
            _record_failure(row, error, now=now)
            return False
        if not email.recipients:
            row.status = Status.FAILED
            row.last_error = _NOBODY[row.kind]
            row.save(update_fields=["status", "last_error"])
            logger.warning("outbox email %s (%s): nobody to send it to", row.pk, row.kind)
            return False
        several = len(email.messages) > 1
        messages = [
            EmailMessage(
                subject=message.subject,
                body=message.body,
                to=message.recipients,
                headers={
                    "Message-ID": _message_id(row, message.language if several else ""),
                    "Content-Language": message.language,
                    "Auto-Submitted": "auto-generated",
                },
            )
            for message in email.messages
        ]
        mailer = mailer or mailers.default
        try:
            # One call, so a failure retries the row's every language (an email may
            # leave twice then, as above, never zero times).
            mailer.send_messages(messages)
        except Exception as error:  # any failure is recorded and retried
            if not isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
                # Not an answer from the server: the connection may be broken, so the
                # next message starts on a fresh one.
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    mailer.close()
                    mailer.open()
            _record_failure(row, error, now=now)
            return False
        row.status, row.sent_at, row.last_error = Status.SENT, now, ""
        row.next_attempt_at = None
        row.recipients_count = len(email.recipients)
        row.save(
            update_fields=["status", "sent_at", "last_error", "next_attempt_at", "recipients_count"]
        )
        if row.kind == Kind.DAILY_REMINDER and row.organization_id:
            Organization.objects.filter(pk=row.organization_id).update(last_reminder_sent_at=now)
    return True


def _record_failure(row: ScheduledEmail, error: BaseException, *, now: datetime) -> None:
    row.last_error = error_without_addresses(error)
    if row.attempts >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = Status.FAILED, None
    else:
        row.status = Status.PENDING
        wait = RETRY_AFTER_MINUTES[min(row.attempts, len(RETRY_AFTER_MINUTES)) - 1]
        row.next_attempt_at = now + timedelta(minutes=wait)
    row.save(update_fields=["status", "last_error", "next_attempt_at"])
    logger.warning(
        "outbox email %s (%s): attempt %d of %d failed (%s)%s",
        row.pk,
        row.kind,
        row.attempts,
        MAX_ATTEMPTS,
        type(error).__name__,
        "; giving up"
        if row.status == Status.FAILED
        else f"; next try at {row.next_attempt_at:%H:%M:%S} UTC",
    )


def _message_id(row: ScheduledEmail, language: str = "") -> str:
    # The same on every attempt: a message that left twice is recognisably one. A row
    # sent in several languages is one message per language, each with its own id.
    address = parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1]
    domain = address.rpartition("@")[2] or urlsplit(str(settings.SITE_URL)).hostname or "localhost"
    suffix = f"-{language}" if language else ""
    return f"<{row.kind.replace('_', '-')}-{row.pk}{suffix}@{domain}>"


# --- Writing ---------------------------------------------------------------------------


def email_render(
    name: str, context: dict, recipients: list[str], *, fallback_language: str = ""
) -> Email:
    """templates/emails/<name>-subject.txt and -body.txt, once per language among the
    recipients (`recipient_languages`), each in that language, with times of day in the
    context's `zone` (the account's; UTC where there is none): |date shows an aware
    time in the active zone and language. Never in the language of the request that
    queued it: a reporter's German is not the designated contact's.

    A context value that depends on the language (the exposure window in words) is
    given as a callable: the template calls it while that language is active.

    `fallback_language` is for an address that is no member's, or a member who never
    chose: an invitation goes out in the language the inviter chose for it."""
    languages = recipient_languages(recipients, fallback=fallback_language)
    messages = []
    for language in sorted(set(languages.values()), key=_default_first):
        with timezone.override(context.get("zone") or UTC), translation.override(language):
            subject = render_to_string(f"emails/{name}-subject.txt", context)
            body = render_to_string(f"emails/{name}-body.txt", context)
        messages.append(
            Message(
                language=language,
                recipients=[address for address in recipients if languages[address] == language],
                # A header cannot hold a line break.
                subject=" ".join(subject.split()),
                body=body,
            )
        )
    return Email(messages=messages)


def _default_first(language: str) -> tuple[bool, str]:
    return language != settings.LANGUAGE_CODE, language


def recipient_languages(recipients: list[str], *, fallback: str = "") -> dict[str, str]:
    """Each address's language: that of the member who has it (User.language, their
    choice in the portal), else `fallback` when it is one of the portal's, else the
    portal's (settings.LANGUAGE_CODE), for an address that is no member's (an account's
    designated contact) or a member who never chose."""
    known = {code for code, _name in settings.LANGUAGES}
    default = fallback if fallback in known else settings.LANGUAGE_CODE
    chosen = {
        email.casefold(): language
        for email, language in User.objects.annotate(address=Lower("email"))
        .filter(address__in=[address.lower() for address in recipients])
        .exclude(language="")
        .values_list("email", "language")
    }
    return {
        address: language if (language := chosen.get(address.casefold(), "")) in known else default
        for address in recipients
    }


def site_url(name: str, **kwargs) -> str:
    return str(settings.SITE_URL) + reverse(name, kwargs=kwargs)


_ADDRESS = re.compile(r"[^\s<>@,;:\"']+@[^\s<>@,;:\"']+")


def error_without_addresses(error: BaseException) -> str:
    """An exception as text fit for a log line or a stored error: its kind and SMTP code,
    and its message with every email address taken out (mail servers quote them)."""
    text = _ADDRESS.sub("[address]", str(error))
    code = getattr(error, "smtp_code", None)
    prefix = f"{type(error).__name__}" + (f" {code}" if code else "")
    return f"{prefix}: {text}"[:500] if text else prefix
