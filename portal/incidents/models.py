import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organization
from portal.incidents.phones_display import phone_masked


class Incident(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        CLOSED = "closed", _("Closed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    provider = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    window_start = models.DateTimeField("exposure window start")
    window_end = models.DateTimeField("exposure window end")
    became_aware_at = models.DateTimeField(null=True, blank=True)
    disclosed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    sent_at_tolerance_hours = models.PositiveIntegerField(
        "tolerance around the window (hours)",
        default=48,
        help_text=(
            "Log rows sent this long before the window starts or after it ends still "
            "belong to the incident (providers' clocks and time zones slip); rows "
            "further out are rejected with their line."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-window_start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_end__gt=models.F("window_start")),
                name="incident_window_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "published", "closed"]),
                name="incident_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ImportBatch(models.Model):
    class Format(models.TextChoices):
        CSV = "csv", _("Provider dump, CSV")
        JSONL = "jsonl", _("Provider dump, JSON Lines")
        DUO = "duo", _("Duo telephony log v2 (JSON)")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a worker")
        RUNNING = "running", _("Importing")
        COMPLETED = "completed", _("Completed")
        HELD = "held", _("Held for review: too many rows rejected")
        DISCARDED = "discarded", _("Discarded")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="import_batches")
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("The account every row belongs to, for formats that do not name one (Duo)."),
    )
    upload = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    original_name = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64, db_index=True)
    format = models.CharField(max_length=8, choices=Format.choices)
    encoding = models.CharField(
        max_length=32, blank=True, help_text=_("The file's text encoding, found on upload.")
    )

    class Phase(models.TextChoices):
        QUEUED = "queued", _("Waiting for a worker")
        READING = "reading", _("Reading and checking rows")
        LOADING = "loading", _("Loading new rows")
        EXPOSURES = "exposures", _("Rebuilding exposed users")
        DONE = "done", _("Done")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.QUEUED)
    bytes_total = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    seen = models.BigIntegerField(default=0)
    imported = models.BigIntegerField(default=0)
    duplicate = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    unknown_account = models.BigIntegerField(default=0)
    error_report = models.FileField(upload_to="import-errors/%Y/%m/", blank=True, max_length=300)
    first_errors = models.JSONField(default=list, blank=True)
    error_groups = models.JSONField(
        default=list, blank=True, help_text=_("[{reason, count, line}]: why rows were not imported")
    )
    failure = models.TextField(blank=True, help_text=_("Why the whole batch failed, if it did."))
    failure_reason = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "The failure's untranslated message and parameters, shown in each reader's language."
        ),
    )
    problems_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Who let a held batch publish although many of its rows were rejected."),
    )
    problems_accepted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text=_("Last progress write."))
    finished_at = models.DateTimeField(null=True, blank=True)
    # While running: which process runs it (host:pid) and until when, unless it renews
    # the lease (portal/leases.py). A batch `manage.py import_logs` runs belongs to that
    # command: the worker never runs it, and running the command again picks it up.
    lease_owner = models.CharField(max_length=200, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    run_by_command = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"


class MessageLogRecord(models.Model):
    """One stolen log row: the big table (millions of rows). Loaded by COPY.

    Pages never read it in bulk: they read Exposure. Only the per-user timeline and
    log-copy exports touch it, both through the (organization, incident, ...) indexes.
    """

    class MessageType(models.TextChoices):
        SMS = "sms", _("SMS")
        VOICE = "voice", _("Voice")

    # The columns a load fills for each row besides its incident (and, for an import,
    # its batch), in the order the loaders write them: the importer's staging table
    # and the demo seeder's COPY both take this list.
    LOADED_COLUMNS = (
        "organization_id",
        "provider_message_id",
        "sent_at",
        "phone",
        "carrier",
        "country",
        "region",
        "region_code",
        "message_type",
        "context",
        "credits",
        "extra",
    )

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes on the foreign keys: the composite ones below start
    # with them, and every extra index slows the COPY that loads this table.
    # No foreign-key constraints in the database either (db_constraint=False): checking
    # three keys for every one of ten million rows cost the import a third of its time
    # (11-12 s of 41 s for a million rows). The only writer is the import, which holds
    # the incident and the accounts it loads for (SELECT ... FOR SHARE) while it
    # publishes and fails if one is gone; deletes still cascade through the ORM.
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, db_index=False, db_constraint=False, related_name="+"
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    import_batch = models.ForeignKey(
        ImportBatch,
        null=True,
        on_delete=models.SET_NULL,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    provider_message_id = models.CharField(max_length=100)
    sent_at = models.DateTimeField()
    phone = models.CharField(max_length=20, help_text="E.164")
    carrier = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"))
    region = models.CharField(max_length=100, blank=True, help_text=_("State or province as given"))
    region_code = models.CharField(max_length=6, blank=True, help_text=_("ISO 3166-2, where known"))
    message_type = models.CharField(max_length=8, choices=MessageType.choices)
    context = models.CharField(max_length=100, blank=True)
    credits = models.IntegerField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "provider_message_id"], name="log_record_message_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(message_type__in=["sms", "voice"]),
                name="log_record_type_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "incident", "phone", "sent_at"],
                name="log_record_org_phone_time",
            ),
        ]

    def __str__(self) -> str:
        return self.provider_message_id


