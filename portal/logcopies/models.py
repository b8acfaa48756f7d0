import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organization
from portal.incidents.models import Incident
from portal.incidents.reasons import reason_text


class _FailureShown:
    failure: str
    failure_reason: dict

    @property
    def failure_text(self) -> str:
        """Why it failed, in the active language (English as stored, for a failure
        written before its reason was kept)."""
        return reason_text(self.failure_reason) if self.failure_reason else self.failure


class LogCopyRequest(_FailureShown, models.Model):
    class Scope(models.TextChoices):
        ACCOUNT = "account", _("The whole account")
        DATE_RANGE = "date_range", _("A date range")
        CHOSEN = "chosen", _("Chosen users or phones")

    class Format(models.TextChoices):
        CSV = "csv", _("CSV")
        JSONL = "jsonl", _("JSON Lines")
        DUO = "duo", _("Duo telephony log v2 (JSON)")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        GENERATING = "generating", _("Generating")
        READY = "ready", _("Ready")
        EXPIRED = "expired", _("Expired")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="log_copy_requests"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="log_copy_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ACCOUNT)
    scope_start = models.DateTimeField(null=True, blank=True)
    scope_end = models.DateTimeField(null=True, blank=True)
    scope_phones = models.JSONField(
        default=list, blank=True, help_text=_("E.164 numbers, for chosen scope")
    )
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.CSV)
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    progress_rows = models.BigIntegerField(default=0)
    total_rows = models.BigIntegerField(null=True, blank=True)
    file = models.FileField(upload_to="log-copies/%Y/%m/", blank=True, max_length=300)
    size = models.BigIntegerField(null=True, blank=True)
    rows = models.BigIntegerField(null=True, blank=True)
    # The zip's own SHA-256: what `sha256sum` of the downloaded file prints.
    sha256 = models.CharField(
        max_length=64, blank=True, help_text=_("SHA-256 of the downloaded .zip")
    )
    # The files the signed manifest lists, as it lists them: name, size, sha256.
    files = models.JSONField(default=list, blank=True)
    # Of the Ed25519 key that signed the manifest (portal/logcopies/keys.py); empty for a
    # copy made before manifests were signed.
    key_fingerprint = models.CharField(max_length=80, blank=True)
    generated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    # While generating: which process writes it (host:pid) and until when, unless it
    # renews the lease (portal/leases.py). A lapsed lease is anyone's to take over.
    lease_owner = models.CharField(max_length=200, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)
    # The failure's untranslated message and parameters (portal.incidents.reasons):
    # the worker writes it in no one's language; each reader sees it in theirs.
    failure_reason = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope_start__isnull=True)
                | models.Q(scope_end__isnull=True)
                | models.Q(scope_end__gt=models.F("scope_start")),
                name="log_copy_range_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="log_copy_by_org"),
            models.Index(fields=["status", "expires_at"], name="log_copy_expiry"),
        ]

    def __str__(self) -> str:
        return f"Log copy {self.public_id} ({self.status})"


class ExposureExport(_FailureShown, models.Model):
    """A CSV of an account's exposed users (masked numbers), made by a worker.

    A large export used to stream from the web worker for seconds (100,000 rows: 3 to
    8 s), holding it from every other page. It is now a job like a log copy: the
    worker writes the file through storage with progress, the member downloads it
    through a short-lived signed link, and a sweep deletes it when it expires.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a worker")
        GENERATING = "generating", _("Writing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="exposure_exports"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    filters = models.JSONField(default=dict, blank=True, help_text=_("the list's filters"))
    search_reveals = models.BooleanField(
        default=False,
        help_text=_("Searched as someone who may reveal numbers (any digits match)."),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress_rows = models.BigIntegerField(default=0)
    total_rows = models.BigIntegerField(null=True, blank=True)
    file = models.FileField(upload_to="exposure-exports/%Y/%m/", blank=True, max_length=300)
    size = models.BigIntegerField(null=True, blank=True)
    rows = models.BigIntegerField(null=True, blank=True)
    failure = models.TextField(blank=True)
    # The failure's untranslated message and parameters (portal.incidents.reasons):
    # the worker writes it in no one's language; each reader sees it in theirs.
    failure_reason = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="exposure_export_expiry"),
        ]

    def __str__(self) -> str:
        return f"Exposure export {self.public_id} ({self.status})"
