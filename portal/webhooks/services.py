"""Webhook endpoints (made, changed, rotated, deleted by owners, each audited) and the
outbox that delivers events to them.

Events are made by `event_record`, called by the receivers of the apps' signals
(receivers.py) inside the transaction of what they tell: the event row and one delivery
row per enabled endpoint that wants its type commit or roll back with it. The sending
of each delivery is queued once that transaction commits; the minute sweep
(`webhook_deliveries_send_due`, a step of portal.tasks.sweep_due_work) queues what a
lost message or a killed worker left.

A delivery is claimed with a lease (`lease_owner`, `leased_until`) before its POST, so
two workers never send it at once, and a worker killed mid-POST leaves a lease that
lapses (or that a worker starting on the same machine takes over at once): it is sent
again, with the same webhook-id. At least once, never zero times.

A POST answered 2xx delivers it; anything else (an error status, a timeout, a refused
address) schedules the next attempt after RETRY_DELAYS, doubling from 30 seconds up to
4 hours: 15 attempts over 24 hours 15 minutes, after which the delivery is failed, for
a person to replay. Events are kept 30 days (KEEP_FOR), then pruned by the sweep with
their deliveries and attempt logs.
"""

import base64
import json
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from celery import shared_task
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from portal.audit.services import audit_record
from portal.leases import lease_lapsed, lease_owner, owners_gone
from portal.webhooks import wire
from portal.webhooks.addresses import AddressRefusedError, target_of, url_check
from portal.webhooks.models import (
    TEST_EVENT,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

# Seconds before each retry: 30 s, doubling, capped at 4 hours. 14 retries after the
# first attempt, the last one 24 h 15 min after it.
RETRY_DELAYS = tuple(min(30 * 2**n, 4 * 3600) for n in range(14))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A retry this soon is queued with a countdown; later ones wait for the sweep (no long
# broker ETAs: Redis redelivers them, DESIGN.md section 6).
COUNTDOWN_UP_TO = 300
# Longer than any one POST can take (connect and read timeouts), so a live sender's
# lease never lapses under it.
LEASE = timedelta(minutes=2)
SWEEP_BATCH = 500
# Events, their deliveries and attempt logs are kept this long, then dropped by the
# sweep (those still pending stay until they end).
KEEP_FOR = timedelta(days=30)
SECRET_BYTES = 32
SIGNING_KEY_UNREADABLE = (
    "The signing secret cannot be read with the portal's SECRET_KEY (changed without the "
    "old one in SECRET_KEY_FALLBACKS?): replace the secret on the endpoint's page."
)
PREVIOUS_SECRET_VALID_FOR = timedelta(hours=24)


def secret_new() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def message_id_new() -> str:
    return "msg_" + secrets.token_urlsafe(24)


# --- Endpoints -------------------------------------------------------------------------


def _events_checked(events: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(events))
    unknown = [event for event in wanted if event not in EventType.values]
    if unknown:
        raise ValidationError(
            _("Unknown event type: %(events)s.") % {"events": ", ".join(unknown)}, code="events"
        )
    if not wanted:
        raise ValidationError(_("Choose at least one event."), code="events")
    return [event for event in EventType.values if event in wanted]


def _url_checked(url: str) -> str:
    try:
        url_check(url)
    except AddressRefusedError as refused:
        raise ValidationError(str(refused), code="url") from None
    return url.strip()


def endpoint_create(
    *, organization, url: str, events: Iterable[str], description: str = "", by, request=None
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        organization=organization,
        url=_url_checked(url),
        events=_events_checked(events),
        description=description.strip(),
        secret=secret_new(),
        created_by=by,
    )
    with transaction.atomic():
        endpoint.save()
        audit_record(
            action="webhook.create",
            actor=by,
            organization=organization,
            target=endpoint,
            request=request,
            details={"url": endpoint.url, "events": endpoint.events},
        )
    return endpoint


def endpoint_update(*, endpoint: WebhookEndpoint, changes: dict, by, request=None) -> list[str]:
    """Apply `changes` (url, events, description, enabled); returns the fields changed."""
    changed = []
    if "url" in changes and changes["url"].strip() != endpoint.url:
        endpoint.url = _url_checked(changes["url"])
        changed.append("url")
    if "events" in changes and _events_checked(changes["events"]) != endpoint.events:
        endpoint.events = _events_checked(changes["events"])
        changed.append("events")
    if "description" in changes and changes["description"].strip() != endpoint.description:
        endpoint.description = changes["description"].strip()
        changed.append("description")
    if "enabled" in changes and bool(changes["enabled"]) != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        changed.append("enabled")
    if not changed:
        return []
    with transaction.atomic():
        endpoint.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="webhook.update",
            actor=by,
            organization=endpoint.organization_id,
            target=endpoint,
            request=request,
            details={name: getattr(endpoint, name) for name in changed},
        )
    return changed


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, by, request=None) -> WebhookEndpoint:
    """A new secret; the old one keeps signing beside it (a second signature) for a
    day, so that receivers can switch without losing a message."""
    now = timezone.now()
    with transaction.atomic():
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_until = now + PREVIOUS_SECRET_VALID_FOR
        endpoint.secret = secret_new()
        endpoint.save(
            update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"]
        )
        audit_record(
            action="webhook.rotate",
            actor=by,
            organization=endpoint.organization_id,
            target=endpoint,
            request=request,
            details={"previous_valid_until": endpoint.previous_secret_until.isoformat()},
        )
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint, by, request=None) -> None:
    with transaction.atomic():
        audit_record(
            action="webhook.delete",
            actor=by,
            organization=endpoint.organization_id,
            target=endpoint,
            request=request,
            details={"url": endpoint.url},
        )
        endpoint.delete()


