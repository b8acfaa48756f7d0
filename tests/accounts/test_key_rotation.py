"""SECRET_KEY rotation: second-factor secrets made under an old key keep working while
it is listed in SECRET_KEY_FALLBACKS, and a member whose secret no key can read is told
what to do instead of getting an error page."""

import logging
import subprocess

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.contrib.auth import SESSION_KEY

from tests import factories
from tests.core.test_settings import _manage
from tests.factories import PASSWORD
from tests.signin import sign_in, totp_code

pytestmark = pytest.mark.django_db

OLD_KEY = "old-key-" + "o1" * 30
NEW_KEY = "new-key-" + "n2" * 30


@pytest.fixture
def alice(settings):
    settings.SECRET_KEY = OLD_KEY
    settings.SECRET_KEY_FALLBACKS = []
    person = factories.member(factories.organization(), "alice@acme.example", "admin")
    return person


def _password_step(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"


def test_it_signs_in_with_a_secret_made_under_a_fallback_key(client, settings, alice):
    code = totp_code(alice)  # read under the old key, as the app shows it
    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = [OLD_KEY]

    _password_step(client, alice)
    response = client.post("/accounts/2fa/authenticate/", {"code": code})

    assert response.status_code == 302
    assert str(client.session[SESSION_KEY]) == str(alice.pk)


def test_it_tells_the_member_what_to_do_when_no_key_reads_the_secret(
    client, settings, alice, caplog
):
    code = totp_code(alice)
    settings.SECRET_KEY = NEW_KEY  # rotated, the old key not listed

    _password_step(client, alice)
    with caplog.at_level(logging.ERROR, logger="portal.accounts.forms"):
        response = client.post("/accounts/2fa/authenticate/", {"code": code})

    assert response.status_code == 200
    page = response.content.decode()
    assert "cannot check codes from your authenticator app" in page
    assert "recovery codes" in page
    assert "ask an owner of your account" in page
    assert SESSION_KEY not in client.session
    logged = caplog.text
    assert f"user id {alice.pk} cannot be decrypted" in logged
    assert "SECRET_KEY_FALLBACKS" in logged
    assert alice.email not in logged


def test_it_still_takes_a_recovery_code_when_the_app_secret_is_unreadable(client, settings, alice):
    settings.SECRET_KEY = NEW_KEY
    # Recovery codes made after the rotation are under the new key.
    codes = RecoveryCodes.activate(alice).generate_codes()
    # The TOTP row first, as it is for anyone who enrolled the app first.
    assert Authenticator.objects.filter(user=alice).order_by("pk").first().type == "totp"

    _password_step(client, alice)
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})

    assert response.status_code == 302
    assert str(client.session[SESSION_KEY]) == str(alice.pk)


def test_it_still_refuses_a_wrong_code_as_wrong(client, settings, alice):
    _password_step(client, alice)
    response = client.post("/accounts/2fa/authenticate/", {"code": "000000"})

    assert response.status_code == 200
    assert "Incorrect code" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_session_from_before_the_rotation_stays_signed_in(client, settings, alice):
    sign_in(client, alice)
    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = [OLD_KEY]

    response = client.get("/")

    assert response.status_code == 200
    assert alice.email in response.content.decode()


def test_without_the_fallback_the_session_ends(client, settings, alice):
    sign_in(client, alice)
    settings.SECRET_KEY = NEW_KEY

    response = client.get("/")

    assert alice.email not in response.content.decode()  # signed out


def _settings_with(tmp_path, env: dict) -> subprocess.CompletedProcess:
    return _manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)",
        **env,
    )


def test_it_reads_the_fallbacks_from_the_environment(tmp_path):
    run = _settings_with(tmp_path, {"SECRET_KEY_FALLBACKS": f"{OLD_KEY}, {NEW_KEY}"})

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == str([OLD_KEY, NEW_KEY])


def test_it_refuses_a_short_fallback(tmp_path):
    run = _settings_with(tmp_path, {"SECRET_KEY_FALLBACKS": "short"})

    assert run.returncode != 0
    assert "Each of SECRET_KEY_FALLBACKS must be at least 50" in run.stderr
