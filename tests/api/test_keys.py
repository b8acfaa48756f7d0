"""API keys at the door: stored hashed, refused when expired, revoked, used from an
address they do not allow or over their rate; a key never does more than its creator."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from portal.accounts.api_keys import (
    ApiKeyRefusedError,
    api_key_create,
    api_key_revoke,
)
from portal.accounts.models import ApiKey, Membership
from portal.accounts.roles import Capability, Role
from portal.audit.models import AuditEvent
from tests import factories
from tests.api.conftest import API

pytestmark = pytest.mark.django_db


@pytest.fixture
def touched(acme):
    incident = factories.incident()
    factories.exposure(incident, acme)
    return incident


def test_the_key_is_stored_as_a_prefix_and_the_hash_of_its_secret(acme, alice):
    key, presented = api_key_create(
        organization=acme, name="SIEM", capabilities={Capability.VIEW_DASHBOARD}, by=alice
    )

    _vgl, prefix, secret = presented.split("_", 2)
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.prefix == prefix
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(
        list(ApiKey.objects.filter(pk=key.pk).values())
    )  # the secret itself is kept nowhere
    assert len(secret) == 43  # 256 bits, base64url
    created = AuditEvent.objects.get(action="api_key.create")
    assert created.details["name"] == "SIEM"
    assert secret not in str(created.details)


def test_a_key_holds_no_capability_its_creator_lacks(acme, bob):
    with pytest.raises(ApiKeyRefusedError, match="Reveal full phone numbers"):
        api_key_create(
            organization=acme,
            name="too much",
            capabilities={Capability.VIEW_DASHBOARD, Capability.REVEAL_PHONE},
            by=bob,  # an admin: no reveal
        )
    assert not ApiKey.objects.exists()


def test_a_key_lasts_a_year_at_most_and_90_days_by_default(acme, alice):
    with pytest.raises(ApiKeyRefusedError, match="a year at most"):
        api_key_create(
            organization=acme,
            name="forever",
            capabilities={Capability.VIEW_DASHBOARD},
            by=alice,
            expires_at=timezone.now() + timedelta(days=400),
        )
    key, _ = api_key_create(
        organization=acme, name="default", capabilities={Capability.VIEW_DASHBOARD}, by=alice
    )
    assert timedelta(days=89) < key.expires_at - timezone.now() <= timedelta(days=90)


def test_an_expired_key_is_a_401_and_audited(acme, alice, touched, api_key, api_client):
    presented = api_key(acme, {Capability.VIEW_DASHBOARD}, name="old", by=alice)

    with time_machine.travel(timezone.now() + timedelta(days=91)):
        response = api_client(presented).get(f"{API}/incidents")

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    refused = AuditEvent.objects.get(action="api.refused")
    assert refused.details["reason"] == "expired"
    assert refused.actor_label.startswith("API key old (")


def test_a_revoked_key_is_a_401(acme, alice, touched, api_key, api_client):
    presented = api_key(acme, {Capability.VIEW_DASHBOARD}, by=alice)
    client = api_client(presented)
    assert client.get(f"{API}/incidents").status_code == 200

    api_key_revoke(key=ApiKey.objects.get(), by=alice)

    assert client.get(f"{API}/incidents").status_code == 401
    assert AuditEvent.objects.filter(action="api_key.revoke").count() == 1


@pytest.mark.parametrize("presented", ["vgl_nothing", "vgl_0123456789ab_" + "x" * 43, ""])
def test_an_unknown_or_malformed_key_is_a_401(acme, touched, api_client, presented):
    response = api_client(presented).get(f"{API}/incidents")

    assert response.status_code == 401


def test_a_wrong_secret_with_a_real_prefix_is_a_401(acme, touched, api_key, api_client):
    presented = api_key(acme, {Capability.VIEW_DASHBOARD})
    forged = presented[:-4] + ("AAAA" if not presented.endswith("AAAA") else "BBBB")

    assert api_client(forged).get(f"{API}/incidents").status_code == 401


def test_a_call_from_an_address_the_key_does_not_allow_is_a_403_and_audited(
    acme, touched, api_key, api_client
):
    presented = api_key(
        acme, {Capability.VIEW_DASHBOARD}, networks=["203.0.113.0/24", "2001:db8::/32"]
    )

    inside = api_client(presented).get(f"{API}/incidents", REMOTE_ADDR="203.0.113.9")
    outside = api_client(presented).get(f"{API}/incidents", REMOTE_ADDR="198.51.100.7")

    assert inside.status_code == 200
    assert outside.status_code == 403
    assert outside.json()["title"] == "Address not allowed"
    refused = AuditEvent.objects.get(action="api.refused")
    assert refused.details["reason"] == "address"
    assert refused.ip == "198.51.100.7"


def test_the_last_use_is_noted(acme, touched, api_key, api_client):
    presented = api_key(acme, {Capability.VIEW_DASHBOARD})

    api_client(presented).get(f"{API}/incidents", REMOTE_ADDR="192.0.2.44")

    key = ApiKey.objects.get()
    assert key.last_used_ip == "192.0.2.44"
    assert key.last_used_at is not None


def test_over_the_rate_a_key_gets_429_with_retry_after(
    acme, touched, api_key, api_client, settings
):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}))
    other = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}, name="another"))

    with time_machine.travel("2026-12-06 12:00:10Z", tick=False):
        statuses = [client.get(f"{API}/incidents").status_code for _ in range(4)]
        limited = client.get(f"{API}/incidents")
        others = other.get(f"{API}/incidents")
    with time_machine.travel("2026-12-06 12:01:01Z", tick=False):
        next_minute = client.get(f"{API}/incidents")

    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert limited["Retry-After"] == "50"
    assert limited["Content-Type"] == "application/problem+json"
    assert others.status_code == 200  # per key
    assert next_minute.status_code == 200


def test_a_key_loses_what_its_creator_no_longer_may_do(acme, alice, touched, api_key, api_client):
    client = api_client(api_key(acme, {Capability.VIEW_DASHBOARD}, by=alice))
    assert client.get(f"{API}/incidents").status_code == 200

    Membership.objects.filter(user=alice).update(role=Role.SECURITY)
    assert client.get(f"{API}/incidents").status_code == 200  # security staff see it too
    Membership.objects.filter(user=alice).delete()

    assert client.get(f"{API}/incidents").status_code == 403
