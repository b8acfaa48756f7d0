"""The incident dashboard (DESIGN.md flow 3): the numbers, the breakdowns, messages per
day, the share notified and the days since disclosure, for the account's own
exposures only."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.incidents.exposures.selectors import BREAKDOWN_TOP
from portal.incidents.exposures.services import exposure_rollup_refresh
from portal.incidents.models import Exposure, MessageLogRecord
from tests import factories
from tests.core.test_layout import assert_nothing_inline_without_the_nonce
from tests.incidents.exposures_world import (
    at,
    dashboard_url,
    exposure,
)

pytestmark = pytest.mark.django_db


# The accounts, members, incident and sign_in come from tests/incidents/conftest.py.


@pytest.fixture
def breach(acme, globex, incident):
    """Jane has two exposed phones, John one; one phone is nobody's; Jane was notified.
    Globex has an exposure of its own, which Acme must never count."""
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe", phones=[])
    john = factories.directory_user(acme, "jsmith", name="John Smith", phones=[])
    notified = datetime(2024, 4, 13, 9, tzinfo=UTC)
    exposure(incident, acme, "+12125550143", sms=5, voice=1, country="US", region="New York",
             carrier="Verizon Wireless", directory_user=jane, last_notified_at=notified)  # fmt: skip
    exposure(incident, acme, "+12125550100", sms=3, country="US", region="New York",
             carrier="AT&T Mobility", directory_user=jane, last_notified_at=notified)  # fmt: skip
    exposure(incident, acme, "+447700900123", sms=0, voice=2, country="GB", region="England",
             carrier="Vodafone UK", directory_user=john)  # fmt: skip
    exposure(incident, acme, "+4915123456789", sms=4, country="DE", region="Bayern",
             carrier="Telekom Deutschland")  # fmt: skip
    exposure(incident, globex, "+33612345678", sms=100, country="FR", carrier="Orange")
    return incident


def numbers_of(response):
    return response.context["numbers"]


def test_it_shows_the_accounts_numbers(client, sign_in, bob, acme, breach):
    sign_in(bob)

    response = client.get(dashboard_url(acme, breach))

    assert response.status_code == 200
    numbers = numbers_of(response)
    assert numbers.exposed_users == 2  # Jane's two phones make one person
    assert numbers.phones == 4
    assert numbers.unmatched_phones == 1
    assert numbers.messages == 15
    assert (numbers.sms_messages, numbers.voice_messages) == (12, 3)
    assert numbers.notified_phones == 2
    assert numbers.matched_phones == 3
    html = response.content.decode()
    assert "67%" in html  # 2 of 3 matched phones notified
    assert "2 of 3 matched phones" in html
    assert "1 without a match" in html
    assert "Orange" not in html  # Globex's carrier
    assert_nothing_inline_without_the_nonce(response)


def test_it_breaks_the_phones_down_by_country_region_carrier_and_type(
    client, sign_in, bob, acme, breach
):
    sign_in(bob)

    numbers = numbers_of(client.get(dashboard_url(acme, breach)))

    by_country = [
        (row.label, row.value, row.phones, row.messages) for row in numbers.by_country.rows
    ]
    assert by_country == [
        ("United States (US)", "US", 2, 9),
        ("Germany (DE)", "DE", 1, 4),
        ("United Kingdom (GB)", "GB", 1, 2),
    ]
    assert [(row.label, row.phones) for row in numbers.by_region.rows] == [
        ("New York (US)", 2),
        ("Bayern (DE)", 1),
        ("England (GB)", 1),
    ]
    assert {row.label: row.phones for row in numbers.by_carrier.rows} == {
        "Verizon Wireless": 1,
        "AT&T Mobility": 1,
        "Vodafone UK": 1,
        "Telekom Deutschland": 1,
    }
    # Phones that got SMS, and phones that got calls: one got both.
    assert [(row.label, row.phones, row.messages) for row in numbers.by_type.rows] == [
        ("SMS", 3, 12),
        ("Voice", 2, 3),
    ]
    assert numbers.by_country.rows[0].share == pytest.approx(0.5)


def test_each_breakdown_row_links_to_the_list_filtered_by_it(client, sign_in, bob, acme, breach):
    sign_in(bob)

    html = client.get(dashboard_url(acme, breach)).content.decode()

    list_url = f"/o/{acme.public_id}/incidents/{breach.public_id}/exposed/"
    assert f'href="{list_url}?country=US"' in html
    assert f'href="{list_url}?region=New%20York"' in html
    assert f'href="{list_url}?carrier=AT%26T%20Mobility"' in html
    assert f'href="{list_url}?message_type=voice"' in html
    assert f'href="{list_url}?matched=yes&amp;notified=no"' in html


def test_it_sums_the_rest_past_the_top_ten_as_others(client, sign_in, bob, acme, incident):
    for n in range(BREAKDOWN_TOP + 2):
        # Carrier 0 has the most phones, carrier 11 the fewest.
        for k in range(BREAKDOWN_TOP + 2 - n):
            exposure(incident, acme, f"+1212555{n:02d}{k:02d}", carrier=f"Carrier {n:02d}")
    sign_in(bob)

    by_carrier = numbers_of(client.get(dashboard_url(acme, incident))).by_carrier

    assert [row.label for row in by_carrier.rows] == [f"Carrier {n:02d}" for n in range(10)]
    assert by_carrier.other.label == "2 others"
    assert by_carrier.other.phones == 2 + 1
    assert by_carrier.other.value == ""


def test_it_counts_messages_per_day_in_the_accounts_time_zone(
    client, sign_in, bob, acme, globex, incident
):
    exposure(incident, acme, "+12125550143", sms=2, voice=1)
    # 02:30 UTC on 2 March is still 1 March in New York.
    factories.log_record(incident, acme, sent_at=datetime(2024, 3, 2, 2, 30, tzinfo=UTC))
    factories.log_record(incident, acme, sent_at=datetime(2024, 3, 2, 14, 0, tzinfo=UTC))
    factories.log_record(
        incident,
        acme,
        sent_at=datetime(2024, 3, 2, 15, 0, tzinfo=UTC),
        message_type=MessageLogRecord.MessageType.VOICE,
    )
    factories.log_record(incident, globex, sent_at=datetime(2024, 3, 2, 15, 0, tzinfo=UTC))
    sign_in(bob)

    response = client.get(dashboard_url(acme, incident))

    days = {day.day: (day.sms, day.voice) for day in numbers_of(response).per_day}
    assert days[date(2024, 3, 1)] == (1, 0)
    assert days[date(2024, 3, 2)] == (1, 1)
    # Every day of the window is there, in New York's days: 29 Feb 19:00 to 31 Mar 20:00.
    assert min(days) == date(2024, 2, 29)
    assert max(days) == date(2024, 3, 31)
    assert sum(sms + voice for sms, voice in days.values()) == 3
    html = response.content.decode()
    assert "<svg" in html
    assert "Sat 2 Mar: 1 SMS, 1 voice" in html
    assert "Days in America/New_York" in html


@time_machine.travel(datetime(2024, 4, 22, 12, tzinfo=UTC), tick=False)
def test_it_counts_the_days_since_disclosure(client, sign_in, bob, acme, breach):
    sign_in(bob)

    response = client.get(dashboard_url(acme, breach))

    assert response.context["days_since_disclosure"] == 10
    assert "10 days" in response.content.decode()


def test_it_says_when_the_incident_is_not_disclosed_yet(client, sign_in, bob, acme):
    undisclosed = factories.incident(disclosed_at=None)
    exposure(undisclosed, acme, "+12125550143")
    sign_in(bob)

    response = client.get(dashboard_url(acme, undisclosed))

    assert response.context["days_since_disclosure"] is None
    assert "Not disclosed yet" in response.content.decode()


def test_it_shows_the_new_numbers_once_someone_is_notified(client, sign_in, bob, acme, breach):
    sign_in(bob)
    assert numbers_of(client.get(dashboard_url(acme, breach))).notified_phones == 2

    breach.exposures.filter(phone="+447700900123").update(
        last_notified_at=datetime(2024, 4, 14, tzinfo=UTC)
    )
    # What the notice sender does after stamping exposures (notifications/delivery/sending.py).
    exposure_rollup_refresh(incident_id=breach.pk, organization_ids=[acme.pk])

    assert numbers_of(client.get(dashboard_url(acme, breach))).notified_phones == 3


def test_it_shows_the_new_numbers_once_an_import_finishes(client, sign_in, bob, acme, breach):
    sign_in(bob)
    client.get(dashboard_url(acme, breach))

    exposure(breach, acme, "+12125550199", sms=7)
    breach.import_batches.create(
        upload="imports/x.csv",
        original_name="x.csv",
        sha256="0" * 64,
        format="csv",
        status="completed",
        finished_at=datetime(2024, 4, 20, tzinfo=UTC),
    )

    assert numbers_of(client.get(dashboard_url(acme, breach))).phones == 5


def test_a_viewer_sees_it_too(client, sign_in, vera, acme, breach):
    sign_in(vera)

    assert client.get(dashboard_url(acme, breach)).status_code == 200


def test_it_is_a_404_for_someone_outside_the_account(client, sign_in, charlie, acme, breach):
    sign_in(charlie)

    assert client.get(dashboard_url(acme, breach)).status_code == 404


def test_it_is_a_404_for_an_incident_without_exposures_in_the_account(
    client, sign_in, charlie, globex, acme, incident
):
    exposure(incident, acme, "+12125550143")
    sign_in(charlie)

    # Globex's own URL, Acme's incident: Globex has no exposures in it.
    assert client.get(dashboard_url(globex, incident)).status_code == 404


def test_it_is_a_404_for_an_unpublished_incident(client, sign_in, bob, acme):
    draft = factories.incident(status="draft")
    exposure(draft, acme, "+12125550143")
    sign_in(bob)

    assert client.get(dashboard_url(acme, draft)).status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(client, acme, breach):
    response = client.get(dashboard_url(acme, breach))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_rejects_a_post(client, sign_in, bob, acme, breach):
    sign_in(bob)

    assert client.post(dashboard_url(acme, breach)).status_code == 405


def test_the_account_home_links_to_each_incidents_dashboard(client, sign_in, vera, acme, breach):
    sign_in(vera)

    html = client.get(f"/o/{acme.public_id}/").content.decode()

    # To the response plan at the top of the dashboard (issue 15 point 1).
    assert f'href="{dashboard_url(acme, breach)}#plan"' in html
    assert f'href="{dashboard_url(acme, breach)}exposed/"' in html


def test_it_costs_the_same_queries_for_10_or_60_phones(client, sign_in, bob, acme, incident):
    def add_exposures(start, n):
        for i in range(start, start + n):
            person = factories.directory_user(acme, f"user{i}", phones=[]) if i % 2 else None
            exposure(incident, acme, f"+1212555{i:04d}", carrier=f"Carrier {i % 7}",
                     country="US", region=f"Region {i % 5}", directory_user=person)  # fmt: skip
            factories.log_record(incident, acme, phone=f"+1212555{i:04d}", sent_at=at(1 + i % 28))

    sign_in(bob)
    add_exposures(0, 10)
    client.get(dashboard_url(acme, incident))  # warm up: the session and anything cached once
    cache.clear()  # and every view below sums the exposures afresh
    with CaptureQueriesContext(connection) as few:
        assert numbers_of(client.get(dashboard_url(acme, incident))).phones == 10
    add_exposures(10, 50)
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        assert numbers_of(client.get(dashboard_url(acme, incident))).phones == 60

    assert len(many) == len(few)


def test_a_view_with_a_cold_cache_reads_neither_the_exposures_nor_the_logs_in_bulk(
    client, sign_in, bob, acme, breach
):
    sign_in(bob)
    cache.clear()

    with CaptureQueriesContext(connection) as cold:
        response = client.get(dashboard_url(acme, breach))

    assert numbers_of(response).phones == 4
    sqls = [query["sql"] for query in cold.captured_queries]
    exposure_table = f'"{Exposure._meta.db_table}"'
    assert not any(
        exposure_table in sql and ("GROUP BY" in sql or "COUNT(" in sql or "SUM(" in sql)
        for sql in sqls
    )
    assert not any(f'"{MessageLogRecord._meta.db_table}"' in sql for sql in sqls)


def test_the_clock_is_in_days_of_the_accounts_time_zone(client, sign_in, bob, acme):
    # Disclosed at 23:30 in New York on 1 April: that is 2 April in UTC.
    late = factories.incident(disclosed_at=datetime(2024, 4, 2, 3, 30, tzinfo=UTC))
    exposure(late, acme, "+12125550143")
    sign_in(bob)

    with time_machine.travel(datetime(2024, 4, 2, 12, tzinfo=UTC), tick=False):
        response = client.get(dashboard_url(acme, late))

    assert response.context["days_since_disclosure"] == 1


def test_it_shows_the_dashboard_in_the_members_language(client, sign_in, bob, acme, breach):
    bob.language = "fr"
    bob.save(update_fields=["language"])
    sign_in(bob)

    html = client.get(dashboard_url(acme, breach)).content.decode()

    assert '<html lang="fr">' in html
    # The breakdowns and the chart are written in Python: their words too.
    assert ">Par pays</h2>" in html
    assert ">Par opérateur télécom</h2>" in html
    assert '">Messages par jour</title>' in html
    assert "2 sur 3 téléphones associés." in html
    assert "Vocal" in html
