"""A second factor for every member, enrolled before anything else; never SMS."""

import time

import pytest
import time_machine
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    hotp_value,
)

from portal.audit.models import AuditEvent
from tests import factories
from tests.signin import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return factories.organization("Acme Corp")


@pytest.fixture
def newcomer(acme):
    return factories.member(acme, "erin@acme.example", "viewer", second_factor=False)


@pytest.mark.parametrize("path", ["/", "/operator/", "/admin/"])
def test_it_sends_a_member_without_a_factor_to_enrol_first(client, newcomer, acme, path):
    client.force_login(newcomer)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"


def test_it_sends_an_account_page_to_enrolment_too(client, newcomer, acme):
    client.force_login(newcomer)

    response = client.get(f"/o/{acme.public_id}/")

    assert response["Location"] == "/accounts/2fa/"


def test_it_lets_a_member_without_a_factor_reach_enrolment_and_sign_out(client, newcomer):
    client.force_login(newcomer)

    page = client.get("/accounts/2fa/").content.decode()

    assert "Authenticator app" in page
    assert "/accounts/2fa/totp/activate/" in page
    assert "/accounts/2fa/webauthn/add/" in page
    assert "SMS" not in page
    assert "Phone" not in page
    assert client.post("/accounts/logout/").status_code == 302


def test_it_enrols_an_authenticator_app_then_lets_the_member_in(
    client, newcomer, django_capture_on_commit_callbacks
):
    # The password alone signs in someone who has no factor yet, straight into enrolment.
    response = client.post(
        "/accounts/login/", {"login": newcomer.email, "password": factories.PASSWORD}
    )
    assert client.get(response["Location"])["Location"] == "/accounts/2fa/"
    # Adding a factor is a sensitive action, but the password was typed seconds ago:
    # no second prompt (the stale case is test_it_asks_to_reauthenticate_again_...).
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/2fa/totp/activate/", {"code": code})

    assert response.status_code == 302
    assert Authenticator.objects.filter(user=newcomer, type=Authenticator.Type.TOTP).exists()
    # Recovery codes are made with the first factor, to be shown once.
    assert Authenticator.objects.filter(
        user=newcomer, type=Authenticator.Type.RECOVERY_CODES
    ).exists()
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="mfa.factor_added", actor=newcomer).exists()


def test_it_does_not_count_recovery_codes_alone_as_a_second_factor(client, newcomer):
    Authenticator.objects.create(user=newcomer, type=Authenticator.Type.RECOVERY_CODES, data={})
    client.force_login(newcomer)

    assert client.get("/")["Location"] == "/accounts/2fa/"


def test_it_never_offers_sms(settings):
    assert set(settings.MFA_SUPPORTED_TYPES) == {"totp", "webauthn", "recovery_codes"}


def test_it_asks_to_reauthenticate_again_once_the_last_time_is_old(client, settings):
    alice = factories.user("alice@acme.example")
    sign_in(client, alice)
    client.post("/accounts/reauthenticate/", {"password": factories.PASSWORD})
    assert client.get("/accounts/2fa/recovery-codes/generate/").status_code == 200

    later = time.time() + settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 60
    with time_machine.travel(later):
        # Still within the idle limit: this request is only about re-authentication.
        client.session.save()
        response = client.get("/accounts/2fa/recovery-codes/generate/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")


def test_it_keeps_authenticator_secrets_encrypted_at_rest():
    person = factories.user("frank@acme.example", second_factor=False)
    TOTP.activate(person, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")

    stored = Authenticator.objects.get(user=person).data["secret"]

    assert "JBSWY3DPEHPK3PXP" not in stored
    assert get_mfa_adapter().decrypt(stored) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_it_still_reads_secrets_after_the_secret_key_rotates(settings):
    person = factories.user("frank@acme.example", second_factor=False)
    TOTP.activate(person, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40

    stored = Authenticator.objects.get(user=person).data["secret"]

    assert get_mfa_adapter().decrypt(stored) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_it_offers_no_sign_up_on_the_sign_in_page(client):
    page = client.get("/accounts/login/").content.decode()

    assert "/accounts/signup/" not in page
    assert "by invitation" in page
