"""Due campaigns become delivery rows and senders for the workers (issue 6, DESIGN.md
flow 7), and the sweep that puts lost work back in motion.

Both are found in the database by the minute sweep (notifications.sweep), never by a
long broker ETA; a launch also asks for a dispatch at once (campaigns.py).
"""

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.audience import SKIP_NO_EMAIL, recipients_iter
from notifications.delivery.sending import (
    MAX_COUNTDOWN,
    campaign_finish_if_done,
    senders_enqueue,
    senders_wanted,
)
from notifications.models import Delivery, NoticeCampaign
from notifications.notice_templates import rendering
from portal.leases import lease_lapsed, owners_gone

logger = logging.getLogger(__name__)

Status = Delivery.Status
CampaignStatus = NoticeCampaign.Status

# Rows per INSERT (or COPY): 10,000 recipients are ten statements.
CREATE_CHUNK = 1000
# A sending campaign with due work and no recorded result for this long has lost its
# senders (a broker message lost with Redis). Longer than the longest a live sender
# waits in the broker (sending.MAX_COUNTDOWN).
SILENT_AFTER = timedelta(seconds=MAX_COUNTDOWN + 30)
# Cancelled campaigns whose deliveries may still come back to pending (a batch out at
# the cancel): long past any lease.
CANCELLED_RECENTLY = timedelta(days=1)

# What a delivery left pending says once its campaign was cancelled.
CANCELLED_REASON = "Campaign cancelled"


def campaigns_dispatch_due() -> int:
    """Make the delivery rows of every scheduled campaign that is due, start it sending
    and queue its senders. Returns how many campaigns it dispatched."""
    now = timezone.now()
    due = (
        NoticeCampaign.objects.filter(status=CampaignStatus.SCHEDULED)
        .filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now))
        .order_by("scheduled_at", "pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for pk in list(due) if campaign_dispatch(campaign_id=pk))


def campaign_dispatch(*, campaign_id: int) -> bool:
    """Dispatch one due campaign, all in one transaction: a dispatcher killed halfway
    leaves it scheduled with no rows, and the next sweep starts it again from nothing.
    SKIP LOCKED: two dispatchers at once (a launch and the sweep) each take a campaign
    the other is not doing. Returns whether this call dispatched it."""
    now = timezone.now()
    with transaction.atomic():
        campaign = (
            NoticeCampaign.objects.select_for_update(skip_locked=True)
            .filter(pk=campaign_id, status=CampaignStatus.SCHEDULED)
            .filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now))
            .first()
        )
        if campaign is None:
            return False
        if Delivery.objects.filter(campaign_id=campaign_id).exists():
            # Cannot happen with the transaction above; if rows exist anyway, adding
            # more would break the one-per-recipient rule, so stop loudly.
            raise RuntimeError(f"campaign {campaign_id} is scheduled but already has deliveries")
        total = skipped = 0
        rows: list[dict] = []
        for recipient in recipients_iter(campaign):
            has_email = bool(recipient.email.strip())
            rows.append(
                {
                    "campaign_id": campaign.pk,
                    "organization_id": campaign.organization_id,
                    "directory_user_id": recipient.directory_user_id,
                    "exposure_id": recipient.exposure_id,
                    "email": recipient.email.strip(),
                    "language": recipient.language or "",
                    "context": rendering.recipient_context(
                        name=recipient.name,
                        username=recipient.username,
                        phone=recipient.phone or "",
                        message_count=recipient.message_count,
                    ),
                    "status": Status.PENDING if has_email else Status.SKIPPED,
                    "skip_reason": "" if has_email else SKIP_NO_EMAIL,
                }
            )
            total += 1
            skipped += not has_email
            if len(rows) >= CREATE_CHUNK:
                _deliveries_write(rows, now=now)
                rows = []
        if rows:
            _deliveries_write(rows, now=now)
        pending = total - skipped
        campaign.recipients_total = total
        campaign.skipped_count = skipped
        campaign.sent_count = campaign.failed_count = 0
        # When its rows were ready (the page's "dispatched"), not when this began.
        campaign.dispatched_at = campaign.progress_at = timezone.now()
        campaign.status = CampaignStatus.SENDING
        campaign.save(
            update_fields=[
                "recipients_total",
                "skipped_count",
                "sent_count",
                "failed_count",
                "dispatched_at",
                "progress_at",
                "status",
            ]
        )
        if pending:
            senders_enqueue(campaign_id=campaign.pk, count=senders_wanted(pending))
    if not pending:
        campaign_finish_if_done(campaign_id=campaign.pk)
    logger.info(
        "notices: campaign %s dispatched: %d deliveries, %d skipped", campaign.pk, total, skipped
    )
    return True


# Written by COPY on PostgreSQL: what the model would write for a new row, in order.
_COPY_COLUMNS = (
    "campaign_id",
    "organization_id",
    "directory_user_id",
    "exposure_id",
    "email",
    "language",
    "context",
    "status",
    "skip_reason",
    "attempts",
    "last_error",
    "message_id",
    "report_token",
    "lease_owner",
    "created_at",
)


