"""The account settings page: owners change the designated contact, how notices are
sent, the time zone, retention and the daily reminder; each save is audited by field
name and asks for re-authentication when the sign-in is stale."""

import pytest
from django.urls import reverse

from portal.accounts.models import Organization
from portal.audit.models import AuditEvent
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_with_contact(acme):
    Organization.objects.filter(pk=acme.pk).update(
        contact_name="IT desk", contact_email="it@acme.example", time_zone="Europe/Berlin"
    )
    acme.refresh_from_db()
    return acme


def settings_url(organization) -> str:
    return reverse("accounts:settings", kwargs={"org": organization.public_id})


def form_data(**changes) -> dict:
    values = {
        "contact_name": "IT desk",
        "contact_email": "it@acme.example",
        "contact_phone": "",
        "contact_url": "",
        "notice_sender_name": "",
        "notice_reply_to": "",
        "time_zone": "Europe/Berlin",
        "log_copy_retention_days": "14",
        "notice_rate_per_minute": "600",
        "daily_reminder_enabled": "on",
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def test_it_shows_the_current_settings_to_an_owner(client, acme_with_contact, alice):
    signed_in(client, alice)

    response = client.get(settings_url(acme_with_contact))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Account settings" in html
    assert 'value="it@acme.example"' in html
    assert '<option value="Europe/Berlin" selected>' in html
    assert "None sent yet." in html


def test_it_saves_the_changes_and_audits_the_field_names(client, acme_with_contact, alice):
    signed_in(client, alice)

    response = client.post(
        settings_url(acme_with_contact),
        form_data(
            contact_name="Security team",
            contact_phone="+1 212 555 0100",
            notice_sender_name="Acme IT Security",
            notice_reply_to="security@acme.example",
            time_zone="America/New_York",
            log_copy_retention_days="30",
            notice_rate_per_minute="120",
            daily_reminder_enabled=None,  # unchecked
        ),
        follow=True,
    )

    assert "The settings are saved." in response.content.decode()
    acme = Organization.objects.get(pk=acme_with_contact.pk)
    assert acme.contact_name == "Security team"
    assert acme.contact_phone == "+1 212 555 0100"
    assert acme.notice_sender_name == "Acme IT Security"
    assert acme.notice_reply_to == "security@acme.example"
    assert acme.time_zone == "America/New_York"
    assert acme.log_copy_retention_days == 30
    assert acme.notice_rate_per_minute == 120
    assert acme.daily_reminder_enabled is False
    event = AuditEvent.objects.get(action="account.settings")
    assert (event.actor, event.organization_id) == (alice, acme.pk)
    assert event.details == {
        "changed": [
            "contact_name",
            "contact_phone",
            "daily_reminder_enabled",
            "log_copy_retention_days",
            "notice_rate_per_minute",
            "notice_reply_to",
            "notice_sender_name",
            "time_zone",
        ]
    }


def test_it_keeps_the_addresses_out_of_the_audit_details(client, acme_with_contact, alice):
    signed_in(client, alice)

    client.post(settings_url(acme_with_contact), form_data(contact_email="soc@acme.example"))

    event = AuditEvent.objects.get(action="account.settings")
    assert event.details == {"changed": ["contact_email"]}


def test_it_writes_and_audits_nothing_when_nothing_changed(client, acme_with_contact, alice):
    signed_in(client, alice)

    response = client.post(settings_url(acme_with_contact), form_data(), follow=True)

    assert "Nothing changed." in response.content.decode()
    assert not AuditEvent.objects.filter(action="account.settings").exists()


def test_it_refuses_an_unknown_time_zone(client, acme_with_contact, alice):
    signed_in(client, alice)

    response = client.post(settings_url(acme_with_contact), form_data(time_zone="Mars/Olympus"))

    assert response.status_code == 400
    assert "Mars/Olympus is not one of the available choices." in response.content.decode()
    acme_with_contact.refresh_from_db()
    assert acme_with_contact.time_zone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("log_copy_retention_days", "0", "greater than or equal to 1"),
        ("log_copy_retention_days", "366", "less than or equal to 365"),
        ("notice_rate_per_minute", "0", "greater than or equal to 1"),
        ("contact_email", "not-an-address", "Enter a valid email address."),
        ("contact_url", "javascript:alert(1)", "Enter a valid URL."),
    ],
)
def test_it_refuses_values_out_of_bounds(client, acme_with_contact, alice, field, value, message):
    signed_in(client, alice)

    response = client.post(settings_url(acme_with_contact), form_data(**{field: value}))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action="account.settings").exists()


