"""Who may call what: the capability each operation needs, in one table.

Each operation declares its capability with `@requires(...)` under the router's
decorator; the table `OPERATION_CAPABILITIES` (operation id → capability) is what the
API checks before it reads the input, what the schema shows as `x-capability`, and
what the access-matrix test (tests/api/test_access_matrix.py) walks. The capabilities
are the pages' (portal.accounts.roles.Capability); an object of another account is a
404, never a 403, exactly as on the pages.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from portal.accounts.models import ApiKey
from portal.accounts.roles import Capability
from portal.api.errors import Problem

# Operation id (the view function's name, unique in the API) -> the capability it
# needs, or None for any valid key of the account.
OPERATION_CAPABILITIES: dict[str, str | None] = {}


def requires(capability: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the capability an operation needs. Put it under `@router.get(...)`."""
    if capability is not None and capability not in Capability.values:
        raise ImproperlyConfigured(f"{capability!r} is not a capability")
    if capability is not None:
        capability = Capability(capability).value  # the plain string, for the schema

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        name = view.__name__
        if name in OPERATION_CAPABILITIES and OPERATION_CAPABILITIES[name] != capability:
            raise ImproperlyConfigured(f"two API operations are named {name}")
        OPERATION_CAPABILITIES[name] = capability
        view.api_capability = capability  # type: ignore[attr-defined]
        return view

    return decorator


def capability_of(view: Callable[..., Any]) -> str | None:
    """The declared capability of an operation's view (through any wrappers); an
    operation that declares none is refused to every key, never open to all."""
    while view is not None:
        if hasattr(view, "api_capability"):
            return view.api_capability
        view = getattr(view, "__wrapped__", None)  # type: ignore[assignment]
    raise ImproperlyConfigured("an API operation has no @requires(...)")


def api_key_of(request: HttpRequest) -> ApiKey:
    return request.auth  # type: ignore[attr-defined]


def can(request: HttpRequest, capability: str) -> bool:
    return capability in api_key_of(request).capabilities


def require(request: HttpRequest, capability: str) -> None:
    """403 unless the request's key holds the capability."""
    if not can(request, capability):
        raise Problem(
            403,
            "Forbidden",
            detail=f"This API key does not hold the capability {Capability(capability).value!r}.",
        )
