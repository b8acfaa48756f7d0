"""Re-authentication for sensitive actions: revealing a phone number, downloading a log
copy, launching a notice, changing factors or roles.

Wrap a view with `@reauthentication_if_stale` (inside the gate, so another account's
object is still a 404 first). When the person's last sign-in step or re-authentication
is older than ACCOUNT_REAUTHENTICATION_TIMEOUT, allauth sends them to confirm their
password or factor and then replays the request.
"""

import time

from allauth.account import app_settings as allauth_account_settings
from allauth.account.decorators import reauthentication_required
from allauth.account.internal.flows.login import get_authentication_records

# Sign-in steps that prove the person is at the keyboard now. A password reset is not
# one: it proves control of the mailbox, and signs nobody in here.
_AUTHENTICATING_METHODS = {"password", "mfa", "code"}


def authenticated_recently(request) -> bool:
    """Did the person sign in or re-authenticate within the re-authentication timeout?

    allauth's own check counts only explicit re-authentications, so an owner who signed
    in a minute ago would be asked for their password again on their first sensitive
    action. allauth records both kinds, with their time, in the session.
    """
    times = [
        record["at"]
        for record in get_authentication_records(request, request.user)
        if record.get("method") in _AUTHENTICATING_METHODS and "at" in record
    ]
    if not times:
        return False
    return time.time() - max(times) < allauth_account_settings.REAUTHENTICATION_TIMEOUT


# allauth raises ReauthenticationRequired, which its middleware turns into a redirect
# to the re-authentication page; the POST is kept in the session and replayed after.
# Whether it is required is asked of our account adapter, which counts a recent sign-in
# as well as a recent re-authentication: allauth's own factor pages get the same rule.
reauthentication_if_stale = reauthentication_required
