"""API tests: keys for an account, and a client that sends them.

`api_key(org, capabilities)` makes a key as an owner of `org` would on the settings
page (through the service) and returns the key string; `api_client(key)` gives a test
client that sends `Authorization: Bearer <key>` on every call.
"""

from collections.abc import Iterable

import pytest
from django.test import Client

from portal.accounts.api_keys import api_key_create
from portal.accounts.models import Membership
from portal.accounts.roles import ROLE_CAPABILITIES, Role
from tests import factories

API = "/api/v1"


class ApiClient(Client):
    """A Django test client that sends an API key (or none) with every request."""

    def __init__(self, key: str | None = None, **defaults):
        if key is not None:
            defaults["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        super().__init__(**defaults)


def _owner_of(organization):
    membership = (
        Membership.objects.select_related("user")
        .filter(organization=organization, role=Role.OWNER)
        .order_by("pk")
        .first()
    )
    if membership is not None:
        return membership.user
    return factories.member(
        organization, f"keys-owner-{organization.pk}@example.com", Role.OWNER, name="Key Maker"
    )


@pytest.fixture
def api_key(db):
    """api_key(org, capabilities=None, **options) -> the key string. Capabilities are
    Capability values, or a Role (its capabilities); None: all an owner has."""

    def make(organization, capabilities: Iterable[str] | str | None = None, **options) -> str:
        if capabilities is None:
            capabilities = ROLE_CAPABILITIES[Role.OWNER]
        elif isinstance(capabilities, str):
            capabilities = ROLE_CAPABILITIES[capabilities]
        _key, secret = api_key_create(
            organization=organization,
            name=options.pop("name", "test script"),
            capabilities=set(capabilities),
            by=options.pop("by", None) or _owner_of(organization),
            **options,
        )
        return secret

    return make


@pytest.fixture
def api_client():
    """api_client(key=None) -> a test client sending that key."""

    def make(key: str | None = None) -> ApiClient:
        return ApiClient(key)

    return make
