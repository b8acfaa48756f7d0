"""The dispatcher: due campaigns become one delivery row per recipient, in bulk, once."""

import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.audience import SKIP_NO_EMAIL
from notifications.delivery import dispatch, sending
from notifications.delivery.tasks import campaigns_dispatch
from notifications.models import Delivery, NoticeCampaign
from tests.notifications.engine_world import campaign_world

pytestmark = pytest.mark.django_db

Status = Delivery.Status


@pytest.fixture
def queued(monkeypatch):
    """The senders the dispatcher queues, by campaign id, instead of running them."""
    calls: list[int] = []

    def record(args, countdown=None, **options):
        calls.append(args[0])

    from notifications.delivery.tasks import deliveries_send

    monkeypatch.setattr(deliveries_send, "apply_async", record)
    return calls


def test_it_makes_one_delivery_per_recipient_and_skips_those_without_email(
    queued, django_capture_on_commit_callbacks
):
    world = campaign_world(5, without_email=2)

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.campaigns_dispatch_due() == 1

    campaign = NoticeCampaign.objects.get(pk=world.campaign.pk)
    assert campaign.status == NoticeCampaign.Status.SENDING
    assert campaign.recipients_total == 5
    assert campaign.skipped_count == 2
    assert campaign.dispatched_at is not None
    deliveries = Delivery.objects.filter(campaign=campaign)
    assert deliveries.count() == 5
    assert deliveries.filter(status=Status.PENDING).count() == 3
    skipped = deliveries.filter(status=Status.SKIPPED)
    assert {d.skip_reason for d in skipped} == {SKIP_NO_EMAIL}
    assert {d.email for d in skipped} == {""}
    assert queued == [campaign.pk]


def test_it_freezes_each_recipients_language_and_values(queued):
    world = campaign_world(2)

    dispatch.campaigns_dispatch_due()

    first = Delivery.objects.get(directory_user=world.users[0])
    assert first.organization_id == world.organization.pk
    assert first.email == "jdoe-0000@acme.example"
    assert first.language == "en"
    # Two exposed phones: the notice counts the messages to both and names the busier.
    assert first.context == {
        "recipient_name": "Jane Doe 0",
        "phone_last_digits": "0000",
        "message_count": 4,
    }
    assert first.exposure.phone == "+12125550000"
    assert Delivery.objects.get(directory_user=world.users[1]).language == "fr"


def test_it_leaves_a_campaign_that_is_not_due_yet(queued):
    world = campaign_world(2)
    NoticeCampaign.objects.filter(pk=world.campaign.pk).update(
        scheduled_at=timezone.now() + timedelta(minutes=5)
    )

    assert dispatch.campaigns_dispatch_due() == 0

    assert not Delivery.objects.exists()
    assert NoticeCampaign.objects.get().status == NoticeCampaign.Status.SCHEDULED


def test_it_leaves_drafts_and_paused_campaigns(queued):
    campaign_world(2, status=NoticeCampaign.Status.DRAFT)
    campaign_world(2, name="Globex", status=NoticeCampaign.Status.PAUSED)

    assert dispatch.campaigns_dispatch_due() == 0
    assert not Delivery.objects.exists()


def test_it_dispatches_a_campaign_once(queued, django_capture_on_commit_callbacks):
    world = campaign_world(3)

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.campaigns_dispatch_due() == 1
        assert dispatch.campaigns_dispatch_due() == 0
        assert dispatch.campaign_dispatch(campaign_id=world.campaign.pk) is False

    assert Delivery.objects.count() == 3
    assert queued == [world.campaign.pk]


