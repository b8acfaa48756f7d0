from allauth.account.forms import LoginForm
from django import forms
from django.contrib.auth import password_validation

from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.accounts.signin import lockout_message, signin_locked_until
from portal.http import client_ip


class VigilLoginForm(LoginForm):
    """allauth's sign-in form, refusing a locked (login name, address) pair up front.

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


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "name@example.com"}),
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        help_text="Owners manage the team; admins run notices; security staff get the logs; "
        "viewers only read.",
    )


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationSignupForm(forms.Form):
    """A new member's name and password, checked by the site's password validators."""

    name = forms.CharField(label="Your name", max_length=150)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
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
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            # An unsaved user, so the similarity check compares with their email and name.
            candidate = User(email=self.email, name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned
