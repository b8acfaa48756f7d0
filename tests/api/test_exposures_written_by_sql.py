"""The page of exposures PostgreSQL writes as JSON (exposures_page_json) says what
Python's _row says of the same rows, for rows nobody on the team wrote: numbers from
phonenumbers' own examples for every region (with their country, another one, a
lowercase one or none), texts of any characters the database holds (quotes,
backslashes, control characters, emoji), times with and without a fraction (down to
the microsecond), people with and without a name, and the cursor of a page cut short.
Wherever the SQL mask can be trusted (a number of its country) the database must write
the page; elsewhere it may hand it back to Python (None), never write it otherwise."""

import json
from datetime import UTC, datetime, timedelta

import phonenumbers
import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL writes the page; elsewhere Python"
    ),
]

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
START = datetime(2024, 3, 1, tzinfo=UTC)


def _example(region: str) -> str:
    found = phonenumbers.example_number_for_type(
        region, phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number(region)
    if found is None:
        return "+12125550143"
    return phonenumbers.format_number(found, phonenumbers.PhoneNumberFormat.E164)


# What the database holds in a text column: anything but NUL.
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
moments = st.builds(
    lambda seconds, fraction: START + timedelta(seconds=seconds, microseconds=fraction),
    st.integers(0, 31 * 86400),
    st.one_of(
        st.just(0),
        st.integers(1, 999_999),
        st.sampled_from([500, 1000, 120_000, 500_000, 999_000]),
    ),
)
people = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"name": st.one_of(st.just(""), texts), "email": texts, "username": texts}
    ),
)
rows = st.fixed_dictionaries(
    {
        "region": st.sampled_from(REGIONS),
        "country": st.sampled_from(["own", "lower", "other", "none"]),
        "short": st.booleans(),
        "place": texts,
        "carrier": texts,
        "sms": st.integers(0, 10**6),
        "voice": st.integers(0, 10**6),
        "first": moments,
        "last": moments,
        "notified": st.one_of(st.none(), moments),
        "person": people,
    }
)


def _made(acme, drawn: list[dict]):
    from portal.incidents.models import DirectoryUser, Exposure
    from tests import factories

    incident = factories.incident()
    trusted = True
    for number, row in enumerate(drawn):
        phone = _example(row["region"])
        if row["short"]:
            phone = phone[:8]  # a number too short to show its last digits
        country = {
            "own": row["region"],
            "lower": row["region"].lower(),
            "other": "JP" if row["region"] != "JP" else "FR",
            "none": "",
        }[row["country"]]
        code = f"+{phonenumbers.country_code_for_region(country.upper())}" if country else None
        trusted = trusted and code is not None and phone.startswith(code)
        person = None
        if row["person"] is not None:
            person = DirectoryUser.objects.create(
                organization=acme,
                username=f"{row['person']['username']}#{number}",
                name=row["person"]["name"],
                email=row["person"]["email"],
                phones=[phone],
            )
        Exposure.objects.create(
            incident=incident,
            organization=acme,
            # Unique per incident; distinct rows of one draw may share an example.
            phone=phone if number == 0 else f"{phone[:2]}{number}{phone[2:]}"[:20],
            country=country,
            region=row["place"],
            carrier=row["carrier"],
            sms_count=row["sms"],
            voice_count=row["voice"],
            message_count=row["sms"] + row["voice"],
            first_seen_at=row["first"],
            last_seen_at=row["last"],
            last_notified_at=row["notified"],
            directory_user=person,
        )
    return incident, trusted


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=st.lists(rows, min_size=1, max_size=6), reveal=st.booleans(), cut=st.integers(1, 6))
def test_the_page_postgresql_writes_is_the_page_python_writes(acme, drawn, reveal, cut):
    from portal.api.routers.exposures import (
        ROW_FIELDS,
        SORTS,
        _plain_page_sql,
        _row,
        exposures_page_json,
    )
    from portal.incidents.models import Exposure

    order = list(SORTS["-last_seen"])
    with transaction.atomic():
        incident, trusted = _made(acme, drawn)
        # Renumbered rows (see _made) stay numbers of their region only when the
        # first is the only one: the trust claimed holds for what was written.
        rows = list(
            Exposure.objects.filter(incident=incident).order_by(*order).values_list(*ROW_FIELDS)
        )
        limit = min(cut, len(rows))
        written = exposures_page_json(
            _plain_page_sql(acme.pk, incident.public_id, order, None, limit),
            order=order,
            limit=limit,
            reveal=reveal,
            ids=True,
        )
        if written is not None:
            items, count, after, public_ids = written
            expected = [_row(row, reveal=reveal, mask_people=False) for row in rows[:limit]]
            assert json.loads(items) == json.loads(json.dumps(expected))
            assert count == limit
            assert public_ids == [row[1] for row in rows[:limit]]
            last = rows[limit - 1]
            assert after == (
                [last[ROW_FIELDS.index("last_seen_at")], last[0]] if len(rows) > limit else None
            )
        elif reveal or (trusted and len(drawn) == 1):
            pytest.fail("a page the SQL mask can write was handed back to Python")
        transaction.set_rollback(True)
