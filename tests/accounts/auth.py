"""Signing in as allauth would have, for the tests of re-authentication."""

import time

from allauth.account.internal.flows.login import (
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
)
from allauth.account.internal.userkit import user_id_to_str


def signed_in(client, user, *, seconds_ago: float = 0) -> None:
    """force_login, plus the record allauth keeps of when the person last proved who
    they are (password, then second factor), which force_login leaves out."""
    client.force_login(user)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time() - seconds_ago - 1, "email": user.email},
        {"method": "mfa", "at": time.time() - seconds_ago, "type": "totp"},
    ]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = user_id_to_str(user)
    session.save()
