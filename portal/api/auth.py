"""Authentication of API calls: `Authorization: Bearer vgl_<prefix>_<secret>`.

After it, `request.auth` is the ApiKey (with its `organization`). In order: an unknown,
expired or revoked key is a 401; a key used from an address it does not allow is a
403; a key over its rate (API_RATE_LIMIT_PER_MINUTE) a 429 with Retry-After; a key
without the operation's capability a 403 (portal.api.access) — all before the input
is read. Refusals of a known key are audited with its name.
"""

import math
import time

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from portal.accounts.api_keys import ApiKeyUnusable, api_key_authenticate, api_key_touch
from portal.accounts.models import ApiKey
from portal.api.access import require
from portal.api.errors import Problem
from portal.audit.services import audit_record
from portal.http import client_ip
from portal.ratelimit import RateLimit, rate_take

RATE_WINDOW = 60  # seconds


def key_label(key: ApiKey) -> str:
    """How an API key appears as the actor of an audit event."""
    return f"API key {key.name} ({key.prefix})"


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        ip = client_ip(request)
        try:
            key = api_key_authenticate(token, ip=ip)
        except ApiKeyUnusable as refusal:
            if refusal.key is None:
                return None  # 401
            _audit_refusal(request, refusal.key, refusal.reason)
            if refusal.reason == "address":
                raise Problem(
                    403,
                    "Address not allowed",
                    detail=f"This API key may not be used from {ip}.",
                ) from None
            raise Problem(
                401,
                "Unauthorized",
                detail=f"This API key is {refusal.reason}.",
                headers={"WWW-Authenticate": 'Bearer realm="vigil", error="invalid_token"'},
            ) from None
        _rate_take(key)
        api_key_touch(key, ip=ip)
        request.auth = key  # type: ignore[attr-defined]
        capability = getattr(request, "api_capability", None)
        if capability is not None:
            require(request, capability)
        return key


def _rate_take(key: ApiKey) -> None:
    """A fixed window per key and clock minute; over it, a 429 saying when the next
    window opens."""
    now = time.time()
    window = int(now // RATE_WINDOW)
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if not rate_take(RateLimit(f"api-rate:{key.pk}:{window}", limit, RATE_WINDOW)):
        wait = max(1, math.ceil((window + 1) * RATE_WINDOW - now))
        raise Problem(
            429,
            "Too Many Requests",
            detail=f"This API key may make {limit} calls a minute; wait {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def _audit_refusal(request: HttpRequest, key: ApiKey, reason: str) -> None:
    audit_record(
        action="api.refused",
        actor_label=key_label(key),
        organization=key.organization_id,
        target=key,
        request=request,
        details={"reason": reason, "method": request.method, "path": request.path},
    )