def test_it_starts_again_from_nothing_when_a_dispatcher_dies_halfway(
    queued, monkeypatch, django_capture_on_commit_callbacks
):
    world = campaign_world(25)
    monkeypatch.setattr(dispatch, "CREATE_CHUNK", 10)
    real_write = dispatch._deliveries_write
    calls = []

    def dies_on_the_second_chunk(rows, **kwargs):
        calls.append(len(rows))
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real_write(rows, **kwargs)

    monkeypatch.setattr(dispatch, "_deliveries_write", dies_on_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        dispatch.campaigns_dispatch_due()

    assert not Delivery.objects.exists()
    assert NoticeCampaign.objects.get().status == NoticeCampaign.Status.SCHEDULED

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.campaigns_dispatch_due() == 1

    assert Delivery.objects.count() == 25
    assert Delivery.objects.values("directory_user").distinct().count() == 25
    assert NoticeCampaign.objects.get().recipients_total == 25
    assert queued == [world.campaign.pk]


def test_it_completes_a_campaign_with_no_one_to_write_to(queued):
    campaign_world(2, without_email=2)

    dispatch.campaigns_dispatch_due()

    campaign = NoticeCampaign.objects.get()
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert campaign.completed_at is not None
    assert campaign.skipped_count == 2
    assert queued == []


def test_it_makes_the_rows_in_bulk(queued):
    campaign_world(2500)

    with CaptureQueriesContext(connection) as queries:
        dispatch.campaigns_dispatch_due()

    assert Delivery.objects.count() == 2500
    assert Delivery.objects.values("report_token").distinct().count() == 2500
    # Three INSERTs (or COPYs, which Django does not see) of 1,000 rows, not 2,500.
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == (0 if connection.vendor == "postgresql" else 3)
    assert len(queries.captured_queries) < 30


def test_it_queues_no_more_than_one_sender_per_batch(
    queued, settings, django_capture_on_commit_callbacks
):
    settings.NOTICE_BATCH_SIZE = 100
    settings.NOTICE_SENDERS = 4
    small = campaign_world(150)
    large = campaign_world(2000, name="Globex")

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.campaigns_dispatch_due() == 2

    assert queued.count(small.campaign.pk) == 2
    assert queued.count(large.campaign.pk) == 4


def test_it_dispatches_through_the_task_and_sends(mailoutbox, django_capture_on_commit_callbacks):
    campaign_world(3, without_email=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert campaigns_dispatch.delay().get() == 1

    campaign = NoticeCampaign.objects.get()
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert (campaign.sent_count, campaign.failed_count, campaign.skipped_count) == (2, 0, 1)
    assert len(mailoutbox) == 2


def test_it_senders_wanted_never_exceeds_one_per_batch(settings):
    settings.NOTICE_BATCH_SIZE = 200
    settings.NOTICE_SENDERS = 4
    assert sending.senders_wanted(1) == 1
    assert sending.senders_wanted(200) == 1
    assert sending.senders_wanted(201) == 2
    assert sending.senders_wanted(10_000) == 4


# --- The sweep: lost work back in motion -------------------------------------------


def test_it_takes_over_deliveries_whose_lease_lapsed_and_restarts_their_campaign(
    queued, django_capture_on_commit_callbacks
):
    world = campaign_world(3)
    dispatch.campaigns_dispatch_due()
    queued.clear()
    now = timezone.now()
    Delivery.objects.update(
        status=Status.SENDING,
        claimed_at=now - timedelta(seconds=40),
        leased_until=now - timedelta(seconds=1),
        lease_owner="elsewhere:4242",
    )
    # The campaign moved recently: only its stuck rows say its worker died.
    NoticeCampaign.objects.update(progress_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.deliveries_requeue_stale() == 3

    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert queued == [world.campaign.pk]


def test_it_leaves_a_batch_whose_lease_is_live(queued, django_capture_on_commit_callbacks):
    campaign_world(3)
    dispatch.campaigns_dispatch_due()
    queued.clear()
    # Claimed long ago, but its sender renews the lease: slow, not dead.
    Delivery.objects.update(
        status=Status.SENDING,
        claimed_at=timezone.now() - timedelta(minutes=20),
        leased_until=timezone.now() + timedelta(seconds=20),
        lease_owner="elsewhere:4242",
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.deliveries_requeue_stale(gone=True) == 0

    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENDING}
    assert queued == []


def test_it_takes_over_at_once_the_live_lease_of_a_process_of_this_machine_that_is_gone(
    queued, django_capture_on_commit_callbacks
):
    world = campaign_world(3)
    dispatch.campaigns_dispatch_due()
    queued.clear()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    Delivery.objects.update(
        status=Status.SENDING,
        claimed_at=timezone.now(),
        leased_until=timezone.now() + timedelta(seconds=25),
        lease_owner=f"{socket.gethostname()}:{dead.pid}",
    )
    NoticeCampaign.objects.update(progress_at=timezone.now())

    # The minute sweep waits for the lease; a worker starting up does not.
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.deliveries_requeue_stale() == 0
        assert dispatch.deliveries_requeue_stale(gone=True) == 3

    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert queued == [world.campaign.pk]


def test_it_restarts_a_campaign_whose_senders_were_lost(queued, django_capture_on_commit_callbacks):
    world = campaign_world(3)
    dispatch.campaigns_dispatch_due()
    queued.clear()
    NoticeCampaign.objects.update(progress_at=timezone.now() - timedelta(minutes=6))

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.deliveries_requeue_stale()
        # Stamped as it was queued: the next sweep gives it as long again.
        dispatch.deliveries_requeue_stale()

    assert queued == [world.campaign.pk]
    assert NoticeCampaign.objects.get().progress_at > timezone.now() - timedelta(minutes=1)


def test_it_leaves_a_campaign_that_waits_for_a_backoff(queued, django_capture_on_commit_callbacks):
    campaign_world(3)
    dispatch.campaigns_dispatch_due()
    queued.clear()
    Delivery.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=4))
    NoticeCampaign.objects.update(progress_at=timezone.now() - timedelta(minutes=6))

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.deliveries_requeue_stale()

    assert queued == []
    assert NoticeCampaign.objects.get().status == NoticeCampaign.Status.SENDING


def test_it_leaves_a_campaign_that_makes_progress(queued, django_capture_on_commit_callbacks):
    campaign_world(3)
    dispatch.campaigns_dispatch_due()
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.deliveries_requeue_stale()

    assert queued == []


def test_it_completes_a_campaign_whose_worker_died_after_its_last_result(queued):
    world = campaign_world(3)
    dispatch.campaigns_dispatch_due()
    # Every result recorded, but not the counters nor the completion, nor the stamps.
    Delivery.objects.update(status=Status.SENT, sent_at=timezone.now())
    NoticeCampaign.objects.update(progress_at=timezone.now() - timedelta(minutes=6))

    dispatch.deliveries_requeue_stale()

    campaign = NoticeCampaign.objects.get()
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert campaign.sent_count == 3
    assert all(exposure.last_notified_at for exposure in world.incident.exposures.all())


def test_it_runs_from_the_minute_sweep(queued):
    from portal.tasks import sweep_due_work

    campaign_world(2)
    NoticeCampaign.objects.update(scheduled_at=timezone.now() - timedelta(seconds=1))

    done = sweep_due_work.apply().get()

    assert done["campaigns_dispatched"] == 1
    assert done["deliveries_requeued"] == 0
    assert Delivery.objects.count() == 2


def test_it_leaves_out_of_a_not_yet_notified_campaign_those_another_is_sending_to(queued):
    world = campaign_world(3)
    dispatch.campaigns_dispatch_due()  # the first campaign: all three, not sent yet
    second = NoticeCampaign.objects.create(
        organization=world.organization,
        incident=world.incident,
        audience=NoticeCampaign.Audience.NOT_NOTIFIED,
        template_snapshot=world.campaign.template_snapshot,
        contact_snapshot=world.campaign.contact_snapshot,
        status=NoticeCampaign.Status.SCHEDULED,
        scheduled_at=timezone.now(),
    )

    dispatch.campaigns_dispatch_due()

    second.refresh_from_db()
    assert second.recipients_total == 0
    assert not Delivery.objects.filter(campaign=second).exists()


def test_it_skips_what_came_back_to_pending_after_a_cancel(queued):
    world = campaign_world(3)
    dispatch.campaigns_dispatch_due()
    campaign = world.campaign
    # A batch on its way when the campaign was cancelled met a 4xx: back to pending.
    NoticeCampaign.objects.filter(pk=campaign.pk).update(
        status=NoticeCampaign.Status.CANCELLED, cancelled_at=timezone.now()
    )

    dispatch.deliveries_requeue_stale()

    campaign.refresh_from_db()
    assert not Delivery.objects.filter(campaign=campaign, status=Status.PENDING).exists()
    assert campaign.skipped_count == 3
