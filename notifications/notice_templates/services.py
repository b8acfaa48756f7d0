"""Notice templates (DESIGN.md flow 7): checking, writing, previewing for a real
recipient, and a test send to oneself.

A template is one language of a notice; the templates of one owner that share a name
are one notice in several languages (rendering.template_snapshot gathers them, and
each recipient gets the language of their directory entry). An owner is an account,
or nobody for the operator's defaults.
"""

import logging
import re
import smtplib
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications.audience import campaign_recipients
from notifications.models import NoticeCampaign, NoticeTemplate
from notifications.notice_templates import rendering
from portal.accounts.models import Organization
from portal.audit.services import audit_record
from portal.incidents.models import DirectoryUser, Incident
from portal.ratelimit import RateLimit, rate_take

# The languages a template can be written in. A recipient whose directory language is
# a regional variant ("fr-CA") gets the template of its primary language.
# Lazy names: each shown in the language of the page that lists them.
LANGUAGES: list[tuple[str, Any]] = [
    ("en", gettext_lazy("English")),
    ("fr", gettext_lazy("French")),
    ("es", gettext_lazy("Spanish")),
    ("de", gettext_lazy("German")),
    ("it", gettext_lazy("Italian")),
    ("nl", gettext_lazy("Dutch")),
    ("pt", gettext_lazy("Portuguese")),
]
LANGUAGE_NAMES = dict(LANGUAGES)

# The report link in a preview or a test: the form's address with a token no delivery
# has (real ones are 32 random characters), so it opens no one's form.
PREVIEW_TOKEN = "preview"  # noqa: S105

# Test sends per person: enough to check a few edits, too few to mail anyone a flood.
TEST_SEND_LIMIT = 5
TEST_SEND_WINDOW = 600  # seconds

# How many matched people the preview offers to choose from.
PREVIEW_CHOICES = 100

FIELD_LABELS = {
    "subject": "the subject",
    "body_text": "the text body",
    "body_html": "the HTML body",
}

_SCRIPT = re.compile(r"<\s*/?\s*script\b", re.IGNORECASE)
# An event handler attribute inside a tag: <a onclick=...>, <img src=x onerror=...>.
_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
_JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
_REPORT_LINK = re.compile(r"{{\s*report_link\s*}}")

logger = logging.getLogger(__name__)


class NoticeTestSendRefusedError(ValidationError):
    """A test send that cannot go now; the message says why, for a person."""


# Checks --------------------------------------------------------------------------


def language_label(code: str) -> Any:
    return LANGUAGE_NAMES.get(code, code)


def notice_template_problems(*, subject: str, body_text: str, body_html: str) -> dict:
    """What is wrong with a template's words, per field: {field: [message, ...]}.

    The placeholders are checked by name, so a typo is caught when the template is
    saved, not when ten thousand notices go out with "{{ recipent_name }}" in them.
    """
    known = ", ".join(rendering.PLACEHOLDERS)
    problems: dict[str, list[str]] = {}
    for field, text in (("subject", subject), ("body_text", body_text), ("body_html", body_html)):
        for name in rendering.placeholders_unknown(text or ""):
            problems.setdefault(field, []).append(
                f"Unknown placeholder {{{{ {name} }}}} in {FIELD_LABELS[field]}; "
                f"known ones: {known}."
            )
    if "\n" in (subject or "") or "\r" in (subject or ""):
        problems.setdefault("subject", []).append(_("The subject must be one line."))
    # Every notice carries its recipient's own way to report (issue 6, point 4).
    if body_text and not _REPORT_LINK.search(body_text):
        problems.setdefault("body_text", []).append(
            "The text body must include {{ report_link }}: it is each recipient's own link "
            "to report a suspicious call or message."
        )
    if body_html:
        html_problems = _html_problems(body_html)
        if html_problems:
            problems.setdefault("body_html", []).extend(html_problems)
        elif not _REPORT_LINK.search(body_html):
            problems.setdefault("body_html", []).append(
                "The HTML body must include {{ report_link }}, as the text body does."
            )
    return problems


