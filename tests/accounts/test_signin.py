"""Sign-in: two steps for everyone, a lockout on login name and address, no side doors."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.utils import timezone

from portal.accounts.models import SignInThrottle
from portal.audit.models import AuditEvent
from tests import factories
from tests.signin import sign_in, totp_code

pytestmark = pytest.mark.django_db


def _wrong_password(client, email, address="10.0.0.1"):
    return client.post(
        "/accounts/login/",
        {"login": email, "password": "not her password"},
        REMOTE_ADDR=address,
    )


def test_it_asks_for_the_second_factor_after_the_password(client, alice):
    response = client.post(
        "/accounts/login/", {"login": alice.email, "password": factories.PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert SESSION_KEY not in client.session  # not signed in until the code is right

    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(alice)})
    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == alice.pk
    assert AuditEvent.objects.filter(action="signin.success", actor=alice).count() == 1


def test_it_refuses_a_wrong_code(client, alice):
    client.post("/accounts/login/", {"login": alice.email, "password": factories.PASSWORD})
    wrong = str((int(totp_code(alice)) + 1) % 1_000_000).zfill(6)

    response = client.post("/accounts/2fa/authenticate/", {"code": wrong})

    assert response.status_code == 200
    assert "Incorrect code" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_it_gives_a_new_session_key_at_sign_in(client, alice):
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key

    sign_in(client, alice)

    assert client.session.session_key != before


def test_it_says_when_to_try_again_in_the_language_chosen_on_the_sign_in_page(client, alice):
    client.cookies["django_language"] = "de"
    for _ in range(5):
        _wrong_password(client, alice.email)

    response = client.post(
        "/accounts/login/",
        {"login": alice.email, "password": factories.PASSWORD},
        REMOTE_ADDR="10.0.0.1",
    )

    page = response.content.decode()
    throttle = SignInThrottle.objects.get()
    assert "Zu viele fehlgeschlagene Anmeldungen" in page
    assert f"nach {throttle.locked_until:%H:%M} UTC erneut (in etwa 15 Minuten)" in page


def test_it_locks_out_the_login_name_and_address_after_five_failures(client, alice):
    for _ in range(5):
        assert _wrong_password(client, alice.email).status_code == 200

    # The right password no longer helps, and the page says when to try again.
    response = client.post(
        "/accounts/login/",
        {"login": alice.email, "password": factories.PASSWORD},
        REMOTE_ADDR="10.0.0.1",
    )
    page = response.content.decode()
    throttle = SignInThrottle.objects.get()
    assert response.status_code == 200
    assert "Too many failed sign-ins" in page
    assert f"Try again after {throttle.locked_until:%H:%M} UTC" in page
    assert SESSION_KEY not in client.session
    # The lockout ends: a cool-off of 15 minutes, not forever.
    assert timedelta(minutes=14) < throttle.locked_until - timezone.now() <= timedelta(minutes=15)
    assert AuditEvent.objects.filter(action="signin.failure", actor=alice).count() == 5
    assert AuditEvent.objects.filter(action="signin.lockout", actor=alice).count() == 1


def test_it_does_not_lock_the_same_person_out_from_another_address(client, alice):
    for _ in range(5):
        _wrong_password(client, alice.email, address="10.0.0.1")

    response = client.post(
        "/accounts/login/",
        {"login": alice.email, "password": factories.PASSWORD},
        REMOTE_ADDR="10.9.9.9",
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"


def test_it_lets_the_person_in_after_the_cool_off(client, alice):
    for _ in range(5):
        _wrong_password(client, alice.email)
    locked_until = SignInThrottle.objects.get().locked_until

    with time_machine.travel(locked_until + timedelta(seconds=1)):
        response = client.post(
            "/accounts/login/",
            {"login": alice.email, "password": factories.PASSWORD},
            REMOTE_ADDR="10.0.0.1",
        )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"


def test_it_forgets_failures_after_a_success(client, alice):
    for _ in range(4):
        _wrong_password(client, alice.email, address="127.0.0.1")

    sign_in(client, alice)
    client.logout()

    assert not SignInThrottle.objects.exists()
    assert _wrong_password(client, alice.email, address="127.0.0.1").status_code == 200
    assert SignInThrottle.objects.get().failures == 1


def test_it_counts_failures_for_unknown_emails_without_storing_them(client, alice):
    for _ in range(5):
        _wrong_password(client, "nobody@acme.example")

    throttle = SignInThrottle.objects.get()
    assert throttle.locked_until is not None
    assert "nobody" not in throttle.login_hash
    assert AuditEvent.objects.filter(action="signin.failure", actor=None).count() == 5


def test_it_sends_the_admin_sign_in_through_the_same_form(client):
    factories.staff("ops@vigil.example")

    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_refuses_a_posted_admin_sign_in(client):
    ops = factories.staff("ops@vigil.example")

    client.post("/admin/login/", {"username": ops.email, "password": factories.PASSWORD})

    assert SESSION_KEY not in client.session


def test_it_has_no_open_sign_up(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "mallory@evil.example",
            "password1": "a long new password",
            "password2": "a long new password",
        },
    )

    assert response.status_code == 200
    assert "Sign Up Closed" in response.content.decode()
    assert not factories.User.objects.filter(email="mallory@evil.example").exists()


def test_it_resets_a_password_without_skipping_the_second_factor(client, alice):
    client.post("/accounts/password/reset/", {"email": alice.email})
    link = next(
        line for line in mail.outbox[0].body.splitlines() if "/accounts/password/reset/key/" in line
    )
    path = link[link.index("/accounts/") :].strip()

    form = client.get(path, follow=True)
    response = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else path,
        {"password1": "a brand new passphrase", "password2": "a brand new passphrase"},
    )

    assert response.status_code == 302
    assert SESSION_KEY not in client.session  # the reset signs nobody in
    sign_in(client, alice, password="a brand new passphrase")
    assert int(client.session[SESSION_KEY]) == alice.pk


def test_it_locks_out_each_client_behind_a_trusted_proxy_separately(client, alice, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        client.post(
            "/accounts/login/",
            {"login": alice.email, "password": "not her password"},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR="198.51.100.7",
        )

    response = client.post(
        "/accounts/login/",
        {"login": alice.email, "password": factories.PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )

    assert response.status_code == 302
    assert SignInThrottle.objects.get().ip == "198.51.100.7"
    event = AuditEvent.objects.filter(action="signin.failure").first()
    assert event.ip == "198.51.100.7"


def test_it_ignores_a_forwarded_address_when_no_proxy_is_trusted(client, alice, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    _wrong_password(client, alice.email, address="10.0.0.3")

    client.post(
        "/accounts/login/",
        {"login": alice.email, "password": "not her password"},
        REMOTE_ADDR="10.0.0.3",
        HTTP_X_FORWARDED_FOR="198.51.100.99",  # forged by the client
    )

    assert SignInThrottle.objects.get().ip == "10.0.0.3"
    assert SignInThrottle.objects.get().failures == 2
