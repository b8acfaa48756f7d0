"""Forms of the suspicion reports: the public form behind a notice's link, and triage."""

from datetime import UTC

from django import forms
from django.utils import timezone

from notifications.models import SuspicionReport
from notifications.reports.services import FUTURE_SLACK, TRIAGE_MOVES, report_version

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
# What the triage form proposes, from each status.
NEXT_STEP = {
    SuspicionReport.Status.NEW: SuspicionReport.Status.TRIAGED,
    SuspicionReport.Status.TRIAGED: SuspicionReport.Status.CLOSED,
    SuspicionReport.Status.CLOSED: SuspicionReport.Status.TRIAGED,
}


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_LOCAL, **kwargs)


class ReportForm(forms.Form):
    """What a person who got a notice tells about a suspicious contact.

    Only the channel and the time are required: a report with little detail is still
    worth having, and a long form is one people abandon.
    """

    channel = forms.ChoiceField(
        label="How were you contacted?",
        choices=SuspicionReport.Channel.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how you were contacted."},
    )
    occurred_at = forms.DateTimeField(
        label="When did it happen?",
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=LocalDateTimeInput(),
        error_messages={
            "required": "Say when it happened; roughly is fine.",
            "invalid": "Give a date and a time, like 2025-03-14 09:30.",
        },
    )
    asked_for = forms.CharField(
        label="What did they ask for?",
        required=False,
        max_length=300,
        help_text="For example: a code from a text message, to approve a sign-in, your "
        "password, to install an app.",
    )
    contact_detail = forms.CharField(
        label="Their phone number, address or account",
        required=False,
        max_length=300,
        help_text="The number that called or texted you, the email address, or the chat "
        "account, as you saw it.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(
        label="Anything else?",
        required=False,
        max_length=5000,
        help_text="What they said, who they claimed to be, and whether you gave them "
        "anything. Do not write any password or code here.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        if not self.is_bound:
            # Naive, in the account's zone: the widget would otherwise show an aware
            # value in the server's zone (UTC).
            self.initial.setdefault(
                "occurred_at",
                timezone.localtime(timezone.now(), zone).replace(
                    tzinfo=None, second=0, microsecond=0
                ),
            )
        self.fields[
            "occurred_at"
        ].help_text = f"Times are in {zone}, the time zone of the organization that wrote to you."
        self.fields["occurred_at"].widget.attrs["max"] = timezone.localtime(
            timezone.now() + FUTURE_SLACK, zone
        ).strftime(DATETIME_LOCAL)

    def full_clean(self):
        # The datetime-local input carries no zone: it is read in the account's.
        with timezone.override(self.zone):
            super().full_clean()

    def clean_occurred_at(self):
        value = self.cleaned_data["occurred_at"].astimezone(UTC)
        if value > timezone.now() + FUTURE_SLACK:
            raise forms.ValidationError("That time is still to come: give when it happened.")
        return value


class TriageForm(forms.Form):
    status = forms.ChoiceField(
        label="Mark as",
        choices=[
            (SuspicionReport.Status.TRIAGED, "Triaged: looked at, being handled"),
            (SuspicionReport.Status.CLOSED, "Closed: nothing more to do"),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=5000,
        help_text="What you found and did. Needed to close a report. Your team sees it; "
        "the person who reported does not.",
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
            self.add_error("note", "Say what was done before closing the report.")
        return data
