import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organization
from portal.incidents.models import DirectoryUser, Exposure, Incident


class NoticeTemplate(models.Model):
    """A vigilance notice. Without an organization it is one of the operator's defaults."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notice_templates",
    )
    name = models.CharField(max_length=200)
    language = models.CharField(max_length=16, default="en")
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name", "language"], name="notice_template_unique"
            ),
            # NULLs are distinct in a unique constraint, so the operator's defaults
            # need their own.
            models.UniqueConstraint(
                fields=["name", "language"],
                condition=models.Q(organization__isnull=True),
                name="notice_template_default_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class NoticeCampaign(models.Model):
    class Audience(models.TextChoices):
        ALL_MATCHED = "all_matched", _("All matched exposed users")
        NOT_NOTIFIED = "not_notified", _("Exposed users not yet notified")
        FILTER = "filter", _("A filter")
        CHOSEN = "chosen", _("Chosen users")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="campaigns"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200, blank=True)
    template = models.ForeignKey(
        NoticeTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Frozen at launch: editing the template or the contact later changes no notice
    # that is already on its way.
    template_snapshot = models.JSONField(default=dict, blank=True)
    contact_snapshot = models.JSONField(default=dict, blank=True)
    audience = models.CharField(
        max_length=16, choices=Audience.choices, default=Audience.NOT_NOTIFIED
    )
    audience_filter = models.JSONField(default=dict, blank=True)
    chosen_users = models.ManyToManyField(DirectoryUser, blank=True, related_name="+")
    scheduled_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty means now."))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    recipients_total = models.IntegerField(default=0)
    sent_count = models.IntegerField(default=0)
    failed_count = models.IntegerField(default=0)
    skipped_count = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    launched_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When a worker last recorded a result: the campaign page's live progress, and how
    # the sweep tells a campaign that moves from one that stalled.
    progress_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="campaign_by_org"),
            models.Index(fields=["status", "scheduled_at"], name="campaign_due"),
        ]

    def __str__(self) -> str:
        return self.name or f"Campaign {self.public_id}"


def _report_token() -> str:
    return secrets.token_urlsafe(24)


class Delivery(models.Model):
    """One notice to one person: the outbox row a worker claims, sends and records."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(
        NoticeCampaign, on_delete=models.CASCADE, db_index=False, related_name="deliveries"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    directory_user = models.ForeignKey(
        DirectoryUser, on_delete=models.CASCADE, related_name="deliveries"
    )
    exposure = models.ForeignKey(
        Exposure, null=True, blank=True, on_delete=models.SET_NULL, db_index=False, related_name="+"
    )
    email = models.EmailField(blank=True)
    language = models.CharField(max_length=16, blank=True)
    # The recipient's placeholder values frozen when the delivery is created (see
    # notifications.notice_templates.rendering.recipient_context), so a send needs no query per message
    # and a retry sends the same words.
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # While sending: which process holds the batch (host:pid) and until when, unless it
    # renews the lease (portal/leases.py). A lapsed lease is anyone's to take over.
    lease_owner = models.CharField(max_length=200, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    report_token = models.CharField(
        max_length=64, unique=True, default=_report_token, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "directory_user"], name="delivery_unique_recipient"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="delivery_by_status"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"


class SuspicionReport(models.Model):
    class Channel(models.TextChoices):
        CALL = "call", _("Phone call")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("Email")
        CHAT = "chat", _("Chat")
        IN_PERSON = "in_person", _("In person")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        TRIAGED = "triaged", _("Triaged")
        CLOSED = "closed", _("Closed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="suspicion_reports"
    )
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    occurred_at = models.DateTimeField()
    # The reporter's own time zone (their browser's), in which they gave occurred_at;
    # stored in UTC like every time. Blank for reports filed before it was asked.
    occurred_zone = models.CharField(max_length=64, blank=True, default="")
    asked_for = models.CharField("what was asked for", max_length=300, blank=True)
    contact_detail = models.CharField("the contact's number or address", max_length=300, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triage_note = models.TextField(blank=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "status", "-created_at"], name="report_by_org")
        ]

    def __str__(self) -> str:
        return f"Report {self.public_id} ({self.status})"


class ScheduledEmail(models.Model):
    """One email to customers or operator staff, as its own outbox row: every email
    the portal sends but notices and test sends.

    Rows are made in the transaction of what they tell (an invitation, a log copy's
    decision, a filed report, a publication), or by the minute sweep when due (the
    reminder and summary), one per kind and key, so a re-run never sends twice. Their
    sending is queued once that commits; a failed send stays pending with its error
    and is tried again after a backoff (`next_attempt_at`), up to a limit.
    """

    class Kind(models.TextChoices):
        CUSTOMER_NOTICE = "customer_notice", _("Incident published: customer notice")
        DAILY_REMINDER = "daily_reminder", _("Daily reminder: users not yet notified")
        WEEKLY_SUMMARY = "weekly_summary", _("Weekly summary for operator staff")
        INVITATION = "invitation", _("Invitation to join an account")
        LOGCOPY = "logcopy", _("Log copy approved, rejected, ready or failed: to its requester")
        REPORT_FILED = "report_filed", _("Suspicion report filed: to the designated contact")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=24, choices=Kind.choices)
    # What makes it unique within its kind: "<incident>:<account>", "<account>:<date>",
    # "<ISO year>-W<week>", "<invitation id>", "<log copy id>:<event>", "<report id>".
    key = models.CharField(max_length=200)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    recipients_count = models.IntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # After a failed try, the next one waits until then (empty: due now).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="scheduled_email_once"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="scheduled_email_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key} ({self.status})"
