"""The rows of the exposed-users tables, written in Python.

The template engine spends 5 to 10 µs on every variable, filter and tag, and a row of
this table has some thirty: at 50 rows that was most of the page's time, and the page
has to stay within three times the bare layout (bench/pages.py). Here a row costs a
few microseconds. Every value from the database goes through `escape`; the markup
around them is ours. The table's frame is in templates/incidents/_exposure_rows.html.

Words, month and weekday names and the thousands separator are the active language's,
looked up once per table (Locale), not per row.
"""

from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape
from typing import Any
from urllib.parse import quote

from django.utils import formats
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.incidents.models import Exposure
from portal.incidents.numbers import grouped
from portal.incidents.phones_display import (
    email_masked,
    name_masked,
    phone_last_digits,
    phone_masked,
)
from portal.incidents.templatetags.incidents_tags import percent, svg_width


@dataclass(frozen=True, slots=True)
class Locale:
    """The active language's month and weekday abbreviations and thousands separator."""

    months: tuple[str, ...]  # January first
    weekdays: tuple[str, ...]  # Monday first
    separator: str

    @classmethod
    def active(cls) -> "Locale":
        return cls(
            months=tuple(str(MONTHS_3[month]).title() for month in range(1, 13)),
            weekdays=tuple(str(WEEKDAYS_ABBR[day]) for day in range(7)),
            separator=str(formats.get_format("THOUSAND_SEPARATOR")),
        )

    def number(self, value: int) -> str:
        return grouped(value, self.separator)

    def month(self, moment) -> str:
        return self.months[moment.month - 1]

    def weekday(self, moment) -> str:
        return self.weekdays[moment.weekday()]


@dataclass(frozen=True, slots=True)
class ExposureRow:
    public_id: str
    url: str
    person: str  # the matched person's name (or username); empty without a match
    person_detail: str  # their email, or username when they have no email
    phone_masked: str
    phone_last_digits: str
    country: str
    region: str
    carrier: str
    messages: str
    messages_title: str
    first_seen: str
    first_seen_iso: str
    last_seen: str
    last_seen_iso: str
    notified: str  # the day they were notified, or empty


def _when(moment: datetime | None, zone: tzinfo, locale: Locale) -> tuple[str, str]:
    if moment is None:
        return "", ""
    local = moment.astimezone(zone)
    return (
        f"{local.day} {locale.month(local)} {local:%H:%M}",
        local.isoformat(timespec="seconds"),
    )


def _day(local: datetime, locale: Locale) -> str:
    return f"{local:%d} {locale.month(local)} {local:%Y}"


def _person(person, *, mask_people: bool) -> tuple[str, str]:
    """The row's who: name (or username) and email (or username); masked for a role
    that may not export the exposed people, which sees counts and masked rows only."""
    if person is None:
        return "", ""
    name, detail = person.name or person.username, person.email or person.username
    if mask_people:
        return name_masked(name), email_masked(person.email) if person.email else ""
    return name, detail


def exposure_rows(
    exposures, *, zone: tzinfo, exposed_url: str, mask_people: bool = False
) -> list[ExposureRow]:
    """`exposures` with their directory user joined; `exposed_url` is the list's URL,
    which every exposure's own page extends with its id."""
    rows = []
    locale = Locale.active()
    messages_title = _("%(sms)s SMS, %(voice)s voice")
    for exposure in exposures:
        person = exposure.directory_user
        first_seen, first_seen_iso = _when(exposure.first_seen_at, zone, locale)
        last_seen, last_seen_iso = _when(exposure.last_seen_at, zone, locale)
        notified = exposure.last_notified_at
        who, who_detail = _person(person, mask_people=mask_people)
        rows.append(
            ExposureRow(
                public_id=str(exposure.public_id),
                url=f"{exposed_url}{exposure.public_id}/",
                person=who,
                person_detail=who_detail,
                phone_masked=phone_masked(exposure.phone, exposure.country),
                phone_last_digits=phone_last_digits(exposure.phone),
                country=exposure.country,
                region=exposure.region,
                carrier=exposure.carrier,
                messages=locale.number(exposure.message_count),
                messages_title=messages_title
                % {
                    "sms": locale.number(exposure.sms_count),
                    "voice": locale.number(exposure.voice_count),
                },
                first_seen=first_seen,
                first_seen_iso=first_seen_iso,
                last_seen=last_seen,
                last_seen_iso=last_seen_iso,
                notified=_day(notified.astimezone(zone), locale) if notified else "",
            )
        )
    return rows


