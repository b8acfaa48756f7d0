"""Exposed users (DESIGN.md flow 4): search, filters, sort and pages; masked phones and
the audited reveal; the CSV export; one phone's timeline; the phones without a match."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.models import AuditEvent
from portal.incidents.exposures import paging, views
from portal.incidents.models import MessageLogRecord
from tests import factories
from tests.accounts.auth import signed_in
from tests.core.test_layout import assert_nothing_inline_without_the_nonce
from tests.incidents.exposures_world import (
    at,
    detail_url,
    export_url,
    exposed_url,
    exposure,
    reveal_url,
    unmatched_url,
)

pytestmark = pytest.mark.django_db


# The accounts, members, incident and sign_in come from tests/incidents/conftest.py.


@pytest.fixture
def people(acme):
    return {
        "jane": factories.directory_user(
            acme, "jdoe", name="Jane Doe", email="jane.doe@acme.example", phones=[]
        ),
        "john": factories.directory_user(
            acme, "jsmith", name="John Smith", email="john@acme.example", phones=[]
        ),
        "marie": factories.directory_user(
            acme, "mmuller", name="Marie Müller", email="", phones=[]
        ),
    }


@pytest.fixture
def breach(acme, globex, incident, people):
    """Four phones of Acme's (one nobody's), and one of Globex's."""
    notified = datetime(2024, 4, 13, 9, tzinfo=UTC)
    exposure(incident, acme, "+12125550143", sms=5, voice=1, country="US", region="New York",
             carrier="Verizon Wireless", directory_user=people["jane"], last_notified_at=notified,
             first_seen_at=at(2), last_seen_at=at(20))  # fmt: skip
    exposure(incident, acme, "+447700900123", sms=0, voice=2, country="GB", region="England",
             carrier="Vodafone UK", directory_user=people["john"],
             first_seen_at=at(5), last_seen_at=at(25))  # fmt: skip
    exposure(incident, acme, "+4915123456789", sms=9, country="DE", region="Bayern",
             carrier="Telekom Deutschland", directory_user=people["marie"],
             first_seen_at=at(1), last_seen_at=at(10))  # fmt: skip
    exposure(incident, acme, "+14155550199", sms=3, country="US", region="California",
             carrier="AT&T Mobility", first_seen_at=at(3), last_seen_at=at(30))  # fmt: skip
    exposure(incident, globex, "+33612345678", sms=100, country="FR", carrier="Orange",
             first_seen_at=at(1), last_seen_at=at(31))  # fmt: skip
    return incident


def phones_listed(response) -> list[str]:
    return [row.phone_masked for row in response.context["rows"]]


def last_digits_listed(response) -> list[str]:
    return [row.phone_last_digits for row in response.context["rows"]]


# --- The list ----------------------------------------------------------------------


def test_it_lists_the_accounts_exposed_phones_most_recent_first(client, sign_in, bob, acme, breach):
    sign_in(bob)

    response = client.get(exposed_url(acme, breach))

    assert response.status_code == 200
    assert last_digits_listed(response) == ["0199", "0123", "0143", "6789"]
    html = response.content.decode()
    assert "Jane Doe" in html
    assert "jane.doe@acme.example" in html
    assert "No directory match" in html
    assert "5678" not in html  # Globex's phone
    assert "4 phones" in html
    assert_nothing_inline_without_the_nonce(response)


@pytest.mark.parametrize("role", ["alice", "bob", "sam", "vera"])
def test_every_role_sees_the_phones_masked(client, sign_in, acme, breach, role, request):
    sign_in(request.getfixturevalue(role))

    html = client.get(exposed_url(acme, breach)).content.decode()

    assert "+1 ••• ••• 0143" in html
    assert "+44 ••• ••• 0123" in html
    for full in ("+12125550143", "212-555-0143", "2125550143", "7700 900123", "7700900123"):
        assert full not in html


