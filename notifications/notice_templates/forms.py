"""The notice template editor's form, shared by the account's pages and the operator's
console: the same fields and the same checks (templates_services)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from notifications.models import NoticeTemplate
from notifications.notice_templates import services as templates_services

_MONOSPACE = "font-monospace"


class NoticeTemplateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        help_text=_(
            "Templates with the same name are one notice in several languages: each "
            "recipient gets the language of their directory entry."
        ),
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=templates_services.LANGUAGES, initial="en"
    )
    subject = forms.CharField(
        label=_("Subject"),
        max_length=300,
        widget=forms.TextInput(attrs={"data-placeholder-target": "", "spellcheck": "true"}),
    )
    body_text = forms.CharField(
        label=_("Text body"),
        help_text=_(
            "What every mail client shows, and what a reader gets when the HTML body "
            "is empty or not shown. It must include {{ report_link }}."
        ),
        widget=forms.Textarea(attrs={"rows": 18, "data-placeholder-target": ""}),
    )
    body_html = forms.CharField(
        label=_("HTML body"),
        required=False,
        # Django shows help texts unescaped: no markup in the words below.
        help_text=_(
            "Optional. Inline styles only: mail clients drop style blocks and never run "
            "scripts. Placeholder values are HTML-escaped."
        ),
        widget=forms.Textarea(
            attrs={
                "rows": 14,
                "class": _MONOSPACE,
                "spellcheck": "false",
                "data-placeholder-target": "",
            }
        ),
    )

    def __init__(self, *args, organization, instance: NoticeTemplate | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                field: getattr(instance, field)
                for field in ("name", "language", "subject", "body_text", "body_html")
            }
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.instance = instance
        # A template saved with a language the list does not offer (from the admin, say)
        # keeps it rather than failing its own edit.
        if instance is not None and instance.language not in templates_services.LANGUAGE_NAMES:
            self.fields["language"].choices = [
                *templates_services.LANGUAGES,
                (instance.language, instance.language),
            ]

    def clean(self):
        data = super().clean()
        problems = templates_services.notice_template_problems(
            subject=data.get("subject", ""),
            body_text=data.get("body_text", ""),
            body_html=data.get("body_html", ""),
        )
        for field, messages in problems.items():
            if field not in self.errors:
                self.add_error(field, messages)
        if data.get("name") and data.get("language"):
            taken = templates_services.notice_template_name_taken(
                organization=self.organization,
                name=data["name"].strip(),
                language=data["language"],
                exclude=self.instance,
            )
            if taken:
                self.add_error("language", taken)
        return data
