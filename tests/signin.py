"""Signing in as a person would: password, then the code from their authenticator app."""

import time

from allauth.mfa.adapter import get_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import SESSION_KEY

from tests.factories import PASSWORD


def totp_code(user, *, at: float | None = None) -> str:
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    secret = get_adapter().decrypt(authenticator.data["secret"])
    return format_hotp_value(hotp_value(secret, int(at or time.time()) // 30))


def sign_in(client, user, *, password: str = PASSWORD):
    """Both steps of the sign-in form; returns the last response."""
    response = client.post("/accounts/login/", {"login": user.email, "password": password})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/accounts/2fa/authenticate/"
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(user)})
    # A code works once: a second sign-in of the same person needs the next 30 seconds.
    assert response.status_code == 302, "the code was refused (used twice in one window?)"
    assert str(client.session[SESSION_KEY]) == str(user.pk)
    return response
