"""The API keys page (/o/<org>/settings/api-keys/): owners make keys holding some of
their own capabilities, see each key once, revoke them, and see when and from where
each was last used."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.accounts.api_keys import api_key_create, api_key_revoke
from portal.accounts.models import ApiKey
from portal.audit.models import AuditEvent
from tests.accounts.auth import signed_in
from tests.api.conftest import API, ApiClient

pytestmark = pytest.mark.django_db


def page_url(organization) -> str:
    return reverse("accounts:api_keys", kwargs={"org": organization.public_id})


def form_data(**changes) -> dict:
    values = {
        "name": "SIEM sync",
        "capabilities": ["view_dashboard", "view_audit"],
        "expires_on": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "networks": "",
    }
    values.update(changes)
    return values


def test_an_owner_makes_a_key_that_is_shown_once_and_works(client, acme, alice):
    signed_in(client, alice)

    made = client.post(page_url(acme), form_data(networks="203.0.113.0/24\n2001:db8::1"))

    # POST/redirect/GET: the key is shown on the page the redirect leads to.
    assert made.status_code == 302
    assert made["Location"] == page_url(acme)
    shown = client.get(made["Location"])
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    html = shown.content.decode()
    key = ApiKey.objects.get()
    presented = next(
        word.split('"')[0] for word in html.split('value="')[1:] if word.startswith("vgl_")
    )
    assert presented.startswith(f"vgl_{key.prefix}_")
    assert key.capabilities == {"view_dashboard", "view_audit"}
    assert key.allowed_networks == ["203.0.113.0/24", "2001:db8::1/128"]
    assert key.created_by == alice
    # Shown once: the list afterwards names the key by its prefix only.
    again = client.get(page_url(acme)).content.decode()
    assert presented not in again
    assert f"vgl_{key.prefix}_…" in again
    # And it opens the API, from an allowed address.
    api = ApiClient(presented)
    assert api.get(f"{API}/audit/events", REMOTE_ADDR="203.0.113.5").status_code == 200
    assert AuditEvent.objects.filter(action="api_key.create", actor=alice).count() == 1


def test_reloading_the_page_after_making_a_key_makes_no_second_key(client, acme, alice):
    signed_in(client, alice)

    shown = client.post(page_url(acme), form_data(), follow=True)
    reloaded = client.get(page_url(acme))

    # A reload is a GET of the page the redirect led to: no second key, and the key,
    # shown once, is gone from the page and from the session.
    assert shown.redirect_chain == [(page_url(acme), 302)]
    assert ApiKey.objects.count() == 1
    assert "data-new-key" in shown.content.decode()
    assert "data-new-key" not in reloaded.content.decode()
    assert "api_key_created" not in client.session
    assert AuditEvent.objects.filter(action="api_key.create").count() == 1


def test_a_key_just_made_is_not_shown_on_another_accounts_page(client, acme, globex, alice):
    from portal.accounts.models import Membership
    from portal.accounts.roles import Role

    Membership.objects.get_or_create(user=alice, organization=globex, defaults={"role": Role.OWNER})
    signed_in(client, alice)
    client.post(page_url(acme), form_data())

    elsewhere = client.get(page_url(globex)).content.decode()

    assert "data-new-key" not in elsewhere
    assert "vgl_" not in elsewhere.replace("vgl_…", "")


def test_the_page_shows_the_last_use(client, acme, alice):
    signed_in(client, alice)
    client.post(page_url(acme), form_data())
    ApiKey.objects.update(last_used_at=timezone.now(), last_used_ip="192.0.2.77")

    html = client.get(page_url(acme)).content.decode()

    assert "192.0.2.77" in html
    assert "Active" in html


def test_a_bad_address_or_a_far_expiry_is_refused_saying_why(client, acme, alice):
    signed_in(client, alice)

    bad_address = client.post(page_url(acme), form_data(networks="10.0.0.0/33"))
    too_far = client.post(
        page_url(acme),
        form_data(expires_on=(timezone.localdate() + timedelta(days=400)).isoformat()),
    )

    assert bad_address.status_code == 400
    assert "10.0.0.0/33 is not an IP address" in bad_address.content.decode()
    assert too_far.status_code == 400
    assert "a year at most" in too_far.content.decode()
    assert not ApiKey.objects.exists()


def test_a_capability_the_form_does_not_offer_is_refused(client, acme, alice):
    signed_in(client, alice)

    response = client.post(page_url(acme), form_data(capabilities=["fly"]))

    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_an_owner_revokes_a_key_and_it_stops_working(client, acme, alice):
    signed_in(client, alice)
    html = client.post(page_url(acme), form_data(), follow=True).content.decode()
    presented = next(
        word.split('"')[0] for word in html.split('value="')[1:] if word.startswith("vgl_")
    )
    key = ApiKey.objects.get()

    response = client.post(
        reverse("accounts:api_key_revoke", kwargs={"org": acme.public_id, "key": key.public_id}),
        follow=True,
    )

    assert "is revoked" in response.content.decode()
    assert ApiKey.objects.get().revoked_at is not None
    assert ApiClient(presented).get(f"{API}/incidents").status_code == 401
    assert AuditEvent.objects.filter(action="api_key.revoke", actor=alice).count() == 1


@pytest.mark.parametrize("who", ["bob", "sam", "vera"])
def test_only_owners_reach_the_page(client, acme, who, request):
    signed_in(client, request.getfixturevalue(who))

    assert client.get(page_url(acme)).status_code == 403
    assert client.post(page_url(acme), form_data()).status_code == 403
    assert not ApiKey.objects.exists()


def test_another_accounts_key_cannot_be_revoked(client, acme, globex, alice, charlie):
    theirs, _ = api_key_create(
        organization=globex, name="theirs", capabilities={"view_dashboard"}, by=charlie
    )
    signed_in(client, alice)

    response = client.post(
        reverse("accounts:api_key_revoke", kwargs={"org": acme.public_id, "key": theirs.public_id})
    )

    assert response.status_code == 404
    assert ApiKey.objects.get().revoked_at is None


def test_live_keys_come_before_revoked_ones(client, acme, alice):
    for name in ("first", "second", "third"):
        api_key_create(organization=acme, name=name, capabilities={"view_dashboard"}, by=alice)
    api_key_revoke(key=ApiKey.objects.get(name="third"), by=alice)
    signed_in(client, alice)

    html = client.get(page_url(acme)).content.decode()

    names = [name for name in ("first", "second", "third") if f">{name}</div>" in html]
    assert names == ["first", "second", "third"]
    assert html.index(">second</div>") < html.index(">first</div>") < html.index(">third</div>")


def test_an_expired_key_says_so(client, acme, alice):
    api_key_create(organization=acme, name="old", capabilities={"view_dashboard"}, by=alice)
    ApiKey.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    signed_in(client, alice)

    html = client.get(page_url(acme)).content.decode()

    assert "Expired" in html
    assert "Active" not in html
