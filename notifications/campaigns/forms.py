"""The campaign compose form: incident, audience, template, when (DESIGN.md flow 7)."""

import re
from datetime import UTC

from django import forms
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from notifications.campaigns.selectors import (
    campaign_filter_choices,
    campaign_incidents,
    templates_for_campaign,
)
from notifications.campaigns.services import (
    AUDIENCE_FILTER_FIELDS,
    contact_missing,
    contact_missing_words,
)
from notifications.models import NoticeCampaign
from portal.formfields import QuickSelect
from portal.incidents.exposures.forms import MESSAGE_TYPE_CHOICES, NOTIFIED_CHOICES
from portal.incidents.models import DirectoryUser
from portal.incidents.numbers import number_text

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
# A campaign to more people than this is better made with "all" or a filter.
MAX_CHOSEN = 5000
_SEPARATORS = re.compile(r"[\s,;]+")
Audience = NoticeCampaign.Audience


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_LOCAL, **kwargs)


class CampaignForm(forms.Form):
    incident = forms.ModelChoiceField(
        label=_("Incident"),
        queryset=None,
        to_field_name="public_id",
        empty_label=_("Choose an incident"),
    )
    audience = forms.ChoiceField(
        label=_("Audience"),
        choices=Audience.choices,
        initial=Audience.NOT_NOTIFIED,
        widget=forms.RadioSelect,
    )
    country = forms.ChoiceField(label=_("Country"), required=False, widget=QuickSelect)
    region = forms.ChoiceField(label=_("Region"), required=False, widget=QuickSelect)
    carrier = forms.ChoiceField(label=_("Carrier"), required=False, widget=QuickSelect)
    message_type = forms.ChoiceField(
        label=_("Messages"), required=False, widget=QuickSelect, choices=MESSAGE_TYPE_CHOICES
    )
    notified = forms.ChoiceField(
        label=_("Notified"), required=False, widget=QuickSelect, choices=NOTIFIED_CHOICES
    )
    chosen = forms.CharField(
        label=_("People"),
        required=False,
        help_text=_("Usernames or email addresses from your directory, one a line."),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    template = forms.ChoiceField(label=_("Template"))
    name = forms.CharField(
        label=_("Name"),
        required=False,
        max_length=200,
        help_text=_(
            "For your list of campaigns; recipients never see it. "
            "Empty: “Notice about” and the incident."
        ),
    )
    when = forms.ChoiceField(
        label=_("Send it"),
        choices=[("now", _("As soon as I launch it")), ("later", _("At a time I choose"))],
        initial="now",
        widget=forms.RadioSelect,
    )
    scheduled_at = forms.DateTimeField(
        label=_("Date and time"),
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=LocalDateTimeInput(),
    )

    def __init__(self, *args, organization, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.zone = zone
        self.fields["incident"].queryset = campaign_incidents(organization)
        choices = campaign_filter_choices(organization)
        self.fields["country"].choices = [("", _("Any country")), *choices.countries]
        self.fields["region"].choices = [("", _("Any region")), *choices.regions]
        self.fields["carrier"].choices = [("", _("Any carrier")), *choices.carriers]
        self.template_choices = templates_for_campaign(organization)
        self.fields["template"].choices = [
            ("", _("Choose a template")),
            *((str(choice.template.public_id), choice.label) for choice in self.template_choices),
        ]
        if not self.is_bound:
            # What most people pick, picked: the one incident there is, and the
            # account's own template (listed first) or else the operator's default.
            if not self.initial.get("incident"):
                incidents = list(self.fields["incident"].queryset[:2])
                if len(incidents) == 1:
                    self.initial["incident"] = incidents[0].public_id
            if not self.initial.get("template") and self.template_choices:
                self.initial["template"] = str(self.template_choices[0].template.public_id)
        self.contact_missing = contact_missing(organization)
        self.chosen_users: list[DirectoryUser] = []

    @classmethod
    def initial_for(cls, campaign: NoticeCampaign, *, zone) -> dict:
        """The form's initial values for editing `campaign`."""
        chosen = campaign.chosen_users.order_by("username").values_list("username", flat=True)
        return {
            "incident": campaign.incident.public_id,
            "audience": campaign.audience,
            **{name: campaign.audience_filter.get(name, "") for name in AUDIENCE_FILTER_FIELDS},
            "chosen": "\n".join(chosen),
            "template": str(campaign.template.public_id) if campaign.template else "",
            "name": campaign.name,
            "when": "later" if campaign.scheduled_at else "now",
            # Naive, in the account's zone: the field would show an aware time in the
            # active zone (UTC), not in the one the form is read in.
            "scheduled_at": (
                timezone.localtime(campaign.scheduled_at, zone).replace(tzinfo=None)
                if campaign.scheduled_at
                else None
            ),
        }

    def full_clean(self):
        # The datetime-local input carries no zone: it is read in the account's own
        # time zone, the one every page of the account shows times in.
        with timezone.override(self.zone):
            super().full_clean()

    def clean_scheduled_at(self):
        value = self.cleaned_data["scheduled_at"]
        return value.astimezone(UTC) if value else None

    def clean_template(self):
        value = self.cleaned_data["template"]
        for choice in self.template_choices:
            if str(choice.template.public_id) == value:
                return choice.template
        raise forms.ValidationError(_("Choose one of the templates in the list."))

    def clean(self):
        data = super().clean()
        if self.contact_missing:
            self.add_error(
                None,
                _(
                    "Your account has no designated contact: it needs %(missing)s. Every "
                    "notice tells people whom to tell about a suspicious call or message, so "
                    "a campaign cannot be saved without one."
                )
                % {"missing": contact_missing_words(self.contact_missing)},
            )
        if data.get("when") == "later":
            moment = data.get("scheduled_at")
            if moment is None and "scheduled_at" not in self.errors:
                self.add_error("scheduled_at", _("Give the date and time it should go."))
            elif moment is not None and moment <= timezone.now():
                self.add_error(
                    "scheduled_at", _("That time has passed: choose a later one, or send it now.")
                )
        else:
            data["scheduled_at"] = None
        audience = data.get("audience")
        if audience == Audience.FILTER and not any(
            data.get(name) for name in AUDIENCE_FILTER_FIELDS
        ):
            self.add_error(
                None,
                _("Choose at least one filter, or “All matched exposed users” for everyone."),
            )
        if audience == Audience.CHOSEN:
            self.chosen_users = self._chosen_users(data.get("chosen", ""))
        return data

    def audience_filter(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[name]
            for name in AUDIENCE_FILTER_FIELDS
            if self.cleaned_data.get(name)
        }

    def _chosen_users(self, text: str) -> list[DirectoryUser]:
        entries = list(dict.fromkeys(entry for entry in _SEPARATORS.split(text.strip()) if entry))
        if not entries:
            self.add_error("chosen", _("Give at least one username or email address."))
            return []
        if len(entries) > MAX_CHOSEN:
            self.add_error(
                "chosen",
                _("At most %(max)s people: for more, use a filter or everyone.")
                % {"max": number_text(MAX_CHOSEN)},
            )
            return []
        # Emails match whatever their case in the directory (Lower(), not iexact: one
        # IN over the lowered column instead of an OR per entry).
        lowered = [entry.lower() for entry in entries]
        found = list(
            DirectoryUser.objects.filter(organization=self.organization)
            .annotate(email_lower=Lower("email"))
            .filter(Q(username__in=entries) | Q(email_lower__in=lowered))
        )
        known = {user.username for user in found} | {user.email.lower() for user in found}
        unknown = [entry for entry in entries if entry not in known and entry.lower() not in known]
        if unknown:
            shown = ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")
            self.add_error("chosen", _("Not in your directory: %(names)s") % {"names": shown})
            return []
        return found