def _deliveries_write(rows: list[dict], *, now) -> None:
    """Insert new delivery rows: COPY on PostgreSQL (Django's bulk_create spends most of
    a dispatch preparing each field of each row), bulk_create elsewhere. A field added
    to Delivery without a value here fails the COPY loudly (NOT NULL), never silently."""
    new_token = Delivery._meta.get_field("report_token").default
    if connection.vendor != "postgresql":
        Delivery.objects.bulk_create([Delivery(**row) for row in rows])
        return
    from psycopg.types.json import Jsonb

    columns = ", ".join(connection.ops.quote_name(name) for name in _COPY_COLUMNS)
    table = connection.ops.quote_name(Delivery._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                (
                    row["campaign_id"],
                    row["organization_id"],
                    row["directory_user_id"],
                    row["exposure_id"],
                    row["email"],
                    row["language"],
                    Jsonb(row["context"]),
                    row["status"],
                    row["skip_reason"],
                    0,
                    "",
                    "",
                    new_token(),
                    "",
                    now,
                )
            )


def deliveries_requeue_stale(*, silent_for: timedelta = SILENT_AFTER, gone: bool = False) -> int:
    """Put lost work back in motion. Deliveries in sending whose lease has lapsed (their
    worker died), and with `gone` those whose owner was a process of this machine that
    no longer exists (a worker starting up), go back to pending; sending campaigns with
    such deliveries, or with due pending ones and no result for `silent_for` (their
    senders were lost), get their senders queued again; a sending campaign with nothing
    left to send is completed. Returns how many deliveries went back.

    A delivery handed back may have left before its worker died: it goes again with
    the same Message-ID, which is how a kill costs at most one duplicate. Every query
    here starts from an index (status, or campaign and status), whatever the planner's
    statistics say: the delivery table is the largest the sweep reads."""
    now = timezone.now()
    sending = Delivery.objects.filter(status=Status.SENDING)
    taken = lease_lapsed(now)
    if gone:
        owners = set(
            sending.filter(leased_until__gte=now)
            .order_by()
            .values_list("lease_owner", flat=True)
            .distinct()
        )
        dead = owners_gone(owners)
        if dead:
            taken |= Q(lease_owner__in=dead)
    stale = list(sending.filter(taken).values_list("pk", "campaign_id"))
    requeued = 0
    if stale:
        requeued = (
            Delivery.objects.filter(pk__in=[pk for pk, _ in stale], status=Status.SENDING)
            .filter(taken)
            .update(status=Status.PENDING, claimed_at=None, leased_until=None, lease_owner="")
        )
        logger.warning("notices: %d deliveries taken over from lapsed leases", requeued)
    stale_campaigns = {campaign_id for _, campaign_id in stale}
    _skip_left_by_cancelled(now)

    silent = Q(progress_at__isnull=True) | Q(progress_at__lt=now - silent_for)
    candidates = (
        NoticeCampaign.objects.filter(status=CampaignStatus.SENDING)
        .filter(silent | Q(pk__in=stale_campaigns))
        .values_list("pk", "progress_at")
    )
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    restarted = 0
    for pk, progress_at in list(candidates):
        # Per campaign, through the (campaign, status) index.
        pending = Delivery.objects.filter(campaign_id=pk, status=Status.PENDING)
        if not pending.filter(due).exists():
            # Nothing due: done (a worker killed before completing it), or waiting
            # for a backoff that a live sender or a later sweep will see.
            campaign_finish_if_done(campaign_id=pk)
            continue
        with transaction.atomic():
            # Stamped as it is queued, so the next sweep gives it as long again, and
            # two sweeps at once queue it once.
            taken_now = NoticeCampaign.objects.filter(
                pk=pk, status=CampaignStatus.SENDING, progress_at=progress_at
            ).update(progress_at=now)
            if taken_now:
                senders_enqueue(campaign_id=pk, count=senders_wanted(pending.count()))
                restarted += 1
    if restarted:
        logger.warning("notices: senders queued again for %d campaigns", restarted)
    return requeued


def _skip_left_by_cancelled(now) -> int:
    """Deliveries of a cancelled campaign that came back to pending after the cancel (a
    batch on its way met a transient error, or was handed back above) are skipped like
    the rest: no sender claims them any more, and they would show pending forever.
    Campaign by campaign, through the (campaign, status) index: a join of the delivery
    table with the campaigns, planned without statistics, reads the whole table."""
    recent = NoticeCampaign.objects.filter(
        status=CampaignStatus.CANCELLED, cancelled_at__gte=now - CANCELLED_RECENTLY
    ).values_list("pk", flat=True)
    total = 0
    for campaign_id in list(recent):
        if not Delivery.objects.filter(campaign_id=campaign_id, status=Status.PENDING).exists():
            continue
        with transaction.atomic():
            skipped = Delivery.objects.filter(
                campaign_id=campaign_id, status=Status.PENDING
            ).update(status=Status.SKIPPED, skip_reason=CANCELLED_REASON, next_attempt_at=None)
            NoticeCampaign.objects.filter(pk=campaign_id).update(
                skipped_count=F("skipped_count") + skipped
            )
        total += skipped
    return total
