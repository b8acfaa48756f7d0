"""Forms of the operator console's incident pages: the incident itself, and an upload."""

from django import forms
from django.core.validators import MaxValueValidator
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organization
from portal.incidents.models import ImportBatch, Incident

# The browser's datetime-local picker sends and expects this; the console is in UTC.
_PICKER_FORMAT = "%Y-%m-%dT%H:%M"
_SLUG_MAX = Incident._meta.get_field("slug").max_length


class _UTCDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format=_PICKER_FORMAT)


DEFAULT_TOLERANCE_HOURS = Incident._meta.get_field("sent_at_tolerance_hours").default
MAX_TOLERANCE_HOURS = 24 * 31  # a month: more, and the window means nothing


class IncidentForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = [
            "title",
            "slug",
            "provider",
            "summary",
            "window_start",
            "window_end",
            "became_aware_at",
            "disclosed_at",
            "sent_at_tolerance_hours",
        ]
        labels = {
            "title": _("Title"),
            "summary": _("Summary"),
            "slug": _("Short name"),
            "provider": _("Breached provider"),
            "window_start": _("Exposure window start (UTC)"),
            "window_end": _("Exposure window end (UTC)"),
            "became_aware_at": _("Became aware (UTC)"),
            "disclosed_at": _("Disclosed (UTC)"),
            "sent_at_tolerance_hours": _("Tolerance around the window (hours)"),
        }
        help_texts = {
            "slug": _("Letters, digits and dashes. Left empty, it is made from the title."),
            "summary": _("What happened, in a few sentences customers can read."),
            "window_end": _("The first moment after the stolen logs end."),
            "became_aware_at": _("When the vendor learnt of the breach."),
            "disclosed_at": _("When it was, or will be, disclosed. Customers see the time since."),
            "sent_at_tolerance_hours": _(
                "Rows sent this long before or after the window are still imported "
                "(providers' clocks and time zones slip); rows further out, or in the "
                "future, are rejected with their line. Empty: 48 hours."
            ),
        }
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 4}),
            "window_start": _UTCDateTimeInput(),
            "window_end": _UTCDateTimeInput(),
            "became_aware_at": _UTCDateTimeInput(),
            "disclosed_at": _UTCDateTimeInput(),
        }
        error_messages = {
            "slug": {"unique": _("Another incident already has this short name.")},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        tolerance = self.fields["sent_at_tolerance_hours"]
        tolerance.required = False
        tolerance.max_value = MAX_TOLERANCE_HOURS
        tolerance.widget.attrs.update(min=0, max=MAX_TOLERANCE_HOURS)
        tolerance.validators.append(MaxValueValidator(MAX_TOLERANCE_HOURS))

    def clean_sent_at_tolerance_hours(self) -> int:
        # Left empty: the default (two days), not an error.
        hours = self.cleaned_data.get("sent_at_tolerance_hours")
        return DEFAULT_TOLERANCE_HOURS if hours is None else hours

    def _others(self):
        others = Incident.objects.all()
        if self.instance.pk is not None:
            others = others.exclude(pk=self.instance.pk)
        return others

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug", "")
        if slug:
            return slug
        # Made from the title, with -2, -3 ... until no other incident has it. Only the
        # empty case is made unique here; a slug the operator typed is checked as typed
        # (ModelForm's unique check), since silently changing it would surprise them.
        base = slugify(self.data.get(self.add_prefix("title"), ""))[: _SLUG_MAX - 4].strip("-")
        base = base or "incident"
        others = self._others()
        candidate, n = base, 2
        while others.filter(slug=candidate).exists():
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("window_start"), cleaned.get("window_end")
        if start and end and end <= start:
            self.add_error("window_end", _("The end of the window must be after its start."))
        return cleaned


class UploadForm(forms.Form):
    """One provider dump or Duo telephony log, for one incident."""

    format = forms.ChoiceField(label=_("Format"), choices=ImportBatch.Format.choices)
    organization = forms.ModelChoiceField(
        label=_("Account (Duo logs only)"),
        queryset=Organization.objects.order_by("name", "account_id"),
        to_field_name="public_id",
        required=False,
        empty_label=_("Choose the account…"),
        help_text=_(
            "A Duo telephony log does not name its account: choose it here. "
            "Provider dumps name the account on every row, so this is ignored for them."
        ),
    )
    upload = forms.FileField(
        label=_("File"),
        allow_empty_file=False,
        help_text=_(
            "CSV (comma or tab), JSON Lines, or the Duo Admin API's JSON response. "
            "Large files are fine: they stream to storage."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].label_from_instance = lambda organization: (
            f"{organization.name} ({organization.account_id})"
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("format") == ImportBatch.Format.DUO:
            if cleaned.get("organization") is None and "organization" not in self.errors:
                self.add_error("organization", _("Choose the account these Duo logs belong to."))
        else:
            cleaned["organization"] = None
        return cleaned