@pytest.mark.parametrize(("role", "offered"), [("sam", True), ("alice", True), ("bob", False), ("vera", False)])  # fmt: skip
def test_only_those_who_may_reveal_get_a_reveal_button(
    client, sign_in, acme, breach, role, offered, request
):
    sign_in(request.getfixturevalue(role))

    html = client.get(exposed_url(acme, breach)).content.decode()

    assert ("/reveal/" in html) is offered
    assert ("Reveal the number ending 0143" in html) is offered


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("jane", ["0143"]),  # name, any case
        ("DOE", ["0143"]),
        ("john@acme", ["0123"]),  # email
        ("mmuller", ["6789"]),  # username
        ("0143", ["0143"]),  # the last four digits, what every mask shows
        ("143", ["0143"]),
        ("+1 212-555-0143", ["0143"]),  # a whole number, as people write it
        ("212 555 0143", ["0143"]),  # in national form
        ("07700 900123", ["0123"]),  # with the trunk 0
        ("0044 7700 900123", ["0123"]),  # dialled from abroad
        ("555 0199", []),  # more than the mask shows, less than the number: nothing
        ("nobody", []),
    ],
)
def test_it_searches_names_emails_usernames_and_last_digits(
    client, sign_in, bob, acme, breach, q, expected
):
    sign_in(bob)

    response = client.get(exposed_url(acme, breach), {"q": q})

    assert last_digits_listed(response) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"country": "US"}, ["0199", "0143"]),
        ({"region": "England"}, ["0123"]),
        ({"carrier": "AT&T Mobility"}, ["0199"]),
        ({"message_type": "sms"}, ["0199", "0143", "6789"]),
        ({"message_type": "voice"}, ["0123", "0143"]),
        ({"message_type": "both"}, ["0143"]),
        ({"matched": "yes"}, ["0123", "0143", "6789"]),
        ({"matched": "no"}, ["0199"]),
        ({"notified": "yes"}, ["0143"]),
        ({"notified": "no"}, ["0199", "0123", "6789"]),
        ({"country": "US", "matched": "yes"}, ["0143"]),
    ],
)
def test_it_filters(client, sign_in, bob, acme, breach, filters, expected):
    sign_in(bob)

    response = client.get(exposed_url(acme, breach), filters)

    assert last_digits_listed(response) == expected
    assert "these filters" in response.content.decode()


def test_its_selects_offer_the_values_the_accounts_phones_have(client, sign_in, bob, acme, breach):
    sign_in(bob)

    form = client.get(exposed_url(acme, breach)).context["form"]

    assert form.fields["country"].choices == [
        ("", "Any country"),
        ("DE", "Germany (DE)"),
        ("GB", "United Kingdom (GB)"),
        ("US", "United States (US)"),
    ]
    assert [value for value, _ in form.fields["region"].choices] == [
        "",
        "Bayern",
        "California",
        "England",
        "New York",
    ]
    assert "Orange" not in dict(form.fields["carrier"].choices)  # Globex's


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-last_seen", ["0199", "0123", "0143", "6789"]),
        ("last_seen", ["6789", "0143", "0123", "0199"]),
        ("-first_seen", ["0123", "0199", "0143", "6789"]),
        ("first_seen", ["6789", "0143", "0199", "0123"]),
        ("-messages", ["6789", "0143", "0199", "0123"]),
        ("messages", ["0123", "0199", "0143", "6789"]),
        ("country", ["6789", "0123", "0199", "0143"]),  # DE, GB, US California, US New York
        ("-country", ["0143", "0199", "0123", "6789"]),
    ],
)
def test_it_sorts(client, sign_in, bob, acme, breach, sort, expected):
    sign_in(bob)

    assert last_digits_listed(client.get(exposed_url(acme, breach), {"sort": sort})) == expected


def test_it_ignores_a_sort_it_does_not_know(client, sign_in, bob, acme, breach):
    sign_in(bob)

    response = client.get(exposed_url(acme, breach), {"sort": "phone; DROP TABLE"})

    assert last_digits_listed(response) == ["0199", "0123", "0143", "6789"]
    assert response.context["form"].errors["sort"]


def test_its_pages_keep_the_filters(client, sign_in, bob, acme, incident):
    for i in range(60):
        exposure(incident, acme, f"+1212555{i:04d}", country="US", last_seen_at=at(1, 0, i))
    exposure(incident, acme, "+447700900123", country="GB")
    sign_in(bob)

    first = client.get(exposed_url(acme, incident), {"country": "US"})
    second = client.get(exposed_url(acme, incident), {"country": "US", "page": "2"})

    assert len(first.context["rows"]) == 50
    assert "?country=US&amp;page=2" in first.content.decode()
    assert "1\u201350 of 60 phones" in first.content.decode()  # an en dash
    assert len(second.context["rows"]) == 10
    assert all(row.country == "US" for row in second.context["rows"])
    assert "export.csv?country=US" in second.content.decode()


