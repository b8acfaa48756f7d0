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
# needs, a list of capabilities any one of which will do, or None for any valid key
# of the account.
Needed = str | list[str] | None
OPERATION_CAPABILITIES: dict[str, Needed] = {}


def requires(
    capability: str | None, *alternatives: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the capability an operation needs. Put it under `@router.get(...)`.
    With alternatives, any one of them will do: the log-copy pages let a member who
    requests copies and one who downloads them both read them."""
    wanted = [] if capability is None else [capability, *alternatives]
    for name in wanted:
        if name not in Capability.values:
            raise ImproperlyConfigured(f"{name!r} is not a capability")
    # The plain strings, for the schema.
    values = [Capability(name).value for name in wanted]
    needed: Needed = None if not values else values[0] if len(values) == 1 else values

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        name = view.__name__
        if name in OPERATION_CAPABILITIES and OPERATION_CAPABILITIES[name] != needed:
            raise ImproperlyConfigured(f"two API operations are named {name}")
        OPERATION_CAPABILITIES[name] = needed
        view.api_capability = needed  # type: ignore[attr-defined]
        return view

    return decorator


def capability_of(view: Callable[..., Any]) -> Needed:
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


def require(request: HttpRequest, capability: str | list[str]) -> None:
    """403 unless the request's key holds the capability (one of them, for a list)."""
    if isinstance(capability, list):
        if not any(can(request, name) for name in capability):
            raise Problem(
                403,
                "Forbidden",
                detail="This API key holds none of the capabilities "
                + " or ".join(repr(name) for name in capability)
                + ".",
            )
        return
    if not can(request, capability):
        raise Problem(
            403,
            "Forbidden",
            detail=f"This API key does not hold the capability {Capability(capability).value!r}.",
        )