def _html_problems(html: str) -> list[str]:
    problems = []
    if _SCRIPT.search(html):
        problems.append(
            "The HTML body must not contain <script>: mail clients do not run scripts, and "
            "a notice must never carry one. Remove the script element."
        )
    if _HANDLER.search(html):
        problems.append(
            "The HTML body must not contain event handler attributes (onclick=, onload=, "
            "...): mail clients do not run them. Remove them."
        )
    if _JAVASCRIPT_URL.search(html):
        problems.append(_("The HTML body must not contain javascript: links."))
    return problems


def notice_template_name_taken(
    *, organization, name: str, language: str, exclude: NoticeTemplate | None = None
) -> str:
    """The error for a (name, language) its owner already has, or an empty string."""
    others = NoticeTemplate.objects.filter(organization=organization, name=name, language=language)
    if exclude is not None and exclude.pk:
        others = others.exclude(pk=exclude.pk)
    if not others.exists():
        return ""
    owner = "The defaults already have" if organization is None else "You already have"
    return f"{owner} “{name}” in {language_label(language)}: edit that one instead."


def _check(
    *,
    organization,
    name: str,
    language: str,
    subject: str,
    body_text: str,
    body_html: str,
    exclude: NoticeTemplate | None = None,
) -> None:
    """Raise ValidationError({field: [message, ...]}) if the template may not be saved:
    the form shows the same errors first, this holds for every other caller."""
    problems = notice_template_problems(subject=subject, body_text=body_text, body_html=body_html)
    if not name:
        problems.setdefault("name", []).append(_("Give the template a name."))
    if not language:
        problems.setdefault("language", []).append(_("Choose a language."))
    taken = notice_template_name_taken(
        organization=organization, name=name, language=language, exclude=exclude
    )
    if taken:
        problems.setdefault("language", []).append(taken)
    if problems:
        raise ValidationError(problems)


# Writes --------------------------------------------------------------------------


def notice_template_create(
    *,
    organization: Organization | None,
    name: str,
    language: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    by,
    request=None,
) -> NoticeTemplate:
    """A template of the account, or an operator default when `organization` is None."""
    name = name.strip()
    _check(
        organization=organization,
        name=name,
        language=language,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
    )
    with transaction.atomic():
        template = NoticeTemplate.objects.create(
            organization=organization,
            name=name,
            language=language,
            subject=subject.strip(),
            body_text=body_text,
            body_html=body_html.strip(),
        )
        audit_record(
            action="notice.template_create",
            actor=by,
            organization=organization,
            target=template,
            request=request,
            details=_audit_details(template),
        )
    return template


def notice_template_update(
    *,
    template: NoticeTemplate,
    name: str,
    language: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    by,
    request=None,
) -> list[str]:
    """Change a template's words. Campaigns already launched keep the words they froze.
    Returns the names of the fields that changed (none: nothing is written)."""
    name = name.strip()
    _check(
        organization=template.organization,
        name=name,
        language=language,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        exclude=template,
    )
    values = {
        "name": name,
        "language": language,
        "subject": subject.strip(),
        "body_text": body_text,
        "body_html": body_html.strip(),
    }
    changed = [field for field, value in values.items() if getattr(template, field) != value]
    if not changed:
        return []
    with transaction.atomic():
        for field in changed:
            setattr(template, field, values[field])
        template.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="notice.template_update",
            actor=by,
            organization=template.organization_id,
            target=template,
            request=request,
            details={**_audit_details(template), "changed": changed},
        )
    return changed


def notice_template_delete(*, template: NoticeTemplate, by, request=None) -> None:
    """Delete one language of a notice. A launched campaign keeps its frozen copy; a
    draft that used it needs another template before it can launch."""
    with transaction.atomic():
        audit_record(
            action="notice.template_delete",
            actor=by,
            organization=template.organization_id,
            target=template,
            request=request,
            details=_audit_details(template),
        )
        template.delete()


def notice_template_copy(
    *, template: NoticeTemplate, organization: Organization, by, request=None
) -> NoticeTemplate:
    """Copy a notice, every language of it, into the account, to edit there. Returns
    the copy in the language of `template`."""
    siblings = list(
        NoticeTemplate.objects.filter(
            organization_id=template.organization_id, name=template.name
        ).order_by("language")
    )
    with transaction.atomic():
        name = _free_name(organization, template.name)
        copies = NoticeTemplate.objects.bulk_create(
            NoticeTemplate(
                organization=organization,
                name=name,
                language=sibling.language,
                subject=sibling.subject,
                body_text=sibling.body_text,
                body_html=sibling.body_html,
            )
            for sibling in siblings
        )
        chosen = next(copy for copy in copies if copy.language == template.language)
        audit_record(
            action="notice.template_copy",
            actor=by,
            organization=organization,
            target=chosen,
            request=request,
            details={
                "name": name,
                "from": "operator default" if template.organization_id is None else template.name,
                "languages": [copy.language for copy in copies],
            },
        )
    return chosen