def test_it_counts_every_phone_when_nothing_is_filtered(client, sign_in, bob, acme, incident):
    for i in range(51):
        exposure(incident, acme, f"+1212555{i:04d}")
    sign_in(bob)

    response = client.get(exposed_url(acme, incident))

    assert response.context["page"].paginator.count == 51
    assert response.context["page"].paginator.num_pages == 2


def test_it_is_a_404_for_someone_outside_the_account(client, sign_in, charlie, acme, breach):
    sign_in(charlie)

    assert client.get(exposed_url(acme, breach)).status_code == 404
    assert client.get(unmatched_url(acme, breach)).status_code == 404
    assert client.get(export_url(acme, breach)).status_code == 404


def test_it_is_a_404_for_an_unpublished_incident(client, sign_in, bob, acme):
    draft = factories.incident(status="draft")
    exposure(draft, acme, "+12125550143")
    sign_in(bob)

    assert client.get(exposed_url(acme, draft)).status_code == 404


def test_the_list_costs_the_same_queries_for_10_or_60_phones(client, sign_in, sam, acme, incident):
    def add_exposures(start, n):
        for i in range(start, start + n):
            person = factories.directory_user(acme, f"user{i}", phones=[]) if i % 2 else None
            exposure(incident, acme, f"+1212555{i:04d}", carrier=f"Carrier {i % 7}",
                     country="US", region=f"Region {i % 5}", directory_user=person)  # fmt: skip

    sign_in(sam)
    add_exposures(0, 10)
    client.get(exposed_url(acme, incident))  # warm up: the session and anything cached once
    for params in ({}, {"country": "US", "q": "user"}):
        cache.clear()
        with CaptureQueriesContext(connection) as few:
            client.get(exposed_url(acme, incident), params)
        add_exposures(100 + len(params) * 100, 50)
        cache.clear()
        with CaptureQueriesContext(connection) as many:
            response = client.get(exposed_url(acme, incident), params)

        assert len(response.context["rows"]) == 50
        assert len(many) == len(few), params


def test_the_list_costs_the_same_queries_however_many_directory_users_match(
    client, sign_in, sam, acme, incident
):
    # Each row shows its person, joined: never a query per row.
    for i in range(60):
        person = factories.directory_user(acme, f"user{i}", phones=[])
        exposure(incident, acme, f"+1212555{i:04d}", directory_user=person)
    signed_in(client, sam)
    client.get(exposed_url(acme, incident))

    with CaptureQueriesContext(connection) as eleven:
        client.get(exposed_url(acme, incident), {"q": "user1"})  # user1, user10..19
    with CaptureQueriesContext(connection) as fifty:
        response = client.get(exposed_url(acme, incident), {"q": "user"})

    assert len(response.context["rows"]) == 50
    assert len(eleven) == len(fifty)


# --- Revealing a number --------------------------------------------------------------


def jane_phone(breach):
    return breach.exposures.get(phone="+12125550143")


