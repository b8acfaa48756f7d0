"""The exposure window in words: one writer for every page, email and notice (issue 15
point 8), so the home page, the dashboard, the chart, the notices and the customer
email say the same thing.

The provider's window is in UTC, and it is what the incident is: "1 March 2024 to
31 March 2024 (UTC)". Where times of day matter (the chart's days, the timeline) the
account's own equivalent follows: "29 February 2024 19:00 to 31 March 2024 20:00 in
America/New_York". The stored end is exclusive: a window that ends at midnight ends on
the day before. Dates are written in the active language's own format.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from django.utils import formats
from django.utils.translation import gettext, pgettext

_JUST_BEFORE = timedelta(microseconds=1)
DASH = " \N{EN DASH} "  # between the two ends


def _at_midnight(moment: datetime, zone: tzinfo) -> bool:
    local = moment.astimezone(zone)
    return (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)


def window_days(start: datetime, end: datetime, zone: tzinfo = UTC) -> tuple[date, date]:
    """The first and last day of the window in `zone` (the end is exclusive)."""
    return start.astimezone(zone).date(), (end - _JUST_BEFORE).astimezone(zone).date()


@dataclass(frozen=True)
class Window:
    """A window without its incident: what a notice's values carry, written out in
    each recipient's language when the notice is rendered."""

    window_start: datetime
    window_end: datetime


def window_day(day: date) -> str:
    """One day as the window writes it, in the active language."""
    return _day(day)


def _day(day: date) -> str:
    # A format of our own rather than the locale's DATE_FORMAT, whose English is
    # "Feb. 29, 2024"; a translation may reorder it ("j. F Y").
    return formats.date_format(day, pgettext("a day of the exposure window", "j F Y"))


def _moment(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return f"{_day(local.date())} {local:%H:%M}"


def _span(start: datetime, end: datetime, zone: tzinfo) -> str:
    """Whole days when the window starts and ends at midnight in `zone`, else times."""
    if _at_midnight(start, zone) and _at_midnight(end, zone):
        first, last = window_days(start, end, zone)
        return _day(first) if first == last else f"{_day(first)}{DASH}{_day(last)}"
    return f"{_moment(start, zone)}{DASH}{_moment(end, zone)}"


def window_utc(incident) -> str:
    """The provider's window, in UTC: "1 March 2024 to 31 March 2024 (UTC)"."""
    return gettext("%(span)s (UTC)") % {
        "span": _span(incident.window_start, incident.window_end, UTC)
    }


def window_local(incident, zone: tzinfo) -> str:
    """The same window in the account's zone, always with times (an offset rarely
    keeps midnight at midnight): "29 February 2024 19:00 to 31 March 2024 20:00 in
    America/New_York". Empty where the zone keeps UTC's clock over the window."""
    start, end = incident.window_start, incident.window_end
    if start.astimezone(zone).utcoffset() == end.astimezone(zone).utcoffset() == timedelta(0):
        return ""
    return gettext("%(span)s in %(zone)s") % {
        "span": f"{_moment(start, zone)}{DASH}{_moment(end, zone)}",
        "zone": str(zone),
    }


def exposure_window(incident, zone: tzinfo | None = None) -> str:
    """The window as every page says it: UTC, then (with `zone`, where times of day
    matter) the account's equivalent."""
    utc = window_utc(incident)
    local = window_local(incident, zone) if zone is not None else ""
    if not local:
        return utc
    return gettext("%(utc)s, that is %(local)s") % {"utc": utc, "local": local}
