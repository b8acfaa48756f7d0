"""Forms of the log-copy pages: the account's request, and the operator's decision."""

import re
from datetime import UTC

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.incidents.exposures.selectors import incidents_of_account
from portal.incidents.imports.phones import phone_normalized
from portal.incidents.models import DirectoryUser
from portal.incidents.numbers import number_text
from portal.incidents.reasons import reason_text
from portal.logcopies.models import LogCopyRequest

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
# A few thousand people is an investigation; more is the whole account, which has a
# scope of its own.
MAX_CHOSEN = 5000
_SEPARATORS = re.compile(r"[\s,;]+")


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_LOCAL, **kwargs)


class LogCopyRequestForm(forms.Form):
    incident = forms.ModelChoiceField(
        label=_("Incident"),
        queryset=None,
        to_field_name="public_id",
        empty_label=_("Choose an incident"),
    )
    scope = forms.ChoiceField(
        label=_("Scope"),
        choices=LogCopyRequest.Scope.choices,
        initial=LogCopyRequest.Scope.ACCOUNT,
        widget=forms.RadioSelect,
    )
    scope_start = forms.DateTimeField(
        required=False,
        label=_("From"),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=LocalDateTimeInput(),
    )
    scope_end = forms.DateTimeField(
        required=False,
        label=_("Until"),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=LocalDateTimeInput(),
    )
    chosen = forms.CharField(
        required=False,
        label=_("Phones or usernames"),
        help_text=_(
            "One a line: phone numbers in international form (+1 212 555 0143) or "
            "usernames from your directory, whose phones are included."
        ),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    format = forms.ChoiceField(
        label=_("Format"),
        choices=LogCopyRequest.Format.choices,
        initial=LogCopyRequest.Format.CSV,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        help_text=_("Why you need the rows. The operator reads it before approving."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, organization, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.zone = zone
        self.fields["incident"].queryset = incidents_of_account(organization).order_by(
            "-window_start"
        )
        self.phones: list[str] = []

    def full_clean(self):
        # The datetime-local inputs carry no zone: they are read in the account's own
        # time zone, the one every page of the account shows times in.
        with timezone.override(self.zone):
            super().full_clean()

    def clean_scope_start(self):
        value = self.cleaned_data["scope_start"]
        return value.astimezone(UTC) if value else None

    def clean_scope_end(self):
        value = self.cleaned_data["scope_end"]
        return value.astimezone(UTC) if value else None

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == LogCopyRequest.Scope.DATE_RANGE:
            start, end = data.get("scope_start"), data.get("scope_end")
            if not start and "scope_start" not in self.errors:
                self.add_error("scope_start", _("Give the start of the range."))
            if not end and "scope_end" not in self.errors:
                self.add_error("scope_end", _("Give the end of the range."))
            if start and end and end <= start:
                self.add_error("scope_end", _("The end must come after the start."))
        else:
            data["scope_start"] = data["scope_end"] = None
        if scope == LogCopyRequest.Scope.CHOSEN:
            self.phones = self._chosen_phones(data.get("chosen", ""))
        return data

    def _chosen_phones(self, text: str) -> list[str]:
        entries = [entry for entry in _SEPARATORS.split(text.strip()) if entry]
        if not entries:
            self.add_error("chosen", _("Give at least one phone number or username."))
            return []
        phones: dict[str, None] = {}
        usernames: list[str] = []
        problems: list[str] = []
        for entry in entries:
            if entry.startswith("+") or entry[0].isdigit():
                phone, _country, problem, _note = phone_normalized(entry, "")
                if problem:
                    problems.append(reason_text(problem))
                else:
                    phones[phone] = None
            else:
                usernames.append(entry)
        if usernames:
            found = dict(
                DirectoryUser.objects.filter(
                    organization=self.organization, username__in=usernames
                ).values_list("username", "phones")
            )
            unknown = [name for name in usernames if name not in found]
            if unknown:
                problems.append(
                    _("Not in your directory: %(names)s")
                    % {"names": ", ".join(sorted(set(unknown)))}
                )
            without = [name for name in usernames if name in found and not found[name]]
            if without:
                problems.append(
                    _("No phone in your directory: %(names)s")
                    % {"names": ", ".join(sorted(set(without)))}
                )
            for name in usernames:
                for phone in found.get(name) or []:
                    phones[phone] = None
        if problems:
            self.add_error("chosen", problems)
        elif len(phones) > MAX_CHOSEN:
            self.add_error(
                "chosen",
                _("That is %(count)s phones; choose at most %(max)s.")
                % {"count": number_text(len(phones)), "max": number_text(MAX_CHOSEN)},
            )
        return list(phones)


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, reason_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required
        if reason_required:
            self.fields["reason"].error_messages["required"] = (
                "Say why: the requester reads it in their email."
            )