@pytest.mark.parametrize(
    ("field", "words"), [("contact_email", "an email address"), ("contact_name", "a name")]
)
def test_it_wants_the_contact_a_campaign_needs(client, acme_with_contact, alice, field, words):
    # The rule campaigns apply: saving what they would refuse would block every one.
    signed_in(client, alice)

    response = client.post(settings_url(acme_with_contact), form_data(**{field: ""}))

    assert response.status_code == 400
    assert f"Give {words}: every notice tells your users" in response.content.decode()


def test_it_wants_the_contact_in_the_owners_language(client, acme_with_contact, alice):
    alice.language = "de"
    alice.save(update_fields=["language"])
    signed_in(client, alice)

    response = client.post(settings_url(acme_with_contact), form_data(contact_name=""))

    assert response.status_code == 400
    assert "Geben Sie einen Namen an: jede Benachrichtigung" in response.content.decode()
    assert "Give a name" not in response.content.decode()


def test_it_asks_to_reauthenticate_before_saving_when_sign_in_is_stale(
    client, acme_with_contact, alice
):
    signed_in(client, alice, seconds_ago=60 * 60)

    assert client.get(settings_url(acme_with_contact)).status_code == 200
    response = client.post(settings_url(acme_with_contact), form_data(contact_name="Mallory"))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/")
    acme_with_contact.refresh_from_db()
    assert acme_with_contact.contact_name == "IT desk"


def test_it_is_for_owners_only(client, acme_with_contact, bob):
    signed_in(client, bob)

    assert client.get(settings_url(acme_with_contact)).status_code == 403
    assert client.post(settings_url(acme_with_contact), form_data()).status_code == 403


def test_it_answers_404_to_someone_outside_the_account(client, acme_with_contact, charlie):
    signed_in(client, charlie)

    assert client.get(settings_url(acme_with_contact)).status_code == 404
    response = client.post(settings_url(acme_with_contact), form_data(contact_name="Mallory"))
    assert response.status_code == 404
    acme_with_contact.refresh_from_db()
    assert acme_with_contact.contact_name == "IT desk"


def test_it_links_the_account_home_to_the_settings_for_owners(
    client, acme_with_contact, alice, bob
):
    signed_in(client, alice)
    assert (
        settings_url(acme_with_contact)
        in client.get(f"/o/{acme_with_contact.public_id}/").content.decode()
    )

    signed_in(client, bob)
    assert (
        settings_url(acme_with_contact)
        not in client.get(f"/o/{acme_with_contact.public_id}/").content.decode()
    )


def test_it_shows_when_the_last_reminder_left(client, acme_with_contact, alice):
    Organization.objects.filter(pk=acme_with_contact.pk).update(
        last_reminder_sent_at=factories.future(days=-1).replace(hour=8, minute=5)
    )
    signed_in(client, alice)

    html = client.get(settings_url(acme_with_contact)).content.decode()

    assert "Last sent " in html
    assert "(Europe/Berlin)" in html


def test_it_offers_the_owner_the_settings_when_no_contact_is_set(client, acme, alice):
    signed_in(client, alice)

    html = client.get(f"/o/{acme.public_id}/").content.decode()

    assert "set one in the settings" in html


def test_it_tells_an_admin_to_ask_an_owner_for_a_contact(client, acme, bob):
    signed_in(client, bob)

    html = client.get(f"/o/{acme.public_id}/").content.decode()

    assert "ask an owner of this account to set one" in html
    assert settings_url(acme) not in html
