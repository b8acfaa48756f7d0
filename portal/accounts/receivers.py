"""Django's and allauth's signals, turned into audit events and lockout counts.

Each receiver only hands over to a service: what happens lives in the services.
"""

from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.accounts.models import User
from portal.accounts.selectors import last_sign_in_at, second_factor_failures
from portal.accounts.sessions import SIGNED_IN_AT
from portal.accounts.signin import signin_failure_record, signin_success_clear
from portal.audit.services import audit_record
from portal.languages import member_language_at_signin


@receiver(user_logged_in)
def on_signed_in(sender, request, user, **kwargs):
    if request is None:
        return
    # The absolute session limit counts from here (portal.accounts.sessions).
    request.session[SIGNED_IN_AT] = timezone.now().timestamp()
    signin_success_clear(user=user, request=request)
    member_language_at_signin(request=request, user=user)
    _warn_of_wrong_codes(request, user)
    audit_record(action="signin.success", actor=user, request=request)


def _warn_of_wrong_codes(request, user) -> None:
    """Someone had the password and guessed codes since the person last signed in:
    they should know, and change it."""
    failures = second_factor_failures(user, since=last_sign_in_at(user))
    if not failures:
        return
    latest = failures[0]
    count = len(failures)
    messages.warning(
        request,
        ngettext(
            "%(count)s wrong second-factor code was entered for your account since you last "
            "signed in, the latest from %(ip)s at %(at)s UTC. Whoever entered it knew your "
            "password: if it was not you, change it now. Two-factor authentication lists "
            "every attempt.",
            "%(count)s wrong second-factor codes were entered for your account since you "
            "last signed in, the latest from %(ip)s at %(at)s UTC. Whoever entered them knew "
            "your password: if it was not you, change it now. Two-factor authentication "
            "lists every attempt.",
            count,
        )
        % {
            "count": count,
            "ip": latest.ip or _("an unknown address"),
            "at": f"{latest.created_at:%Y-%m-%d %H:%M}",
        },
    )


@receiver(user_logged_out)
def on_signed_out(sender, request, user, **kwargs):
    if user is not None and request is not None:
        audit_record(action="signin.logout", actor=user, request=request)


@receiver(user_login_failed)
def on_sign_in_failed(sender, credentials, request=None, **kwargs):
    login = credentials.get("email") or credentials.get("username") or ""
    if not login:
        return
    user = User.objects.filter(email__iexact=login).first()
    signin_failure_record(login=login, request=request, user=user)


def _factor_event(action):
    def handler(sender, request, user, authenticator, **kwargs):
        audit_record(
            action=action,
            actor=user,
            request=request,
            details={"factor": authenticator.type},
        )

    return handler


# weak=False: the handlers are closures that nothing else holds on to.
authenticator_added.connect(
    _factor_event("mfa.factor_added"), weak=False, dispatch_uid="audit_mfa_added"
)
authenticator_removed.connect(
    _factor_event("mfa.factor_removed"), weak=False, dispatch_uid="audit_mfa_removed"
)
authenticator_reset.connect(
    _factor_event("mfa.factor_reset"), weak=False, dispatch_uid="audit_mfa_reset"
)
