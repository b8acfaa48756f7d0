"""Signing in, enrolling a second factor and joining by invitation, as a person would.

The live server runs in a thread of this process, so the tests read the database and
`mail.outbox` directly; `transaction=True` because that thread has its own connection.

A TOTP code is valid only in its 30-second window (MFA_TOTP_TOLERANCE is 0) and only
once per person, so each test has each person type at most one code, early in a window.
"""

import re
import time

import pytest
from allauth.mfa.adapter import get_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.usersessions.models import UserSession
from django.core import mail
from playwright.sync_api import expect

from portal.accounts.models import Invitation, Membership, User
from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from tests import factories
from tests.signin import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "quiet meadow lantern 42"


def wait_for_a_fresh_window(margin: float = 3.0) -> None:
    """Sleep past the next 30-second boundary if it is near, so a code computed now is
    still the server's current one when the form arrives."""
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.1)


def fill_in_email_and_password(page, live_server, email: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_label("Password*", exact=True).fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_in(page, live_server, user) -> None:
    """Both steps of the sign-in form: password, then the authenticator code."""
    fill_in_email_and_password(page, live_server, user.email)

    expect(page).to_have_url(live_server.url + "/accounts/2fa/authenticate/")
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    wait_for_a_fresh_window()
    page.get_by_role("textbox", name="Code").fill(totp_code(user))
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page).to_have_url(live_server.url + "/")


def test_it_signs_in_with_a_password_and_an_authenticator_code(page, live_server, screenshot):
    acme = factories.organization("Acme Corp", account_id="DA9XK2ACME")
    alice = factories.member(acme, "alice@acme.example", Role.OWNER, name="Alice Adams")

    sign_in(page, live_server, alice)

    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Alice")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("alice@acme.example")
    accounts = page.get_by_role("region", name="Your accounts", exact=True)
    expect(accounts.get_by_role("link")).to_have_count(1)
    expect(accounts.get_by_role("link")).to_contain_text("Acme Corp")
    expect(accounts.get_by_role("link")).to_contain_text("DA9XK2ACME")
    expect(accounts.get_by_role("link")).to_contain_text("Owner")
    screenshot(page, "signed-in")
    authenticator = Authenticator.objects.get(user=alice, type=Authenticator.Type.TOTP)
    assert authenticator.last_used_at is not None
    assert UserSession.objects.filter(user=alice).count() == 1
    assert AuditEvent.objects.filter(action="signin.success", actor=alice).count() == 1


