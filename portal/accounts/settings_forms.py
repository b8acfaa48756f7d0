"""The account settings form: the designated contact, how notices are sent, retention,
the daily reminder."""

import zoneinfo
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from portal.accounts.api_keys import networks_parse
from portal.accounts.models import Organization
from portal.accounts.roles import Capability

# Bounds a person can mean: a year of log copies kept, and more notices a minute than
# any mail server we know of takes from one sender.
MAX_RETENTION_DAYS = 365
MAX_NOTICES_PER_MINUTE = 100_000

SETTINGS_FIELDS = (
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_url",
    "notice_sender_name",
    "notice_reply_to",
    "time_zone",
    "log_copy_retention_days",
    "notice_rate_per_minute",
    "daily_reminder_enabled",
)


def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class AccountSettingsForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Pages, scheduled notices and the daily reminder use it."),
    )

    class Meta:
        model = Organization
        fields = SETTINGS_FIELDS
        labels = {
            "contact_name": _("Name"),
            "contact_email": _("Email"),
            "contact_phone": _("Phone"),
            "contact_url": _("Web page"),
            "notice_sender_name": _("Sender name"),
            "notice_reply_to": _("Reply-to address"),
            "log_copy_retention_days": _("Keep log copies for (days)"),
            "notice_rate_per_minute": _("Notices per minute, at most"),
            "daily_reminder_enabled": _("Send the daily reminder"),
        }
        help_texts = {
            "contact_name": _("A person or a team, like “IT service desk”."),
            "contact_email": _("Reports from your users are emailed here."),
            "contact_phone": _("In international form, like +1 212 555 0143."),
            "notice_sender_name": _(
                "Shown as the sender of the notices, like “Acme IT Security”. Empty: Vigil."
            ),
            "notice_reply_to": _("Where replies to a notice go. Empty: the contact's email."),
            "log_copy_retention_days": format_lazy(
                _("A ready copy is deleted after this many days (1 to {days})."),
                days=MAX_RETENTION_DAYS,
            ),
            "notice_rate_per_minute": _(
                "Slows sending to what your users' mail servers "
                "accept without marking the notices as spam."
            ),
            "daily_reminder_enabled": _(
                "Owners and admins get an email each morning while "
                "exposed users who can be reached by email have not been notified."
            ),
        }
        widgets = {
            "contact_phone": forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = _zone_choices()
        current = self.instance.time_zone
        if current and current not in zoneinfo.available_timezones():
            # A zone dropped from a later tzdata still shows, so the page opens; saving
            # asks for a valid one.
            choices.insert(0, (current, format_lazy(_("{zone} (no longer known)"), zone=current)))
        self.fields["time_zone"].choices = choices
        self.fields["log_copy_retention_days"].validators.append(
            MaxValueValidator(MAX_RETENTION_DAYS)
        )
        self.fields["log_copy_retention_days"].widget.attrs["max"] = MAX_RETENTION_DAYS
        self.fields["notice_rate_per_minute"].validators.append(
            MaxValueValidator(MAX_NOTICES_PER_MINUTE)
        )
        self.fields["notice_rate_per_minute"].widget.attrs["max"] = MAX_NOTICES_PER_MINUTE

    def clean(self):
        data = super().clean()
        # The same rule campaigns apply (notifications.campaigns.services.contact_missing): a
        # notice names the contact, and reports and replies go to the email.
        for name, message in (
            (
                "contact_name",
                _(
                    "Give a name: every notice tells your users whom to contact, and their "
                    "reports are emailed to this address."
                ),
            ),
            (
                "contact_email",
                _(
                    "Give an email address: every notice tells your users whom to contact, "
                    "and their reports are emailed to this address."
                ),
            ),
        ):
            if not (data.get(name) or "").strip() and name not in self.errors:
                self.add_error(
                    name,
                    message,
                )
        return data


class ApiKeyForm(forms.Form):
    """A new API key: its name, what it may do (some of the owner's own capabilities),
    its last day and, optionally, the addresses it may be used from."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("Who or what uses it, e.g. “SIEM sync”: the audit log names each call by it."),
    )
    capabilities = forms.MultipleChoiceField(
        label=_("What the key may do"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only what you may do yourself; the key loses whatever your role loses."),
    )
    expires_on = forms.DateField(
        label=_("Last day"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("90 days by default, a year at most. It stops working at the end of that day."),
    )
    networks = forms.CharField(
        label=_("Allowed addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "203.0.113.0/24"}),
        help_text=_(
            "IP addresses or networks, one per line. Calls from anywhere else are refused "
            "and recorded in the audit log. Empty: any address."
        ),
    )

    def __init__(self, *args, capabilities, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["capabilities"].choices = [
            (value, label) for value, label in Capability.choices if value in capabilities
        ]
        self.fields["expires_on"].initial = today + timedelta(days=90)
        self.fields["expires_on"].widget.attrs.update(
            {
                "min": (today + timedelta(days=1)).isoformat(),
                "max": (today + timedelta(days=365)).isoformat(),
            }
        )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day < self.today:
            raise forms.ValidationError(_("Choose today or a later day."))
        if day > self.today + timedelta(days=365):
            raise forms.ValidationError(_("A key lasts a year at most; choose an earlier day."))
        return day

    def clean_networks(self):
        try:
            return networks_parse(self.cleaned_data["networks"])
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from error
