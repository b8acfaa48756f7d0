"""The placeholders a notice may use, checking a template for them, and rendering.

A template is the account's words, so it is not a Django template: it cannot reach
any object, tag or filter, only the documented placeholders below, written
`{{ name }}`. Checking happens on save (an unknown name is an error that names it);
rendering substitutes values, HTML-escaped in the HTML body.

Values come from two places, both frozen before any message leaves:
- the campaign's snapshot of the incident and the designated contact (`campaign_context`);
- the recipient's own values, stored in `Delivery.context` when the delivery row is
  made (`recipient_context`), plus the delivery's report link.
"""

import re
from dataclasses import dataclass
from datetime import date
from email.utils import formataddr, parseaddr
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from portal.incidents.windows import Window, window_day, window_days, window_utc

# name -> what it is, as the template editor lists it.
PLACEHOLDERS: dict[str, str] = {
    "recipient_name": "The recipient's name from the directory (their username if it has none)",
    "phone_last_digits": "The last 4 digits of the recipient's exposed phone number",
    "message_count": "How many messages to the recipient's phones were in the stolen logs",
    "incident_title": "The incident's title",
    "exposure_start": "The first day of the exposure window (UTC)",
    "exposure_end": "The last day of the exposure window (UTC)",
    "exposure_window": "The exposure window as the portal writes it, in UTC",
    "account_name": "Your account's name",
    "contact_name": "The designated contact's name",
    "contact_email": "The designated contact's email",
    "contact_phone": "The designated contact's phone",
    "contact_url": "The designated contact's web page",
    "report_link": "The recipient's own link to report a suspicious call or message",
}

# `{{ name }}`, spaces optional. Anything else in braces is left as it is written.
_PLACEHOLDER = re.compile(r"{{\s*([A-Za-z0-9_.\-]*)\s*}}")


def placeholders_unknown(text: str) -> list[str]:
    """The placeholder names in `text` that are not in PLACEHOLDERS, in order, once each."""
    unknown: list[str] = []
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name not in PLACEHOLDERS and name not in unknown:
            unknown.append(name)
    return unknown


def _substitute(text: str, values: dict[str, Any], *, html: bool) -> str:
    def value_of(match: re.Match) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            # Templates are checked on save; one that slipped through (an old row, the
            # admin) shows its placeholder rather than failing a whole batch.
            return match.group(0)
        value = "" if values.get(name) is None else str(values[name])
        return escape(value) if html else value

    return _PLACEHOLDER.sub(value_of, text)


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str  # empty when the template has no HTML body


def template_snapshot(template) -> dict:
    """What a campaign freezes at launch (NoticeCampaign.template_snapshot): the chosen
    template and its siblings of the same name and owner in other languages, so each
    recipient gets the language of their directory entry.

    {"name": ..., "language": <the chosen one's>, "languages": {code: {subject,
    body_text, body_html}}}
    """
    siblings = (
        type(template)
        .objects.filter(organization_id=template.organization_id, name=template.name)
        .order_by("language")
    )
    languages = {
        sibling.language: {
            "subject": sibling.subject,
            "body_text": sibling.body_text,
            "body_html": sibling.body_html,
        }
        for sibling in siblings
    }
    # The chosen one's own words win over a stale sibling read (it may be unsaved).
    languages[template.language] = {
        "subject": template.subject,
        "body_text": template.body_text,
        "body_html": template.body_html,
    }
    return {"name": template.name, "language": template.language, "languages": languages}


def snapshot_language(snapshot: dict, language: str) -> str:
    """The language of the snapshot a recipient with `language` gets: the same code,
    else the same primary language ("fr-CA" gets "fr"), else the chosen template's."""
    languages = snapshot["languages"]
    wanted = (language or "").strip().lower().replace("_", "-")
    by_lower = {code.lower(): code for code in languages}
    if wanted in by_lower:
        return by_lower[wanted]
    primary = wanted.split("-")[0]
    for code in languages:
        if code.lower().split("-")[0] == primary and primary:
            return code
    return snapshot["language"]


