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
  in groups (RECORD_GROUP, RECORD_WAIT), on PostgreSQL by a thread of the sender's own
  while the next message goes out (_GroupWriter). A worker killed mid-batch leaves at
  most RECORD_GROUP messages per process sent but not recorded: those go again once
  the batch is taken over, with the same Message-ID (at most one extra copy each per
  kill); the rest of the batch once.
- A transient error (4xx, a dropped connection) puts the delivery back to pending with
  an exponential backoff until NOTICE_MAX_ATTEMPTS; a permanent one (5xx, an invalid
  address) fails it at once.
- The account's rate (Organization.notice_rate_per_minute) counts the deliveries claimed
  in the last minute, under a lock on the account's row, so every worker of every
  campaign of the account shares one allowance.
- Each claimed batch carries a lease (portal.leases): its owner (host and process) and
  `leased_until`, about 30 s ahead, renewed every few seconds by a thread of the sender
  while the batch is out, so a slow server never lets it lapse. A batch whose lease has
  lapsed (its worker died) is taken back by the next claim on the campaign, the sweep,
  or a worker starting up, which takes over at once the leases of processes of its
  own machine that are gone.
- While a campaign has pending deliveries, a sender is queued or running: a sender
  that ends with work left (its turn is up, or nothing is claimable now: backoff, rate,
  or other senders' batches still out) queues its successor, with a countdown for a
  wait (never more than MAX_COUNTDOWN, since Redis would redeliver a long ETA). When
  the broker cannot take it, the sender keeps its turn instead of ending. The minute
  sweep (deliveries_requeue_stale) remains for senders lost with a broker message.
- A sender that loses its database connection (a failover, pg_terminate_backend)
  reconnects, records what it knows, hands the rest of its batch back and queues its
  successor, instead of leaving the rows to wait for their lease.

Nothing here logs an email address or a phone number: delivery and campaign ids only.
"""

import contextlib
import email.policy
import logging
import math
import re
import smtplib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mailers
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone
from kombu.exceptions import OperationalError

from notifications.delivery.wire import notice_bytes
from notifications.models import Delivery, NoticeCampaign
from notifications.notice_templates import rendering
from notifications.signals import campaign_finished
from portal.accounts.models import Organization
from portal.incidents.exposures.services import exposure_rollup_refresh
from portal.incidents.models import Exposure
from portal.jobs import DELIVERIES_SEND, job
from portal.leases import LeaseKeeper, lease_lapsed, lease_owner, lease_until

logger = logging.getLogger(__name__)

Status = Delivery.Status
CampaignStatus = NoticeCampaign.Status

# The per-account rate is counted over a sliding minute of claims.
RATE_WINDOW = timedelta(minutes=1)
# The longest a sender waits in the broker before looking again (backoff, rate).
MAX_COUNTDOWN = 120
# A batch lets go of what it has not sent after this long (SMTP that crawls), so that
# one slow server does not hold a batch's rows for good.
BATCH_DEADLINE = timedelta(minutes=5)
# A sender whose successor the broker cannot take keeps its turn, and looks again this
# often while it has to wait.
BROKER_AWAY_WAIT = 5.0
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


# --- Where a sender's time goes -----------------------------------------------------


@dataclass
class SenderSplit:
    """Seconds one sender's turn spent claiming, rendering (the text, and the message's
    bytes), in SMTP (the server's answers), recording results (and the rest of each
    batch: its lease, its counters) and handing over; logged as the turn ends, and
    summed by the benchmark (bench/notices.py)."""

    claiming: float = 0.0
    rendering: float = 0.0
    smtp: float = 0.0
    recording: float = 0.0
    hand_off: float = 0.0
    batches: int = 0
    messages: int = 0

    def log(self, campaign_id: int, seconds: float) -> None:
        logger.info(
            "notices: campaign %s sender split: %d batches, %d messages in %.3f s:"
            " claiming %.3f, rendering %.3f, smtp %.3f, recording %.3f, hand-off %.3f",
            campaign_id,
            self.batches,
            self.messages,
            seconds,
            self.claiming,
            self.rendering,
            self.smtp,
            self.recording,
            self.hand_off,
        )


# The current sender's (a worker process runs one task at a time).
_split = SenderSplit()


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
    # When nothing is pending but other senders' batches are out: when the first of
    # their leases lapses, unless renewed (the moment a successor should look again).
    others_until: datetime | None = None


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
        _leases_take_over(campaign_id, now)
        allowance, window_frees_in = _allowance(campaign.organization_id, now, limit)
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
                status=Status.SENDING,
                claimed_at=now,
                leased_until=lease_until(now),
                lease_owner=lease_owner(),
            )
            for delivery in deliveries:
                delivery.status = Status.SENDING
                delivery.claimed_at = now
            return Claim(campaign=campaign, deliveries=deliveries, stamp=now)
        waiting = Delivery.objects.filter(campaign_id=campaign_id, status=Status.PENDING)
        if not waiting.exists():
            others_until = Delivery.objects.filter(
                campaign_id=campaign_id, status=Status.SENDING
            ).aggregate(until=Min("leased_until"))["until"]
            return Claim(campaign=campaign, wait=None, others_until=others_until)
        if allowance <= 0:
            return Claim(campaign=campaign, wait=window_frees_in)
        soonest = waiting.aggregate(soonest=Min("next_attempt_at"))["soonest"]
        wait = (soonest - now).total_seconds() if soonest else 0.0
        return Claim(campaign=campaign, wait=max(0.0, wait))


def _leases_take_over(campaign_id: int, now: datetime) -> int:
    """The campaign's batches whose lease has lapsed go back to pending, for this claim
    or the next to take (their sender died, or lost its database for LEASE). Each may
    have left just before: it goes again with the same Message-ID."""
    taken = (
        Delivery.objects.filter(campaign_id=campaign_id, status=Status.SENDING)
        .filter(lease_lapsed(now))
        .update(status=Status.PENDING, claimed_at=None, leased_until=None, lease_owner="")
    )
    if taken:
        logger.warning(
            "notices: campaign %s: %d deliveries taken over from a lapsed lease", campaign_id, taken
        )
    return taken


def _allowance(organization_id: int, now: datetime, limit: int) -> tuple[int, float]:
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
    # Each delivery counts once in the window however often it was claimed (a claim
    # overwrites claimed_at): when the rate leaves room for a whole batch beyond every
    # delivery these campaigns have, the count (a walk over all their rows, for each
    # claim) cannot change the answer.
    deliveries = recent.aggregate(total=Sum("recipients_total"))["total"] or 0
    if rate - deliveries >= limit:
        return rate - deliveries, 0.0
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
    database_lost: bool = False  # the database went away under the batch


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
    """Writes the results of a batch, only over a claim that is still this batch's (its
    lease may have lapsed and the batch been taken over).

    A failure is written at once. Messages the server accepted are written in groups
    of up to RECORD_GROUP, at most RECORD_WAIT seconds after the first of them: one
    statement instead of twenty, which is most of what recording costs next to a fast
    server. The price: a worker killed mid-batch leaves up to a group of messages sent
    but still "sending", which go again (same Message-ID) once the batch is taken over;
    each recipient gets at most one extra copy per kill."""

    def __init__(
        self, stamp: datetime, deliveries: list[Delivery], writer: "_GroupWriter | None" = None
    ):
        self.stamp = stamp
        self.deliveries = deliveries
        self.writer = writer
        self.started = time.monotonic()
        self.outcome = BatchOutcome()
        self.sent_user_ids: list[int] = []
        # Deliveries with a known result (accepted, or a failure written): the rest of
        # the batch is what goes back to pending when the batch ends early.
        self.handled: set[int] = set()
        self._accepted: list[tuple[Delivery, str]] = []
        self._accepted_since = 0.0

    def _ours(self, delivery: Delivery):
        return Delivery.objects.filter(pk=delivery.pk, status=Status.SENDING, claimed_at=self.stamp)

    def sent(self, delivery: Delivery, message_id: str) -> None:
        self.handled.add(delivery.pk)
        if self.writer is not None:
            # Stamped even if the claim is lost meanwhile: the server took the message.
            self.sent_user_ids.append(delivery.directory_user_id)
            self.writer.submit(self, delivery, message_id)
            return
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
        if self.writer is not None:
            # Waits for the writer; what it could not write (its connection lost) is
            # written here, on this thread's connection.
            self._accepted.extend(self.writer.drain())
            if self._accepted:
                done = _record_sent(self._accepted, stamp=self.stamp)
                self._accepted = []
                self.outcome.sent += done
            return
        if not self._accepted:
            return
        accepted = self._accepted
        done = _record_sent(accepted, stamp=self.stamp)
        # Only once written: a group the database did not take is tried again (after a
        # reconnection), not forgotten and later sent again.
        self._accepted = []
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
        self.handled.add(delivery.pk)

    def release_unsent(self) -> None:
        """Hand back to pending what this batch has no result for, if still its own."""
        unsent = [d.pk for d in self.deliveries if d.pk not in self.handled]
        if not unsent:
            return
        done = Delivery.objects.filter(
            pk__in=unsent, status=Status.SENDING, claimed_at=self.stamp
        ).update(status=Status.PENDING, claimed_at=None, leased_until=None, lease_owner="")
        self.handled.update(unsent)
        self.outcome.released += done


class _GroupWriter:
    """Records accepted messages from a thread of its own, with its own connection,
    while the sender goes on with the next message: the sender pipelines its SMTP
    conversation with its bookkeeping (a fifth of a sender's time on a fast server).

    It writes a group once it holds half of RECORD_GROUP (or RECORD_WAIT seconds after
    the first of it), and the sender waits before handing it one more when RECORD_GROUP
    messages are queued or being written: a kill leaves at most RECORD_GROUP messages
    sent but unrecorded per process, as without it. A group the database would not
    take is handed back by `drain`, for the sender to write on its own connection."""

    def __init__(self):
        self._ready = threading.Condition()
        self._queue: list[tuple[_Recorder, Delivery, str]] = []
        self._queued_since = 0.0
        self._writing = 0
        self._flush = False
        self._stop = False
        self._unwritten: list[tuple[Delivery, str]] = []
        self._thread = threading.Thread(target=self._run, name="notice-recorder", daemon=True)
        self._thread.start()

    def submit(self, recorder: "_Recorder", delivery: Delivery, message_id: str) -> None:
        with self._ready:
            while len(self._queue) + self._writing >= RECORD_GROUP and self._thread.is_alive():
                self._ready.wait(1)
            if not self._queue:
                self._queued_since = time.monotonic()
            self._queue.append((recorder, delivery, message_id))
            self._ready.notify_all()

    def drain(self) -> list[tuple[Delivery, str]]:
        """Wait until everything handed over is written; returns what could not be."""
        with self._ready:
            self._flush = True
            self._ready.notify_all()
            while (self._queue or self._writing) and self._thread.is_alive():
                self._ready.wait(1)
            self._flush = False
            # A writer that died leaves its queue to the sender.
            left = [(delivery, message_id) for _, delivery, message_id in self._queue]
            unwritten, self._unwritten, self._queue = self._unwritten + left, [], []
            return unwritten

    def close(self) -> None:
        with self._ready:
            self._stop = True
            self._ready.notify_all()
        self._thread.join()

    def _due(self) -> bool:
        return bool(self._queue) and (
            self._flush
            or len(self._queue) * 2 >= RECORD_GROUP
            or time.monotonic() - self._queued_since >= RECORD_WAIT
        )

    def _run(self) -> None:
        try:
            with contextlib.suppress(DatabaseError):
                _commits_without_waiting_for_disk_set()
            while True:
                with self._ready:
                    while not self._due() and not (self._stop and not self._queue):
                        self._ready.wait(RECORD_WAIT)
                    if not self._queue:
                        return  # stopping, nothing left
                    group, self._queue = self._queue, []
                    self._writing, self._flush = len(group), False
                recorder = group[0][0]
                accepted = [(delivery, message_id) for _, delivery, message_id in group]
                try:
                    recorder.outcome.sent += _record_sent(accepted, stamp=recorder.stamp)
                except Exception as error:
                    # The database went away (or anything else): the sender writes the
                    # group on its own connection as the batch ends.
                    logger.warning(
                        "notices: recording a group failed (%s); the sender retries it",
                        type(error).__name__,
                    )
                    connection.close()
                    with self._ready:
                        self._unwritten.extend(accepted)
                finally:
                    with self._ready:
                        self._writing = 0
                        self._ready.notify_all()
        finally:
            connection.close()


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
    *,
    campaign: NoticeCampaign,
    deliveries: list[Delivery],
    stamp: datetime,
    writer: _GroupWriter | None = None,
) -> BatchOutcome:
    """Send a claimed batch over one SMTP connection and record each result, then the
    campaign's counters, progress and the exposures' last-notified time. With a
    `writer`, accepted messages are recorded by its thread while the next goes out."""
    recorder = _Recorder(stamp, deliveries, writer)
    shared = rendering.campaign_context(
        organization=campaign.organization,
        incident=campaign.incident,
        contact=campaign.contact_snapshot,
    )
    deadline = time.monotonic() + BATCH_DEADLINE.total_seconds()
    mailer = mailers.default
    database_lost = False
    try:
        with _commits_without_waiting_for_disk(), _batch_lease(deliveries, stamp) as lease:
            _send_all(mailer, campaign, deliveries, shared, recorder, deadline, lease)
    except DatabaseError as error:
        # A failover, pg_terminate_backend: the connection is gone with this batch's
        # unwritten results. A new one records them and hands back the rest below,
        # rather than leave the rows to wait for their lease.
        database_lost = True
        logger.warning(
            "notices: campaign %s: lost the database (%s); reconnecting to hand the batch back",
            campaign.pk,
            type(error).__name__,
        )
        connection.close()
    finally:
        # The connection may be gone already; every result is recorded either way.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mailer.close()
        # Anything else that ends the batch early (the task's time limit) also gets here:
        # what is known is recorded, what is not sent goes back (the one under way may
        # go again, like a kill).
        try:
            _batch_end(campaign, recorder)
        except DatabaseError as error:
            # Lost only now (recording the last results), or still away: once more on
            # a new connection, then leave the rest to the lease (it lapses in LEASE).
            if not database_lost:
                logger.warning(
                    "notices: campaign %s: lost the database (%s); reconnecting",
                    campaign.pk,
                    type(error).__name__,
                )
            database_lost = True
            connection.close()
            try:
                _batch_end(campaign, recorder)
            except DatabaseError:
                logger.warning("notices: campaign %s: the database is still away", campaign.pk)
                connection.close()
    recorder.outcome.database_lost = database_lost
    return recorder.outcome


def _batch_end(campaign: NoticeCampaign, recorder: _Recorder) -> None:
    recorder.flush()
    recorder.release_unsent()
    _batch_record(campaign, recorder)


@contextlib.contextmanager
def _batch_lease(deliveries: list[Delivery], stamp: datetime):
    """The batch's lease, renewed while it is out (see portal.leases)."""
    ids = [delivery.pk for delivery in deliveries]

    def renew(until: datetime) -> int:
        return Delivery.objects.filter(pk__in=ids, status=Status.SENDING, claimed_at=stamp).update(
            leased_until=until
        )

    with LeaseKeeper(renew, name="notice-batch-lease") as keeper:
        yield keeper


def _commits_without_waiting_for_disk_set() -> None:
    """The same for a connection that is this thread's alone (closed after use)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


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


def _send_all(
    mailer, campaign, deliveries, shared, recorder: _Recorder, deadline, lease: LeaseKeeper
) -> None:
    """Send the batch; whatever it leaves without a result, the caller hands back."""
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
    for index, delivery in enumerate(deliveries):
        if lease.lost:
            # Taken over (this process stalled past its lease): the rows are another
            # sender's now, and a message sent from here would be a second copy.
            logger.warning("notices: campaign %s: batch taken over, stopping", campaign.pk)
            return
        if time.monotonic() > deadline:
            logger.warning(
                "notices: campaign %s: batch too slow, handing back the rest", campaign.pk
            )
            return
        recorder.flush_if_due()  # before a send that may take the server's timeout
        if not _send_one(send, mailer, campaign, delivery, shared, recorder):
            # The server is gone: the rest count as tried, with the same backoff.
            for other in deliveries[index + 1 :]:
                recorder.failed(other, _GONE)
            return


_GONE = _Failure(transient=True, connection_lost=True, text="The mail server went away")
_SEND_ERRORS = (smtplib.SMTPException, OSError, ValueError, UnicodeError)


def _send_one(send, mailer, campaign, delivery, shared, recorder: _Recorder) -> bool:
    """Send one notice and record its result. False when the connection is lost and
    cannot be had again."""
    message_id = rendering.message_id_for(delivery.pk)
    began = time.perf_counter()
    try:
        message = _notice_email(campaign, delivery, shared, message_id)
        _split.rendering += time.perf_counter() - began
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
        began = time.perf_counter()
        data = notice_bytes(message) or message.message(policy=email.policy.SMTP).as_bytes()
        sending = time.perf_counter()
        _split.rendering += sending - began
        if mailer.connection is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        try:
            mailer.connection.sendmail(sender, recipients, data)
        finally:
            _split.smtp += time.perf_counter() - sending
        return 1


def _other_sender(mailer):
    """Any other backend (files, console, tests' memory): its own send_messages."""

    def send(message) -> int:
        began = time.perf_counter()
        try:
            return mailer.send_messages([message])
        finally:
            _split.smtp += time.perf_counter() - began

    return send


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
            stamped = Exposure.objects.filter(
                organization_id=campaign.organization_id,
                incident_id=campaign.incident_id,
                directory_user_id__in=recorder.sent_user_ids,
            ).update(last_notified_at=now)
            if stamped:
                # The dashboard's "notified" reads the rollup.
                exposure_rollup_refresh(
                    incident_id=campaign.incident_id, organization_ids=[campaign.organization_id]
                )
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
        stamped = Exposure.objects.filter(
            organization_id=campaign.organization_id,
            incident_id=campaign.incident_id,
            last_notified_at__isnull=True,
            directory_user_id__in=deliveries.filter(status=Status.SENT).values("directory_user_id"),
        ).update(last_notified_at=now)
        if stamped:
            exposure_rollup_refresh(
                incident_id=campaign.incident_id, organization_ids=[campaign.organization_id]
            )
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
        campaign_finished.send(sender=NoticeCampaign, campaign=campaign)
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
    queue a successor while work remains. A successor the broker cannot take (Redis
    away) is no reason to stop: the sender keeps its turn and tries again later."""
    global _split
    _split = split = SenderSplit()
    turn_began = time.perf_counter()
    # PostgreSQL only, and not inside a transaction (tests): the writer's connection
    # sees only what is committed. SQLite has one writer at a time anyway.
    writer = (
        _GroupWriter()
        if connection.vendor == "postgresql" and not connection.in_atomic_block
        else None
    )
    try:
        _campaign_send(campaign_id, split, writer)
    finally:
        if writer is not None:
            writer.close()
        split.log(campaign_id, time.perf_counter() - turn_began)


def _campaign_send(campaign_id: int, split: SenderSplit, writer: _GroupWriter | None) -> None:
    started = time.monotonic()
    while True:
        began = time.perf_counter()
        claim = deliveries_claim(campaign_id=campaign_id)
        split.claiming += time.perf_counter() - began
        if claim.campaign is None:
            return  # paused, cancelled, completed or gone: nothing for a sender
        if claim.deliveries:
            began = time.perf_counter()
            rendering_smtp = split.rendering + split.smtp
            outcome = deliveries_send_claimed(
                campaign=claim.campaign,
                deliveries=claim.deliveries,
                stamp=claim.stamp,
                writer=writer,
            )
            split.recording += (
                time.perf_counter() - began - (split.rendering + split.smtp - rendering_smtp)
            )
            split.batches += 1
            split.messages += outcome.sent
            if outcome.database_lost:
                # A fresh task on a fresh connection (Celery's Django fix-up checks it
                # before each task); if the broker will not take it, the sweep will.
                _timed_hand_off(split, campaign_id=campaign_id)
                return
            if time.monotonic() - started >= settings.NOTICE_TASK_SECONDS:
                if _timed_hand_off(split, campaign_id=campaign_id):
                    return
                started = time.monotonic()
            continue
        if claim.wait is None and claim.others_until is None:
            campaign_finish_if_done(campaign_id=campaign_id)
            return
        if claim.wait is None:
            # Nothing pending, other senders' batches out: look again when their leases
            # would lapse if those senders died meanwhile (a live one renews it, and a
            # completed campaign sends the successor home at once).
            wait = (claim.others_until - timezone.now()).total_seconds() + 1
        else:
            wait = claim.wait
        # At least a second: rows another claim holds right now are not worth a spin.
        wait = max(1.0, wait)
        if _timed_hand_off(split, campaign_id=campaign_id, countdown=wait):
            return
        time.sleep(min(wait, BROKER_AWAY_WAIT))


def _timed_hand_off(split: SenderSplit, **kwargs) -> bool:
    began = time.perf_counter()
    try:
        return sender_hand_off(**kwargs)
    finally:
        split.hand_off += time.perf_counter() - began


def senders_wanted(pending: int) -> int:
    """How many senders a campaign with `pending` deliveries gets at once."""
    return max(1, min(settings.NOTICE_SENDERS, math.ceil(pending / settings.NOTICE_BATCH_SIZE)))


def senders_enqueue(*, campaign_id: int, count: int, countdown: float = 0) -> None:
    """Queue `count` senders for the campaign after the current transaction commits.
    A broker that cannot be reached only delays the work: the sweep finds the campaign
    in the database and queues it again."""
    transaction.on_commit(
        lambda: _senders_queue(campaign_id=campaign_id, count=count, countdown=countdown)
    )


def sender_hand_off(*, campaign_id: int, countdown: float = 0) -> bool:
    """Queue a sender's successor now (a sender runs outside any transaction). Returns
    whether the broker took it."""
    if connection.in_atomic_block:
        senders_enqueue(campaign_id=campaign_id, count=1, countdown=countdown)
        return True
    return _senders_queue(campaign_id=campaign_id, count=1, countdown=countdown)


def _senders_queue(*, campaign_id: int, count: int, countdown: float) -> bool:
    deliveries_send = job(DELIVERIES_SEND)

    delay = min(max(0, math.ceil(countdown)), MAX_COUNTDOWN)
    if delay and deliveries_send.app.conf.task_always_eager:
        # Run eagerly (tests), a delayed successor would run at once and find the
        # same wait again, forever; the sweep (or the test) looks again instead.
        return True
    try:
        for _ in range(count):
            deliveries_send.apply_async((campaign_id,), countdown=delay or None)
    except (OperationalError, OSError) as error:
        logger.warning(
            "notices: campaign %s: could not queue a sender (%s)",
            campaign_id,
            type(error).__name__,
        )
        return False
    return True
