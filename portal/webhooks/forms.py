"""The endpoint form: where, what for, and whether it is on."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.webhooks.models import EventType


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("Endpoint URL"),
        max_length=500,
        help_text=_(
            "An https address on the internet. Addresses of private networks, this "
            "machine and cloud metadata services are refused."
        ),
        widget=forms.URLInput(attrs={"placeholder": "https://siem.example.com/hooks/vigil"}),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=200,
        required=False,
        help_text=_("For your team: what receives these events."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )
    enabled = forms.BooleanField(
        label=_("Enabled"),
        required=False,
        initial=True,
        help_text=_("A disabled endpoint gets no events (a test event still goes out)."),
    )
