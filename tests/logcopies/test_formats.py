"""The three formats against their documented schemas (docs/logcopy-formats.md): each
file parses with its reader (csv, JSON Lines, JSON), holds the columns or fields the
docs list, in that order, with the documented types, and as many rows as the database
holds for the copy. Phones of every region phonenumbers knows come out exactly as
stored (no formula quote), while free text that looks like a formula is still guarded
in the CSV. The Duo file has the sample's field names."""

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from portal.incidents.exposures.exports import csv_chunks, export_rows
from portal.incidents.imports.phones import phone_normalized
from portal.incidents.models import Exposure, MessageLogRecord
from portal.incidents.phones_display import phone_masked
from portal.logcopies import services
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.services import logcopy_generate, logcopy_scoped_records
from tests import factories
from tests.conftest import BASE_DIR

pytestmark = pytest.mark.django_db

DOCS = BASE_DIR / "docs" / "logcopy-formats.md"
SAMPLE = Path("/work/shared/samples/duo-telephony-v2.json")
T0 = datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
FORMULA_CARRIERS = ['=HYPERLINK("http://evil.example","Click")', "+1 Mobile", "-2", "@SUM(1)"]


def documented(section: str) -> list[tuple[str, str, list[str]]]:
    """(name, type, other cells) of each row of the first table under `## <section>`."""
    text = DOCS.read_text()
    start = text.index(f"\n## {section}")
    end = text.find("\n## ", start + 1)
    rows = []
    for line in text[start : end if end > 0 else None].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows.append((cells[0].strip("`"), cells[1], cells[2:]))
        elif rows:
            break
    assert rows, f"no table under {section!r} in {DOCS.name}"
    return rows


def _timestamp(value) -> bool:
    if not isinstance(value, str):
        return False
    moment = datetime.fromisoformat(value)
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


def _csv_int(value) -> bool:
    return re.fullmatch(r"-?[0-9]+", value) is not None


# Every type word the docs use, and what a value of it is. A word not here fails.
TYPES = {
    "text": lambda v: isinstance(v, str),
    "timestamp": _timestamp,
    "E.164": lambda v: isinstance(v, str) and E164.match(v) is not None,
    "message type": lambda v: v in ("sms", "voice"),
    "duo type": lambda v: v in ("sms", "phone"),
    "integer": lambda v: type(v) is int,
    "integer or null": lambda v: v is None or type(v) is int,
    "integer or empty": lambda v: v == "" or _csv_int(v),
    "country code": lambda v: isinstance(v, str) and re.fullmatch(r"[A-Z]{2}|", v) is not None,
    "region code": lambda v: isinstance(v, str) and re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}|", v),
    "uuid": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f-]{36}", v) is not None,
}


def check_schema(items: list[dict], section: str) -> None:
    schema = documented(section)
    names = [name for name, _type, _rest in schema]
    for item in items:
        assert list(item) == names, f"{section}: fields differ from the docs"
        for name, kind, _rest in schema:
            assert kind in TYPES, f"{section}: undocumented type word {kind!r}"
            assert TYPES[kind](item[name]), f"{section}: {name}={item[name]!r} is not {kind}"


