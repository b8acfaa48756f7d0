"""Forms of the suspicion reports: the public form behind a notice's link, and triage."""

import zoneinfo
from datetime import UTC
from functools import cache

from django import forms
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from notifications.models import SuspicionReport
from notifications.reports.services import FUTURE_SLACK, TRIAGE_MOVES, report_version

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
# What the triage form proposes, from each status.
NEXT_STEP = {
    SuspicionReport.Status.NEW: SuspicionReport.Status.TRIAGED,
    SuspicionReport.Status.TRIAGED: SuspicionReport.Status.CLOSED,
    SuspicionReport.Status.CLOSED: SuspicionReport.Status.TRIAGED,
}


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_LOCAL, **kwargs)


class ReportForm(forms.Form):
    """What a person who got a notice tells about a suspicious contact.

    Only the channel and the time are required: a report with little detail is still
    worth having, and a long form is one people abandon. The time is read in the
    reporter's own zone, which their browser fills in (report-form.js); without
    JavaScript it is the account's, and the page says which.
    """

    channel = forms.ChoiceField(
        label=_("How were you contacted?"),
        choices=SuspicionReport.Channel.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how you were contacted.")},
    )
    occurred_at = forms.DateTimeField(
        label=_("When did it happen?"),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=LocalDateTimeInput(),
        error_messages={
            "required": _("Say when it happened; roughly is fine."),
            "invalid": _("Give a date and a time, like 2025-03-14 09:30."),
        },
    )
    zone = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    asked_for = forms.CharField(
        label=_("What did they ask for?"),
        required=False,
        max_length=300,
        help_text=_(
            "For example: a code from a text message, to approve a sign-in, your "
            "password, to install an app."
        ),
    )
    contact_detail = forms.CharField(
        label=_("Their phone number, address or account"),
        required=False,
        max_length=300,
        help_text=_(
            "The number that called or texted you, the email address, or the chat "
            "account, as you saw it."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(
        label=_("Anything else?"),
        required=False,
        max_length=5000,
        help_text=_(
            "What they said, who they claimed to be, and whether you gave them "
            "anything. Do not write any password or code here."
        ),
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        if not self.is_bound:
            # Naive, in the account's zone: the widget would otherwise show an aware
            # value in the server's zone (UTC). The browser replaces it with its own
            # time when it knows its zone.
            self.initial.setdefault(
                "occurred_at",
                timezone.localtime(timezone.now(), zone).replace(
                    tzinfo=None, second=0, microsecond=0
                ),
            )
            self.initial.setdefault("zone", str(zone))
        shown = self.reporter_zone() or zone
        self.fields["occurred_at"].help_text = format_html(
            str(_("Times are in {zone}.")),
            zone=format_html("<span data-zone-name>{}</span>", shown),
        )
        self.fields["occurred_at"].widget.attrs["max"] = timezone.localtime(
            timezone.now() + FUTURE_SLACK, shown
        ).strftime(DATETIME_LOCAL)

    def reporter_zone(self) -> zoneinfo.ZoneInfo | None:
        """The zone the form was filled in, when it names a known one."""
        name = (self.data.get("zone") or "").strip() if self.is_bound else ""
        if name and name in _known_zones():
            return zoneinfo.ZoneInfo(name)
        return None

    def full_clean(self):
        # The datetime-local input carries no zone: it is read in the reporter's, else
        # the account's.
        with timezone.override(self.reporter_zone() or self.zone):
            super().full_clean()

    def clean_zone(self):
        name = self.cleaned_data["zone"].strip()
        if name and self.reporter_zone() is None:
            raise forms.ValidationError(
                _("%(zone)s is not a time zone this form knows."), params={"zone": name}
            )
        return name or str(self.zone)

    def clean_occurred_at(self):
        value = self.cleaned_data["occurred_at"].astimezone(UTC)
        if value > timezone.now() + FUTURE_SLACK:
            raise forms.ValidationError(_("That time is still to come: give when it happened."))
        return value


class TriageForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Mark as"),
        choices=[
            (SuspicionReport.Status.TRIAGED, "Triaged: looked at, being handled"),
            (SuspicionReport.Status.CLOSED, "Closed: nothing more to do"),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=5000,
        help_text=_(
            "What you found and did. Needed to close a report. Your team sees it; "
            "the person who reported does not."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # The report as the person saw it when the page was drawn (see
    # reports.report_version): a save over someone else's meanwhile is refused.
    seen = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, report: SuspicionReport, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = TRIAGE_MOVES.get(report.status, ())
        self.fields["status"].choices = [
            (value, label) for value, label in self.fields["status"].choices if value in allowed
        ]
        if report.status == SuspicionReport.Status.CLOSED:
            self.fields["status"].choices = [
                (SuspicionReport.Status.TRIAGED, "Reopen: it needs more work")
            ]
        if not self.is_bound:
            self.initial.setdefault("seen", report_version(report))
            self.initial.setdefault("note", report.triage_note)
            self.initial.setdefault("status", NEXT_STEP.get(report.status))

    def clean(self):
        data = super().clean()
        if data.get("status") == SuspicionReport.Status.CLOSED and not data.get("note", "").strip():
            self.add_error("note", _("Say what was done before closing the report."))
        return data
