"""Pause, resume, cancel and retry-failed: what each does to the campaign and its
deliveries, when each is refused, and that each is audited."""

import pytest
from django.core.exceptions import ValidationError

from notifications.campaigns import controls
from notifications.delivery import dispatch
from notifications.models import Delivery, NoticeCampaign
from portal.audit.models import AuditEvent
from tests.notifications.engine_world import campaign_world

pytestmark = pytest.mark.django_db

Status = NoticeCampaign.Status
DeliveryStatus = Delivery.Status


@pytest.fixture
def queued(monkeypatch):
    """The senders queued, as (campaign id, how many), instead of running them."""
    calls: list[tuple[int, int]] = []

    def record(*, campaign_id, count, countdown=0):
        calls.append((campaign_id, count))

    monkeypatch.setattr(controls, "senders_enqueue", record)
    monkeypatch.setattr(dispatch, "senders_enqueue", record)
    return calls


def sending_campaign(recipients: int = 3, **options) -> NoticeCampaign:
    world = campaign_world(recipients, **options)
    dispatch.campaign_dispatch(campaign_id=world.campaign.pk)
    return NoticeCampaign.objects.get(pk=world.campaign.pk)


def test_it_pauses_a_sending_campaign(queued, alice):
    campaign = sending_campaign()

    controls.notice_campaign_pause(campaign=campaign, by=alice)

    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    assert campaign.paused_at is not None
    event = AuditEvent.objects.get(action="notice.pause")
    assert event.actor == alice
    assert event.organization_id == campaign.organization_id
    assert event.target_id == str(campaign.public_id)


def test_it_resumes_a_paused_campaign_and_queues_its_senders(queued, alice, settings):
    settings.NOTICE_BATCH_SIZE = 100
    campaign = sending_campaign(150)
    controls.notice_campaign_pause(campaign=campaign, by=alice)
    queued.clear()

    controls.notice_campaign_resume(campaign=campaign, by=alice)

    campaign.refresh_from_db()
    assert campaign.status == Status.SENDING
    assert queued == [(campaign.pk, 2)]
    assert AuditEvent.objects.filter(action="notice.resume").count() == 1


def test_it_completes_on_resume_a_campaign_with_nothing_left(
    queued, alice, django_capture_on_commit_callbacks
):
    campaign = sending_campaign(2)
    controls.notice_campaign_pause(campaign=campaign, by=alice)
    Delivery.objects.update(status=DeliveryStatus.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        controls.notice_campaign_resume(campaign=campaign, by=alice)

    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED
    assert campaign.sent_count == 2


def test_it_cancels_and_skips_what_is_not_sent(queued, alice):
    campaign = sending_campaign(4, without_email=1)
    first = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.PENDING).first()
    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.SENT)

    controls.notice_campaign_cancel(campaign=campaign, by=alice)

    campaign.refresh_from_db()
    assert campaign.status == Status.CANCELLED
    assert campaign.cancelled_at is not None
    assert campaign.skipped_count == 3
    cancelled = Delivery.objects.filter(skip_reason=dispatch.CANCELLED_REASON)
    assert cancelled.count() == 2
    assert Delivery.objects.get(pk=first.pk).status == DeliveryStatus.SENT
    assert AuditEvent.objects.get(action="notice.cancel").details["cancelled"] == 2


@pytest.mark.parametrize("status", [Status.DRAFT, Status.SCHEDULED, Status.PAUSED])
def test_it_cancels_a_campaign_not_yet_sending(queued, alice, status):
    campaign = campaign_world(2, status=status).campaign

    controls.notice_campaign_cancel(campaign=campaign, by=alice)

    campaign.refresh_from_db()
    assert campaign.status == Status.CANCELLED
    # A scheduled campaign cancelled is never dispatched.
    assert dispatch.campaigns_dispatch_due() == 0


def test_it_retries_the_failed_notices_from_a_first_attempt(queued, alice):
    campaign = sending_campaign(3)
    Delivery.objects.filter(campaign=campaign).update(
        status=DeliveryStatus.FAILED, attempts=5, last_error="451 Try later"
    )
    NoticeCampaign.objects.filter(pk=campaign.pk).update(status=Status.COMPLETED, failed_count=3)
    queued.clear()

    controls.notice_campaign_retry_failed(campaign=campaign, by=alice)

    campaign.refresh_from_db()
    assert campaign.status == Status.SENDING
    assert campaign.failed_count == 0
    assert campaign.completed_at is None
    retried = Delivery.objects.filter(campaign=campaign)
    assert {(d.status, d.attempts, d.last_error) for d in retried} == {
        (DeliveryStatus.PENDING, 0, "")
    }
    assert queued == [(campaign.pk, 1)]
    assert AuditEvent.objects.get(action="notice.retry").details["retried"] == 3


def test_it_refuses_to_retry_when_nothing_failed(queued, alice):
    campaign = sending_campaign(2)

    with pytest.raises(ValidationError, match="no failed notices"):
        controls.notice_campaign_retry_failed(campaign=campaign, by=alice)

    assert not AuditEvent.objects.filter(action="notice.retry").exists()


@pytest.mark.parametrize(
    ("control", "status", "message"),
    [
        ("pause", Status.PAUSED, "only a campaign that is sending can be paused"),
        ("pause", Status.DRAFT, "only a campaign that is sending can be paused"),
        ("resume", Status.SENDING, "only a paused campaign can be resumed"),
        ("resume", Status.COMPLETED, "only a paused campaign can be resumed"),
        ("cancel", Status.COMPLETED, "only a campaign not yet finished can be cancelled"),
        ("cancel", Status.CANCELLED, "only a campaign not yet finished can be cancelled"),
        ("retry_failed", Status.PAUSED, "resume it first"),
        ("retry_failed", Status.CANCELLED, "failed notices can be retried only"),
    ],
)
def test_it_refuses_what_the_status_does_not_allow(queued, alice, control, status, message):
    campaign = campaign_world(1, status=status).campaign
    act = getattr(controls, f"notice_campaign_{control}")

    with pytest.raises(ValidationError, match=message) as refused:
        act(campaign=campaign, by=alice)

    assert f"This campaign is {status.label.lower()}" in refused.value.messages[0]
    assert NoticeCampaign.objects.get().status == status
    assert not AuditEvent.objects.exists()


def test_it_stops_the_senders_of_a_paused_campaign(alice, settings, mailoutbox):
    settings.NOTICE_BATCH_SIZE = 100
    campaign = sending_campaign(150)
    controls.notice_campaign_pause(campaign=campaign, by=alice)

    from notifications.delivery.sending import campaign_send

    campaign_send(campaign_id=campaign.pk)

    assert mailoutbox == []
    assert not Delivery.objects.filter(status=DeliveryStatus.SENT).exists()
