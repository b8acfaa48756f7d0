"""Filters for the incident pages: phones as a role may see them, and chart widths."""

from django import template
from django.utils.translation import gettext

from portal.incidents import phones_display, windows
from portal.incidents.numbers import number_text
from portal.incidents.reasons import reason_text

register = template.Library()


@register.filter
def phone_masked(e164: str) -> str:
    return phones_display.phone_masked(e164 or "")


@register.filter
def phone_readable(e164: str) -> str:
    return phones_display.phone_readable(e164 or "")


@register.filter
def name_masked(name: str) -> str:
    return phones_display.name_masked(name or "")


@register.filter
def email_masked(email: str) -> str:
    return phones_display.email_masked(email or "")


@register.filter
def country_name(code: str) -> str:
    return phones_display.country_name(code or "")


@register.filter
def exposure_window(incident, zone=None) -> str:
    """The exposure window as every page says it (portal/incidents/windows.py): the
    provider's UTC window, and with a zone the account's equivalent."""
    return windows.exposure_window(incident, zone)


@register.filter
def svg_width(share: float, scale: int = 100) -> str:
    """A share (0..1) as an SVG length on a `scale`-wide view box. Formatted here, not
    by the template engine, which would localize the decimal point."""
    return f"{max(0.0, min(1.0, share or 0.0)) * scale:.2f}"


@register.filter
def percent(share: float) -> str:
    """0.4567 as "46%"; a share that is not nothing never shows as "0%"."""
    share = share or 0.0
    if 0 < share < 0.01:
        return "<1%"
    if 0.99 < share < 1:
        return ">99%"
    return f"{share:.0%}"


@register.filter
def thousands(value) -> str:
    """1234567 as "1,234,567", "1.234.567" or "1 234 567", the current language's
    way: humanize's intcomma, without its trip through the localization machinery for
    each number (a list page writes hundreds), only the separator looked up."""
    try:
        return number_text(int(value))
    except (TypeError, ValueError):
        return value


@register.filter
def import_reason(stored) -> str:
    """A stored import reason (a row or a group of the batch page) in the viewer's
    language; one stored before reasons kept their msgid, in the English it has."""
    return reason_text(stored)


@register.filter
def import_line(where) -> str:
    """Where a rejected row was: its line, or for a Duo log "item 12" (stored so, in
    English, as the error report writes it), in the viewer's language."""
    if isinstance(where, str) and where.startswith("item "):
        return gettext("item %(number)s") % {"number": where.removeprefix("item ")}
    return str(where)