@pytest.fixture
def every_region(acme):
    """One row per region phonenumbers has an example mobile (or fixed) number for, each
    phone read by the import's own rule, as an import stores it; carriers that look
    like formulas on some rows."""
    incident = factories.incident(slug="every-region")
    rows, seen = [], set()
    for n, region in enumerate(sorted(phonenumbers.SUPPORTED_REGIONS)):
        number = phonenumbers.example_number_for_type(
            region, PhoneNumberType.MOBILE
        ) or phonenumbers.example_number_for_type(region, PhoneNumberType.FIXED_LINE)
        if number is None:
            continue
        written = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
        e164, country, problem, _note = phone_normalized(written, region)
        if problem or e164 in seen:
            continue
        seen.add(e164)
        rows.append(
            MessageLogRecord(
                incident=incident, organization=acme, provider_message_id=f"r-{n:03d}",
                sent_at=T0 + timedelta(minutes=n), phone=e164, country=country,
                carrier=FORMULA_CARRIERS[n // 10 % 4] if n % 10 == 0 else f"Carrier {region}",
                region="=cmd|' /C calc'!A0" if n == 7 else "", region_code="",
                message_type="voice" if n % 3 == 0 else "sms", context="authentication",
                credits=None if n % 5 == 0 else n % 3,
            )
        )  # fmt: skip
    MessageLogRecord.objects.bulk_create(rows)
    assert len(rows) >= 200  # phonenumbers knows about 245 regions
    return incident


def generated(acme, incident, sam, fmt: str) -> tuple[bytes, dict]:
    copy = LogCopyRequest.objects.create(
        organization=acme, incident=incident, requested_by=sam, reason="SOC",
        status="approved", format=fmt,
    )  # fmt: skip
    copy = logcopy_generate(copy=copy)
    assert copy.status == LogCopyRequest.Status.READY, copy.failure
    with copy.file.open("rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        data = archive.read(manifest["files"][0]["name"])
    return data, manifest


def database_rows(acme, incident) -> list[tuple]:
    copy = LogCopyRequest(organization=acme, incident=incident, scope="account")
    return list(logcopy_scoped_records(copy).values_list("provider_message_id", "phone"))


def without_postgresql_copy(monkeypatch):
    """The CSV path other databases take (csv.writer in Python, not COPY TO STDOUT)."""
    monkeypatch.setattr(services, "connection", SimpleNamespace(vendor="sqlite"))


@pytest.mark.parametrize("path", ["copy", "python"])
def test_the_csv_matches_its_schema_and_every_phone_round_trips(
    acme, sam, every_region, media_root, monkeypatch, path
):
    if path == "python":
        without_postgresql_copy(monkeypatch)
    data, manifest = generated(acme, every_region, sam, "csv")

    lines = list(csv.DictReader(io.StringIO(data.decode())))
    expected = database_rows(acme, every_region)
    assert len(lines) == len(expected) == manifest["row_count"]
    # Every phone exactly as stored: no quote, the "+" first, in the database's order.
    assert [(line["message_id"], line["phone"]) for line in lines] == expected
    check_schema(lines, "CSV")
    # Free text is still guarded, and only free text.
    carriers = {line["carrier"] for line in lines}
    assert "'" + FORMULA_CARRIERS[0] in carriers
    assert {"'+1 Mobile", "'-2", "'@SUM(1)"} <= carriers
    assert not any(line["carrier"].startswith(("=", "+", "-", "@")) for line in lines)
    assert "'=cmd|' /C calc'!A0" in {line["region"] for line in lines}
    guarded = {name for name, _kind, rest in documented("CSV") if rest[0] == "yes"}
    assert guarded == {"message_id", "context", "carrier", "region"}


def test_json_lines_match_their_schema(acme, sam, every_region, media_root):
    data, manifest = generated(acme, every_region, sam, "jsonl")

    items = [json.loads(line) for line in data.decode().splitlines()]
    expected = database_rows(acme, every_region)
    assert len(items) == len(expected) == manifest["row_count"]
    assert [(item["message_id"], item["phone"]) for item in items] == expected
    check_schema(items, "JSON Lines")
    assert FORMULA_CARRIERS[0] in {item["carrier"] for item in items}  # JSON: as written


def test_the_duo_file_matches_its_schema_and_the_samples_names(acme, sam, every_region, media_root):
    data, manifest = generated(acme, every_region, sam, "duo")

    document = json.loads(data)
    items = document["response"]["items"]
    expected = database_rows(acme, every_region)
    assert len(items) == len(expected) == manifest["row_count"]
    assert document["response"]["metadata"]["total_objects"] == {
        "value": len(expected),
        "relation": "eq",
    }
    assert [(item["telephony_id"], item["phone"]) for item in items] == expected
    check_schema(items, "Duo telephony log v2")
    sample = json.loads(SAMPLE.read_text())
    assert list(document) == list(sample)
    assert set(document["response"]) == set(sample["response"])
    duo_names = list(sample["response"]["items"][0])
    assert list(items[0])[: len(duo_names)] == duo_names


def test_the_manifest_matches_its_schema(acme, sam, every_region, media_root):
    _data, manifest = generated(acme, every_region, sam, "csv")

    assert list(manifest) == [name for name, _kind, _rest in documented("The manifest")]


def test_the_exposed_users_export_leaves_masked_phones_of_every_region_unquoted(acme, every_region):
    phones = dict(
        MessageLogRecord.objects.filter(incident=every_region).values_list("phone", "country")
    )
    Exposure.objects.bulk_create(
        Exposure(
            incident=every_region, organization=acme, phone=phone, country=country,
            carrier="=HYPERLINK(1)" if phone.endswith("1") else "Carrier",
            sms_count=1, voice_count=0, message_count=1, first_seen_at=T0, last_seen_at=T0,
        )
        for phone, country in phones.items()
    )  # fmt: skip
    exposures = Exposure.objects.filter(incident=every_region).order_by("phone")

    text = "".join(csv_chunks(export_rows(exposures, UTC)))

    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(phones)
    assert [row["phone"] for row in rows] == [
        phone_masked(phone, phones[phone]) for phone in sorted(phones)
    ]
    assert not any(row["phone"].startswith("'") for row in rows)
    assert {row["carrier"] for row in rows} == {"'=HYPERLINK(1)", "Carrier"}