# --- Events ----------------------------------------------------------------------------


def _payload(event_type: str, data: dict, now: datetime) -> dict:
    return {
        "type": event_type,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


def event_record(*, organization_id: int, event_type: str, key: str, data: dict) -> int:
    """The event and one delivery per enabled endpoint of the account that wants it,
    in the caller's transaction, their sending queued once it commits. Nothing is
    written when no endpoint wants it; nothing new when the event was made already.
    Returns how many deliveries it made."""
    # An account has a few endpoints: their lists are read and filtered here, the same
    # on SQLite and PostgreSQL.
    endpoints = WebhookEndpoint.objects.filter(
        organization_id=organization_id, enabled=True
    ).values_list("pk", "events")
    endpoint_ids = [pk for pk, events in endpoints if event_type in events]
    if not endpoint_ids:
        return 0
    now = timezone.now()
    event, made = WebhookEvent.objects.get_or_create(
        organization_id=organization_id,
        type=event_type,
        key=key,
        defaults={"message_id": message_id_new(), "payload": _payload(event_type, data, now)},
    )
    if not made:
        return 0
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                organization_id=organization_id,
                event=event,
                endpoint_id=endpoint_id,
                next_attempt_at=now,
            )
            for endpoint_id in endpoint_ids
        ]
    )
    deliveries_send_soon([delivery.pk for delivery in deliveries])
    return len(deliveries)


def endpoint_test_send(*, endpoint: WebhookEndpoint, by, request=None) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint alone, enabled or not, through the same
    outbox (so it is signed, logged and retried like any other)."""
    now = timezone.now()
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            organization_id=endpoint.organization_id,
            type=TEST_EVENT,
            key=message_id_new(),
            message_id=message_id_new(),
            payload=_payload(
                TEST_EVENT,
                {
                    "endpoint": {"id": str(endpoint.public_id), "url": endpoint.url},
                    "account": {"id": str(endpoint.organization.public_id)},
                    "sent_by": "owner",
                },
                now,
            ),
        )
        delivery = WebhookDelivery.objects.create(
            organization_id=endpoint.organization_id,
            event=event,
            endpoint=endpoint,
            next_attempt_at=now,
        )
        audit_record(
            action="webhook.test",
            actor=by,
            organization=endpoint.organization_id,
            target=endpoint,
            request=request,
            details={"webhook_id": event.message_id},
        )
        deliveries_send_soon([delivery.pk])
    return delivery


def delivery_replay(*, delivery: WebhookDelivery, by, request=None) -> WebhookDelivery:
    """Send a delivery again (delivered, failed or waiting): the same event and the
    same webhook-id, from a first attempt."""
    now = timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=Status.PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_owner="",
            leased_until=None,
        )
        audit_record(
            action="webhook.replay",
            actor=by,
            organization=delivery.organization_id,
            target=delivery.endpoint,
            request=request,
            details={"webhook_id": delivery.event.message_id, "event": delivery.event.type},
        )
        deliveries_send_soon([delivery.pk])
    delivery.refresh_from_db()
    return delivery


# --- Sending ---------------------------------------------------------------------------


def deliveries_send_soon(delivery_ids: list[int], countdown: int | None = None) -> None:
    """Queue these deliveries once the caller's transaction commits (at once outside
    one); the sweep would find them within a minute anyway."""
    if not delivery_ids:
        return
    ids = list(delivery_ids)

    def queue() -> None:
        if countdown:
            webhook_deliveries_send.apply_async((ids,), countdown=countdown)
        else:
            webhook_deliveries_send.delay(ids)

    transaction.on_commit(queue, robust=True)


@shared_task(name="portal.webhooks.services.send", acks_late=True)
def webhook_deliveries_send(delivery_ids: list[int]) -> int:
    """Send these deliveries, those due and not being sent; returns how many
    were delivered."""
    return sum(delivery_send(delivery_id=pk) for pk in delivery_ids)


def _claim(delivery_id: int, now: datetime) -> bool:
    return (
        WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(lease_lapsed(now))
        .update(lease_owner=lease_owner(), leased_until=now + LEASE)
        == 1
    )


def signature_headers(endpoint: WebhookEndpoint, message_id: str, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for this body, signed now: with the endpoint's
    secret, and its previous one too for a day after a rotation."""
    now = timezone.now()
    secrets_now = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_until
        and endpoint.previous_secret_until > now
    ):
        secrets_now.append(endpoint.previous_secret)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(message_id, now, body) for secret in secrets_now
        ),
    }