def contact_snapshot(organization) -> dict[str, str]:
    """What a campaign freezes of the account's designated contact and sender."""
    return {
        "name": organization.contact_name,
        "email": organization.contact_email,
        "phone": organization.contact_phone,
        "url": organization.contact_url,
        "sender_name": organization.notice_sender_name,
        "reply_to": organization.notice_reply_to,
    }


def campaign_context(*, organization, incident, contact: dict[str, str]) -> dict:
    """The values every recipient of a campaign shares."""
    return {
        "incident_title": incident.title,
        # Dates, written out in each recipient's language by notice_render: the
        # provider's window in UTC, its days as every page shows them (the window's
        # end is exclusive, so its last day is the one just before it).
        "exposure_start": window_days(incident.window_start, incident.window_end)[0],
        "exposure_end": window_days(incident.window_start, incident.window_end)[1],
        "exposure_window": Window(incident.window_start, incident.window_end),
        "account_name": organization.name,
        "contact_name": contact.get("name", ""),
        "contact_email": contact.get("email", ""),
        "contact_phone": contact.get("phone", ""),
        "contact_url": contact.get("url", ""),
    }


def recipient_context(*, name: str, username: str, phone: str, message_count: int) -> dict:
    """The values of one recipient, as stored in Delivery.context. Only the last four
    digits of the phone are kept: the notice never carries the full number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return {
        "recipient_name": name or username,
        "phone_last_digits": digits[-4:],
        "message_count": message_count,
    }


def report_link(report_token: str) -> str:
    return settings.SITE_URL + reverse("report_form:form", kwargs={"token": report_token})


def notice_render(*, snapshot: dict, language: str, values: dict[str, Any]) -> RenderedNotice:
    """Render a frozen template (see template_snapshot) in the recipient's language
    with `values` (campaign_context, recipient_context and report_link)."""
    code = snapshot_language(snapshot, language)
    words = snapshot["languages"][code]
    values = {name: _written_in(value, code) for name, value in values.items()}
    subject = _substitute(words["subject"], values, html=False)
    return RenderedNotice(
        # A header cannot hold a line break; a value with one would end the subject.
        subject=" ".join(subject.split()),
        text=_substitute(words["body_text"], values, html=False),
        html=_substitute(words["body_html"], values, html=True) if words.get("body_html") else "",
    )


def message_id_for(delivery_id: int) -> str:
    """The Message-ID of a delivery's notice: the same on every attempt, so a message
    sent twice (a worker killed after the send, before recording it) is recognisably
    one message to the recipient's server and to us."""
    return f"<notice-{delivery_id}@{_mail_domain()}>"


def notice_email(
    *, rendered: RenderedNotice, to: str, contact: dict, message_id: str, connection=None
) -> EmailMultiAlternatives:
    """The email of one notice: from the account's sender name at our address, replies
    to the account's reply-to (else its designated contact), our Message-ID."""
    from_address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "vigil@localhost"
    sender_name = contact.get("sender_name") or parseaddr(settings.DEFAULT_FROM_EMAIL)[0]
    reply_to = contact.get("reply_to") or contact.get("email")
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=formataddr((sender_name, from_address)) if sender_name else from_address,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated"},
        connection=connection,
    )
    if rendered.html:
        message.attach_alternative(rendered.html, "text/html")
    return message


def _mail_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2]
    return domain or urlsplit(settings.SITE_URL).hostname or "localhost"


def _written_in(value: Any, language: str) -> Any:
    if isinstance(value, date):
        return _date_in(value, language)
    if isinstance(value, Window):
        return _window_in(value, language)
    return value


@lru_cache(maxsize=256)
def _date_in(day: date, language: str) -> str:
    """`day` as the language writes it: "1 mars 2024", as the pages write the window's."""
    with translation.override(language):
        return window_day(day)


@lru_cache(maxsize=64)
def _window_in(window: Window, language: str) -> str:
    with translation.override(language):
        return window_utc(window)