def exposure_row(
    exposure: Exposure, *, zone: tzinfo, exposed_url: str, mask_people: bool = False
) -> ExposureRow:
    return exposure_rows([exposure], zone=zone, exposed_url=exposed_url, mask_people=mask_people)[0]


def phone_html(row: ExposureRow, *, can_reveal: bool, csrf_token: str) -> SafeString:
    """The masked number, and for those who may, a button that reveals it. The button
    is a form, so it works without JavaScript; htmx posts it and swaps in the number."""
    masked = f'<span class="font-monospace" data-masked-phone>{escape(row.phone_masked)}</span>'
    button = ""
    if can_reveal:
        title = escape(_("Reveal the full number (recorded in the audit log)"))
        label = escape(_("Reveal the number ending %(digits)s") % {"digits": row.phone_last_digits})
        reveal = escape(f"{row.url}reveal/")
        button = (
            f'<form method="post" action="{reveal}" class="d-inline ms-1" hx-post="{reveal}"'
            f' hx-target="#phone-{row.public_id}" hx-swap="outerHTML">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
            '<button type="submit" class="btn btn-link btn-sm p-0 align-baseline"'
            f' title="{title}">'
            '<i class="bi bi-eye" aria-hidden="true"></i><span class="visually-hidden">'
            f"{label}</span></button></form>"
        )
    return mark_safe(  # noqa: S308 (escaped above)
        f'<span class="vigil-phone text-nowrap" id="phone-{row.public_id}">{masked}{button}</span>'
    )


def _not_notified() -> str:
    return f'<span class="text-body-secondary">{escape(_("Not yet"))}</span>'


def _no_one_to_notify() -> str:
    title = escape(_("No one to notify: no directory entry has this number"))
    return f'<span class="text-body-secondary" title="{title}">—</span>'


def exposure_rows_html(
    rows: list[ExposureRow], *, can_reveal: bool, csrf_token: str, unmatched: bool = False
) -> SafeString:
    """The <tr>s; `unmatched` leaves out who and whether notified (no one, and never)
    and links each row's timeline instead."""
    html = []
    timeline = escape(_("Timeline"))
    no_match = escape(_("No directory match"))
    not_notified, no_one_to_notify = _not_notified(), _no_one_to_notify()
    for row in rows:
        url = escape(row.url)
        if unmatched:
            first = ""
            last = f'<td class="text-end"><a href="{url}">{timeline}</a></td>'
        else:
            if row.person:
                person = (
                    f'<a href="{url}">{escape(row.person)}</a>'
                    f'<div class="small text-body-secondary">{escape(row.person_detail)}</div>'
                )
            else:
                person = f'<a href="{url}" class="text-body-secondary">{no_match}</a>'
            if row.notified:
                notified = (
                    '<i class="bi bi-check-circle text-success me-1" aria-hidden="true"></i>'
                    + escape(row.notified)
                )
            else:
                notified = not_notified if row.person else no_one_to_notify
            first = f"<td>{person}</td>"
            last = f'<td class="small text-nowrap">{notified}</td>'
        phone = phone_html(row, can_reveal=can_reveal, csrf_token=csrf_token)
        html.append(
            f"<tr>{first}<td>{phone}</td>"
            f'<td>{escape(row.country)} <span class="small text-body-secondary">'
            f"{escape(row.region)}</span></td>"
            f'<td class="small">{escape(row.carrier)}</td>'
            f'<td class="text-end" title="{escape(row.messages_title)}">'
            f"{escape(row.messages)}</td>"
            f'<td class="small text-nowrap"><time datetime="{escape(row.first_seen_iso)}">'
            f"{escape(row.first_seen)}</time></td>"
            f'<td class="small text-nowrap"><time datetime="{escape(row.last_seen_iso)}">'
            f"{escape(row.last_seen)}</time></td>"
            f"{last}</tr>"
        )
    return mark_safe("".join(html))  # noqa: S308 (every value escaped above)


_TYPE_ICONS = {
    "voice": '<i class="bi bi-telephone me-1" aria-hidden="true"></i>',
    "sms": '<i class="bi bi-chat-left-text me-1" aria-hidden="true"></i>',
}
_TYPE_LABELS = {"voice": gettext_lazy("Voice"), "sms": gettext_lazy("SMS")}


