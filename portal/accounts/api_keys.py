"""API keys: made and revoked by owners on the settings page, checked on every API call.

A key reads `vgl_<prefix>_<secret>`: the prefix (12 hex digits) finds the row, the
secret (256 bits from `secrets`) is kept only as its SHA-256 and compared in constant
time. The key is shown once, when it is made; the portal cannot show it again.
"""

import functools
import hashlib
import hmac
import ipaddress
import re
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import ApiKey, Membership, Organization, User
from portal.accounts.roles import ROLE_CAPABILITIES, Capability
from portal.audit.services import audit_record

KEY_PREFIX = "vgl"
DEFAULT_LIFETIME = timedelta(days=90)
LONGEST_LIFETIME = timedelta(days=365)
_KEY = re.compile(r"^vgl_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")


class ApiKeyRefusedError(ValidationError):
    """A key the rules forbid making; the message says why, in words for the owner."""


class ApiKeyUnusable(Exception):  # noqa: N818 (a refusal, not a programming error)
    """The presented key does not open the API: `reason` says why, `key` is the row
    when one matched (expired, revoked, or used from an address it does not allow)."""

    def __init__(self, reason: str, key: ApiKey | None = None):
        super().__init__(reason)
        self.reason = reason
        self.key = key


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def networks_parse(text: str) -> list[str]:
    """Addresses and networks, one per line or separated by commas or spaces, as
    normalised CIDR strings. Raises ValidationError naming the entry that is not one."""
    networks = []
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError as error:
            raise ValidationError(
                _("%(entry)s is not an IP address or a network such as 203.0.113.0/24.")
                % {"entry": entry[:60]}
            ) from error
        if str(network) not in networks:
            networks.append(str(network))
    return networks


def address_allowed(key: ApiKey, ip: str | None) -> bool:
    if not key.allowed_networks:
        return True
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in key.allowed_networks)


def api_key_create(
    *,
    organization: Organization,
    name: str,
    capabilities: list[str] | set[str] | frozenset[str],
    by: User,
    expires_at: datetime | None = None,
    networks: list[str] | None = None,
    request=None,
) -> tuple[ApiKey, str]:
    """Make a key holding `capabilities` (some of the creator's own) until `expires_at`
    (90 days by default, a year at most). Returns the row and the key, which is shown
    once and stored nowhere."""
    name = name.strip()
    if not name:
        raise ApiKeyRefusedError(_("Give the key a name, so the audit log can say who called."))
    role = (
        Membership.objects.filter(user=by, organization=organization)
        .values_list("role", flat=True)
        .first()
    )
    own = ROLE_CAPABILITIES.get(role or "", frozenset())
    wanted = set(capabilities)
    unknown = wanted - set(Capability.values)
    if unknown:
        raise ApiKeyRefusedError(
            _("%(names)s: no such capability.") % {"names": ", ".join(sorted(unknown))}
        )
    if not wanted:
        raise ApiKeyRefusedError(_("Choose at least one thing the key may do."))
    beyond = wanted - own
    if beyond:
        raise ApiKeyRefusedError(
            _("A key holds only capabilities you have yourself; you do not have: %(names)s.")
            % {"names": ", ".join(str(Capability(c).label) for c in sorted(beyond))}
        )
    now = timezone.now()
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if expires_at <= now:
        raise ApiKeyRefusedError(_("The expiry must be in the future."))
    if expires_at > now + LONGEST_LIFETIME + timedelta(days=1):
        raise ApiKeyRefusedError(_("A key lasts a year at most; choose an earlier expiry."))
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=prefix,
        secret_hash=_digest(secret),
        capability_names=sorted(wanted),
        allowed_networks=list(networks or []),
        created_by=by,
        expires_at=expires_at,
    )
    audit_record(
        action="api_key.create",
        actor=by,
        organization=organization,
        target=key,
        request=request,
        details={
            "name": key.name,
            "prefix": prefix,
            "capabilities": key.capability_names,
            "expires_at": expires_at.isoformat(),
            "networks": key.allowed_networks,
        },
    )
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