def _free_name(organization: Organization, name: str) -> str:
    taken = set(
        NoticeTemplate.objects.filter(organization=organization).values_list("name", flat=True)
    )
    if name not in taken:
        return name
    number = 2
    while f"{name} ({number})" in taken:
        number += 1
    return f"{name} ({number})"


def _audit_details(template: NoticeTemplate) -> dict:
    return {"name": template.name, "language": template.language}


# Preview -------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRecipient:
    """A matched exposed person, as the preview names them: never the full phone."""

    public_id: uuid.UUID
    name: str
    username: str
    language: str
    phone_last_digits: str
    message_count: int

    @property
    def label(self) -> str:
        who = f"{self.name} ({self.username})" if self.name else self.username
        return f"{who} · phone ending {self.phone_last_digits}"


@dataclass(frozen=True)
class NoticePreview:
    template: NoticeTemplate
    rendered: rendering.RenderedNotice
    incident: Incident | None
    recipient: PreviewRecipient | None  # None: made-up sample values
    # The language of the template's notice this recipient would get in a campaign.
    recipient_gets: str

    @property
    def sample(self) -> bool:
        return self.recipient is None


# Made-up values for an account with nobody to preview for; the page says so.
SAMPLE_RECIPIENT = {"name": "Sam Sample", "username": "ssample", "phone": "+0000", "count": 3}


def _recipients(organization: Organization, incident: Incident) -> QuerySet[DirectoryUser]:
    # The audience a campaign of "all matched exposed users" would reach, so the
    # preview's values (message count, the phone named) are the ones a notice carries.
    campaign = NoticeCampaign(
        organization=organization,
        incident=incident,
        audience=NoticeCampaign.Audience.ALL_MATCHED,
    )
    return campaign_recipients(campaign)


def _preview_recipient(row: dict) -> PreviewRecipient:
    context = rendering.recipient_context(
        name=row["name"],
        username=row["username"],
        phone=row["top_phone"] or "",
        message_count=row["message_count"],
    )
    return PreviewRecipient(
        public_id=row["public_id"],
        name=row["name"],
        username=row["username"],
        language=row["language"],
        phone_last_digits=context["phone_last_digits"],
        message_count=row["message_count"],
    )


_RECIPIENT_FIELDS = ("public_id", "name", "username", "language", "top_phone", "message_count")


def preview_recipients(organization: Organization, incident: Incident) -> list[PreviewRecipient]:
    """The first matched exposed people of the incident, by name, to preview for."""
    rows = (
        _recipients(organization, incident)
        .order_by("name", "username")
        .values(*_RECIPIENT_FIELDS)[:PREVIEW_CHOICES]
    )
    return [_preview_recipient(row) for row in rows]


def preview_recipient(
    organization: Organization, incident: Incident, public_id=None
) -> PreviewRecipient | None:
    """One matched exposed person of the incident: the one asked for if they are one,
    else the first by name; None when the incident has none."""
    rows = _recipients(organization, incident).order_by("name", "username")
    if public_id:
        try:
            row = rows.filter(public_id=public_id).values(*_RECIPIENT_FIELDS).first()
        except ValidationError:  # not a UUID
            row = None
        if row is not None:
            return _preview_recipient(row)
    row = rows.values(*_RECIPIENT_FIELDS).first()
    return _preview_recipient(row) if row is not None else None


