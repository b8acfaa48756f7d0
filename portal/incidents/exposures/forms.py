"""Forms of the customer's incident pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.formfields import QuickSelect
from portal.incidents.exposures.selectors import DEFAULT_SORT, ExposureFilters, FilterChoices

ANY = ("", _("Any"))
# Shared with the campaign form's audience filter: the same filters, the same words.
MESSAGE_TYPE_CHOICES = [
    ("", _("SMS or voice")),
    ("sms", _("Got SMS")),
    ("voice", _("Got voice calls")),
    ("both", _("Got both")),
]
NOTIFIED_CHOICES = [ANY, ("yes", _("Notified")), ("no", _("Not yet"))]


class ExposureFilterForm(forms.Form):
    """The filters above the exposed-users list. A GET form: the address is the filter,
    so it can be shared, and the page links and the export link repeat it."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        help_text=_("Name, email or username; the last four digits of the number, or all of it."),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Jane, jdoe@… or 0143"}),
    )
    country = forms.ChoiceField(label=_("Country"), required=False, widget=QuickSelect)
    region = forms.ChoiceField(label=_("Region"), required=False, widget=QuickSelect)
    carrier = forms.ChoiceField(label=_("Carrier"), required=False, widget=QuickSelect)
    message_type = forms.ChoiceField(
        label=_("Messages"), required=False, widget=QuickSelect, choices=MESSAGE_TYPE_CHOICES
    )
    matched = forms.ChoiceField(
        label=_("Directory"),
        required=False,
        widget=QuickSelect,
        choices=[ANY, ("yes", _("Matched")), ("no", _("No match"))],
    )
    notified = forms.ChoiceField(
        label=_("Notified"), required=False, widget=QuickSelect, choices=NOTIFIED_CHOICES
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        widget=QuickSelect,
        choices=[
            ("-last_seen", _("Latest message, newest")),
            ("last_seen", _("Latest message, oldest")),
            ("-first_seen", _("First message, newest")),
            ("first_seen", _("First message, oldest")),
            ("-messages", _("Most messages")),
            ("messages", _("Fewest messages")),
            ("country", _("Country, A to Z")),
            ("-country", _("Country, Z to A")),
        ],
    )

    def __init__(self, *args, choices: FilterChoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", _("Any country")), *choices.countries]
        self.fields["region"].choices = [("", _("Any region")), *choices.regions]
        self.fields["carrier"].choices = [("", _("Any carrier")), *choices.carriers]

    def filters(self) -> ExposureFilters:
        """The filters that parsed; a field with an error is left out, and shown."""
        if not self.is_bound:
            return ExposureFilters()
        self.is_valid()  # cleans; a field that fails is missing from cleaned_data
        data = self.cleaned_data
        values = {
            name: data[name] for name in ExposureFilters.__dataclass_fields__ if data.get(name)
        }
        values.setdefault("sort", DEFAULT_SORT)
        return ExposureFilters(**values)