def test_security_staff_reveal_a_number_and_it_is_audited(client, acme, sam, breach):
    signed_in(client, sam)
    found = jane_phone(breach)

    response = client.post(reveal_url(acme, breach, found), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert "+1 212-555-0143" in html
    assert f'id="phone-{found.public_id}"' in html
    assert "<html" not in html  # a partial, swapped in by htmx
    assert response.headers["Cache-Control"].startswith("max-age=0")
    event = AuditEvent.objects.get(action="phone.reveal")
    assert event.actor == sam
    assert event.organization == acme
    assert event.target_type == "incidents.exposure"
    assert event.target_id == str(found.public_id)
    assert "2125550143" not in str(event.details) + event.target_label
    assert event.details == {"incident": str(breach.public_id)}


def test_each_reveal_is_audited(client, acme, sam, breach):
    signed_in(client, sam)
    found = jane_phone(breach)

    client.post(reveal_url(acme, breach, found), HTTP_HX_REQUEST="true")
    client.post(reveal_url(acme, breach, found), HTTP_HX_REQUEST="true")

    assert AuditEvent.objects.filter(action="phone.reveal").count() == 2


def test_a_reveal_without_javascript_shows_a_page(client, acme, sam, breach):
    signed_in(client, sam)

    response = client.post(reveal_url(acme, breach, jane_phone(breach)))

    assert response.status_code == 200
    assert "+1 212-555-0143" in response.content.decode()
    assert "<html" in response.content.decode()
    assert_nothing_inline_without_the_nonce(response)


def test_a_reveal_is_post_only(client, acme, sam, breach):
    signed_in(client, sam)

    response = client.get(reveal_url(acme, breach, jane_phone(breach)))

    assert response.status_code == 405
    assert not AuditEvent.objects.filter(action="phone.reveal").exists()


@pytest.mark.parametrize("role", ["bob", "vera"])
def test_admins_and_viewers_may_not_reveal(client, acme, breach, role, request):
    signed_in(client, request.getfixturevalue(role))

    response = client.post(reveal_url(acme, breach, jane_phone(breach)), HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert "0143" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="phone.reveal").exists()


def test_revealing_another_accounts_phone_is_a_404(client, acme, globex, breach):
    globex_security = factories.member(globex, "sec@globex.example", "security")
    signed_in(client, globex_security)
    found = jane_phone(breach)

    # Acme's URL: not a member. Globex's URL with Acme's exposure: no such exposure.
    assert client.post(reveal_url(acme, breach, found)).status_code == 404
    globex_url = reveal_url(globex, breach, found)
    assert client.post(globex_url, HTTP_HX_REQUEST="true").status_code == 404
    assert not AuditEvent.objects.filter(action="phone.reveal").exists()


def test_revealing_asks_to_reauthenticate_when_the_sign_in_is_stale(client, acme, sam, breach):
    signed_in(client, sam, seconds_ago=11 * 60)
    url = reveal_url(acme, breach, jane_phone(breach))

    response = client.post(url)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/?next=")
    assert not AuditEvent.objects.filter(action="phone.reveal").exists()
    # After the password, allauth replays the reveal.
    response = client.post(response.url, {"password": factories.PASSWORD})
    assert response.status_code == 200
    assert "+1 212-555-0143" in response.content.decode()
    assert AuditEvent.objects.filter(action="phone.reveal").count() == 1


def test_an_htmx_reveal_sends_the_whole_page_to_reauthenticate(client, acme, sam, breach):
    signed_in(client, sam, seconds_ago=11 * 60)
    page = f"http://testserver{exposed_url(acme, breach)}?country=US"

    response = client.post(
        reveal_url(acme, breach, jane_phone(breach)),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=page,
    )

    assert response.status_code == 200
    assert response.content == b""
    assert response["HX-Redirect"].startswith("/accounts/reauthenticate/?next=")
    assert "%2Fexposed%2F%3Fcountry%3DUS" in response["HX-Redirect"]
    assert not AuditEvent.objects.filter(action="phone.reveal").exists()


def test_an_htmx_reveal_never_sends_anyone_to_another_site(client, acme, sam, breach):
    signed_in(client, sam, seconds_ago=11 * 60)
    found = jane_phone(breach)

    response = client.post(
        reveal_url(acme, breach, found),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="https://evil.example/phish",
    )

    assert "evil" not in response["HX-Redirect"]
    assert str(found.public_id) in response["HX-Redirect"]


# --- The export ----------------------------------------------------------------------


def exported(response) -> list[dict]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_it_exports_the_filtered_list_masked_and_audited(client, sign_in, bob, acme, breach):
    sign_in(bob)

    response = client.get(export_url(acme, breach), {"country": "US", "sort": "messages"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="vigil-exposed-DA9XK2ACME-' in response["Content-Disposition"]
    rows = exported(response)
    assert [row["phone_last_digits"] for row in rows] == ["0199", "0143"]
    jane = rows[1]
    # Masked, and not quoted: the mask comes from a validated E.164 number, and a SIEM
    # joins on it as written (issue 16).
    assert jane["phone"] == "+1 ••• ••• 0143"
    assert jane["name"] == "Jane Doe"
    assert jane["email"] == "jane.doe@acme.example"
    assert (jane["sms"], jane["voice"], jane["messages"]) == ("5", "1", "6")
    assert jane["first_message"] == "2024-03-02T07:00:00-05:00"  # New York time
    assert jane["last_notified"] == "2024-04-13T05:00:00-04:00"
    event = AuditEvent.objects.get(action="exposure.export")
    assert event.actor == bob
    assert event.organization == acme
    assert event.target_id == str(breach.public_id)
    assert event.details == {
        "filters": {"country": "US", "sort": "messages"},
        "numbers": "masked",
        "rows": 2,
        "how": "streamed",
    }


def test_the_export_masks_phones_for_security_staff_too(client, acme, sam, breach):
    signed_in(client, sam)

    rows = exported(client.get(export_url(acme, breach)))

    assert len(rows) == 4
    assert all("•••" in row["phone"] for row in rows)
    assert not any("2125550143" in value for row in rows for value in row.values())


def test_the_export_is_safe_against_formula_injection(client, sign_in, bob, acme, incident):
    evil = factories.directory_user(
        acme,
        "=cmd",
        name='=HYPERLINK("https://evil.example","Click")',
        email="@SUM(1+1)@acme.example",
        phones=[],
    )
    exposure(incident, acme, "+12125550143", directory_user=evil, carrier="-2+3")
    sign_in(bob)

    row = exported(client.get(export_url(acme, incident)))[0]

    assert row["name"] == '\'=HYPERLINK("https://evil.example","Click")'
    assert row["username"] == "'=cmd"
    assert row["email"] == "'@SUM(1+1)@acme.example"
    assert row["carrier"] == "'-2+3"
    # Guarded: free text only. The phone, its last digits and the codes are as written.
    assert row["phone"] == "+1 ••• ••• 0143"
    assert row["phone_last_digits"] == "0143"
    assert row["country"] == "US"


def test_the_export_is_a_404_for_someone_outside_the_account(
    client, sign_in, charlie, acme, breach
):
    sign_in(charlie)

    assert client.get(export_url(acme, breach)).status_code == 404
    assert not AuditEvent.objects.filter(action="exposure.export").exists()


@pytest.mark.parametrize(("role", "allowed"), [("alice", True), ("bob", True), ("sam", True), ("vera", False)])  # fmt: skip
def test_exporting_names_and_emails_is_a_capability_of_its_own(
    request, client, sign_in, acme, breach, role, allowed
):
    sign_in(request.getfixturevalue(role))

    page = client.get(exposed_url(acme, breach)).content.decode()
    response = client.get(export_url(acme, breach))

    assert (export_url(acme, breach) in page) is allowed
    assert response.status_code == (200 if allowed else 403)
    assert AuditEvent.objects.filter(action="exposure.export").exists() is allowed


def test_a_viewer_sees_counts_and_masked_rows_only(client, sign_in, vera, acme, breach):
    sign_in(vera)

    response = client.get(exposed_url(acme, breach))
    page = response.content.decode()

    assert "4 phones" in page
    assert "Jane Doe" not in page
    assert "jane.doe@acme.example" not in page
    assert "J. D." in page
    assert "j•••@acme.example" in page
    assert "Names and emails are masked for your role" in page
    detail = client.get(detail_url(acme, breach, jane_phone(breach))).content.decode()
    assert "Jane Doe" not in detail
    assert "jane.doe@acme.example" not in detail
    assert "jdoe" not in detail
    assert "j•••@acme.example" in detail


# --- One phone's page ----------------------------------------------------------------


def test_it_shows_a_phones_timeline_in_the_accounts_time_zone(client, sign_in, bob, acme, breach):
    found = jane_phone(breach)
    factories.log_record(
        breach, acme, phone=found.phone, sent_at=datetime(2024, 3, 2, 3, 30, tzinfo=UTC),
        context="enrollment", carrier="Verizon Wireless", region="New York",
        extra={"route": "r07"},
    )  # fmt: skip
    factories.log_record(
        breach, acme, phone=found.phone, sent_at=datetime(2024, 3, 20, 14, tzinfo=UTC),
        message_type=MessageLogRecord.MessageType.VOICE, context="authentication",
    )  # fmt: skip
    factories.log_record(breach, acme, phone="+14155550199", context="not-janes")
    sign_in(bob)

    response = client.get(detail_url(acme, breach, found))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Jane Doe" in html
    assert "+1 ••• ••• 0143" in html
    assert "+12125550143" not in html
    # 03:30 UTC on 2 March is 22:30 on 1 March in New York (EST); 20 March is EDT.
    assert "Fri 1 Mar 2024, 22:30:00" in html
    assert "EST" in html
    assert "Wed 20 Mar 2024, 10:00:00" in html
    assert "EDT" in html
    assert "enrollment" in html
    assert "Voice" in html
    assert "not-janes" not in html
    assert "r07" not in html  # metadata the page does not show
    assert [record.context for record in response.context["page"]] == [
        "enrollment",
        "authentication",
    ]
    assert_nothing_inline_without_the_nonce(response)


def test_it_lists_the_persons_other_exposed_phones(client, sign_in, vera, acme, breach, people):
    other = exposure(breach, acme, "+12125550100", directory_user=people["jane"])
    sign_in(vera)

    response = client.get(detail_url(acme, breach, jane_phone(breach)))

    assert response.context["other_phones"] == [other]
    assert detail_url(acme, breach, other) in response.content.decode()


def test_a_long_timeline_is_paginated(client, sign_in, bob, acme, breach):
    found = jane_phone(breach)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for i in range(130):
        factories.log_record(breach, acme, phone=found.phone, sent_at=start + timedelta(hours=i))
    sign_in(bob)

    first = client.get(detail_url(acme, breach, found))
    second = client.get(detail_url(acme, breach, found), {"page": "2"})

    assert len(first.context["page"]) == 100
    assert len(second.context["page"]) == 30
    assert "?page=2" in first.content.decode()


def test_a_phone_page_costs_the_same_queries_for_a_short_or_long_timeline(
    client, sign_in, bob, acme, breach
):
    found = jane_phone(breach)
    sign_in(bob)
    client.get(detail_url(acme, breach, found))
    for i in range(5):
        factories.log_record(breach, acme, phone=found.phone, sent_at=at(1, i))

    with CaptureQueriesContext(connection) as short:
        client.get(detail_url(acme, breach, found))
    for i in range(60):
        factories.log_record(breach, acme, phone=found.phone, sent_at=at(2, i % 24, i))
    with CaptureQueriesContext(connection) as long:
        client.get(detail_url(acme, breach, found))

    assert len(long) == len(short)


def test_another_accounts_phone_is_a_404(client, sign_in, bob, acme, globex, breach):
    theirs = breach.exposures.get(organization=globex)
    sign_in(bob)

    assert client.get(detail_url(acme, breach, theirs)).status_code == 404


def test_a_phone_of_another_incident_is_a_404_under_this_one(client, sign_in, bob, acme, breach):
    other_incident = factories.incident(title="Another breach")
    elsewhere = exposure(other_incident, acme, "+12125550143")
    sign_in(bob)

    assert client.get(detail_url(acme, breach, elsewhere)).status_code == 404
    assert client.get(detail_url(acme, other_incident, elsewhere)).status_code == 200


# --- Phones without a match ----------------------------------------------------------


def test_it_lists_only_the_phones_without_a_match(client, sign_in, bob, acme, breach):
    sign_in(bob)

    response = client.get(unmatched_url(acme, breach))

    assert response.status_code == 200
    assert last_digits_listed(response) == ["0199"]
    html = response.content.decode()
    assert "Jane Doe" not in html
    assert "1 exposed phone belongs to no one in your directory" in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_prompts_those_who_may_to_import_the_directory(client, sign_in, bob, acme, breach):
    sign_in(bob)

    html = client.get(unmatched_url(acme, breach)).content.decode()

    assert f'href="/o/{acme.public_id}/directory/"' in html
    assert "Import the directory" in html


def test_it_tells_the_others_whom_to_ask(client, sign_in, vera, acme, breach):
    sign_in(vera)

    html = client.get(unmatched_url(acme, breach)).content.decode()

    assert "/directory/" not in html
    assert "Ask an owner or admin of Acme Corp to import it." in html


def test_it_says_when_no_directory_was_imported_yet(client, sign_in, bob, acme, incident):
    exposure(incident, acme, "+12125550143")
    sign_in(bob)

    html = client.get(unmatched_url(acme, incident)).content.decode()

    assert "it has not been imported yet" in html


def test_it_says_when_every_phone_has_a_match(client, sign_in, bob, acme, incident, people):
    exposure(incident, acme, "+12125550143", directory_user=people["jane"])
    sign_in(bob)

    html = client.get(unmatched_url(acme, incident)).content.decode()

    assert "Every exposed phone belongs to someone in your directory." in html


def test_the_unmatched_list_costs_the_same_queries_for_10_or_60_phones(
    client, sign_in, bob, acme, incident
):
    sign_in(bob)
    for i in range(10):
        exposure(incident, acme, f"+1212555{i:04d}")
    client.get(unmatched_url(acme, incident))
    with CaptureQueriesContext(connection) as few:
        client.get(unmatched_url(acme, incident))
    for i in range(10, 60):
        exposure(incident, acme, f"+1212555{i:04d}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(unmatched_url(acme, incident))

    assert len(response.context["rows"]) == 50
    assert len(many) == len(few)


def test_a_filter_by_place_is_counted_from_the_rollup(client, acme, bob, breach):
    signed_in(client, bob)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(exposed_url(acme, breach), {"country": "US"})

    assert response.context["page"].paginator.count == 2
    assert "2 phones match these filters" in response.content.decode()
    assert not [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"]]


def test_a_later_page_of_a_search_does_not_count_again(client, acme, bob, breach, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    signed_in(client, bob)
    client.get(exposed_url(acme, breach), {"q": "a"})

    with CaptureQueriesContext(connection) as captured:
        second = client.get(exposed_url(acme, breach), {"q": "a", "page": "2"})

    assert second.context["page"].number == 2
    assert not [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"]]


@pytest.mark.postgres
def test_a_search_past_the_threshold_shows_an_estimate_labelled_as_such(
    client, acme, bob, breach, monkeypatch
):
    monkeypatch.setattr(paging, "ESTIMATE_ABOVE", 0)
    signed_in(client, bob)

    response = client.get(exposed_url(acme, breach), {"q": "a"})

    assert response.context["page"].paginator.estimated
    page = response.content.decode()
    assert "About " in page
    assert "(an estimate: too many to count on every page)" in page


def test_a_page_seen_again_does_not_search_the_directory_again(client, acme, bob, breach):
    signed_in(client, bob)
    first = client.get(exposed_url(acme, breach), {"q": "Doe"})

    with CaptureQueriesContext(connection) as captured:
        again = client.get(exposed_url(acme, breach), {"q": "Doe"})

    assert last_digits_listed(again) == last_digits_listed(first) == ["0143"]
    assert not [q["sql"] for q in captured.captured_queries if "LIKE" in q["sql"]]


def test_a_page_seen_before_shows_a_phone_the_import_added_since(
    client, acme, bob, breach, monkeypatch
):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    signed_in(client, bob)

    def listed(params):
        return last_digits_listed(client.get(exposed_url(acme, breach), params))

    assert (listed({"page": "2"}), listed({"country": "US"})) == (
        ["0143", "6789"],
        ["0199", "0143"],
    )

    # As the import writes it: the rollup refreshed with the exposures.
    exposure(breach, acme, "+12125550777", country="US", last_seen_at=at(29))

    assert (listed({"page": "2"}), listed({"country": "US"})) == (
        ["0123", "0143"],
        ["0199", "0777"],
    )


def test_a_viewer_cannot_find_people_by_the_names_the_mask_withholds(
    client, sign_in, vera, bob, acme, breach
):
    sign_in(bob)
    admin_page = client.get(exposed_url(acme, breach), {"q": "Jane"}).content.decode()
    sign_in(vera)

    by_name = client.get(exposed_url(acme, breach), {"q": "Jane"}).content.decode()
    by_email = client.get(exposed_url(acme, breach), {"q": "jane.doe@"}).content.decode()
    by_digits = client.get(exposed_url(acme, breach), {"q": "0143"}).content.decode()

    assert "J. D." in admin_page or "Jane Doe" in admin_page
    assert "1 phone" in admin_page
    assert "J. D." not in by_name
    assert "0 phones" in by_name
    assert "0 phones" in by_email
    assert "J. D." in by_digits
    assert "names and emails are masked for your role, so they are not searched" in by_name
