"""Pause, resume, cancel and retry a campaign's failed notices (DESIGN.md flow 7).

Each locks the campaign's row, so it is ordered with the senders' claims (which lock it
too): a pause stops every claim after it; a batch already claimed is sent and recorded.
Each is audited, and refuses with a readable ValidationError when the campaign's status
does not allow it.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.delivery.dispatch import CANCELLED_REASON
from notifications.delivery.sending import campaign_finish_if_done, senders_enqueue, senders_wanted
from notifications.models import Delivery, NoticeCampaign
from portal.audit.services import audit_record

Status = NoticeCampaign.Status
DeliveryStatus = Delivery.Status


def _locked(campaign: NoticeCampaign) -> NoticeCampaign:
    return NoticeCampaign.objects.select_for_update().get(pk=campaign.pk)


def _refuse(campaign: NoticeCampaign, what: str) -> ValidationError:
    return ValidationError(
        _("This campaign is %(status)s: %(what)s")
        % {"status": campaign.get_status_display().lower(), "what": what}
    )


def _audit(action: str, campaign: NoticeCampaign, by, request, **details) -> None:
    audit_record(
        action=action,
        actor=by,
        organization=campaign.organization_id,
        target=campaign,
        request=request,
        details={
            "sent": campaign.sent_count,
            "failed": campaign.failed_count,
            "skipped": campaign.skipped_count,
            **details,
        },
    )


def notice_campaign_pause(*, campaign: NoticeCampaign, by, request=None) -> NoticeCampaign:
    """Stop claiming the campaign's notices; a batch already on its way finishes."""
    with transaction.atomic():
        locked = _locked(campaign)
        if locked.status != Status.SENDING:
            raise _refuse(locked, _("only a campaign that is sending can be paused."))
        locked.status = Status.PAUSED
        locked.paused_at = timezone.now()
        locked.save(update_fields=["status", "paused_at"])
        _audit("notice.pause", locked, by, request)
    return locked


def notice_campaign_resume(*, campaign: NoticeCampaign, by, request=None) -> NoticeCampaign:
    """Send the rest of a paused campaign."""
    with transaction.atomic():
        locked = _locked(campaign)
        if locked.status != Status.PAUSED:
            raise _refuse(locked, _("only a paused campaign can be resumed."))
        locked.status = Status.SENDING
        # Counts as progress: the sweep must not take the pause for lost senders.
        locked.progress_at = timezone.now()
        locked.save(update_fields=["status", "progress_at"])
        _audit("notice.resume", locked, by, request)
        _start_senders(locked)
    return locked


def notice_campaign_cancel(*, campaign: NoticeCampaign, by, request=None) -> NoticeCampaign:
    """Stop the campaign for good: what is not sent yet is skipped. A batch already on
    its way finishes and is counted."""
    with transaction.atomic():
        locked = _locked(campaign)
        if locked.status not in (Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED):
            raise _refuse(locked, _("only a campaign not yet finished can be cancelled."))
        skipped = Delivery.objects.filter(
            campaign_id=locked.pk, status=DeliveryStatus.PENDING
        ).update(status=DeliveryStatus.SKIPPED, skip_reason=CANCELLED_REASON, next_attempt_at=None)
        now = timezone.now()
        locked.status = Status.CANCELLED
        locked.cancelled_at = now
        locked.progress_at = now
        locked.skipped_count = F("skipped_count") + skipped
        locked.save(update_fields=["status", "cancelled_at", "progress_at", "skipped_count"])
        locked.refresh_from_db(fields=["skipped_count"])
        _audit("notice.cancel", locked, by, request, cancelled=skipped)
    return locked


def notice_campaign_retry_failed(*, campaign: NoticeCampaign, by, request=None) -> NoticeCampaign:
    """Send the failed notices again, from a first attempt."""
    with transaction.atomic():
        locked = _locked(campaign)
        if locked.status not in (Status.SENDING, Status.COMPLETED):
            raise _refuse(
                locked,
                _(
                    "failed notices can be retried only while it is sending or once it has "
                    "completed (resume it first)."
                )
                if locked.status == Status.PAUSED
                else _(
                    "failed notices can be retried only while it is sending or once it has "
                    "completed."
                ),
            )
        retried = Delivery.objects.filter(
            campaign_id=locked.pk, status=DeliveryStatus.FAILED
        ).update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            last_error="",
            next_attempt_at=None,
            claimed_at=None,
        )
        if not retried:
            raise ValidationError(_("This campaign has no failed notices to retry."))
        locked.status = Status.SENDING
        locked.completed_at = None
        locked.progress_at = timezone.now()
        locked.failed_count = F("failed_count") - retried
        locked.save(update_fields=["status", "completed_at", "progress_at", "failed_count"])
        locked.refresh_from_db(fields=["failed_count"])
        _audit("notice.retry", locked, by, request, retried=retried)
        _start_senders(locked)
    return locked


def _start_senders(campaign: NoticeCampaign) -> None:
    pending = Delivery.objects.filter(
        campaign_id=campaign.pk, status=DeliveryStatus.PENDING
    ).count()
    if pending:
        senders_enqueue(campaign_id=campaign.pk, count=senders_wanted(pending))
    else:
        # Paused with nothing left (its last batch finished meanwhile): done now.
        transaction.on_commit(lambda: campaign_finish_if_done(campaign_id=campaign.pk))
