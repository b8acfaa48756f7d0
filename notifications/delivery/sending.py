"""Sending a campaign's notices: claim a batch, send it over one SMTP connection, and
record each result (DESIGN.md flow 7, issue 6 point 3).

The delivery rows are the outbox, and the database is the only truth about them:
- A sender (the Celery task notifications.delivery.tasks.deliveries_send, one campaign id) loops:
  it claims a batch of due pending deliveries with SELECT ... FOR UPDATE SKIP LOCKED,
  marks them sending and commits; sends them over one connection, recording each
  result as soon as the server answers; then claims the next batch. A few senders work
  on one campaign at once (NOTICE_SENDERS); each hands over to a fresh task after
  NOTICE_TASK_SECONDS, so there are a handful of tasks per campaign, not one per batch.
- Results are committed as the server answers: a failure at once, accepted messages
  in groups of RECORD_GROUP (or RECORD_WAIT seconds). A worker killed mid-batch leaves
  at most that group sent but not recorded: those go again after the sweep, with the
  same Message-ID (at most one extra copy each per kill); the rest of the batch once.
- A transient error (4xx, a dropped connection) puts the delivery back to pending with
  an exponential backoff until NOTICE_MAX_ATTEMPTS; a permanent one (5xx, an invalid
  address) fails it at once.
- The account's rate (Organization.notice_rate_per_minute) counts the deliveries claimed
  in the last minute, under a lock on the account's row, so every worker of every
  campaign of the account shares one allowance.
- When nothing can be claimed now (backoff, rate), the last sender standing queues a
  successor with a short countdown (never more than MAX_COUNTDOWN, since Redis would
  redeliver a long ETA); the minute sweep (deliveries_requeue_stale) restarts campaigns
  whose senders were lost with a broker message or a killed worker.

Nothing here logs an email address or a phone number: delivery and campaign ids only.
"""

import contextlib
import email.policy
import logging
import math
import re
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mailers
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from notifications.delivery.wire import notice_bytes
from notifications.models import Delivery, NoticeCampaign
from notifications.notice_templates import rendering
from portal.accounts.models import Organization
from portal.incidents.models import Exposure
from portal.jobs import DELIVERIES_SEND, job

logger = logging.getLogger(__name__)

Status = Delivery.Status
CampaignStatus = NoticeCampaign.Status

# The per-account rate is counted over a sliding minute of claims.
RATE_WINDOW = timedelta(minutes=1)
# The longest a sender waits in the broker before looking again (backoff, rate).
MAX_COUNTDOWN = 120
# A delivery in sending for longer than this is taken to be lost with its worker, and
# the sweep returns it to pending. A batch lets go of what it has not sent by half of
# it (SMTP that crawls), so a live batch is never taken from under its worker.
SENDING_STALE_AFTER = timedelta(minutes=10)
# The longest backoff between two attempts.
BACKOFF_CAP = timedelta(hours=1)
# Accepted messages are recorded in groups of this many, or this many seconds after
# the first (see _Recorder).
RECORD_GROUP = 10
RECORD_WAIT = 0.5
# What a delivery records as its error, at most.
ERROR_LENGTH = 500
_CLAIMED_FIELDS = (
    "id",
    "campaign_id",
    "directory_user_id",
    "email",
    "language",
    "context",
    "report_token",
    "attempts",
)


# --- Claiming ----------------------------------------------------------------------


@dataclass
class Claim:
    """What one claim got: the campaign (None unless it is sending) and the deliveries
    now marked sending under `stamp`; when it got none, `wait` is how many seconds
    until one may be claimable (None when no pending delivery is left)."""

    campaign: NoticeCampaign | None
    deliveries: list[Delivery] = field(default_factory=list)
    stamp: datetime | None = None
    wait: float | None = None


