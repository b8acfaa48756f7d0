from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter

from portal.accounts.reauth import authenticated_recently
from portal.http import client_ip
from portal.sealing import sealing_keys


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Members join by invitation only (portal.accounts.views.invitation_accept).
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        # allauth counts only explicit re-authentications; a person who signed in a
        # minute ago proved who they are just as well (portal/accounts/reauth.py).
        request = self.request or context.request
        if request is not None and authenticated_recently(request):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # allauth limits wrong passwords per login name from everywhere (5 in 5
        # minutes), so any stranger could keep a member locked out by guessing. Keyed on
        # the login name and the address, as our own lockout is (portal.accounts.signin).
        # Its per-account limit on second-factor codes has its own key, per user, kept.
        key = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{key}:{client_ip(request)}"


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets are encrypted at rest with a key derived from SECRET_KEY.

    SECRET_KEY_FALLBACKS still decrypt, so a key rotation keeps every factor working;
    re-saving a factor (or `manage.py mfa_reencrypt`, if ever needed) moves it to the
    new key.
    """

    def encrypt(self, text: str) -> str:
        return sealing_keys("mfa").encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        return sealing_keys("mfa").decrypt(encrypted_text.encode()).decode()
