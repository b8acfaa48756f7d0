"""Every member has a second factor (TOTP or a passkey) before anything else."""

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)

# Where a signed-in person without a factor may still go: allauth's own pages (to
# enrol, sign out, re-authenticate or change a password), our invitation links, the
# static files those pages need, and the health probe.
OPEN_PREFIXES = ("/accounts/", "/invitations/", "/static/", "/healthz")


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists()


def require_second_factor_middleware(get_response):
    def middleware(request):
        if (
            request.user.is_authenticated
            and not request.path_info.startswith(OPEN_PREFIXES)
            and not has_second_factor(request.user)
        ):
            messages.warning(
                request,
                _("Set up a second factor before you continue: an authenticator app or a passkey."),
            )
            return redirect("mfa_index")
        return get_response(request)

    return middleware
