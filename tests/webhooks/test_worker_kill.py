"""At least once through a SIGKILL (issue 16 points 3 and 5): a real Celery worker on
PostgreSQL and a Redis of the test's own delivers to the tests' receiver; the receiver
holds one request while the worker's whole process group is killed; a new worker
starts. No event is lost, every delivery ends delivered, and the one that was in flight
arrives again with the same webhook-id and body."""

import sys
import time
from collections import Counter

import pytest
from django.db import transaction

from portal.webhooks.models import EventType, WebhookDelivery, WebhookEvent
from portal.webhooks.services import event_record
from tests.celery_worker import CeleryWorker, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

EVENTS = 20


def test_no_event_is_lost_through_a_sigkill_and_duplicates_keep_their_id(
    broker, receiver, endpoint, acme, tmp_path, capsys
):
    receiver.hold = True  # the first request waits: the worker is killed meanwhile
    # The default queue, where webhooks go; the receiver is on this machine, over
    # http: allowed here only.
    worker = CeleryWorker(
        broker.url,
        tmp_path,
        queues="default",
        processes=1,
        name="webhooks",
        env={"WEBHOOKS_ALLOW_HTTP": "true", "WEBHOOKS_ALLOW_LOOPBACK": "true"},
    )
    worker.start()
    try:
        for n in range(EVENTS):
            with transaction.atomic():
                event_record(
                    organization_id=acme.pk,
                    event_type=EventType.REPORT_FILED,
                    key=f"report-{n}",
                    data={"report": {"id": f"report-{n}"}},
                )
        assert receiver.arrived.wait(30), worker.log.read_text()[-3000:]
        in_flight = receiver.got[0].webhook_id
        killed_at = time.monotonic()
        worker.kill()
        receiver.hold = False
        receiver.release.set()
        assert WebhookDelivery.objects.filter(status="delivered").count() < EVENTS

        worker.start()
        wait_for(
            lambda: WebhookDelivery.objects.filter(status="delivered").count() == EVENTS,
            90,
            f"all {EVENTS} deliveries delivered",
            every=0.1,
        )
        recovered = time.monotonic() - killed_at
    finally:
        worker.stop()

    sent_ids = set(WebhookEvent.objects.values_list("message_id", flat=True))
    received = Counter(got.webhook_id for got in receiver.got)
    assert all(got.verified for got in receiver.got)
    # Nothing lost: every event arrived; nothing made up.
    assert set(received) == sent_ids
    assert len(sent_ids) == EVENTS
    # The request in flight at the kill came again, with the same id and body.
    assert received[in_flight] == 2
    bodies = {got.body for got in receiver.got if got.webhook_id == in_flight}
    assert len(bodies) == 1
    # At most that one duplicate: the others were sent once.
    assert sum(received.values()) == EVENTS + 1
    with capsys.disabled():
        sys.stdout.write(
            f"\n[webhooks] SIGKILL mid-delivery: {EVENTS} events, all delivered "
            f"{recovered:.1f} s after the kill, {sum(received.values()) - EVENTS} duplicate\n"
        )