def api_key_revoke(*, key: ApiKey, by: User, request=None) -> bool:
    """Revoke the key; False when it was revoked already."""
    updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    if updated:
        audit_record(
            action="api_key.revoke",
            actor=by,
            organization=key.organization_id,
            target=key,
            request=request,
            details={"name": key.name, "prefix": key.prefix},
        )
    return bool(updated)


def api_key_authenticate(presented: str, *, ip: str | None) -> ApiKey:
    """The key row the presented string opens, with its account; raises ApiKeyUnusable
    otherwise. The creator's current role comes in the same query (ApiKey.capabilities)."""
    match = _KEY.match(presented.strip())
    if match is None:
        raise ApiKeyUnusable("malformed")
    key = _key_with_account(match["prefix"])
    if key is None:
        # The same work as for a known prefix, so the answer's time says nothing more.
        hmac.compare_digest(_digest(match["secret"]), "0" * 64)
        raise ApiKeyUnusable("unknown")
    if not hmac.compare_digest(_digest(match["secret"]), key.secret_hash):
        raise ApiKeyUnusable("unknown")
    if key.revoked_at is not None:
        raise ApiKeyUnusable("revoked", key)
    if key.expires_at <= timezone.now():
        raise ApiKeyUnusable("expired", key)
    if not address_allowed(key, ip):
        raise ApiKeyUnusable("address", key)
    return key


@functools.cache
def _key_lookup_sql() -> tuple[str, list, list]:
    """The key lookup written once: the key's columns, its account's, and its creator's
    role in the account (a subquery). What the ORM's select_related + annotate wrote,
    without compiling it again on every call; each column read through its field's
    converters, as the ORM does."""
    q = connection.ops.quote_name
    key_fields = list(ApiKey._meta.concrete_fields)
    organization_fields = list(Organization._meta.concrete_fields)
    columns = [f"k.{q(str(field.column))}" for field in key_fields] + [
        f"o.{q(str(field.column))}" for field in organization_fields
    ]
    sql = f"""
        SELECT {", ".join(columns)}, (
            SELECT m.{q("role")} FROM {q(Membership._meta.db_table)} AS m
            WHERE m.{q("user_id")} = k.{q("created_by_id")}
                AND m.{q("organization_id")} = k.{q("organization_id")}
            LIMIT 1
        )
        FROM {q(ApiKey._meta.db_table)} AS k
        JOIN {q(Organization._meta.db_table)} AS o ON o.{q("id")} = k.{q("organization_id")}
        WHERE k.{q("prefix")} = %s
    """  # noqa: S608 (names from the models; the prefix is a parameter)
    return sql, key_fields, organization_fields


def _converted(fields, values):
    converted = []
    for field, value in zip(fields, values, strict=True):
        expression = field.get_col(field.model._meta.db_table)
        for converter in connection.ops.get_db_converters(expression) + field.get_db_converters(
            connection
        ):
            value = converter(value, expression, connection)
        converted.append(value)
    return converted


def _key_with_account(prefix: str) -> ApiKey | None:
    """The key with this prefix, its organization loaded and its creator's role set
    (ApiKey.creator_role), in one query; None if there is none."""
    sql, key_fields, organization_fields = _key_lookup_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(key_fields)
    key = ApiKey.from_db(
        connection.alias,
        [field.attname for field in key_fields],
        _converted(key_fields, row[:split]),
    )
    organization = Organization.from_db(
        connection.alias,
        [field.attname for field in organization_fields],
        _converted(organization_fields, row[split:-1]),
    )
    ApiKey._meta.get_field("organization").set_cached_value(key, organization)
    # In place of ApiKey.creator_role's own query.
    key.__dict__["creator_role"] = row[-1]
    return key


def api_key_touch(key: ApiKey, *, ip: str | None) -> None:
    """Note the key's use: written at most once a minute per key and address, so a
    script's thousand calls a minute cost one write, not a thousand."""
    now = timezone.now()
    if (
        key.last_used_at is not None
        and key.last_used_ip == ip
        and now - key.last_used_at < timedelta(minutes=1)
    ):
        return
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip)
    key.last_used_at, key.last_used_ip = now, ip
