"""The exposure window in words (issue 15 point 8): the provider's UTC window, the same
on the home pages, the dashboard and its chart, the customer email and the notices,
with the account's equivalent where times of day matter."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation

from notifications.notice_templates.rendering import campaign_context, notice_render
from portal.incidents.windows import Window, exposure_window
from tests.incidents.exposures_world import dashboard_url, exposure

pytestmark = pytest.mark.django_db

MARCH = Window(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
UTC_WINDOW = "1 March 2024 \N{EN DASH} 31 March 2024 (UTC)"
NEW_YORK = "29 February 2024 19:00 \N{EN DASH} 31 March 2024 20:00 in America/New_York"


def test_it_writes_the_providers_window_in_utc_with_its_last_day_not_the_exclusive_end():
    assert exposure_window(MARCH) == UTC_WINDOW


def test_it_adds_the_accounts_equivalent_where_times_of_day_matter():
    assert (
        exposure_window(MARCH, ZoneInfo("America/New_York")) == f"{UTC_WINDOW}, that is {NEW_YORK}"
    )
    # UTC's own clock needs no second version.
    assert exposure_window(MARCH, ZoneInfo("UTC")) == UTC_WINDOW


def test_it_shows_times_when_the_window_does_not_start_at_midnight():
    window = Window(datetime(2024, 3, 1, 8, tzinfo=UTC), datetime(2024, 3, 31, 17, 30, tzinfo=UTC))

    assert exposure_window(window) == ("1 March 2024 08:00 \N{EN DASH} 31 March 2024 17:30 (UTC)")


def test_it_writes_the_months_in_the_active_language():
    with translation.override("fr"):
        assert exposure_window(MARCH) == "1 mars 2024 \N{EN DASH} 31 mars 2024 (UTC)"


def test_every_page_says_the_same_window(client, sign_in, bob, acme, incident):
    exposure(incident, acme, "+12125550143")
    sign_in(bob)

    pages = {
        "home": client.get("/").content.decode(),
        "account home": client.get(
            reverse("accounts:home", kwargs={"org": acme.public_id})
        ).content.decode(),
        "dashboard": client.get(dashboard_url(acme, incident)).content.decode(),
    }

    for name, html in pages.items():
        assert UTC_WINDOW in html, name
        assert "1 Apr 2024" not in html, name  # the exclusive end is no day of the window
    # The dashboard's times and chart's days are New York's: it says what that means.
    assert pages["dashboard"].count(f"{UTC_WINDOW}, that is {NEW_YORK}") == 2


def test_a_notice_says_the_same_window_in_the_recipients_language(acme, incident):
    values = campaign_context(organization=acme, incident=incident, contact={})
    snapshot = {
        "name": "n",
        "language": "en",
        "languages": {
            code: {"subject": "s", "body_text": text, "body_html": ""}
            for code, text in {
                "en": "{{ exposure_window }} / {{ exposure_start }} / {{ exposure_end }}",
                "de": "{{ exposure_window }}",
            }.items()
        },
    }

    english = notice_render(snapshot=snapshot, language="en", values=values).text
    german = notice_render(snapshot=snapshot, language="de", values=values).text

    # The UTC days, not New York's (which began on 29 February).
    assert english == f"{UTC_WINDOW} / 1 March 2024 / 31 March 2024"
    # German writes a day with its ordinal dot (the catalogue's "j. F Y").
    assert german == "1. März 2024 \N{EN DASH} 31. März 2024 (UTC)"
