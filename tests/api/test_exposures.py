"""An incident's exposures through the API: the page's filters, a stable cursor order,
numbers masked unless revealed by a key that may (each reveal audited), the timeline,
and the whole list as JSON Lines."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from portal.accounts.roles import Capability, Role
from portal.audit.models import AuditEvent
from tests import factories
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

VIEW = {Capability.VIEW_DASHBOARD}


@pytest.fixture
def incident(acme):
    made = factories.incident()
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe", phones=["+12125550143"])
    factories.exposure(
        made,
        acme,
        "+12125550143",
        directory_user=jane,
        carrier="Verizon",
        last_seen_at=datetime(2024, 3, 5, tzinfo=UTC),
    )
    factories.exposure(
        made,
        acme,
        "+33612345678",
        country="FR",
        carrier="Orange",
        sms_count=0,
        voice_count=2,
        message_count=2,
        last_seen_at=datetime(2024, 3, 4, tzinfo=UTC),
    )
    factories.exposure(
        made, acme, "+12125550199", carrier="AT&T", last_seen_at=datetime(2024, 3, 3, tzinfo=UTC)
    )
    return made


def url(incident, tail: str = "") -> str:
    return f"{API}/incidents/{incident.public_id}/exposures{tail}"


def test_numbers_and_people_are_masked_for_a_viewers_key(acme, incident, api_key, api_client):
    client = api_client(api_key(acme, Role.VIEWER))

    body = client.get(url(incident)).json()

    phones = [item["phone"] for item in body["items"]]
    assert phones == ["+1 ••• ••• 0143", "+33 ••• ••• 5678", "+1 ••• ••• 0199"]
    assert body["items"][0]["person"] == {
        "name": "J. D.",
        "email": "j•••@acme.example",
        "username": None,
    }
    assert not AuditEvent.objects.filter(action="phone.reveal").exists()


def test_reveal_needs_the_capability(acme, incident, api_key, api_client):
    client = api_client(api_key(acme, Role.ADMIN))  # admins may not reveal

    response = client.get(url(incident), {"reveal": "true"})

    assert response.status_code == 403
    assert "reveal_phone" in response.json()["detail"]


def test_a_reveal_shows_full_numbers_and_is_audited_naming_the_exposures(
    acme, incident, api_key, api_client
):
    client = api_client(api_key(acme, Role.SECURITY, name="SOAR"))

    body = client.get(url(incident), {"reveal": "true", "limit": 2}).json()

    assert [item["phone"] for item in body["items"]] == ["+12125550143", "+33612345678"]
    assert all(item["phone_revealed"] for item in body["items"])
    reveal = AuditEvent.objects.get(action="phone.reveal")
    assert reveal.actor_label.startswith("API key SOAR (")
    assert reveal.details["exposures"] == [item["id"] for item in body["items"]]
    assert reveal.target_id == str(incident.public_id)


def test_the_pages_filters_apply(acme, incident, api_key, api_client):
    client = api_client(api_key(acme, Role.OWNER))

    def phones(**query):
        response = client.get(url(incident), {"reveal": "true", **query})
        assert response.status_code == 200, response.content
        return [item["phone"] for item in response.json()["items"]]

    assert phones(country="FR") == ["+33612345678"]
    assert phones(carrier="AT&T") == ["+12125550199"]
    assert phones(message_type="voice") == ["+33612345678"]
    assert phones(matched="yes") == ["+12125550143"]
    assert phones(q="Jane") == ["+12125550143"]
    assert phones(q="0199") == ["+12125550199"]
    assert phones(sort="last_seen") == ["+12125550199", "+33612345678", "+12125550143"]


def test_a_viewers_key_searches_no_names_and_no_digits_past_the_mask(
    acme, incident, api_key, api_client
):
    client = api_client(api_key(acme, Role.VIEWER))

    assert client.get(url(incident), {"q": "Jane"}).json()["items"] == []
    assert client.get(url(incident), {"q": "5550143"}).json()["items"] == []
    assert len(client.get(url(incident), {"q": "0143"}).json()["items"]) == 1


def test_bad_filters_are_422_saying_which(acme, incident, api_key, api_client):
    client = api_client(api_key(acme, Role.OWNER))

    response = client.get(url(incident), {"message_type": "fax"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "message_type"]


def test_cursor_pages_cover_every_row_once(acme, api_key, api_client):
    made = factories.incident()
    start = datetime(2024, 3, 2, tzinfo=UTC)
    for n in range(7):
        # Two share each time: the id breaks the tie.
        factories.exposure(
            made, acme, f"+1212555{n:04d}", last_seen_at=start + timedelta(hours=n // 2)
        )
    client = api_client(api_key(acme, Role.OWNER))

    seen, cursor = [], None
    while True:
        query = {"limit": 3, "reveal": "true"} | ({"cursor": cursor} if cursor else {})
        body = client.get(url(made), query).json()
        seen += [item["phone"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(f"+1212555{n:04d}" for n in range(7))
    assert len(seen) == 7


def test_a_cursor_of_one_sort_is_refused_on_another(acme, incident, api_key, api_client):
    client = api_client(api_key(acme, Role.OWNER))
    cursor = client.get(url(incident), {"limit": 1}).json()["next_cursor"]

    response = client.get(url(incident), {"limit": 1, "cursor": cursor, "sort": "messages"})

    assert response.status_code == 422


def test_another_accounts_incident_and_exposure_are_404(
    acme, globex, incident, api_key, api_client
):
    client = api_client(api_key(globex, Role.OWNER))
    factories.exposure(incident, globex, "+14155550100")  # Globex is in the incident too
    acme_exposure = incident.exposures.filter(organization=acme).first()

    assert client.get(url(incident)).status_code == 200
    assert client.get(url(incident, f"/{acme_exposure.public_id}")).status_code == 404
    assert client.get(url(incident, f"/{acme_exposure.public_id}/timeline")).status_code == 404
    assert [
        item["phone"] for item in client.get(url(incident), {"reveal": "true"}).json()["items"]
    ] == ["+14155550100"]


def test_one_exposure_revealed_is_audited_as_the_reveal_button_is(
    acme, incident, api_key, api_client
):
    client = api_client(api_key(acme, Role.SECURITY))
    exposure = incident.exposures.get(phone="+12125550143")

    masked = client.get(url(incident, f"/{exposure.public_id}")).json()
    revealed = client.get(url(incident, f"/{exposure.public_id}"), {"reveal": "true"}).json()

    assert masked["phone"] == "+1 ••• ••• 0143"
    assert revealed["phone"] == "+12125550143"
    event = AuditEvent.objects.get(action="phone.reveal")
    assert event.target_id == str(exposure.public_id)


def test_the_timeline_lists_the_phones_messages_oldest_first(acme, incident, api_key, api_client):
    for minute in (30, 10, 20):
        factories.log_record(
            incident,
            acme,
            phone="+12125550143",
            sent_at=datetime(2024, 3, 1, 8, minute, tzinfo=UTC),
            context="login code",
        )
    factories.log_record(incident, acme, phone="+12125550199")
    exposure = incident.exposures.get(phone="+12125550143")
    client = api_client(api_key(acme, Role.VIEWER))

    first = client.get(url(incident, f"/{exposure.public_id}/timeline"), {"limit": 2}).json()
    rest = client.get(
        url(incident, f"/{exposure.public_id}/timeline"), {"cursor": first["next_cursor"]}
    ).json()

    minutes = [item["sent_at"][14:16] for item in first["items"] + rest["items"]]
    assert minutes == ["10", "20", "30"]
    assert rest["next_cursor"] is None
    assert first["items"][0]["context"] == "login code"


def test_the_whole_list_streams_as_json_lines(acme, incident, api_key, api_client, monkeypatch):
    from portal.api.routers import exposures

    monkeypatch.setattr(exposures, "STREAM_CHUNK", 2)  # three rows: two chunks
    client = api_client(api_key(acme, Role.VIEWER))

    response = client.get(url(incident, ".jsonl"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl"
    assert response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert sorted(row["phone"] for row in rows) == [
        "+1 ••• ••• 0143",
        "+1 ••• ••• 0199",
        "+33 ••• ••• 5678",
    ]


def test_a_revealed_stream_is_audited_once_with_its_count(acme, incident, api_key, api_client):
    client = api_client(api_key(acme, Role.SECURITY))

    response = client.get(url(incident, ".jsonl"), {"reveal": "true", "country": "US"})
    lines = b"".join(response.streaming_content).decode().splitlines()

    assert len(lines) == 2
    event = AuditEvent.objects.get(action="phone.reveal")
    assert event.details["rows"] == 2
    assert event.details["via"] == "api-stream"


def test_the_pages_written_straight_to_json_match_their_schema(acme, incident, api_key, api_client):
    from portal.api.routers.exposures import ExposureOut, ExposurePage

    for role in (Role.VIEWER, Role.OWNER):
        client = api_client(api_key(acme, role))
        page = client.get(url(incident), {"limit": 2})
        lines = b"".join(client.get(url(incident, ".jsonl")).streaming_content).splitlines()

        parsed = ExposurePage.model_validate_json(page.content)
        assert len(parsed.items) == 2
        assert page.json()["items"][0]["last_seen_at"] == "2024-03-05T00:00:00Z"
        assert [ExposureOut.model_validate_json(line).phone_revealed for line in lines] == [
            False
        ] * 3


@pytest.fixture
def awkward_incident(acme):
    """Rows that test every branch of the page the database writes: a name to escape,
    no name, no email, times with a fraction, a short number, a lowercase country, a
    row without a person, a carrier outside ASCII."""
    made = factories.incident()
    quoted = factories.directory_user(
        acme, "zoe", name='Zoë "Z" O\'Brien\\\n\tthe 2nd', email="zoe@acme.example"
    )
    nameless = factories.directory_user(acme, "nameless", name="", email="")
    moment = datetime(2024, 3, 9, 10, 11, 12, tzinfo=UTC)
    factories.exposure(
        made,
        acme,
        "+12125550143",
        directory_user=quoted,
        first_seen_at=moment.replace(microsecond=123456),
        last_seen_at=moment,
        last_notified_at=moment.replace(microsecond=999999),
    )
    factories.exposure(
        made,
        acme,
        "+33612345678",
        country="fr",
        directory_user=nameless,
        carrier="Télé2 «mobile»",
        first_seen_at=moment.replace(microsecond=500),
        last_seen_at=moment - timedelta(seconds=1),
    )
    factories.exposure(
        made, acme, "+1212555", region='Back\\slash "Q"', last_seen_at=moment - timedelta(days=1)
    )
    return made


def _written_by_python(incident, *, reveal: bool, mask_people: bool) -> list[dict]:
    from portal.api.routers.exposures import ROW_FIELDS, SORTS, _row
    from portal.incidents.models import Exposure

    rows = (
        Exposure.objects.filter(incident=incident)
        .order_by(*SORTS["-last_seen"])
        .values_list(*ROW_FIELDS)
    )
    return json.loads(
        json.dumps([_row(row, reveal=reveal, mask_people=mask_people) for row in rows])
    )


@pytest.mark.parametrize("reveal", [False, True])
def test_a_page_the_database_writes_is_what_python_writes(
    acme, awkward_incident, api_key, api_client, reveal
):
    from portal.api.pagination import keyset_after
    from portal.api.routers.exposures import (
        ROW_FIELDS,
        SORTS,
        _plain_page_sql,
        exposures_page_json,
    )
    from portal.incidents.models import Exposure

    client = api_client(api_key(acme, Role.OWNER))
    body = client.get(url(awkward_incident), {"reveal": str(reveal).lower(), "limit": 2}).json()
    rest = client.get(
        url(awkward_incident), {"reveal": str(reveal).lower(), "cursor": body["next_cursor"]}
    ).json()

    expected = _written_by_python(awkward_incident, reveal=reveal, mask_people=False)
    assert body["items"] + rest["items"] == expected
    assert rest["next_cursor"] is None
    assert expected[0]["first_seen_at"] == "2024-03-09T10:11:12.123Z"
    assert expected[0]["last_notified_at"] == "2024-03-09T10:11:12.999Z"
    assert expected[1]["first_seen_at"] == "2024-03-09T10:11:12.000Z"
    assert expected[1]["person"] == {"name": "nameless", "email": "", "username": "nameless"}
    # The database wrote these pages: none of their numbers needed Python's mask. The
    # statement written out for an unfiltered page reads what the ORM's does.
    order = SORTS["-last_seen"]
    ordered = keyset_after(
        Exposure.objects.filter(incident=awkward_incident).select_related("directory_user"),
        listing="test",
        order=order,
        cursor=None,
    )
    by_orm = ordered.values_list(*ROW_FIELDS)[:11].query.sql_with_params()
    by_hand = _plain_page_sql(acme.pk, awkward_incident.public_id, order, None, 10)
    written = exposures_page_json(by_hand, order=order, limit=10, reveal=reveal, ids=True)
    assert written is not None
    assert written == exposures_page_json(by_orm, order=order, limit=10, reveal=reveal, ids=True)
    assert json.loads(written[0]) == expected
    assert written[1:3] == (3, None)
    assert [str(public_id) for public_id in written[3]] == [item["id"] for item in expected]


def test_a_number_the_sql_mask_cannot_read_is_masked_by_python(acme, api_key, api_client):
    made = factories.incident()
    # A British number given as American: phone_masked parses it for its code.
    factories.exposure(made, acme, "+447700900123", country="US")
    factories.exposure(made, acme, "+12125550143", last_seen_at=datetime(2024, 1, 1, tzinfo=UTC))
    client = api_client(api_key(acme, Role.OWNER))

    body = client.get(url(made)).json()

    assert [item["phone"] for item in body["items"]] == ["+44 ••• ••• 0123", "+1 ••• ••• 0143"]
    assert body["items"] == _written_by_python(made, reveal=False, mask_people=False)


def test_an_empty_page_of_a_known_incident_is_empty_and_of_another_404(
    acme, incident, api_key, api_client
):
    client = api_client(api_key(acme, Role.OWNER))

    empty = client.get(url(incident), {"country": "DE"})
    unknown = client.get(f"{API}/incidents/{factories.incident().public_id}/exposures")

    assert empty.status_code == 200
    assert empty.json() == {"items": [], "next_cursor": None}
    assert unknown.status_code == 404


@pytest.mark.parametrize("sort", ["-last_seen", "last_seen", "-first_seen", "messages"])
def test_every_sort_pages_in_the_order_the_orm_reads(acme, api_key, api_client, sort):
    from portal.api.routers.exposures import ROW_FIELDS, SORTS, _row
    from portal.incidents.models import Exposure

    made = factories.incident()
    start = datetime(2024, 3, 2, tzinfo=UTC)
    for n in range(7):
        # Ties on every sort's first field: the id breaks them.
        factories.exposure(
            made,
            acme,
            f"+1212555{n:04d}",
            first_seen_at=start + timedelta(hours=n % 3),
            last_seen_at=start + timedelta(days=1, hours=n // 2),
            sms_count=1 + n % 2,
            message_count=1 + n % 2,
        )
    client = api_client(api_key(acme, Role.OWNER))

    seen, cursor = [], None
    while True:
        query = {"limit": 2, "sort": sort} | ({"cursor": cursor} if cursor else {})
        body = client.get(url(made), query).json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    rows = Exposure.objects.filter(incident=made).order_by(*SORTS[sort]).values_list(*ROW_FIELDS)
    expected = [_row(row, reveal=False, mask_people=False) for row in rows]
    assert seen == json.loads(json.dumps(expected))
