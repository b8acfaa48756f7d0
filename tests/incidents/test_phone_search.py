"""Searching the exposed users by phone digits tells no more than the mask shows.

The mask shows a number's country code and last four digits. Before issue 11 the search
matched any suffix, so anyone who could list the exposed users could extend those four
digits one at a time (`?q=<d>0143` for each d: the row stays only for the right one)
and recover whole numbers without the reveal capability, and unaudited. Now a member
who may not reveal numbers finds a number by its last four digits or by the whole of
it; those who may reveal search any digits, and each such search is audited as a reveal.

Acme's members: Alice (owner) and Sam (security staff) may reveal; Bob (admin) and Vera
(viewer) may not (tests/incidents/conftest.py).
"""

import csv
import io
import re

import pytest

from portal.audit.models import AuditEvent
from tests.incidents.exposures_world import export_url, exposed_url, exposure

pytestmark = pytest.mark.django_db

JANE = "+12125550143"  # the mask shows "+1 ••• ••• 0143"
MAY_NOT_REVEAL = ["bob", "vera"]
MAY_REVEAL = ["alice", "sam"]
MAY_NOT_EXPORT = ["vera"]  # the viewer searches the page; the export is not theirs


@pytest.fixture
def phones(acme, incident):
    exposure(incident, acme, JANE, country="US")
    # The same last four digits, so "0143" alone does not single Jane out.
    exposure(incident, acme, "+13105560143", country="US")
    exposure(incident, acme, "+447700900123", country="GB")
    return incident


def listed(response) -> list[str]:
    return sorted(row.phone_last_digits for row in response.context["rows"])


def exported(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def extend_by_one_digit(get_rows, known: str) -> list[str]:
    """The attack: each digit in front of what is known; the digits that keep a row."""
    return [digit for digit in "0123456789" if get_rows(digit + known)]


@pytest.mark.parametrize("role", MAY_NOT_REVEAL)
def test_the_digit_extension_attack_learns_nothing_without_the_reveal_capability(
    client, sign_in, acme, phones, role, request
):
    sign_in(request.getfixturevalue(role))

    def search(q):
        return listed(client.get(exposed_url(acme, phones), {"q": q}))

    def export(q):
        response = client.get(export_url(acme, phones), {"q": q})
        if role in MAY_NOT_EXPORT:
            assert response.status_code == 403
            return []
        return exported(response)

    # What the mask shows is searchable, on the page and in the export.
    assert search("0143") == ["0143", "0143"]
    assert len(export("0143")) == (0 if role in MAY_NOT_EXPORT else 2)
    # Every next digit, right or wrong, finds nothing: nothing tells them apart.
    assert extend_by_one_digit(search, "0143") == []
    assert extend_by_one_digit(export, "0143") == []
    # Nor does knowing more than the mask: any suffix short of the whole number.
    for known in ("50143", "550143", "5550143", "25550143", "125550143"):
        assert search(known) == [], known
    # A number they already hold, typed in full, is confirmed; that extends nothing.
    assert search("2125550143") == ["0143"]
    assert search("+1 (212) 555-0143") == ["0143"]
    # None of it was a reveal.
    assert not AuditEvent.objects.filter(action="phone.reveal").exists()


@pytest.mark.parametrize("role", MAY_REVEAL)
def test_those_who_may_reveal_search_any_digits_and_each_search_is_audited(
    client, sign_in, acme, phones, role, request
):
    member = request.getfixturevalue(role)
    sign_in(member)

    def search(q):
        return listed(client.get(exposed_url(acme, phones), {"q": q}))

    assert extend_by_one_digit(search, "0143") == ["5", "6"]
    assert extend_by_one_digit(search, "50143") == ["5"]

    events = AuditEvent.objects.filter(action="phone.reveal").order_by("id")
    assert events.count() == 20  # one per search past the mask, whatever it found
    assert {event.actor for event in events} == {member}
    assert {event.details["phone_search"] for event in events} == {"***0143"}  # masked
    found = [event.details for event in events if event.details["matched"]]
    jane = phones.exposures.get(phone=JANE)
    assert found[-1] == {
        "via": "search",
        "phone_search": "***0143",
        "digits": 6,
        "matched": 1,
        "exposures": [str(jane.public_id)],
    }
    assert [details["digits"] for details in found] == [5, 5, 6]


@pytest.mark.parametrize("role", MAY_REVEAL)
def test_a_search_by_the_last_four_digits_is_no_reveal(
    client, sign_in, acme, phones, role, request
):
    sign_in(request.getfixturevalue(role))

    assert listed(client.get(exposed_url(acme, phones), {"q": "0143"})) == ["0143", "0143"]
    assert listed(client.get(exposed_url(acme, phones), {"q": "Jane"})) == []

    assert not AuditEvent.objects.filter(action="phone.reveal").exists()


def test_an_export_by_more_digits_is_audited_as_a_reveal_of_what_it_holds(
    client, sign_in, acme, sam, phones
):
    sign_in(sam)

    rows = exported(client.get(export_url(acme, phones), {"q": "2125550143"}))

    assert [row["phone_last_digits"] for row in rows] == ["0143"]
    jane = phones.exposures.get(phone=JANE)
    reveal = AuditEvent.objects.get(action="phone.reveal")
    assert reveal.actor == sam
    assert reveal.details == {
        "via": "export",
        "phone_search": "***0143",
        "digits": 10,
        "matched": 1,
        "exposures": [str(jane.public_id)],
    }
    export = AuditEvent.objects.get(action="exposure.export")
    assert export.details == {
        "filters": {"q": "***0143"},
        "numbers": "masked",
        "rows": 1,
        "how": "streamed",
    }


@pytest.mark.parametrize("role", [*MAY_NOT_REVEAL, *MAY_REVEAL])
def test_no_audit_event_holds_the_number_searched_for(client, sign_in, acme, phones, role, request):
    sign_in(request.getfixturevalue(role))

    may_export = role not in MAY_NOT_EXPORT
    for q in ("9716281352", "+1 212 555 0143", "212-555-0143", "0012125550143"):
        client.get(exposed_url(acme, phones), {"q": q})
        if may_export:
            b"".join(client.get(export_url(acme, phones), {"q": q}).streaming_content)

    events = AuditEvent.objects.exclude(action="signin.success")
    assert ({"exposure.export"} <= set(events.values_list("action", flat=True))) is may_export
    # Not the numbers, nor more of them than the mask shows, whatever the separators.
    stored = re.sub(r"[ ().+-]", "", " ".join(str(event.details) for event in events))
    for digits in ("9716281352", "2125550143", "50143"):
        assert digits not in stored, stored
