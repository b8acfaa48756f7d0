import logging

from allauth.account.forms import LoginForm
from allauth.account.internal.stagekit import clear_login
from allauth.core import context
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from allauth.mfa.base.internal.flows import check_rate_limit
from allauth.mfa.models import Authenticator
from cryptography.fernet import InvalidToken
from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.accounts.signin import (
    lockout_message,
    second_factor_failure_record,
    second_factor_locked_until,
    signin_locked_until,
)
from portal.http import client_ip

logger = logging.getLogger(__name__)


class VigilLoginForm(LoginForm):
    """allauth's sign-in form, refusing a locked (login name, address) pair, or an
    account locked after wrong second-factor codes, up front.

    The refusal comes before the password is checked, so a locked pair learns nothing
    from further guesses, right or wrong.
    """

    def clean(self):
        login = (self.data.get("login") or "").strip()
        if login:
            locked_until = signin_locked_until(login=login, ip=client_ip(self.request))
            if locked_until:
                raise forms.ValidationError(lockout_message(locked_until), code="locked")
        return super().clean()


UNREADABLE_FACTOR_MESSAGE = _(
    "Vigil cannot check codes from your authenticator app at the moment: the key that "
    "protects it has changed on the server. Sign in with one of your recovery codes, or "
    "with a passkey if you have one, and then set up your authenticator app again. If you "
    "have neither, ask an owner of your account to have the Vigil operator reset your "
    "second factor; the operator has been told of the problem."
)


class _SecondFactorLockout:
    """allauth's form for a second-factor code (TOTP or recovery code), counting each
    wrong code against the account, whatever the address, and refusing a locked
    account before it checks the code, so that guesses during a lockout learn nothing.

    allauth's own per-account limit (settings.ACCOUNT_RATE_LIMITS) stays behind it.
    """

    reauthentication = False

    def clean_code(self):
        self._refuse_if_locked(audit=True)
        try:
            return self._code_checked()
        except forms.ValidationError as error:
            if error.code == "incorrect_code":
                second_factor_failure_record(
                    user=self.user,
                    request=context.request,
                    reauthentication=self.reauthentication,
                )
                self._refuse_if_locked(audit=False)  # this code may have locked it
            raise

    def _code_checked(self) -> str:
        """allauth's check of the code against each factor (BaseAuthenticateForm.
        clean_code), except that a factor whose secret cannot be decrypted is skipped
        rather than answering HTTP 500: a recovery code still works then. The secrets
        are encrypted with a key derived from SECRET_KEY (portal.accounts.adapter); a
        key rotated without the old one in SECRET_KEY_FALLBACKS leaves them unreadable.
        """
        clear_rate_limit = check_rate_limit(self.user)
        code = self.cleaned_data["code"]
        main: Authenticator | None = None
        unreadable = False
        for authenticator in Authenticator.objects.filter(user=self.user).exclude(
            type=Authenticator.Type.WEBAUTHN  # passkeys check no typed code
        ):
            if not main or authenticator.type == Authenticator.Type.TOTP:
                main = authenticator
            try:
                valid = authenticator.wrap().validate_code(code)
            except InvalidToken:
                # The person is told what to do; the operator needs the cause. The
                # user's id, never their email: logs hold no addresses.
                logger.error(
                    "The %s factor of user id %s cannot be decrypted with SECRET_KEY or "
                    "any of the %d SECRET_KEY_FALLBACKS: was SECRET_KEY rotated without "
                    "the old key in SECRET_KEY_FALLBACKS? (docs/configuration.md)",
                    authenticator.type,
                    self.user.pk,
                    len(settings.SECRET_KEY_FALLBACKS),
                )
                unreadable = True
                continue
            if valid:
                authenticator.user = self.user
                self.authenticator = authenticator
                clear_rate_limit()
                return code
        if unreadable:
            # Not counted as a wrong code: the person may have typed the right one.
            raise forms.ValidationError(UNREADABLE_FACTOR_MESSAGE, code="factor_unreadable")
        if main:
            self._emit_authentication_failed(main)
        raise get_mfa_adapter().validation_error("incorrect_code")

    def _refuse_if_locked(self, *, audit: bool) -> None:
        locked_until = second_factor_locked_until(user=self.user)
        if locked_until is None:
            return
        if audit:
            second_factor_failure_record(
                user=self.user,
                request=context.request,
                reauthentication=self.reauthentication,
                refused=True,
            )
        if not self.reauthentication:
            # Back to the sign-in form, which refuses the account too: no more codes
            # from this attempt, and one audit event for it, not one per request.
            # (allauth's internal API: the pending sign-in lives in the session.)
            clear_login(context.request)
        raise forms.ValidationError(lockout_message(locked_until), code="locked")


class VigilAuthenticateForm(_SecondFactorLockout, AuthenticateForm):
    """The second step of signing in (MFA_FORMS["authenticate"])."""


class VigilReauthenticateForm(_SecondFactorLockout, ReauthenticateForm):
    """Confirming who one is before a sensitive action (MFA_FORMS["reauthenticate"])."""

    reauthentication = True


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "name@example.com"}),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Role.choices,
        initial=Role.VIEWER,
        help_text=_(
            "Owners manage the team; admins run notices; security staff get the logs; "
            "viewers only read."
        ),
    )
    language = forms.ChoiceField(
        label=_("Language of the invitation"),
        choices=settings.LANGUAGES,
        required=False,
        help_text=_("The email and the page its link opens are in this language."),
    )


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class InvitationSignupForm(forms.Form):
    """A new member's name and password, checked by the site's password validators."""

    name = forms.CharField(label=_("Your name"), max_length=150)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            # An unsaved user, so the similarity check compares with their email and name.
            candidate = User(email=self.email, name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned
