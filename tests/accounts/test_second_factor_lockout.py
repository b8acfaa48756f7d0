"""Guessing the second factor after the password (issue 11): wrong codes count against
the account from every address, lock it like wrong passwords do, and are each an audit
event the person sees after signing in.

Alice owns Acme; Mallory has her password and no authenticator, and tries codes from
several addresses. Olivia is an operator (and a superuser, for /admin/).
"""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from portal.accounts.models import SecondFactorThrottle
from portal.audit.models import AuditEvent
from tests import factories
from tests.signin import totp_code

pytestmark = pytest.mark.django_db

SIGN_IN = "/accounts/login/"
SECOND_STEP = "/accounts/2fa/authenticate/"
LOCKED = "Too many failed sign-ins for this email address"


def wrong_code(user) -> str:
    return str((int(totp_code(user)) + 500_000) % 1_000_000).zfill(6)


def password_step(client, user, address: str, next_url: str = ""):
    return client.post(
        SIGN_IN + (f"?next={next_url}" if next_url else ""),
        {"login": user.email, "password": factories.PASSWORD},
        REMOTE_ADDR=address,
    )


def guess_codes(user, address: str, count: int) -> list:
    """Mallory at `address`: the password, then up to `count` wrong codes, as long as
    the portal lets her; returns the responses to her codes."""
    client = Client()
    responses = []
    if password_step(client, user, address).get("Location") != SECOND_STEP:
        return responses
    for _ in range(count):
        response = client.post(SECOND_STEP, {"code": wrong_code(user)}, REMOTE_ADDR=address)
        responses.append(response)
        if response.status_code != 200:  # sent back to the sign-in form
            break
    return responses


def test_ninety_wrong_codes_from_three_addresses_then_the_right_one_do_not_sign_in(alice):
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        guess_codes(alice, address, 30)

    # The right code, from a fourth address: the account is locked, everywhere.
    client = Client()
    response = password_step(client, alice, "198.51.100.4")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    response = client.post(SECOND_STEP, {"code": totp_code(alice)}, REMOTE_ADDR="198.51.100.4")
    assert SESSION_KEY not in client.session
    # Five codes were checked, from the first address, each on record with its address.
    # The fifth locked the account and sent that attempt back to the sign-in form, which
    # refused the other addresses before their password was even checked.
    failed = AuditEvent.objects.filter(action="signin.mfa_failed", actor=alice).order_by("id")
    assert [(event.ip, event.details) for event in failed] == [
        ("198.51.100.1", {"reauthentication": False, "failures": n}) for n in range(1, 6)
    ]
    lockout = AuditEvent.objects.get(action="signin.lockout", actor=alice)
    assert lockout.details["second_factor"] is True
    assert not AuditEvent.objects.filter(action="signin.success").exists()


def test_it_says_when_to_try_again_and_refuses_even_the_right_code(alice):
    responses = guess_codes(alice, "198.51.100.1", 5)
    assert all("Incorrect code" in r.content.decode() for r in responses[:4])

    locked_until = SecondFactorThrottle.objects.get(user=alice).locked_until
    page = responses[4].content.decode()
    assert LOCKED in page  # the fifth wrong code locks, and says so
    assert f"Try again after {locked_until:%H:%M} UTC" in page
    assert timedelta(minutes=14) < locked_until - AuditEvent.objects.latest("id").created_at


def test_the_lock_counts_codes_from_every_address_and_ends_after_the_cool_off(alice):
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"):
        guess_codes(alice, address, 1)
    assert SecondFactorThrottle.objects.get(user=alice).locked_until is None  # four so far

    guess_codes(alice, "198.51.100.5", 1)

    locked_until = SecondFactorThrottle.objects.get(user=alice).locked_until
    assert locked_until is not None
    with time_machine.travel(locked_until + timedelta(seconds=31)):
        client = Client()
        assert password_step(client, alice, "198.51.100.6")["Location"] == SECOND_STEP
        client.post(SECOND_STEP, {"code": totp_code(alice)}, REMOTE_ADDR="198.51.100.6")
        assert str(client.session[SESSION_KEY]) == str(alice.pk)


