"""An account's audit log: who may see it, what is in it, and its filters."""

from datetime import UTC, datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.accounts.models import Membership
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from portal.audit.views import CappedPaginator
from tests import factories
from tests.core.test_layout import assert_nothing_inline_without_the_nonce


def url(org) -> str:
    return f"/o/{org.public_id}/audit/"


def listed(response) -> list[AuditEvent]:
    return list(response.context["page"].object_list)


def test_it_shows_the_accounts_events_to_the_owner(client, sign_in, alice, acme):
    audit_record(action="phone.reveal", actor=alice, organization=acme, details={"last4": "0143"})
    sign_in(alice)

    response = client.get(url(acme))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Revealed a phone number" in html
    assert "phone.reveal" in html
    assert "last4:" in html
    assert "Alice Adams" in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_shows_them_to_an_admin(client, sign_in, bob, alice, acme):
    audit_record(action="phone.reveal", actor=alice, organization=acme)
    sign_in(bob)

    response = client.get(url(acme))

    assert response.status_code == 200
    assert [event.action for event in listed(response)] == ["phone.reveal"]


def test_it_refuses_a_viewer(client, sign_in, vera, acme):
    sign_in(vera)

    assert client.get(url(acme)).status_code == 403


def test_it_is_a_404_for_someone_outside_the_account(client, sign_in, charlie, acme):
    sign_in(charlie)

    assert client.get(url(acme)).status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(client, acme):
    response = client.get(url(acme))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_it_never_shows_another_accounts_events(client, sign_in, alice, acme, globex, charlie):
    audit_record(action="phone.reveal", actor=charlie, organization=globex)
    audit_record(action="logcopy.download", actor=alice, organization=acme)
    sign_in(alice)

    response = client.get(url(acme))

    assert [event.action for event in listed(response)] == ["logcopy.download"]
    assert "charlie@globex.example" not in response.content.decode()


def test_it_shows_sign_ins_of_its_members_but_not_of_others(
    client, sign_in, alice, bob, acme, charlie
):
    audit_record(action="signin.success", actor=bob)
    audit_record(action="mfa.factor_added", actor=bob, details={"factor": "totp"})
    audit_record(action="signin.failure", actor=charlie)
    audit_record(action="signin.failure")  # an unknown login name: no actor
    sign_in(alice)

    response = client.get(url(acme))

    events = listed(response)
    assert {(event.actor_label, event.action) for event in events} == {
        ("bob@acme.example", "signin.success"),
        ("bob@acme.example", "mfa.factor_added"),
    }
    assert "charlie@globex.example" not in response.content.decode()


def test_it_shows_only_sign_in_and_factor_events_without_an_account(
    client, sign_in, alice, bob, acme
):
    # Bob's account-less events other than signing in belong to no account's log.
    audit_record(action="operator.something", actor=bob)
    sign_in(alice)

    assert listed(client.get(url(acme))) == []


def test_it_stops_showing_sign_ins_of_someone_who_left(client, sign_in, alice, bob, acme):
    audit_record(action="signin.success", actor=bob)
    Membership.objects.filter(user=bob).delete()
    sign_in(alice)

    assert listed(client.get(url(acme))) == []


def test_it_lists_newest_first(client, sign_in, alice, acme, record_at):
    record_at(datetime(2024, 3, 2, 9, 0, tzinfo=UTC), action="b.second", organization=acme)
    record_at(datetime(2024, 3, 1, 9, 0, tzinfo=UTC), action="a.first", organization=acme)
    record_at(datetime(2024, 3, 3, 9, 0, tzinfo=UTC), action="c.third", organization=acme)
    sign_in(alice)

    response = client.get(url(acme))

    assert [event.action for event in listed(response)] == ["c.third", "b.second", "a.first"]


def test_it_shows_times_in_the_accounts_time_zone(client, sign_in, alice, acme, record_at):
    record_at(datetime(2024, 3, 9, 23, 30, tzinfo=UTC), action="phone.reveal", organization=acme)
    sign_in(alice)

    html = client.get(url(acme)).content.decode()

    assert "Europe/Berlin" in html
    assert "2024-03-10 00:30:00" in html
    assert "CET" in html


def test_it_filters_by_who_exactly_or_by_part(client, sign_in, alice, bob, acme):
    jbob = factories.member(acme, "jbob@acme.example")
    audit_record(action="phone.reveal", actor=bob, organization=acme)
    audit_record(action="phone.reveal", actor=jbob, organization=acme)
    audit_record(action="phone.reveal", actor=alice, organization=acme)
    sign_in(alice)

    exact = listed(client.get(url(acme), {"who": "BOB@acme.example"}))
    part = listed(client.get(url(acme), {"who": "bob"}))

    assert [event.actor_label for event in exact] == ["bob@acme.example"]
    assert {event.actor_label for event in part} == {"bob@acme.example", "jbob@acme.example"}


