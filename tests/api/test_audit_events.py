"""The account's audit log through the API: newest first in cursor pages, the page's
filters, details redacted, nothing of another account."""

import pytest

from portal.accounts.roles import Capability, Role
from portal.audit.services import audit_record
from tests.api.conftest import API

pytestmark = pytest.mark.django_db


def test_it_lists_the_accounts_events_newest_first_with_details_redacted(
    acme, globex, alice, api_key, api_client
):
    client = api_client(api_key(acme, {Capability.VIEW_AUDIT}, by=alice))
    audit_record(action="account.settings", actor=alice, organization=acme, details={"a": 1})
    audit_record(
        action="invitation.create",
        actor=alice,
        organization=acme,
        details={"email": "x@acme.example", "token": "s3cret"},
    )
    audit_record(action="account.settings", organization=globex)

    first = client.get(f"{API}/audit/events", {"limit": 2}).json()
    rest = client.get(f"{API}/audit/events", {"cursor": first["next_cursor"]}).json()

    # Newest first; the second call's own event comes after (its audit is written
    # once it has answered), and nothing of Globex's.
    actions = [item["action"] for item in first["items"] + rest["items"]]
    assert actions == ["invitation.create", "account.settings", "api_key.create"]
    assert first["items"][0]["details"]["token"] == "[hidden]"
    assert first["items"][0]["actor"] == "alice@acme.example"
    assert rest["next_cursor"] is None


def test_it_filters_as_the_page_does(acme, alice, api_key, api_client):
    client = api_client(api_key(acme, {Capability.VIEW_AUDIT}, by=alice))
    audit_record(action="account.settings", actor=alice, organization=acme)

    by_prefix = client.get(f"{API}/audit/events", {"action_prefix": "account."}).json()
    by_who = client.get(f"{API}/audit/events", {"who": "alice@acme.example"}).json()

    assert [item["action"] for item in by_prefix["items"]] == ["account.settings"]
    assert {item["action"] for item in by_who["items"]} == {"account.settings", "api_key.create"}


def test_the_api_calls_themselves_are_in_it(acme, alice, api_key, api_client):
    client = api_client(api_key(acme, {Capability.VIEW_AUDIT}, name="SIEM", by=alice))
    client.get(f"{API}/audit/events")

    body = client.get(f"{API}/audit/events", {"action": "api.call"}).json()

    assert len(body["items"]) == 1
    assert body["items"][0]["actor"].startswith("API key SIEM (")
    assert body["items"][0]["details"]["operation"] == "audit_events_list"


def test_it_needs_view_audit(acme, api_key, api_client):
    client = api_client(api_key(acme, Role.SECURITY))  # security staff do not see the log

    assert client.get(f"{API}/audit/events").status_code == 403