def test_a_stranger_without_the_password_cannot_lock_anyone_out(alice):
    stranger = Client()
    for _ in range(20):
        stranger.post(
            SIGN_IN, {"login": alice.email, "password": "a guess"}, REMOTE_ADDR="203.0.113.7"
        )

    client = Client()
    assert password_step(client, alice, "198.51.100.9")["Location"] == SECOND_STEP
    assert not SecondFactorThrottle.objects.exists()


def test_the_lockout_reaches_the_admins_sign_in_too(client, olivia):
    guess_codes(olivia, "198.51.100.1", 5)

    # /admin/ signs in through the same form, and the form refuses the account.
    assert client.get("/admin/login/?next=/admin/")["Location"].startswith(SIGN_IN)
    response = password_step(client, olivia, "198.51.100.2", next_url="/admin/")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still not in
    assert SESSION_KEY not in client.session


def test_reauthenticating_with_a_code_counts_too(client, alice):
    client.force_login(alice)
    for _ in range(5):
        response = client.post("/accounts/2fa/reauthenticate/", {"code": wrong_code(alice)})

    assert LOCKED in response.content.decode()
    refused = client.post("/accounts/2fa/reauthenticate/", {"code": totp_code(alice)})
    assert LOCKED in refused.content.decode()
    events = AuditEvent.objects.filter(action="signin.mfa_failed", actor=alice)
    assert all(event.details["reauthentication"] for event in events)
    assert events.count() == 6


def test_the_person_sees_the_wrong_codes_after_signing_in(alice):
    guess_codes(alice, "198.51.100.23", 2)
    client = Client()

    password_step(client, alice, "192.0.2.10")
    response = client.post(
        SECOND_STEP, {"code": totp_code(alice)}, REMOTE_ADDR="192.0.2.10", follow=True
    )

    page = response.content.decode()
    assert "2 wrong second-factor codes were entered for your account" in page
    assert "198.51.100.23" in page
    security = client.get("/accounts/2fa/").content.decode()
    assert "Failed attempts" in security
    assert security.count("198.51.100.23") == 2
    for event in AuditEvent.objects.filter(action="signin.mfa_failed"):
        assert f"{event.created_at:%Y-%m-%d %H:%M:%S}" in security
    assert "192.0.2.10" not in security  # the right code is no failure


def test_the_warning_is_only_about_codes_since_the_last_sign_in(alice):
    guess_codes(alice, "198.51.100.23", 1)

    def sign_in_fully():
        client = Client()
        password_step(client, alice, "192.0.2.10")
        return client.post(
            SECOND_STEP, {"code": totp_code(alice)}, REMOTE_ADDR="192.0.2.10", follow=True
        ).content.decode()

    assert "1 wrong second-factor code was entered" in sign_in_fully()
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):  # a code works once
        assert "wrong second-factor code" not in sign_in_fully()


def test_an_attempt_already_past_the_password_is_refused_too_even_the_right_code(alice):
    waiting = Client()
    assert password_step(waiting, alice, "198.51.100.1")["Location"] == SECOND_STEP
    guess_codes(alice, "198.51.100.2", 5)  # another attempt locks the account meanwhile

    response = waiting.post(SECOND_STEP, {"code": totp_code(alice)}, REMOTE_ADDR="198.51.100.1")

    assert LOCKED in response.content.decode()
    assert SESSION_KEY not in waiting.session
    refused = AuditEvent.objects.filter(action="signin.mfa_failed").latest("id")
    assert (refused.ip, refused.details) == (
        "198.51.100.1",
        {"reauthentication": False, "refused": "locked"},
    )
    # That attempt is over: back to the sign-in form, which refuses the account.
    assert waiting.post(SECOND_STEP, {"code": totp_code(alice)})["Location"] == SIGN_IN


def test_allauths_own_limit_per_account_stays_behind_ours(alice, settings):
    # With our lockout set looser than allauth's default (5 codes in 5 minutes per
    # account), allauth's still stops the sixth code, whatever the address.
    settings.SIGNIN_LOCKOUT_FAILURES = 50
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"):
        guess_codes(alice, address, 1)

    client = Client()
    password_step(client, alice, "198.51.100.6")
    response = client.post(SECOND_STEP, {"code": totp_code(alice)}, REMOTE_ADDR="198.51.100.6")

    assert "Too many failed login attempts" in response.content.decode()
    assert SESSION_KEY not in client.session