class DirectoryUser(models.Model):
    """A person in the customer's own user directory, imported so phones map to people."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="directory_users"
    )
    username = models.CharField(max_length=150)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phones = models.JSONField(default=list, blank=True, help_text=_("E.164 numbers"))
    language = models.CharField(max_length=16, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "username"], name="directory_user_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.username


class DirectoryPhone(models.Model):
    """One row per (directory user, phone): the join exposures are matched through.

    `DirectoryUser.phones` is what the person imported; this table is its index.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    directory_user = models.ForeignKey(
        DirectoryUser, on_delete=models.CASCADE, related_name="phone_rows"
    )
    phone = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["directory_user", "phone"], name="directory_phone_unique"
            ),
        ]
        indexes = [models.Index(fields=["organization", "phone"], name="directory_phone_lookup")]

    def __str__(self) -> str:
        # Masked: the admin names a row by this (a deletion lists the rows it takes).
        return phone_masked(self.phone)


class Exposure(models.Model):
    """One exposed phone of one account in one incident, rebuilt by each import."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No foreign-key constraints on the account and the incident in the database, as on
    # the log table the exposures are built from: checked once per row at the commit of
    # the import that inserts them, they cost a million-row import a second. The rows
    # are only written from log rows, by the import, which holds the incident and the
    # accounts (FOR KEY SHARE) until it commits; deletes still cascade through the ORM.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
        related_name="exposures",
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, db_constraint=False, related_name="exposures"
    )
    phone = models.CharField(max_length=20)
    sms_count = models.IntegerField(default=0)
    voice_count = models.IntegerField(default=0)
    message_count = models.IntegerField(default=0)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    carrier = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=100, blank=True)
    region_code = models.CharField(max_length=6, blank=True)
    # Indexed with the account and incident (exposure_person below), not alone.
    directory_user = models.ForeignKey(
        DirectoryUser,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="exposures",
    )
    last_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "incident", "phone"], name="exposure_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(message_count=models.F("sms_count") + models.F("voice_count")),
                name="exposure_counts_add_up",
            ),
        ]
        # One index per sort the list offers (selectors.SORTS), each ending in the id
        # that breaks ties, so a page of 50 is a walk of the index (forwards or back)
        # with no sort, however deep: the deferred join pages the ids from it and only
        # then loads the 50 rows. Each index costs the exposure rebuild some time
        # (bench/imports.py, README "Benchmarks"). Trigram indexes for searching by phone
        # digits exist on PostgreSQL only (migration 0007), outside the model's state.
        indexes = [
            models.Index(fields=["organization", "incident", "country"], name="exposure_country"),
            models.Index(fields=["organization", "incident", "carrier"], name="exposure_carrier"),
            models.Index(
                fields=["organization", "incident", "-last_seen_at", "-id"],
                name="exposure_recent",
            ),
            models.Index(
                fields=["organization", "incident", "-first_seen_at", "-id"],
                name="exposure_first_seen",
            ),
            models.Index(
                fields=["organization", "incident", "-message_count", "-id"],
                name="exposure_messages",
            ),
            models.Index(
                fields=["organization", "incident", "last_notified_at"], name="exposure_notified"
            ),
            # A search by person finds its exposures here without reading them (an
            # index-only probe per person); a deleted directory user's, too (SET_NULL).
            models.Index(
                fields=["directory_user", "organization", "incident"], name="exposure_person"
            ),
        ]

    def __str__(self) -> str:
        return f"Exposure {self.public_id}"


class ExposureRollup(models.Model):
    """The account's exposures in one incident, summed by (country, region, carrier):
    what the dashboard, the account home and the list's filter choices show, so that
    none of them sums 100,000 exposures per view.

    Kept by the writers of exposures, in their transaction (services.
    exposure_rollup_refresh): the import's rebuild, the directory re-match, and the
    notice sender as it stamps last_notified_at. A change through the admin is not
    seen until the next of those (or `manage.py rollups_refresh`).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=100, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    phones = models.IntegerField()
    messages = models.BigIntegerField()
    sms = models.BigIntegerField()
    voice = models.BigIntegerField()
    sms_phones = models.IntegerField(help_text=_("phones that got at least one SMS"))
    voice_phones = models.IntegerField(help_text=_("phones that got at least one call"))
    matched = models.IntegerField(help_text=_("phones matched to a directory user"))
    notified = models.IntegerField(help_text=_("matched phones whose person was notified"))

    class Meta:
        indexes = [models.Index(fields=["organization", "incident"], name="exposure_rollup_of")]

    def __str__(self) -> str:
        return f"{self.country or '-'} {self.region or '-'} {self.carrier or '-'}: {self.phones}"


class ExposureTotal(models.Model):
    """One per (account, incident) with exposures: what does not add up across the
    rollup's groups (a person with phones in two countries counts once), and when the
    rollup was last refreshed."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    exposed_users = models.IntegerField(help_text=_("distinct directory users matched"))
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "incident"], name="exposure_total_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exposed_users} exposed users"


class MessageRollup(models.Model):
    """The account's log rows in one incident counted by quarter-hour (UTC) and type:
    the dashboard's messages per day in any time zone (every zone's offset is a whole
    number of quarter-hours), without reading the big table. Rebuilt with the exposures
    by each import, the only writer of log rows."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    quarter_hour = models.DateTimeField()
    message_type = models.CharField(max_length=8)
    messages = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["organization", "incident"], name="message_rollup_of")]

    def __str__(self) -> str:
        return f"{self.quarter_hour:%Y-%m-%d %H:%M} {self.message_type}: {self.messages}"


class DirectoryImport(models.Model):
    """One upload of an account's user directory: checked and previewed, then applied."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Checked, waiting to be applied")
        APPLIED = "applied", _("Applied")
        DISCARDED = "discarded", _("Discarded")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="directory_imports"
    )
    upload = models.FileField(upload_to="directory-imports/%Y/%m/", max_length=300)
    original_name = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEWED)
    rows_total = models.IntegerField(default=0)
    rows_valid = models.IntegerField(default=0)
    rows_rejected = models.IntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text=_("[{line, field, reason}], the first 500")
    )
    created_count = models.IntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    unchanged_count = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"
