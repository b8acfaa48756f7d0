import secrets
import uuid
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.accounts.roles import ROLE_CAPABILITIES, Capability, Role


class VigilUserManager(UserManager):
    # Members sign in by email; there is no username to ask for.
    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    username = None
    first_name = None
    last_name = None
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    # The portal's language the member chose (settings.LANGUAGES); blank until they
    # choose, when the browser's or the switcher cookie's applies.
    language = models.CharField(max_length=8, blank=True, default="")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = VigilUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            gettext("%(value)s is not a known time zone.") % {"value": repr(value)}
        )


account_id_validator = RegexValidator(
    r"^[A-Z0-9]{6,32}$", "An account id is 6 to 32 capital letters and digits."
)


class Organization(models.Model):
    """A customer account of the vendor: the tenant every account-scoped row names."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    account_id = models.CharField(
        max_length=32,
        unique=True,
        validators=[account_id_validator],
        help_text=_("The vendor's account id as it appears in the provider's logs."),
    )
    contact_name = models.CharField("designated contact", max_length=200, blank=True)
    contact_email = models.EmailField("designated contact email", blank=True)
    contact_phone = models.CharField("designated contact phone", max_length=32, blank=True)
    contact_url = models.URLField("designated contact URL", blank=True)
    notice_sender_name = models.CharField(max_length=200, blank=True)
    notice_reply_to = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    log_copy_retention_days = models.PositiveIntegerField(
        default=14, validators=[MinValueValidator(1)]
    )
    notice_rate_per_minute = models.PositiveIntegerField(
        default=600,
        validators=[MinValueValidator(1)],
        help_text=_("At most this many vigilance notices a minute leave for this account."),
    )
    log_copy_auto_approve = models.BooleanField(
        default=False,
        help_text=_(
            "Operator policy: this account's log-copy requests are approved without review."
        ),
    )
    daily_reminder_enabled = models.BooleanField(default=True)
    last_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The account's time zone: its dates and times of day are shown in it."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            # The field is validated; a zone dropped from a later tzdata must not break
            # a page.
            return zoneinfo.ZoneInfo("UTC")


class Membership(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


class Invitation(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    # The language of the email and of the page its link opens (settings.LANGUAGES):
    # chosen on the invite form, the inviter's own by default. Blank on invitations
    # made before it was asked: the portal's default.
    language = models.CharField(max_length=8, blank=True, default="")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "email"])]

    def __str__(self) -> str:
        return f"Invitation to {self.organization} as {self.role}"


class SignInThrottle(models.Model):
    """Failed sign-ins of one login name from one address, and the lockout they earn.

    Keyed on the pair, so a stranger guessing Alice's password from one address cannot
    lock Alice out everywhere. The login name is kept as a hash: this table needs to
    match it, never to show it.
    """

    login_hash = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["login_hash", "ip"], name="signin_throttle_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.failures} failures, locked until {self.locked_until}"


class SecondFactorThrottle(models.Model):
    """Wrong second-factor codes for one account, from any address, and the lockout
    they earn (the same length and the same message as a sign-in lockout).

    Keyed on the account, not the address as SignInThrottle is: only someone who has
    the password reaches the second factor, so a stranger cannot lock anyone out with
    it, and a guesser who spreads codes over many addresses still counts against the
    one account.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.failures} wrong codes, locked until {self.locked_until}"


class ApiKey(models.Model):
    """A key a script or a SIEM calls the API with (/api/v1/), made by an owner.

    The key is `vgl_<prefix>_<secret>`, shown once when it is made. Stored: the prefix,
    to find the row, and the SHA-256 of the 256-bit secret, compared in constant time
    (portal.accounts.api_keys); the secret itself is kept nowhere. A key holds some
    of its creator's capabilities, never more, and loses any its creator no longer has.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    # Capability values (roles.Capability); `capabilities` reads them as a frozenset.
    capability_names = models.JSONField(default=list)
    # IP addresses and networks (CIDR) the key may be used from; empty: anywhere.
    allowed_networks = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"], name="api_key_of_org")]

    def __str__(self) -> str:
        return f"API key {self.name} ({self.prefix})"

    @property
    def capabilities(self) -> frozenset[str]:
        """What the key may do now: what it was given, less what its creator's role in
        the account no longer allows (none once the creator has left it)."""
        return frozenset(self.capability_names) & ROLE_CAPABILITIES.get(
            self.creator_role or "", frozenset()
        )

    @property
    def capability_labels(self) -> list[str]:
        labels = dict(Capability.choices)
        return [str(labels.get(name, name)) for name in self.capability_names]

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @cached_property
    def creator_role(self) -> str | None:
        # The key lookup (api_keys.api_key_authenticate) loads it with the key, in the
        # same query, and sets it in this one's place.
        return (
            Membership.objects.filter(
                user_id=self.created_by_id, organization_id=self.organization_id
            )
            .values_list("role", flat=True)
            .first()
        )