def test_it_filters_by_action_or_its_prefix(client, sign_in, alice, bob, acme):
    audit_record(action="signin.success", actor=bob)
    audit_record(action="signin.failure", actor=bob)
    audit_record(action="phone.reveal", actor=bob, organization=acme)
    sign_in(alice)

    response = client.get(url(acme), {"action": "signin.failure"})
    by_prefix = listed(client.get(url(acme), {"action_prefix": "signin."}))

    assert [event.action for event in listed(response)] == ["signin.failure"]
    assert {event.action for event in by_prefix} == {"signin.success", "signin.failure"}
    # The select offers the actions present, labelled and grouped by prefix.
    html = response.content.decode()
    assert '<optgroup label="phone.*">' in html
    assert '<option value="phone.reveal">Revealed a phone number</option>' in html


def test_it_filters_by_days_in_the_accounts_time_zone(client, sign_in, alice, acme, record_at):
    # 23:30 UTC on the 9th is 00:30 on the 10th in Berlin: it belongs to the 10th.
    late = record_at(datetime(2024, 3, 9, 23, 30, tzinfo=UTC), action="a.late", organization=acme)
    early = record_at(datetime(2024, 3, 9, 22, 30, tzinfo=UTC), action="a.early", organization=acme)
    next_day = record_at(
        datetime(2024, 3, 10, 23, 30, tzinfo=UTC), action="a.next", organization=acme
    )
    sign_in(alice)

    on_the_10th = listed(
        client.get(url(acme), {"date_from": "2024-03-10", "date_to": "2024-03-10"})
    )
    until_the_9th = listed(client.get(url(acme), {"date_to": "2024-03-09"}))
    from_the_11th = listed(client.get(url(acme), {"date_from": "2024-03-11"}))

    assert on_the_10th == [late]
    assert until_the_9th == [early]
    assert from_the_11th == [next_day]


def test_it_says_when_the_dates_are_the_wrong_way_round(client, sign_in, alice, acme):
    audit_record(action="phone.reveal", actor=alice, organization=acme)
    sign_in(alice)

    response = client.get(url(acme), {"date_from": "2024-03-10", "date_to": "2024-03-01"})

    assert "The end date is before the start date." in response.content.decode()


def test_it_labels_known_actions_and_shows_unknown_ones_as_they_are(client, sign_in, alice, acme):
    audit_record(action="logcopy.download", actor=alice, organization=acme)
    audit_record(action="brand.new_thing", actor=alice, organization=acme)
    sign_in(alice)

    html = client.get(url(acme)).content.decode()

    assert "Downloaded a log copy" in html
    assert "brand.new_thing" in html


def test_it_never_shows_a_secret_or_a_full_phone_number(client, sign_in, alice, acme):
    audit_record(
        action="phone.reveal",
        actor=alice,
        organization=acme,
        details={"phone": "+12125550143", "note": "called +447700900123", "token": "s3cr3t"},
    )
    sign_in(alice)

    html = client.get(url(acme)).content.decode()

    assert "+12125550143" not in html
    assert "***0143" in html
    assert "+447700900123" not in html
    assert "s3cr3t" not in html
    assert "[hidden]" in html


def test_it_pages_by_fifty_and_keeps_the_filters(client, sign_in, alice, acme):
    for _ in range(51):
        audit_record(action="phone.reveal", actor=alice, organization=acme)
    audit_record(action="logcopy.download", actor=alice, organization=acme)
    sign_in(alice)

    first = client.get(url(acme), {"action": "phone.reveal"})
    second = client.get(url(acme), {"action": "phone.reveal", "page": "2"})

    assert len(listed(first)) == 50
    assert "?action=phone.reveal&amp;page=2" in first.content.decode()
    assert [event.action for event in listed(second)] == ["phone.reveal"]


def test_it_stops_counting_past_the_cap_and_says_so(client, sign_in, alice, acme, monkeypatch):
    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 60)
    for _ in range(70):
        audit_record(action="phone.reveal", actor=alice, organization=acme)
    audit_record(action="logcopy.download", actor=alice, organization=acme)
    sign_in(alice)

    page = client.get(url(acme)).content.decode()
    narrowed = client.get(url(acme), {"action": "logcopy.download"})

    assert "of more than 60 events" in page
    assert "narrow by date" in page
    assert len(listed(narrowed)) == 1
    assert "more than" not in narrowed.content.decode()


def test_it_costs_the_same_queries_for_5_or_50_events(client, sign_in, alice, bob, acme):
    def add_events(n):
        # Half of them account-less sign-ins, so both halves of the scope are on the page.
        for i in range(n):
            if i % 2:
                audit_record(action="signin.success", actor=bob)
            else:
                audit_record(action="phone.reveal", actor=bob, organization=acme, details={"i": i})

    sign_in(alice)
    add_events(5)
    client.get(url(acme))  # warm up: the session and anything cached once

    with CaptureQueriesContext(connection) as few:
        assert len(listed(client.get(url(acme)))) == 5
    add_events(45)
    with CaptureQueriesContext(connection) as many:
        assert len(listed(client.get(url(acme)))) == 50

    assert len(many) == len(few)
