"""Delivery: signed per Standard Webhooks, retried with backoff, the same webhook-id on
every attempt and replay, an attempt log, no redirect followed, short timeouts."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from portal.audit.models import AuditEvent
from portal.webhooks.models import (
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from portal.webhooks.services import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    delivery_replay,
    delivery_send,
    endpoint_rotate_secret,
    endpoint_test_send,
    event_record,
    webhook_deliveries_send_due,
)

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what the services queue on commit (the task, eagerly) as it would run."""

    def run(function, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    return run


def _due_now(delivery: WebhookDelivery) -> None:
    """Time passes: the delivery's next attempt is due."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_it_signs_a_test_event_that_the_receiver_verifies(on_commit, receiver, endpoint, alice):
    delivery = on_commit(endpoint_test_send, endpoint=endpoint, by=alice)

    (got,) = receiver.got
    assert got.verified
    assert got.headers["webhook-id"] == delivery.event.message_id
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.headers["content-type"] == "application/json"
    assert got.path == "/hooks/vigil"
    assert got.payload["type"] == "webhook.test"
    assert got.payload["data"]["endpoint"]["id"] == str(endpoint.public_id)
    assert set(got.payload) == {"type", "timestamp", "data"}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.DELIVERED,
        1,
        200,
    )
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert (attempt.status_code, attempt.error, attempt.address) == (200, "", "127.0.0.1")
    assert attempt.duration_ms >= 0
    assert AuditEvent.objects.filter(action="webhook.test", actor=alice).count() == 1


def test_its_secret_is_standard_webhooks_form(endpoint):
    assert endpoint.secret.startswith("whsec_")
    assert len(Webhook(endpoint.secret)._whsecret) >= 24


def test_a_wrong_secret_does_not_verify(on_commit, receiver, endpoint, alice):
    receiver.secret = "whsec_" + "QUJD" * 8

    on_commit(endpoint_test_send, endpoint=endpoint, by=alice)

    assert [got.verified for got in receiver.got] == [False]


def test_it_retries_a_500_with_backoff_and_the_same_id(on_commit, receiver, endpoint, alice):
    receiver.answers = [500, 503, 200]

    delivery = on_commit(endpoint_test_send, endpoint=endpoint, by=alice)
    delivery.refresh_from_db()
    first_wait = delivery.next_attempt_at - timezone.now()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.PENDING,
        1,
        500,
    )
    assert timedelta(seconds=25) < first_wait <= timedelta(seconds=30)
    # Not due yet: a second worker (or the sweep) leaves it alone.
    assert on_commit(delivery_send, delivery_id=delivery.pk) is False
    assert len(receiver.got) == 1

    _due_now(delivery)
    assert on_commit(delivery_send, delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    second_wait = delivery.next_attempt_at - timezone.now()
    assert (delivery.attempts, delivery.last_status_code) == (2, 503)
    assert timedelta(seconds=55) < second_wait <= timedelta(seconds=60)

    _due_now(delivery)
    assert on_commit(delivery_send, delivery_id=delivery.pk) is True
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 3)
    assert len({got.webhook_id for got in receiver.got}) == 1
    assert all(got.verified for got in receiver.got)
    codes = list(
        WebhookAttempt.objects.filter(delivery=delivery)
        .order_by("started_at", "pk")
        .values_list("status_code", flat=True)
    )
    assert codes == [500, 503, 200]
    # The error page is kept as its first characters only.
    excerpts = WebhookAttempt.objects.filter(status_code=500).values_list(
        "response_excerpt", flat=True
    )
    assert all(0 < len(excerpt) <= 200 for excerpt in excerpts)


def test_the_backoff_lasts_more_than_a_day_then_fails(on_commit, receiver, endpoint, alice):
    assert RETRY_DELAYS[:4] == (30, 60, 120, 240)
    assert max(RETRY_DELAYS) == 4 * 3600
    assert sum(RETRY_DELAYS) >= 24 * 3600
    assert MAX_ATTEMPTS == 15
    receiver.answers = [500]

    delivery = on_commit(endpoint_test_send, endpoint=endpoint, by=alice)
    for _ in range(MAX_ATTEMPTS - 1):
        _due_now(delivery)
        on_commit(delivery_send, delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        Status.FAILED,
        MAX_ATTEMPTS,
        None,
    )
    assert len(receiver.got) == MAX_ATTEMPTS
    assert len({got.webhook_id for got in receiver.got}) == 1


def test_it_follows_no_redirect(on_commit, receiver, endpoint, alice):
    receiver.answers = [302]

    delivery = on_commit(endpoint_test_send, endpoint=endpoint, by=alice)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (Status.PENDING, 302)
    assert len(receiver.got) == 1


def test_a_receiver_that_does_not_answer_times_out(settings, on_commit, receiver, endpoint, alice):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    receiver.hold = True

    delivery = on_commit(endpoint_test_send, endpoint=endpoint, by=alice)

    receiver.release.set()
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert attempt.error == "Timed out after 1 s"
    assert 900 <= attempt.duration_ms < 5000


def test_a_replay_sends_the_same_event_with_the_same_id(on_commit, receiver, endpoint, alice):
    delivery = on_commit(endpoint_test_send, endpoint=endpoint, by=alice)

    on_commit(delivery_replay, delivery=delivery, by=alice)

    assert [got.webhook_id for got in receiver.got] == [delivery.event.message_id] * 2
    assert receiver.got[0].body == receiver.got[1].body
    assert all(got.verified for got in receiver.got)
    assert AuditEvent.objects.filter(action="webhook.replay").count() == 1


def test_after_a_rotation_both_secrets_verify_for_a_day(on_commit, receiver, endpoint, alice):
    old = endpoint.secret
    endpoint_rotate_secret(endpoint=endpoint, by=alice)
    assert endpoint.secret != old

    on_commit(endpoint_test_send, endpoint=endpoint, by=alice)

    (got,) = receiver.got
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, endpoint.secret):
        Webhook(secret).verify(got.body, got.headers)
    assert AuditEvent.objects.filter(action="webhook.rotate").count() == 1


def test_an_event_goes_to_the_endpoints_that_want_it_only(on_commit, receiver, endpoint, acme):
    from portal.webhooks.services import endpoint_create

    other = endpoint_create(organization=acme, url=receiver.url, events=["log_copy.ready"], by=None)
    disabled = endpoint_create(
        organization=acme, url=receiver.url, events=["report.filed"], by=None
    )
    disabled.enabled = False
    disabled.save()

    made = on_commit(
        event_record,
        organization_id=acme.pk,
        event_type=EventType.REPORT_FILED,
        key="r1",
        data={"report": {"id": "r1"}},
    )
    again = on_commit(
        event_record,
        organization_id=acme.pk,
        event_type=EventType.REPORT_FILED,
        key="r1",
        data={"report": {"id": "r1"}},
    )

    assert (made, again) == (1, 0)
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [endpoint.pk]
    assert other.pk
    assert len(receiver.got) == 1


def test_the_sweep_sends_what_no_task_was_queued_for(on_commit, receiver, endpoint, acme):
    # Made in a transaction whose on-commit never ran (a lost message).
    event_record(
        organization_id=acme.pk,
        event_type=EventType.CAMPAIGN_FINISHED,
        key="c1",
        data={"campaign": {"id": "c1"}},
    )
    assert receiver.got == []

    assert on_commit(webhook_deliveries_send_due) == 1

    assert WebhookDelivery.objects.get().status == Status.DELIVERED
    assert json.loads(receiver.got[0].body)["type"] == "campaign.finished"
    assert WebhookEvent.objects.get().message_id == receiver.got[0].webhook_id


def test_the_minute_sweep_queues_due_deliveries_and_prunes_old_events(
    on_commit, receiver, endpoint, acme
):
    from portal.tasks import sweep_due_work

    event_record(organization_id=acme.pk, event_type=EventType.REPORT_FILED, key="new", data={})
    event_record(organization_id=acme.pk, event_type=EventType.REPORT_FILED, key="old", data={})
    old = WebhookEvent.objects.get(key="old")
    WebhookDelivery.objects.filter(event=old).update(status=Status.DELIVERED, next_attempt_at=None)
    WebhookEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))

    done = on_commit(lambda: sweep_due_work.apply(kwargs={}).get())

    assert done["webhook_deliveries_queued"] == 1
    assert done["webhook_events_pruned"] == 1
    assert list(WebhookEvent.objects.values_list("key", flat=True)) == ["new"]
    assert WebhookDelivery.objects.get().status == Status.DELIVERED
    assert len(receiver.got) == 1