def test_it_makes_a_member_without_a_factor_enrol_one_first(page, live_server, screenshot):
    acme = factories.organization("Acme Corp")
    erin = factories.member(
        acme, "erin@acme.example", Role.VIEWER, second_factor=False, name="Erin Evans"
    )

    # The password alone signs in someone with no factor yet, straight into enrolment.
    fill_in_email_and_password(page, live_server, erin.email)

    expect(page).to_have_url(live_server.url + "/accounts/2fa/")
    expect(page.locator(".vigil-messages .alert-warning")).to_contain_text(
        "Set up a second factor before you continue"
    )
    expect(page.get_by_role("heading", name="Two-Factor Authentication", level=1)).to_be_visible()
    expect(page.get_by_text("SMS")).to_have_count(0)
    app = page.locator("section", has=page.get_by_role("heading", name="Authenticator App"))
    app.get_by_role("link", name="Activate").click()

    # Adding a factor is a sensitive action, but the password was typed seconds ago:
    # it is not asked again.
    expect(page).to_have_url(live_server.url + "/accounts/2fa/totp/activate/")
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    # What a person would type into their app if they could not scan the QR code.
    secret = page.get_by_role("textbox", name="Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    expect(page.get_by_role("img", name=secret)).to_be_visible()
    wait_for_a_fresh_window()
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    page.get_by_role("textbox", name="Authenticator code").fill(code)
    page.get_by_role("button", name="Activate").click()

    # Recovery codes are made with the first factor, and shown this once.
    expect(page).to_have_url(live_server.url + "/accounts/2fa/recovery-codes/")
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    shown = page.get_by_role("textbox", name="Unused codes").input_value().split()
    screenshot(page, "recovery-codes")
    # Leaving the page before this would have the browser ask "Leave site?".
    page.get_by_label("I have saved my recovery codes").check()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()

    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Erin")
    expect(page.get_by_role("region", name="Your accounts", exact=True)).to_contain_text(
        "Acme Corp"
    )
    totp = Authenticator.objects.get(user=erin, type=Authenticator.Type.TOTP)
    assert get_adapter().decrypt(totp.data["secret"]) == secret
    recovery = Authenticator.objects.get(user=erin, type=Authenticator.Type.RECOVERY_CODES)
    unused = RecoveryCodes(recovery).get_unused_codes()
    assert shown == unused
    assert len(unused) > 0
    assert AuditEvent.objects.filter(action="mfa.factor_added", actor=erin).exists()


def test_it_invites_a_member_who_accepts_and_joins(
    page, another_browser, live_server, settings, screenshot
):
    # The link in the email must lead to this server, as SITE_URL does in production.
    settings.SITE_URL = live_server.url
    acme = factories.organization("Acme Corp")
    alice = factories.member(acme, "alice@acme.example", Role.OWNER, name="Alice Adams")
    sign_in(page, live_server, alice)

    page.get_by_role("region", name="Your accounts", exact=True).get_by_role(
        "link", name="Acme Corp"
    ).click()
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Team").click()

    expect(page).to_have_url(live_server.url + f"/o/{acme.public_id}/team/")
    expect(page.get_by_role("heading", name="Team", level=1)).to_be_visible()
    invite_form = page.get_by_role("region", name="Invite someone", exact=True)
    invite_form.get_by_label("Email address").fill("dana@acme.example")
    invite_form.get_by_label("Role").select_option(label="Admin")
    invite_form.get_by_role("button", name="Send the invitation").click()

    expect(page.locator(".vigil-messages .alert-success")).to_contain_text(
        "Invitation sent to dana@acme.example as Admin."
    )
    pending = page.get_by_role("region", name="Invitations not yet accepted", exact=True)
    expect(pending.get_by_role("row")).to_have_count(2)  # the header and Dana's
    expect(pending).to_contain_text("dana@acme.example")
    expect(pending).to_contain_text("as Admin")
    expect(
        pending.get_by_role("button", name="Withdraw the invitation for dana@acme.example")
    ).to_be_visible()
    screenshot(page, "owner-invited")
    invitation = Invitation.objects.get(organization=acme)
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "dana@acme.example",
        Role.ADMIN,
        alice,
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@acme.example"]
    link = re.search(r"https?://\S+/invitations/\S+/", message.body)
    assert link, message.body
    assert link.group(0) == f"{live_server.url}/invitations/{invitation.token}/"

    # Dana opens the link from her own computer: no session shared with Alice.
    dana_page = another_browser()
    dana_page.goto(link.group(0))

    expect(dana_page.get_by_role("heading", level=1)).to_have_text("Join Acme Corp on Vigil")
    expect(dana_page.get_by_role("textbox", name="Email address")).to_have_value(
        "dana@acme.example"
    )
    dana_page.get_by_label("Your name").fill("Dana Diaz")
    dana_page.get_by_label("Password*", exact=True).fill(NEW_PASSWORD)
    dana_page.get_by_label("Password again").fill(NEW_PASSWORD)
    dana_page.get_by_role("button", name="Create my sign-in and join Acme Corp").click()

    # Signed in, but every member needs a second factor before anything else.
    expect(dana_page).to_have_url(live_server.url + "/accounts/2fa/")
    messages = dana_page.locator(".vigil-messages")
    expect(messages).to_contain_text("Welcome to Vigil. You joined Acme Corp as Admin.")
    expect(messages).to_contain_text("Set up a second factor before you continue")
    expect(dana_page.get_by_role("navigation", name="Main")).to_contain_text("dana@acme.example")
    screenshot(dana_page, "invitee-enrols")
    dana = User.objects.get(email="dana@acme.example")
    assert dana.name == "Dana Diaz"
    assert dana.check_password(NEW_PASSWORD)
    assert Membership.objects.get(user=dana, organization=acme).role == Role.ADMIN
    invitation.refresh_from_db()
    assert invitation.accepted_by == dana
    assert invitation.accepted_at is not None
    assert not Authenticator.objects.filter(user=dana).exists()

    # Alice's team page now lists Dana as a member, and nothing pending.
    page.reload()
    members = page.get_by_role("region", name=re.compile(r"^Members"))
    expect(members.get_by_role("heading")).to_have_text(re.compile(r"^Members\s+2$"))
    expect(members).to_contain_text("Dana Diaz")
    expect(members).to_contain_text("dana@acme.example")
    expect(
        page.get_by_role("region", name="Invitations not yet accepted", exact=True)
    ).to_contain_text("None.")


def test_it_tells_a_member_whose_factor_no_key_reads_what_to_do(
    page, live_server, settings, screenshot
):
    acme = factories.organization("Acme Health")
    alice = factories.member(acme, "alice@acme.example", Role.OWNER, name="Alice Adams")
    code = totp_code(alice)
    # SECRET_KEY rotated without the old one in SECRET_KEY_FALLBACKS.
    settings.SECRET_KEY = "rotated-" + "r0t" * 20

    fill_in_email_and_password(page, live_server, alice.email)
    page.get_by_role("textbox", name="Code").fill(code)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page).to_have_url(live_server.url + "/accounts/2fa/authenticate/")
    expect(page.get_by_text("cannot check codes from your authenticator app")).to_be_visible()
    expect(page.get_by_text("ask an owner of your account")).to_be_visible()
    screenshot(page, "unreadable-factor")
