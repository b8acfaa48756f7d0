"""Signed webhooks (issue 16 point 3): an account's endpoints, the events they are told
of, and the outbox of deliveries with each attempt's record.

An event is written in the transaction of what it tells, with one delivery row per
endpoint that wants it; the delivery row is the outbox: a task sends it once the
transaction commits, and the minute sweep sends whatever a lost message or a killed
worker left behind. The event's `message_id` is the `webhook-id` of every attempt and
every replay, so a receiver can drop what it has already seen.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organization
from portal.sealing import SealedCharField


class EventType(models.TextChoices):
    LOG_COPY_READY = "log_copy.ready", _("A log copy is ready")
    LOG_COPY_EXPIRED = "log_copy.expired", _("A log copy expired")
    CAMPAIGN_FINISHED = "campaign.finished", _("A notice campaign finished")
    REPORT_FILED = "report.filed", _("A user reported a suspicious contact")
    INCIDENT_PUBLISHED = "incident.published", _("An incident was published to the account")
    IMPORT_COMPLETED = "import.completed", _("An import brought new log rows for the account")


# Sent only by the "Send test event" button, to one endpoint.
TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("Description"), max_length=200, blank=True)
    # The event types wanted, a subset of EventType's values.
    events = models.JSONField(default=list)
    # "whsec_" + base64 of 32 random bytes. The portal signs with it, so a hash would
    # not do: sealed with a key derived from SECRET_KEY (portal.sealing), so that a copy
    # of the database cannot forge the account's events.
    secret = SealedCharField(max_length=255, purpose="webhooks")
    # After a rotation the previous secret signs too (a second signature in the header)
    # until this time, so that a receiver has a day to take the new one.
    previous_secret = SealedCharField(max_length=255, blank=True, purpose="webhooks")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(_("Enabled"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_events"
    )
    # The webhook-id header, the same on every attempt and replay.
    message_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40)
    # What the event is about, unique per account and type so that a signal sent twice
    # (a task run again) makes one event.
    key = models.CharField(max_length=200)
    # The body as sent: {"type", "timestamp", "data"}; fixed when the event is made.
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "type", "key"], name="webhook_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Attempts since the delivery was made or last replayed: the backoff's step.
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Who is sending it now (portal.leases): a killed worker's delivery is taken over
    # once its lease lapses, or at once by a worker starting on the same machine.
    lease_owner = models.CharField(max_length=200, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint}"


class WebhookAttempt(models.Model):
    """One try of a delivery: when, how long, what came back (the answer's first
    characters only)."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    started_at = models.DateTimeField()
    duration_ms = models.IntegerField()
    address = models.GenericIPAddressField(null=True, blank=True)
    status_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
