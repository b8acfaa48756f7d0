"""The per-day chart, drawn twice: for a phone and for wider screens."""

import re
from datetime import date, timedelta

from portal.incidents.exposures.charts import NARROW_WIDTH, WIDTH, per_day_chart, per_day_svgs
from portal.incidents.exposures.selectors import DayCount

MARCH = [DayCount(day=date(2024, 3, 1) + timedelta(days=n), sms=n, voice=1) for n in range(31)]


def test_it_draws_a_phones_chart_at_its_own_width_with_fewer_day_labels():
    wide = per_day_chart(MARCH)
    narrow = per_day_chart(MARCH, width=NARROW_WIDTH)

    assert (wide.width, narrow.width) == (WIDTH, NARROW_WIDTH)
    assert narrow.right_edge == NARROW_WIDTH - 8
    assert float(narrow.bars[-1].x) + float(narrow.bars[-1].width) < narrow.right_edge
    assert len([bar for bar in wide.bars if bar.label]) == 8
    assert [bar.label for bar in narrow.bars if bar.label] == [
        "1 Mar",
        "8 Mar",
        "15 Mar",
        "22 Mar",
        "29 Mar",
    ]


def test_it_shows_one_chart_per_screen_size_each_with_its_own_title():
    html = per_day_svgs(MARCH)

    classes = re.findall(r'<svg class="([^"]+)"', html)
    assert classes == [
        "d-sm-none w-100 h-auto vigil-chart",
        "d-none d-sm-block w-100 h-auto vigil-chart",
    ]
    titles = re.findall(r'aria-labelledby="([^"]+)"', html)
    assert titles == ["per-day-title-360", "per-day-title-720"]
    assert html.count("the busiest day was Sun 31 Mar with 31") == 2
