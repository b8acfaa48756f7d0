from django import forms
from django.utils.translation import gettext_lazy as _

from portal.audit.display import action_label
from portal.audit.selectors import AuditFilters
from portal.formfields import QuickSelect


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        # The browser's date picker sends and expects ISO dates.
        super().__init__(attrs, format="%Y-%m-%d")


def _action_choices(actions: list[str]) -> list:
    """The actions present, grouped by their prefix ("signin", "phone", ...)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for action in actions:
        groups.setdefault(action.split(".", 1)[0], []).append((action, action_label(action)))
    return [("", _("Any action"))] + [
        (f"{prefix}.*", sorted(choices, key=lambda choice: choice[1].lower()))
        for prefix, choices in groups.items()
    ]


class AuditFilterForm(forms.Form):
    """The filters above an audit log (a GET form: the URL is the filter)."""

    who = forms.CharField(
        label=_("Who"),
        required=False,
        max_length=254,
        help_text=_("A full email, or part of one."),
        widget=forms.TextInput(attrs={"placeholder": "alice@example.com", "type": "search"}),
    )
    action = forms.ChoiceField(label=_("Action"), required=False, widget=QuickSelect)
    action_prefix = forms.CharField(
        label=_("Action starts with"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "signin.", "type": "search"}),
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=_DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=_DateInput())

    def __init__(self, *args, actions: list[str], zone_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = _action_choices(actions)
        for name in ("date_from", "date_to"):
            self.fields[name].help_text = _("Whole days in %(zone)s.") % {"zone": zone_name}

    def clean(self):
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> AuditFilters:
        """The filters that parsed; a field with an error is left out, and shown."""
        if not self.is_bound:
            return AuditFilters()
        self.is_valid()  # cleans; a field that fails is missing from cleaned_data
        data = self.cleaned_data
        return AuditFilters(
            **{name: data[name] for name in AuditFilters.__dataclass_fields__ if data.get(name)}
        )


class OperatorAuditFilterForm(AuditFilterForm):
    account = forms.CharField(
        label=_("Account"),
        required=False,
        max_length=200,
        help_text=_("Account id, or part of the name."),
        widget=forms.TextInput(attrs={"placeholder": "DA9XK2… or Acme", "type": "search"}),
    )