def delivery_send(*, delivery_id: int) -> bool:
    """One attempt at a delivery, if it is due and nobody else holds it. The POST is
    made outside any transaction; its outcome is then written with the attempt's
    record. Returns whether it was delivered."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return False
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    body = json.dumps(event.payload, separators=(",", ":"), sort_keys=False).encode()
    started = timezone.now()
    if not endpoint.enabled and event.type != TEST_EVENT:
        answer = wire.Answer(None, None, "The endpoint is disabled.", "", 0)
    elif not endpoint.secret:
        # Sealed under a SECRET_KEY the portal no longer has (portal.sealing): nothing
        # to sign with. Retried as any failure, so putting the old key back among
        # SECRET_KEY_FALLBACKS, or replacing the secret, lets it through.
        answer = wire.Answer(None, None, SIGNING_KEY_UNREADABLE, "", 0)
    else:
        try:
            target = target_of(endpoint.url)
        except AddressRefusedError as refused:
            answer = wire.Answer(None, None, str(refused), "", 0)
        else:
            answer = wire.post(target, body, signature_headers(endpoint, event.message_id, body))
    _record(delivery, answer, started=started)
    return answer.succeeded


def _record(delivery: WebhookDelivery, answer: wire.Answer, *, started: datetime) -> None:
    now = timezone.now()
    attempts = delivery.attempts + 1
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            started_at=started,
            duration_ms=answer.duration_ms,
            address=answer.address,
            status_code=answer.status_code,
            error=answer.error[:500],
            response_excerpt=answer.excerpt[:200],
        )
        fields: dict[str, object] = {
            "attempts": attempts,
            "last_status_code": answer.status_code,
            "last_error": (answer.error or ("" if answer.succeeded else answer.excerpt))[:500],
            "lease_owner": "",
            "leased_until": None,
        }
        if answer.succeeded:
            fields |= {"status": Status.DELIVERED, "delivered_at": now, "next_attempt_at": None}
        elif attempts >= MAX_ATTEMPTS:
            fields |= {"status": Status.FAILED, "next_attempt_at": None}
        else:
            wait = RETRY_DELAYS[attempts - 1]
            fields |= {"next_attempt_at": now + timedelta(seconds=wait)}
            if wait <= COUNTDOWN_UP_TO:
                deliveries_send_soon([delivery.pk], countdown=wait)
        # Only if the lease is still ours: a delivery replayed meanwhile is left as
        # the replay set it.
        WebhookDelivery.objects.filter(pk=delivery.pk, lease_owner=lease_owner()).update(**fields)
    logger.info(
        "webhook delivery %s (%s): attempt %d: %s",
        delivery.pk,
        delivery.event.type,
        attempts,
        answer.status_code or answer.error[:80],
    )


# --- Recovery --------------------------------------------------------------------------


def webhook_deliveries_send_due(*, now: datetime | None = None) -> int:
    """The sweep's step: queue the pending deliveries whose time has come and that
    nobody holds (a lost message, a retry too far out for a countdown, a killed
    worker's lapsed lease). Returns how many it queued."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .filter(lease_lapsed(now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for start in range(0, len(due), 50):
        deliveries_send_soon(due[start : start + 50])
    return len(due)


def webhook_deliveries_take_over(*, gone: bool = True) -> int:
    """A worker starting up: the deliveries held by processes of this machine that are
    gone (its killed predecessor, whose leases have not lapsed yet) are freed, and
    every due delivery nobody holds is queued at once, rather than at the next sweep:
    the killed worker's unacknowledged task messages come back from Redis only after
    its visibility timeout. Returns how many it queued."""
    held = (
        WebhookDelivery.objects.filter(status=Status.PENDING)
        .exclude(lease_owner="")
        .order_by()
        .values_list("lease_owner", flat=True)
        .distinct()
    )
    dead = owners_gone(list(held)) if gone else set()
    if dead:
        WebhookDelivery.objects.filter(status=Status.PENDING, lease_owner__in=dead).update(
            lease_owner="", leased_until=None
        )
    return webhook_deliveries_send_due()


def webhook_events_prune(*, now: datetime | None = None) -> int:
    """The sweep's step: drop the events older than KEEP_FOR that nothing still waits
    to deliver, with their deliveries and attempt logs. Returns how many events."""
    now = now or timezone.now()
    old = (
        WebhookEvent.objects.filter(created_at__lt=now - KEEP_FOR)
        .exclude(deliveries__status=Status.PENDING)
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    _, by_model = WebhookEvent.objects.filter(pk__in=list(old)).delete()
    return by_model.get(WebhookEvent._meta.label, 0)