def timeline_rows_html(messages, *, zone: tzinfo) -> SafeString:
    """The <tr>s of one phone's timeline (a page of its log rows)."""
    html = []
    locale = Locale.active()
    labels = {kind: escape(str(label)) for kind, label in _TYPE_LABELS.items()}
    for message in messages:
        local = message.sent_at.astimezone(zone)
        kind = message.message_type
        region = (
            f' <span class="small text-body-secondary">{escape(message.region)}</span>'
            if message.region
            else ""
        )
        html.append(
            f'<tr><td class="text-nowrap"><time datetime="{escape(local.isoformat())}">'
            f"{locale.weekday(local)} {local.day} {locale.month(local)} {local:%Y, %H:%M:%S}</time>"
            f' <span class="small text-body-secondary">{escape(local.tzname() or "")}</span></td>'
            f"<td>{_TYPE_ICONS.get(kind, _TYPE_ICONS['sms'])}"
            f"{labels.get(kind) or escape(kind)}</td>"
            f"<td>{escape(message.carrier)}</td>"
            f"<td>{escape(message.country)}{region}</td>"
            f"<td>{escape(message.context or '—')}</td></tr>"
        )
    return mark_safe("".join(html))  # noqa: S308 (every value escaped above)


def breakdown_html(
    breakdown, *, heading: Any, heading_id: str, column: Any, param: str, exposed_url: str
) -> SafeString:
    """One breakdown of the dashboard (a selectors.Breakdown) as a card with a table of
    bars: each value links to the list filtered by it (`param`). Up to a hundred rows
    (regions, carriers), each a dozen template variables through an include, were a
    third of the dashboard's time."""
    locale = Locale.active()
    parts = [
        f'<section class="card h-100" aria-labelledby="{escape(heading_id)}"><div class="card-body">'
        f'<h2 id="{escape(heading_id)}" class="vigil-section-title">{escape(str(heading))}</h2>'
    ]
    if breakdown.rows:
        parts.append(
            '<table class="table table-sm align-middle mb-0"><thead><tr>'
            f'<th scope="col">{escape(str(column))}</th>'
            f'<th scope="col" class="text-end">{escape(_("Phones"))}</th>'
            '<th scope="col" class="w-25"><span class="visually-hidden">'
            f"{escape(_('Share of phones'))}</span></th>"
            f'<th scope="col" class="text-end">{escape(_("Messages"))}</th></tr></thead><tbody>'
        )
        for row in breakdown.all_rows:
            label = escape(str(row.label))
            if row.value:
                href = escape(f"{exposed_url}?{param}={quote(str(row.value), safe='/')}")
                name = f'<a href="{href}">{label}</a>'
            else:
                name = f'<span class="text-body-secondary">{label}</span>'
            parts.append(
                f'<tr><td>{name}</td><td class="text-end font-monospace">{locale.number(row.phones)}</td>'
                f'<td><span class="visually-hidden">{escape(percent(row.share))} </span>'
                '<svg class="d-block w-100 text-primary" viewBox="0 0 100 6" '
                'preserveAspectRatio="none" height="8" aria-hidden="true" focusable="false">'
                '<rect width="100" height="6" rx="1" fill="currentColor" fill-opacity="0.12"/>'
                f'<rect width="{svg_width(row.share)}" height="6" rx="1" fill="currentColor"/>'
                f'</svg></td><td class="text-end font-monospace">{locale.number(row.messages)}</td></tr>'
            )
        parts.append("</tbody></table>")
    else:
        parts.append(
            f'<p class="text-body-secondary mb-0">{escape(_("Nothing to break down."))}</p>'
        )
    parts.append("</div></section>")
    # Every value from the database above is escaped; the markup is ours.
    return mark_safe("".join(parts))  # noqa: S308


def per_day_rows_html(per_day) -> SafeString:
    """The per-day chart's numbers as table rows (selectors.DayCount): a month or more
    of days, four cells each."""
    locale = Locale.active()
    number = locale.number
    return mark_safe(  # noqa: S308 (dates and numbers only)
        "".join(
            f"<tr><td>{locale.weekday(day.day)} {day.day.day} {locale.month(day.day)}"
            f" {day.day:%Y}</td>"
            f'<td class="text-end">{number(day.sms)}</td>'
            f'<td class="text-end">{number(day.voice)}</td>'
            f'<td class="text-end">{number(day.total)}</td></tr>'
            for day in per_day
        )
    )