def notice_preview(
    *,
    template: NoticeTemplate,
    organization: Organization | None,
    incident: Incident | None = None,
    recipient: PreviewRecipient | None = None,
) -> NoticePreview:
    """The template rendered as `recipient` would get it in a campaign about
    `incident`, with a report link that leads nowhere. Without a recipient (or an
    incident, or an account: the operator's console) made-up values stand in.

    It renders this template's own language, the one being edited; `recipient_gets`
    says which language of the notice the recipient would get.
    """
    snapshot = rendering.template_snapshot(template)
    contact = rendering.contact_snapshot(organization) if organization else _sample_contact()
    if organization is not None and incident is not None:
        values = rendering.campaign_context(
            organization=organization, incident=incident, contact=contact
        )
    else:
        values = _sample_campaign(organization, contact)
    if recipient is not None:
        values |= {
            "recipient_name": recipient.name or recipient.username,
            "phone_last_digits": recipient.phone_last_digits,
            "message_count": recipient.message_count,
        }
        recipient_gets = rendering.snapshot_language(snapshot, recipient.language)
    else:
        values |= rendering.recipient_context(
            name=SAMPLE_RECIPIENT["name"],
            username=SAMPLE_RECIPIENT["username"],
            phone=SAMPLE_RECIPIENT["phone"],
            message_count=SAMPLE_RECIPIENT["count"],
        )
        recipient_gets = template.language
    values["report_link"] = rendering.report_link(PREVIEW_TOKEN)
    return NoticePreview(
        template=template,
        rendered=rendering.notice_render(
            snapshot=snapshot, language=template.language, values=values
        ),
        incident=incident,
        recipient=recipient,
        recipient_gets=recipient_gets,
    )


def _sample_contact() -> dict[str, str]:
    return {
        "name": "Alex Example, IT security",
        "email": "security@example.com",
        "phone": "+1 555 0100",
        "url": "https://example.com/security",
        "sender_name": "",
        "reply_to": "",
    }


def _sample_campaign(organization: Organization | None, contact: dict) -> dict[str, str]:
    return {
        "incident_title": "Sample incident: telephony provider breach",
        "exposure_start": "1 March 2024",
        "exposure_end": "31 March 2024",
        "exposure_window": "1 March 2024 \N{EN DASH} 31 March 2024 (UTC)",
        "account_name": organization.name if organization else "Example Corp",
        "contact_name": contact.get("name", ""),
        "contact_email": contact.get("email", ""),
        "contact_phone": contact.get("phone", ""),
        "contact_url": contact.get("url", ""),
    }


# Test send -----------------------------------------------------------------------


def _test_send_allowed(user) -> bool:
    """Count one test send of `user` in the current window; False past the limit."""
    return rate_take(RateLimit(f"notice-test-send:{user.pk}", TEST_SEND_LIMIT, TEST_SEND_WINDOW))


def message_id_for_test() -> str:
    """A Message-ID no delivery has: the notices' own domain, a "test-" prefix."""
    domain = rendering.message_id_for(0).rpartition("@")[2].rstrip(">")
    return f"<test-{uuid.uuid4().hex}@{domain}>"


def notice_test_send(
    *, preview: NoticePreview, organization: Organization | None, by, request=None
):
    """Send the preview to the person asking, and only to them, marked as a test."""
    if not by.email:
        raise NoticeTestSendRefusedError(
            _("Your sign-in has no email address to send the test to.")
        )
    if not _test_send_allowed(by):
        raise NoticeTestSendRefusedError(
            _(
                "You have sent %(count)s tests in the last %(minutes)s minutes. Wait a few "
                "minutes before sending another."
            )
            % {"count": TEST_SEND_LIMIT, "minutes": TEST_SEND_WINDOW // 60}
        )
    rendered = preview.rendered
    contact = rendering.contact_snapshot(organization) if organization else {}
    message = rendering.notice_email(
        rendered=rendering.RenderedNotice(
            subject=f"[Test] {rendered.subject}", text=rendered.text, html=rendered.html
        ),
        to=by.email,
        contact=contact,
        message_id=message_id_for_test(),
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        # Said to the person, who can try again; the attempt still counts against
        # the limit, so a broken server is not hammered from this button.
        logger.warning("notice test send failed (%s)", type(error).__name__)
        raise NoticeTestSendRefusedError(
            _(
                "The mail server did not take the test email. Try again in a few minutes; "
                "if it keeps failing, tell the operator."
            )
        ) from error
    template = preview.template
    audit_record(
        action="notice.test_send",
        actor=by,
        organization=organization,
        target=template,
        request=request,
        # Who the notice was rendered for, by id: the person asking is the actor, and
        # the only address it went to.
        details={
            **_audit_details(template),
            "incident": preview.incident.slug if preview.incident else None,
            "rendered_for": str(preview.recipient.public_id) if preview.recipient else "sample",
        },
    )
