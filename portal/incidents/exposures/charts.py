"""Charts drawn on the server as SVG.

The Content Security Policy forbids style attributes, and SVG's geometry attributes
(x, y, width, height) are not styles, so bars need neither a script nor a stylesheet
rule per value. The markup is written here rather than in a template: a month of days
is some 500 values, which the template engine would take milliseconds to print.
"""

import math
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from portal.incidents.exposures.presenters import Locale
from portal.incidents.exposures.selectors import DayCount

WIDTH = 720
# A phone's chart: drawn for its width, so that its labels stay 10-11 px on the screen
# instead of the wide chart's 11 units shrunk to 5 px.
NARROW_WIDTH = 360
HEIGHT = 240
LEFT = 52  # room for the value labels
RIGHT = 8
TOP = 12
BOTTOM = 30  # room for the day labels
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
BAR_SHARE = 0.72  # of each day's slot; the rest is the gap between bars


@dataclass(frozen=True)
class Bar:
    day: DayCount
    x: str
    width: str
    sms_y: str
    sms_height: str
    voice_y: str
    voice_height: str
    label: str  # under the bar, on some days only
    label_x: str


@dataclass(frozen=True)
class GridLine:
    y: str
    label: str


@dataclass(frozen=True)
class PerDayChart:
    width: int
    height: int
    left: int
    right_edge: int
    baseline_y: str
    bars: list[Bar]
    grid: list[GridLine]
    busiest: DayCount | None


def _nice_step(largest: int, lines: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) that gives about `lines` lines."""
    raw = max(largest / lines, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw:
            return int(multiple * magnitude)
    return int(10 * magnitude)


def _short(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return str(value)


def per_day_chart(days: list[DayCount], *, width: int = WIDTH) -> PerDayChart:
    largest = max((day.total for day in days), default=0)
    step = _nice_step(largest)
    top_value = max(step * math.ceil(largest / step), step)
    scale = PLOT_HEIGHT / top_value
    baseline = TOP + PLOT_HEIGHT
    slot = (width - LEFT - RIGHT) / max(len(days), 1)
    bar_width = slot * BAR_SHARE
    # At most 8 day labels (5 on a phone) keeps them apart however long the window.
    most_labels = 8 if width >= WIDTH else 5
    label_every = max(1, math.ceil(len(days) / most_labels)) if len(days) > most_labels else 1
    bars = []
    locale = Locale.active()
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar_width) / 2
        sms_height = day.sms * scale
        voice_height = day.voice * scale
        bars.append(
            Bar(
                day=day,
                x=f"{x:.2f}",
                width=f"{bar_width:.2f}",
                sms_y=f"{baseline - sms_height:.2f}",
                sms_height=f"{sms_height:.2f}",
                voice_y=f"{baseline - sms_height - voice_height:.2f}",
                voice_height=f"{voice_height:.2f}",
                label=(
                    f"{day.day.day} {locale.month(day.day)}" if index % label_every == 0 else ""
                ),
                label_x=f"{x + bar_width / 2:.2f}",
            )
        )
    grid = [
        GridLine(y=f"{baseline - value * scale:.2f}", label=_short(value))
        for value in range(0, top_value + 1, step)
    ]
    return PerDayChart(
        width=width,
        height=HEIGHT,
        left=LEFT,
        right_edge=width - RIGHT,
        baseline_y=f"{baseline:.2f}",
        bars=bars,
        grid=grid,
        busiest=max(days, key=lambda day: day.total) if largest else None,
    )


def _day_label(day, locale: Locale) -> str:
    return f"{locale.weekday(day)} {day.day} {locale.month(day)}"


def per_day_svgs(days: list[DayCount]) -> SafeString:
    """The chart twice: for a phone (shown below Bootstrap's sm breakpoint) and wider."""
    return per_day_svg(per_day_chart(days, width=NARROW_WIDTH), shown="d-sm-none") + per_day_svg(
        per_day_chart(days), shown="d-none d-sm-block"
    )


def per_day_svg(chart: PerDayChart, *, shown: str = "d-block") -> SafeString:
    """The chart as an <svg> element: stacked bars, SMS below and voice above, each
    with a tooltip; a title for screen readers (the page has the numbers as a table)."""
    locale = Locale.active()
    summary = _("Messages per day")
    if chart.busiest:
        summary = _("Messages per day; the busiest day was %(day)s with %(count)s") % {
            "day": _day_label(chart.busiest.day, locale),
            "count": locale.number(chart.busiest.total),
        }
    tooltip = _("%(sms)s SMS, %(voice)s voice")
    title_id = f"per-day-title-{chart.width}"
    parts = [
        f'<svg class="{shown} w-100 h-auto vigil-chart" viewBox="0 0 {chart.width} {chart.height}"'
        f' role="img" aria-labelledby="{title_id}" focusable="false">',
        f'<title id="{title_id}">{escape(summary)}</title>',
        '<g class="text-body-secondary" fill="currentColor" font-size="11">',
    ]
    for index, line in enumerate(chart.grid):
        opacity = "0.6" if index == 0 else "0.18"
        parts.append(
            f'<line x1="{chart.left}" x2="{chart.right_edge}" y1="{line.y}" y2="{line.y}"'
            f' stroke="currentColor" stroke-opacity="{opacity}"/>'
            f'<text x="{chart.left - 6}" y="{line.y}" dy="0.32em" text-anchor="end">'
            f"{line.label}</text>"
        )
    for bar in chart.bars:
        if bar.label:
            parts.append(
                f'<text x="{bar.label_x}" y="{chart.height - 10}" text-anchor="middle">'
                f"{escape(bar.label)}</text>"
            )
    parts.append("</g>")
    for bar in chart.bars:
        day = bar.day
        parts.append(
            f'<g data-day="{day.day.isoformat()}"><title>{escape(_day_label(day.day, locale))}:'
            f" {escape(tooltip % {'sms': locale.number(day.sms), 'voice': locale.number(day.voice)})}"
            "</title>"
            f'<rect class="text-primary" fill="currentColor" x="{bar.x}" y="{bar.sms_y}"'
            f' width="{bar.width}" height="{bar.sms_height}"/>'
            f'<rect class="vigil-voice" fill="currentColor" x="{bar.x}" y="{bar.voice_y}"'
            f' width="{bar.width}" height="{bar.voice_height}"/></g>'
        )
    parts.append("</svg>")
    # Every value above is a number we formatted or text escaped here.
    return mark_safe("".join(parts))  # noqa: S308