def deliveries_claim(*, campaign_id: int, limit: int | None = None) -> Claim:
    """Claim up to `limit` (NOTICE_BATCH_SIZE) due pending deliveries of a sending
    campaign, within the account's allowance for this minute, and commit the claim."""
    limit = limit or settings.NOTICE_BATCH_SIZE
    now = timezone.now()
    with transaction.atomic():
        # The campaign's row first: a pause or cancel (which lock it too) is then
        # either before this claim, which sees it, or after, which finds the rows taken.
        campaign = (
            NoticeCampaign.objects.select_for_update(of=("self",))
            .select_related("organization", "incident")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None or campaign.status != CampaignStatus.SENDING:
            return Claim(campaign=None)
        allowance, window_frees_in = _allowance(campaign.organization_id, now)
        due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        deliveries: list[Delivery] = []
        if allowance > 0:
            deliveries = list(
                Delivery.objects.select_for_update(skip_locked=True)
                .filter(campaign_id=campaign_id, status=Status.PENDING)
                .filter(due)
                .order_by("pk")
                .only(*_CLAIMED_FIELDS)[: min(limit, allowance)]
            )
        if deliveries:
            Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
                status=Status.SENDING, claimed_at=now
            )
            for delivery in deliveries:
                delivery.status = Status.SENDING
                delivery.claimed_at = now
            return Claim(campaign=campaign, deliveries=deliveries, stamp=now)
        waiting = Delivery.objects.filter(campaign_id=campaign_id, status=Status.PENDING)
        if not waiting.exists():
            return Claim(campaign=campaign, wait=None)
        if allowance <= 0:
            return Claim(campaign=campaign, wait=window_frees_in)
        soonest = waiting.aggregate(soonest=Min("next_attempt_at"))["soonest"]
        wait = (soonest - now).total_seconds() if soonest else 0.0
        return Claim(campaign=campaign, wait=max(0.0, wait))


def _allowance(organization_id: int, now: datetime) -> tuple[int, float]:
    """How many more deliveries the account may claim now, and in how many seconds
    its oldest claim of the last minute leaves the window. Takes the account's row
    lock, which the caller's transaction holds until its claim is committed, so two
    workers never spend the same allowance."""
    rate = (
        Organization.objects.select_for_update()
        .filter(pk=organization_id)
        .values_list("notice_rate_per_minute", flat=True)
        .get()
    )
    window_start = now - RATE_WINDOW
    # Only campaigns that can have claimed in the last minute: the index on (campaign,
    # status) narrows the count to them instead of every delivery the account ever had.
    recent = NoticeCampaign.objects.filter(organization_id=organization_id).filter(
        Q(status=CampaignStatus.SENDING) | Q(progress_at__gte=window_start)
    )
    claimed = Delivery.objects.filter(
        campaign_id__in=recent.values("pk"), claimed_at__gte=window_start
    ).aggregate(count=Count("pk"), oldest=Min("claimed_at"))
    allowance = rate - claimed["count"]
    frees_in = 0.0
    if allowance <= 0 and claimed["oldest"] is not None:
        frees_in = (claimed["oldest"] + RATE_WINDOW - now).total_seconds()
    return allowance, max(0.0, frees_in)


# --- Sending -----------------------------------------------------------------------


@dataclass
class BatchOutcome:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0  # handed back unsent (the connection could not be had again)


@dataclass(frozen=True)
class _Failure:
    transient: bool
    connection_lost: bool
    text: str


def _failure(error: Exception) -> _Failure:
    """How an error from sending one message counts: 4xx and a lost connection are
    worth another try, 5xx and an address that cannot be written are not."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        codes = [code for code, _ in answers]
        text = "; ".join(f"{code} {_text(message)}" for code, message in answers)
        return _Failure(
            transient=all(400 <= code < 500 for code in codes),
            # 421 closes the connection (smtplib drops it too).
            connection_lost=421 in codes,
            text=text,
        )
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        text = f"{code} {_text(error.smtp_error)}"
        # 421 closes the connection (smtplib drops it too).
        return _Failure(transient=not 500 <= code < 600, connection_lost=code == 421, text=text)
    if isinstance(error, (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)):
        return _Failure(transient=True, connection_lost=True, text=f"Connection lost: {error}")
    if isinstance(error, smtplib.SMTPException):
        return _Failure(transient=True, connection_lost=False, text=str(error))
    if isinstance(error, OSError):
        return _Failure(transient=True, connection_lost=True, text=f"Connection failed: {error}")
    if isinstance(error, (ValueError, UnicodeError)):
        # Django's SMTP backend refuses an address (or a header) it cannot write before
        # sending anything: "Invalid address '...': ...".
        return _Failure(transient=False, connection_lost=False, text=str(error))
    return _Failure(transient=False, connection_lost=False, text=f"{type(error).__name__}: {error}")


def _text(message) -> str:
    if isinstance(message, bytes):
        return message.decode("utf-8", "replace")
    return str(message)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: NOTICE_RETRY_SECONDS, doubled
    each time, at most BACKOFF_CAP."""
    seconds = settings.NOTICE_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    return min(timedelta(seconds=seconds), BACKOFF_CAP)


