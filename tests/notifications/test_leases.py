"""Leases on notice batches (issue 13 points 1, 2 and 4): a slow sender keeps its batch,
one that lost it stops before the next message, one that lost its database hands the
batch back, and one whose successor the broker will not take keeps its turn."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications.delivery import dispatch, sending
from notifications.models import Delivery, NoticeCampaign
from portal import leases
from tests.notifications.engine_world import campaign_world

pytestmark = pytest.mark.django_db(transaction=True)

Status = Delivery.Status


@pytest.fixture
def short_leases(monkeypatch):
    """A one-second lease renewed five times a second: what takes seconds in
    production takes a fraction here."""
    monkeypatch.setattr(leases, "LEASE", timedelta(seconds=1))
    monkeypatch.setattr(leases, "RENEW_EVERY", 0.2)


@pytest.fixture
def successors(monkeypatch):
    """The successors senders queue, by campaign id, instead of queuing them."""
    queued: list[int] = []

    def record(*, campaign_id, count, countdown):
        queued.extend([campaign_id] * count)
        return True

    monkeypatch.setattr(sending, "_senders_queue", record)
    return queued


def dispatched(recipients: int) -> NoticeCampaign:
    world = campaign_world(recipients)
    dispatch.campaign_dispatch(campaign_id=world.campaign.pk)
    return world.campaign


def in_the_sinks_thread(work):
    """Run `work` with the ORM for the SMTP server, on a thread of its own (the server's
    runs an event loop, where Django refuses the ORM), with its own connection."""
    result = []

    def run():
        try:
            result.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0] if result else None


def test_a_slow_sender_keeps_its_batch_past_the_length_of_a_lease(sink, short_leases, successors):
    campaign = dispatched(5)
    sink.delay = 0.5  # 2.5 s for the batch: more than two leases
    taken_over: list[int] = []

    def answer(address: str, seen: int) -> None:
        if address.startswith("jdoe-0004"):
            # The last message: whoever looks now finds the batch's lease live.
            taken_over.append(
                in_the_sinks_thread(lambda: sending._leases_take_over(campaign.pk, timezone.now()))
            )

    sink.rcpt_answer = answer

    sending.campaign_send(campaign_id=campaign.pk)

    assert taken_over == [0]
    assert sorted(sink.copies().values()) == [1] * 5
    statuses = Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)
    assert set(statuses) == {Status.SENT}


def test_a_sender_whose_batch_was_taken_over_stops_before_its_next_message(
    sink, short_leases, successors
):
    campaign = dispatched(5)

    def answer(address: str, seen: int) -> None:
        if address.startswith("jdoe-0000"):
            # This sender stalled past its lease, and another took its batch back.
            in_the_sinks_thread(
                lambda: Delivery.objects.filter(campaign=campaign).update(
                    status=Status.PENDING, claimed_at=None, leased_until=None, lease_owner=""
                )
            )
            sink.delay = 0.5  # time for a renewal to find the batch gone

    sink.rcpt_answer = answer
    claim = sending.deliveries_claim(campaign_id=campaign.pk)

    sending.deliveries_send_claimed(
        campaign=claim.campaign, deliveries=claim.deliveries, stamp=claim.stamp
    )

    # Only the message under way when it stalled left; the others are the new
    # owner's, untouched by the old one.
    assert len(sink.message_ids) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.PENDING}


@pytest.mark.postgres
def test_a_sender_that_loses_its_database_hands_its_batch_back_and_queues_a_successor(
    sink, successors
):
    campaign = dispatched(5)
    successors.clear()  # the dispatcher's
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [senders_backend] = cursor.fetchone()

    def answer(address: str, seen: int) -> str | None:
        if address.startswith("jdoe-0001") and not seen:
            # A failover: the sender's connection is gone as it records this 4xx.
            def terminate():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [senders_backend])

            in_the_sinks_thread(terminate)
            return "451 4.3.0 Try again later"
        return None

    sink.rcpt_answer = answer

    sending.campaign_send(campaign_id=campaign.pk)

    deliveries = Delivery.objects.filter(campaign=campaign).order_by("pk")
    assert [d.status for d in deliveries] == [Status.SENT] + [Status.PENDING] * 4
    # Handed back unsent, not waiting for a lease: the successor takes them at once.
    assert all(d.leased_until is None and d.attempts == 0 for d in deliveries[1:])
    assert successors == [campaign.pk]
    assert len(sink.message_ids) == 1


def test_a_sender_whose_successor_the_broker_refuses_keeps_its_turn(sink, settings, monkeypatch):
    settings.NOTICE_TASK_SECONDS = 0  # hand over after every batch
    tries: list[int] = []

    def broker_away(*, campaign_id, count, countdown):
        tries.append(campaign_id)
        return False

    monkeypatch.setattr(sending, "_senders_queue", broker_away)
    campaign = dispatched(250)
    tries.clear()  # the dispatcher's

    sending.campaign_send(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert campaign.sent_count == 250
    assert len(tries) == 3  # after each of its batches (100, 100, 50)


def test_a_sender_with_nothing_to_claim_while_another_batch_is_out_queues_a_successor(
    sink, successors
):
    campaign = dispatched(3)
    other = sending.deliveries_claim(campaign_id=campaign.pk)  # another sender's batch
    successors.clear()  # the dispatcher's

    sending.campaign_send(campaign_id=campaign.pk)

    # It looks again once that batch's lease would lapse, should its sender die.
    assert successors == [campaign.pk]
    assert Delivery.objects.filter(status=Status.SENDING).count() == len(other.deliveries)
