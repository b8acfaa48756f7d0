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
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

# name -> what it is, as the template editor lists it.
PLACEHOLDERS: dict[str, str] = {
    "recipient_name": "The recipient's name from the directory (their username if it has none)",
    "phone_last_digits": "The last 4 digits of the recipient's exposed phone number",
    "message_count": "How many messages to the recipient's phones were in the stolen logs",
    "incident_title": "The incident's title",
    "exposure_start": "The first day of the exposure window",
    "exposure_end": "The last day of the exposure window",
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


def template_snapshot(template) -> dict[str, str]:
    """What a campaign freezes of its template at launch (NoticeCampaign.template_snapshot)."""
    return {
        "name": template.name,
        "language": template.language,
        "subject": template.subject,
        "body_text": template.body_text,
        "body_html": template.body_html,
    }


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


def campaign_context(*, organization, incident, contact: dict[str, str]) -> dict[str, str]:
    """The values every recipient of a campaign shares."""
    zone = _zone(organization)
    return {
        "incident_title": incident.title,
        "exposure_start": _day(incident.window_start, zone),
        "exposure_end": _day(incident.window_end, zone),
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


def notice_render(*, snapshot: dict[str, str], values: dict[str, Any]) -> RenderedNotice:
    """Render a frozen template with `values` (campaign, recipient and report link)."""
    subject = _substitute(snapshot["subject"], values, html=False)
    return RenderedNotice(
        # A header cannot hold a line break; a value with one would end the subject.
        subject=" ".join(subject.split()),
        text=_substitute(snapshot["body_text"], values, html=False),
        html=_substitute(snapshot["body_html"], values, html=True)
        if snapshot.get("body_html")
        else "",
    )


def _zone(organization):
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(organization.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _day(moment, zone) -> str:
    if moment is None:
        return ""
    return timezone.localtime(moment, zone).strftime("%-d %B %Y")