class _Recorder:
    """Writes the results of a batch, only over a claim that is still this batch's (the
    sweep may have taken back a batch whose worker it took for dead).

    A failure is written at once. Messages the server accepted are written in groups
    of up to RECORD_GROUP, at most RECORD_WAIT seconds after the first of them: one
    statement instead of twenty, which is most of what recording costs next to a fast
    server. The price: a worker killed mid-batch leaves up to a group of messages sent
    but still "sending", which go again (same Message-ID) after the sweep; each
    recipient gets at most one extra copy per kill."""

    def __init__(self, stamp: datetime):
        self.stamp = stamp
        self.started = time.monotonic()
        self.outcome = BatchOutcome()
        self.sent_user_ids: list[int] = []
        self._accepted: list[tuple[Delivery, str]] = []
        self._accepted_since = 0.0

    def _ours(self, delivery: Delivery):
        return Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, claimed_at=self.stamp)

    def sent(self, delivery: Delivery, message_id: str) -> None:
        if not self._accepted:
            self._accepted_since = time.monotonic()
        self._accepted.append((delivery, message_id))
        if len(self._accepted) >= RECORD_GROUP:
            self.flush()
        else:
            self.flush_if_due()

    def flush_if_due(self) -> None:
        if self._accepted and time.monotonic() - self._accepted_since >= RECORD_WAIT:
            self.flush()

    def flush(self) -> None:
        if not self._accepted:
            return
        accepted, self._accepted = self._accepted, []
        done = _record_sent(accepted, stamp=self.stamp)
        self.outcome.sent += done
        # Stamped even if the sweep took a claim back meanwhile: the server took the
        # message, so the person was notified.
        self.sent_user_ids.extend(delivery.directory_user_id for delivery, _ in accepted)

    def failed(self, delivery: Delivery, failure: _Failure) -> None:
        attempts = delivery.attempts + 1
        error = failure.text[:ERROR_LENGTH]
        if failure.transient and attempts < settings.NOTICE_MAX_ATTEMPTS:
            done = self._ours(delivery).update(
                status=Status.PENDING,
                attempts=attempts,
                last_error=error,
                next_attempt_at=timezone.now() + backoff(attempts),
            )
            self.outcome.retrying += done
            logger.info("notice delivery %s: attempt %d failed, will retry", delivery.pk, attempts)
        else:
            done = self._ours(delivery).update(
                status=Status.FAILED, attempts=attempts, last_error=error, next_attempt_at=None
            )
            self.outcome.failed += done
            logger.warning("notice delivery %s failed after %d attempt(s)", delivery.pk, attempts)

    def released(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        done = Delivery.objects.filter(
            pk__in=[d.pk for d in deliveries], status=Status.SENDING, claimed_at=self.stamp
        ).update(status=Status.PENDING, claimed_at=None)
        self.outcome.released += done


def _record_sent(accepted: list[tuple[Delivery, str]], *, stamp: datetime) -> int:
    """Mark a group of deliveries sent, each with its Message-ID, in one statement, if
    still claimed under `stamp`. Written out: the ORM's CASE for ten rows costs more
    than sending them. Returns how many it marked."""
    ops = connection.ops
    table = ops.quote_name(Delivery._meta.db_table)
    column = {
        name: ops.quote_name(Delivery._meta.get_field(name).column)
        for name in (
            "id", "status", "sent_at", "message_id", "attempts", "last_error",
            "next_attempt_at", "claimed_at",
        )
    }  # fmt: skip
    cases = " ".join("WHEN %s THEN %s" for _ in accepted)
    ids = ", ".join("%s" for _ in accepted)
    sql = (
        f"UPDATE {table} SET {column['status']} = %s, {column['sent_at']} = %s,"  # noqa: S608 - names from the model, values as parameters
        f" {column['message_id']} = CASE {column['id']} {cases} END,"
        f" {column['attempts']} = {column['attempts']} + 1, {column['last_error']} = '',"
        f" {column['next_attempt_at']} = NULL"
        f" WHERE {column['id']} IN ({ids}) AND {column['status']} = %s"
        f" AND {column['claimed_at']} = %s"
    )
    params: list = [Status.SENT, ops.adapt_datetimefield_value(timezone.now())]
    for delivery, message_id in accepted:
        params += [delivery.pk, message_id]
    params += [delivery.pk for delivery, _ in accepted]
    params += [Status.SENDING, ops.adapt_datetimefield_value(stamp)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def deliveries_send_claimed(
    *, campaign: NoticeCampaign, deliveries: list[Delivery], stamp: datetime
) -> BatchOutcome:
    """Send a claimed batch over one SMTP connection and record each result, then the
    campaign's counters, progress and the exposures' last-notified time."""
    recorder = _Recorder(stamp)
    shared = rendering.campaign_context(
        organization=campaign.organization,
        incident=campaign.incident,
        contact=campaign.contact_snapshot,
    )
    # Past this, what is left goes back to pending rather than risk the sweep taking
    # the claim back while this worker still sends it.
    deadline = time.monotonic() + SENDING_STALE_AFTER.total_seconds() / 2
    mailer = mailers.default
    try:
        with _commits_without_waiting_for_disk():
            _send_all(mailer, campaign, deliveries, shared, recorder, deadline)
    finally:
        # The connection may be gone already; every result is recorded either way.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mailer.close()
        recorder.flush()
        _batch_record(campaign, recorder)
    return recorder.outcome


@contextlib.contextmanager
def _commits_without_waiting_for_disk():
    """On PostgreSQL, the per-message results of a batch commit without waiting for
    the disk (synchronous_commit off: several times faster on a busy disk). A result
    lost that way needs the database server itself to crash within the last fraction
    of a second, and then costs what a killed worker costs: the sweep sends the message
    again, with the same Message-ID. Never a wrong result, only a possible repeat."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        # The connection outlives the task (CONN_MAX_AGE): nothing else may inherit it.
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _send_all(mailer, campaign, deliveries, shared, recorder: _Recorder, deadline) -> None:
    try:
        mailer.open()
    except (smtplib.SMTPException, OSError) as error:
        # Whatever the server answered, it is about us (address, login), not about the
        # recipients: worth another try for every one of them.
        failure = _Failure(
            transient=True, connection_lost=True, text=f"Could not reach the mail server: {error}"
        )
        logger.warning(
            "notices: campaign %s: no SMTP connection (%s)", campaign.pk, type(error).__name__
        )
        for delivery in deliveries:
            recorder.failed(delivery, failure)
        return
    send = _SMTPSender(mailer).send if isinstance(mailer, SMTPBackend) else _other_sender(mailer)
    index = 0
    try:
        for index, delivery in enumerate(deliveries):
            if time.monotonic() > deadline:
                logger.warning(
                    "notices: campaign %s: batch too slow, handing back the rest", campaign.pk
                )
                recorder.released(deliveries[index:])
                return
            recorder.flush_if_due()  # before a send that may take the server's timeout
            if not _send_one(send, mailer, campaign, delivery, shared, recorder):
                # The server is gone: the rest count as tried, with the same backoff.
                for other in deliveries[index + 1 :]:
                    recorder.failed(other, _GONE)
                return
    except BaseException:
        # Anything else (the task's time limit, the database): record what is known,
        # hand back what is not sent (the one under way may go again, like a kill).
        recorder.flush()
        recorder.released(deliveries[index:])
        raise


_GONE = _Failure(transient=True, connection_lost=True, text="The mail server went away")
_SEND_ERRORS = (smtplib.SMTPException, OSError, ValueError, UnicodeError)


def _send_one(send, mailer, campaign, delivery, shared, recorder: _Recorder) -> bool:
    """Send one notice and record its result. False when the connection is lost and
    cannot be had again."""
    message_id = rendering.message_id_for(delivery.pk)
    try:
        message = _notice_email(campaign, delivery, shared, message_id)
    except (KeyError, ValueError, TypeError) as error:
        # A snapshot the renderer cannot use: the same on every attempt, so final.
        recorder.failed(delivery, _Failure(False, False, f"The notice could not be made: {error}"))
        return True
    try:
        accepted = send(message)
    except _SEND_ERRORS as error:
        failure = _failure(error)
        recorder.failed(delivery, failure)
        if failure.connection_lost or _dropped(mailer):
            return _reopen(mailer)
        return True
    if accepted:
        recorder.sent(delivery, message_id)
    else:
        recorder.failed(delivery, _Failure(False, False, "Not accepted by the mail backend"))
    return True


# local@domain in plain ASCII: dot-atoms on both sides (RFC 5322), a domain of
# letter-digit-hyphen labels.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


class _SMTPSender:
    """What Django's SMTP backend does for one message on its open connection
    (EmailBackend._send: the same envelope, the same message), with the message's
    bytes made by notifications.delivery.wire (Django's serialiser costs most of a campaign's
    time), the sender's address checked once per batch, and a plain address (the
    usual one) taken as it is: for those, prep_address returns them unchanged, after a
    parse that costs more than the rest of the message."""

    def __init__(self, mailer: SMTPBackend):
        self.mailer = mailer
        self._senders: dict[str, str] = {}

    def send(self, message) -> int:
        mailer = self.mailer
        sender = self._senders.get(message.from_email)
        if sender is None:
            sender = self._senders[message.from_email] = mailer.prep_address(message.from_email)
        recipients = [
            address if _PLAIN_ADDRESS.fullmatch(address) else mailer.prep_address(address)
            for address in message.recipients()
        ]
        if not recipients:
            return 0
        data = notice_bytes(message) or message.message(policy=email.policy.SMTP).as_bytes()
        if mailer.connection is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        mailer.connection.sendmail(sender, recipients, data)
        return 1


def _other_sender(mailer):
    """Any other backend (files, console, tests' memory): its own send_messages."""
    return lambda message: mailer.send_messages([message])


def _dropped(mailer) -> bool:
    """Whether the server closed the SMTP backend's connection (smtplib closes it on
    a 421 in any reply)."""
    smtp = getattr(mailer, "connection", None)
    return smtp is not None and getattr(smtp, "sock", True) is None


def _reopen(mailer) -> bool:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        mailer.close()
    try:
        mailer.open()
    except (smtplib.SMTPException, OSError):
        return False
    return True


def _notice_email(campaign: NoticeCampaign, delivery: Delivery, shared: dict, message_id: str):
    values = {
        **shared,
        **delivery.context,
        "report_link": rendering.report_link(delivery.report_token),
    }
    rendered = rendering.notice_render(
        snapshot=campaign.template_snapshot, language=delivery.language, values=values
    )
    return rendering.notice_email(
        rendered=rendered,
        to=delivery.email,
        contact=campaign.contact_snapshot,
        message_id=message_id,
    )


def _batch_record(campaign: NoticeCampaign, recorder: _Recorder) -> None:
    outcome = recorder.outcome
    now = timezone.now()
    with transaction.atomic():
        # Only while it sends: once another sender (or the sweep) completed the
        # campaign, its counters were counted from the rows, this batch's included, and
        # adding them again would count them twice (seen: 1,100 sent of 1,000).
        NoticeCampaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
            sent_count=F("sent_count") + outcome.sent,
            failed_count=F("failed_count") + outcome.failed,
            progress_at=now,
        )
        if recorder.sent_user_ids:
            # "Notified" is per person and incident: every exposure of the person.
            Exposure.objects.filter(
                organization_id=campaign.organization_id,
                incident_id=campaign.incident_id,
                directory_user_id__in=recorder.sent_user_ids,
            ).update(last_notified_at=now)
    logger.info(
        "notices: campaign %s batch in %.2f s: %d sent, %d to retry, %d failed, %d handed back",
        campaign.pk,
        time.monotonic() - recorder.started,
        outcome.sent,
        outcome.retrying,
        outcome.failed,
        outcome.released,
    )
    campaign_finish_if_done(campaign_id=campaign.pk)


def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """Complete a sending campaign once no delivery is pending or sending. Its counters
    are counted again from the rows then, so a worker killed between recording a result
    and adding it to the counters leaves no trace, and exposures of anyone sent the
    notice but not yet stamped (the same kill) are stamped. Returns whether it
    completed now."""
    open_statuses = (Status.PENDING, Status.SENDING)
    deliveries = Delivery.objects.filter(campaign_id=campaign_id)
    if deliveries.filter(status__in=open_statuses).exists():
        return False
    now = timezone.now()
    with transaction.atomic():
        campaign = (
            NoticeCampaign.objects.select_for_update()
            .filter(pk=campaign_id, status=CampaignStatus.SENDING)
            .first()
        )
        if campaign is None or deliveries.filter(status__in=open_statuses).exists():
            return False
        counts = campaign_counts(campaign_id=campaign_id)
        Exposure.objects.filter(
            organization_id=campaign.organization_id,
            incident_id=campaign.incident_id,
            last_notified_at__isnull=True,
            directory_user_id__in=deliveries.filter(status=Status.SENT).values("directory_user_id"),
        ).update(last_notified_at=now)
        campaign.status = CampaignStatus.COMPLETED
        campaign.completed_at = now
        campaign.progress_at = now
        campaign.sent_count = counts.get(Status.SENT, 0)
        campaign.failed_count = counts.get(Status.FAILED, 0)
        campaign.skipped_count = counts.get(Status.SKIPPED, 0)
        campaign.save(
            update_fields=[
                "status",
                "completed_at",
                "progress_at",
                "sent_count",
                "failed_count",
                "skipped_count",
            ]
        )
    logger.info("notices: campaign %s completed", campaign_id)
    return True


def campaign_counts(*, campaign_id: int) -> dict[str, int]:
    """The campaign's deliveries by status, counted from the rows."""
    rows = (
        Delivery.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values("status")
        .annotate(count=Count("pk"))
    )
    return {row["status"]: row["count"] for row in rows}


# --- The sender loop and its tasks -------------------------------------------------


def campaign_send(*, campaign_id: int) -> None:
    """One sender's turn on a campaign (the body of notifications.delivery.tasks.deliveries_send):
    claim and send batches until there is nothing to claim or its time is up, then
    hand over to a successor if work remains that no one else is doing."""
    started = time.monotonic()
    while True:
        claim = deliveries_claim(campaign_id=campaign_id)
        if claim.campaign is None:
            return  # paused, cancelled, completed or gone: nothing for a sender
        if claim.deliveries:
            deliveries_send_claimed(
                campaign=claim.campaign, deliveries=claim.deliveries, stamp=claim.stamp
            )
            if time.monotonic() - started >= settings.NOTICE_TASK_SECONDS:
                senders_enqueue(campaign_id=campaign_id, count=1)
                return
            continue
        if claim.wait is None:
            campaign_finish_if_done(campaign_id=campaign_id)
            return
        if Delivery.objects.filter(campaign_id=campaign_id, status=Status.SENDING).exists():
            # Another sender is at work on this campaign and will look again after its
            # batch (or the sweep will, if it dies): one waiting sender is enough.
            return
        # At least a second: rows another claim holds right now are not worth a spin.
        senders_enqueue(campaign_id=campaign_id, count=1, countdown=max(1.0, claim.wait))
        return


def senders_wanted(pending: int) -> int:
    """How many senders a campaign with `pending` deliveries gets at once."""
    return max(1, min(settings.NOTICE_SENDERS, math.ceil(pending / settings.NOTICE_BATCH_SIZE)))


def senders_enqueue(*, campaign_id: int, count: int, countdown: float = 0) -> None:
    """Queue `count` senders for the campaign after the current transaction commits.
    A broker that cannot be reached only delays the work: the sweep finds the campaign
    in the database and queues it again."""

    def enqueue() -> None:
        deliveries_send = job(DELIVERIES_SEND)
        delay = min(max(0, math.ceil(countdown)), MAX_COUNTDOWN)
        if delay and deliveries_send.app.conf.task_always_eager:
            # Run eagerly (tests), a delayed successor would run at once and find the
            # same wait again, forever; the sweep (or the test) looks again instead.
            return
        try:
            for _ in range(count):
                deliveries_send.apply_async((campaign_id,), countdown=delay or None)
        except (OperationalError, OSError) as error:
            logger.warning(
                "notices: campaign %s: could not queue a sender (%s); the sweep will",
                campaign_id,
                type(error).__name__,
            )

    transaction.on_commit(enqueue)
