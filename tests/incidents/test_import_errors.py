"""Bad input gets a clear answer and loses nothing: files refused before any row loads,
and every bad row in the error report with its line (or Duo item) and reason."""

import pytest

from portal.incidents.imports.errors import FIRST_ERRORS, phone_masked
from portal.incidents.imports.services import ImportRefusedError, import_batch_run
from portal.incidents.models import ImportBatch, MessageLogRecord
from tests import factories
from tests.incidents.imports import DUO_LOG, HEADER, counts, created, imported, report

GOOD = "g-1,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms\n"


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


@pytest.fixture
def acme(db):
    return factories.organization("Acme Corp", account_id="DA7QK4M2ZP")


@pytest.fixture
def breach(db):
    return factories.incident()


def problems(batch) -> list[tuple[str, str]]:
    return [(row["line"], row["reason"]) for row in report(batch)]


# --- Refused before any row loads -------------------------------------------------


def test_it_refuses_a_file_without_the_required_columns_and_names_them(breach, acme):
    content = "message_id,account_id,carrier,Phone\nm-1,DA7QK4M2ZP,EE,+447700900123\n"

    with pytest.raises(ImportRefusedError) as refused:
        created(breach, content)

    message = refused.value.message
    assert message.startswith("The file is missing required columns: sent_at, country, ")
    for column in ("sent_at", "country", "state", "message_type"):
        assert column in message
    assert "phone," not in message.split(":")[1].split(".")[0]  # "Phone" is there
    assert not ImportBatch.objects.exists()
    assert not MessageLogRecord.objects.exists()


def test_it_hints_at_the_format_when_json_comes_as_csv(breach, acme):
    with pytest.raises(ImportRefusedError, match="choose JSON Lines or Duo"):
        created(breach, DUO_LOG)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "The file is empty."),
        ("\ufeff", "The file is empty."),
        ("\n", "The file is empty."),
        (HEADER, "The file has a header but no rows."),
        (HEADER + "\n\n", "The file has a header but no rows."),
        ("message_id,message_id," + HEADER[11:] + GOOD, "more than once: message_id"),
    ],
)
def test_it_refuses_an_empty_file(breach, acme, content, reason):
    with pytest.raises(ImportRefusedError, match=reason):
        created(breach, content)

    assert not ImportBatch.objects.exists()


def test_it_reads_a_latin1_header_as_latin1_and_names_the_column_it_misses(breach, acme):
    content = HEADER.replace("state", "st\xe4te").encode("latin-1") + GOOD.encode()

    with pytest.raises(ImportRefusedError, match="missing required columns: state"):
        created(breach, content)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "The file is empty."),
        ('{"stat": "FAIL", "code": 40002, "message": "Invalid request"}', 'stat "FAIL"'),
        ('{"stat": "OK", "response": {"metadata": {}}}', 'no "response" with a list'),
        ('{"stat": "OK", "response": {"items": []}}', "holds no items"),
        ("[]", "holds no items"),
        ('[{"phone": "+12125550143"}]', "first item misses telephony_id, ts, type"),
        ("[1, 2]", "first item is not a JSON object"),
        ("message_id,account_id\n", "it is not JSON"),
        ('{"stat": "OK", "response": {"items": [{"ts": ', "not valid JSON"),
    ],
)
def test_it_refuses_json_that_is_not_the_duo_shape(breach, acme, content, reason):
    with pytest.raises(ImportRefusedError, match=reason):
        created(breach, content, format="duo", organization=acme)

    assert not ImportBatch.objects.exists()


def test_it_refuses_json_lines_whose_first_line_is_not_a_dump_row(breach, acme):
    with pytest.raises(ImportRefusedError, match="first line is not JSON"):
        created(breach, "message_id,account_id\n", format="jsonl")
    with pytest.raises(ImportRefusedError, match="missing required fields: sent_at"):
        created(breach, '{"message_id": "m", "account_id": "DA7QK4M2ZP"}\n', format="jsonl")


# --- Reported row by row ----------------------------------------------------------


def test_it_reports_each_bad_row_with_its_line_and_reason(breach, acme, settings):
    settings.IMPORT_HOLD_REJECTED_PERCENT = 100  # reported and published, not held
    content = (
        HEADER
        + GOOD  # line 2
        + "b-3,DA7QK4M2ZP,2024-03-01 08:00:00,+12125550143,Verizon,US,NY,sms\n"
        + "b-4,DA7QK4M2ZP,yesterday,+12125550143,Verizon,US,NY,sms\n"
        + "b-5,DA7QK4M2ZP,1709290000000,+12125550143,Verizon,US,NY,sms\n"
        + "b-6,DA7QK4M2ZP,2024-03-01T08:00:00Z,07700 9001234567,EE,GB,England,sms\n"
        + "b-7,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,fax\n"
        + "b-8,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY\n"
        + "b-9,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms,extra\n"
        + "b-10,DA9NOSUCH01,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms\n"
        + ",DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms\n"
        + "b-12,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,USA,NY,sms\n"
        + "b-13,DA7QK4M2ZP,2024-03-01T08:00:00Z,12,Verizon,US,NY,sms\n"
        + "b-14,DA7QK4M2ZP,2024-02-30T08:00:00Z,+12125550143,Verizon,US,NY,sms\n"
        + "\n"  # line 15: blank, skipped
        + '"b-16,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms\n'
    )

    batch = imported(breach, content)

    assert counts(batch) == {
        "seen": 14,
        "imported": 2,  # lines 2 and 5 (Unix milliseconds)
        "duplicate": 0,
        "rejected": 11,
        "unknown_account": 1,
    }
    assert problems(batch) == [
        (
            "3",
            'sent_at "2024-03-01 08:00:00" has no UTC offset: it needs one, as in '
            "2024-03-01T08:14:02+00:00 or 2024-03-01T08:14:02Z",
        ),
        (
            "4",
            'sent_at "yesterday" is not a date and time in ISO 8601 '
            "(2024-03-01T08:14:02+00:00) or Unix time",
        ),
        ("6", 'phone "••••• ••••••4567" is too long for GB'),
        ("7", 'message_type "fax" is not sms, voice or phone'),
        ("8", "has 7 fields where the header has 8"),
        ("9", "has 9 fields where the header has 8"),
        ("10", "account DA9NOSUCH01 is not known to the portal"),
        ("11", "has no message_id"),
        ("12", 'country "USA" is not a two-letter ISO 3166 code'),
        ("13", 'phone "12" is too short for US'),
        (
            "14",
            'sent_at "2024-02-30T08:00:00Z" is not a date and time in ISO 8601 '
            "(2024-03-01T08:14:02+00:00) or Unix time",
        ),
        ("16", "cannot be read as CSV (unexpected end of data)"),
    ]
    unknown = next(row for row in report(batch) if row["line"] == "10")
    assert (unknown["message_id"], unknown["account_id"]) == ("b-10", "DA9NOSUCH01")


def test_it_reports_a_line_with_nul_bytes_and_imports_the_others(breach, acme):
    content = (
        HEADER.encode()
        + GOOD.encode()
        + b"l-3,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY\x00,sms\n"
        + GOOD.replace("g-1", "g-4").encode()
    )

    batch = imported(breach, content)

    assert counts(batch)["imported"] == 2
    assert problems(batch) == [("3", "holds NUL bytes: binary data, not text")]
    assert set(MessageLogRecord.objects.values_list("provider_message_id", flat=True)) == {
        "g-1",
        "g-4",
    }


def test_it_refuses_a_line_that_is_not_utf8_in_a_batch_stored_as_utf8(breach, acme, monkeypatch):
    """A batch stored before encodings were found (or a stored file changed since) meets
    a line that is not UTF-8: the import fails naming the line, and loads nothing,
    rather than complete without it."""
    from portal.incidents.imports import parsers

    monkeypatch.setattr(parsers, "CHUNK", 256)
    rows = [GOOD.replace("g-1", f"n-{number}") for number in range(2, 40)]
    content = HEADER.encode() + b"".join(
        row.replace("Verizon", "Verizon \xe9").encode("latin-1") if number == 30 else row.encode()
        for number, row in enumerate(rows)
    )
    batch = created(breach, content)
    assert batch.encoding == "cp1252"
    ImportBatch.objects.filter(pk=batch.pk).update(encoding="utf-8")
    batch.refresh_from_db()

    batch = import_batch_run(batch=batch)

    assert batch.status == ImportBatch.Status.FAILED
    assert batch.failure.startswith("Line 32 is not UTF-8 text")
    assert not MessageLogRecord.objects.exists()


def test_it_reads_quoted_fields_across_lines_and_counts_lines_right(breach, acme):
    content = (
        HEADER.replace("\n", ",note\n")
        + 'q-2,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms,"two\nlines"\n'
        + "q-4,DA7QK4M2ZP,2024-03-01T08:00:00Z,nope,Verizon,US,NY,sms,\n"
    )

    batch = imported(breach, content)

    assert problems(batch) == [("4", 'phone "nope" is not a phone number')]
    assert MessageLogRecord.objects.get().extra == {"note": "two\nlines"}


def test_it_refuses_a_line_break_in_a_required_column(breach, acme):
    # Never the provider's: a quote opened in one row and closed in the next.
    content = HEADER + 'q-2,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550143,"Veri\nzon",US,NY,sms\n'

    batch = imported(breach, content)

    assert problems(batch) == [
        (
            "2",
            "lines 2-3 read as one record (a quoted field runs across them): a required "
            "column holds a line break",
        )
    ]


def test_it_reports_json_lines_problems_by_line(breach, acme):
    good = (
        '{"message_id": "%s", "account_id": "DA7QK4M2ZP", "sent_at": "2024-03-01T08:00:00Z", '
        '"phone": "+12125550143", "carrier": "V", "country": "US", "state": "NY", '
        '"message_type": "sms"}\n'
    )
    content = good % "j-1" + "{not json\n" + good % "j-3" + '"just a string"\n'

    batch = imported(breach, content, format="jsonl")

    assert problems(batch) == [
        ("2", "is not JSON (Expecting property name enclosed in double quotes)"),
        ("4", "is not a JSON object"),
    ]
    assert batch.imported == 2


def test_it_reports_duo_items_by_their_index(breach, acme):
    content = (
        '{"stat": "OK", "response": {"items": ['
        '{"telephony_id": "d-1", "ts": "2024-03-01T08:00:00Z", "phone": "+12125550143", '
        '"type": "sms"},'
        '{"telephony_id": "d-2", "ts": "2024-03-01T08:00:00Z", "type": "sms"},'
        '"a string",'
        '{"telephony_id": "d-4", "ts": "2024-03-01T08:00:00", "phone": "+12125550143", '
        '"type": "sms"},'
        '{"telephony_id": "d-5", "ts": 1709290000, "phone": "+12125550143", "type": "fax"}'
        "]}}"
    )

    batch = imported(breach, content, format="duo", organization=acme)

    assert counts(batch) == {
        "seen": 5,
        "imported": 1,
        "duplicate": 0,
        "rejected": 4,
        "unknown_account": 0,
    }
    assert [(row["line"], row["message_id"], row["account_id"]) for row in report(batch)] == [
        ("item 2", "d-2", "DA7QK4M2ZP"),
        ("item 3", "", "DA7QK4M2ZP"),
        ("item 4", "d-4", "DA7QK4M2ZP"),
        ("item 5", "d-5", "DA7QK4M2ZP"),
    ]
    assert [error["line"] for error in batch.first_errors] == [
        "item 2",
        "item 3",
        "item 4",
        "item 5",
    ]
    assert problems(batch)[0][1] == "misses phone"


def test_it_reports_where_a_duo_file_breaks_off_and_keeps_the_items_before(breach, acme):
    content = DUO_LOG[: DUO_LOG.index('"metadata"')].rstrip().rstrip("]},\n ") + "}, {"

    batch = imported(breach, content, format="duo", organization=acme)

    assert batch.status == ImportBatch.Status.COMPLETED
    assert (batch.imported, batch.rejected) == (2, 1)
    [(where, reason)] = problems(batch)
    assert where == "item 3"
    assert reason.startswith("not valid JSON")
    assert reason.endswith("this item and any after it could not be read")


def test_it_keeps_phone_numbers_out_of_the_error_report(breach, acme):
    content = (
        HEADER
        + "p-2,DA7QK4M2ZP,2024-03-01T08:00:00Z,+1 212 555 01,Verizon,US,NY,sms\n"
        + "p-3,DA9UNKNOWN1,2024-03-01T08:00:00Z,+12125550143,Verizon,US,NY,sms\n"
    )

    batch = imported(breach, content)

    with batch.error_report.open("rb") as file:
        text = file.read().decode()
    assert "212" not in text
    assert "555" not in text
    assert "5550143" not in text
    assert 'phone ""+• ••• •55 01"" is too short' in text


def test_it_keeps_the_first_errors_for_the_page_and_all_in_the_report(breach, acme):
    bad = "x-%d,DA7QK4M2ZP,2024-03-01T08:00:00Z,not-a-phone,Verizon,US,NY,sms\n"
    content = HEADER + "".join(bad % number for number in range(50))

    batch = imported(breach, content)

    assert batch.rejected == 50
    assert len(batch.first_errors) == FIRST_ERRORS
    assert len(report(batch)) == 50
    assert report(batch)[-1]["line"] == "51"


def test_it_makes_report_cells_safe_for_spreadsheets(breach, acme):
    content = HEADER + "=HYPERLINK(1),DA9UNKNOWN1,2024-03-01T08:00:00Z,+12125550143,V,US,NY,sms\n"

    batch = imported(breach, content)

    assert report(batch)[0]["message_id"] == "'=HYPERLINK(1)"


def test_it_masks_all_but_the_last_four_digits():
    assert phone_masked("+1 (212) 555-0143") == "+• (•••) •••-0143"
    assert phone_masked("not-a-number") == "not-a-number"
    assert phone_masked("12") == "12"
    assert phone_masked("me@example.com") == "[hidden]"


def test_it_refuses_times_outside_the_century_and_fractional_credits(breach, acme):
    row = (
        '{"message_id": "%s", "account_id": "DA7QK4M2ZP", "sent_at": %s, '
        '"phone": "+12125550143", "carrier": "V", "country": "US", "state": "NY", '
        '"message_type": "sms", "credits": %s}\n'
    )
    content = (
        row % ("y-1", '"2024-03-01T08:00:00Z"', "1")
        + row % ("y-2", '"0001-01-01T00:00:00+05:00"', "1")
        + row % ("y-3", '"2024-03-01T08:00:00Z"', "1.5")
        + row % ("y-4", "1709290000", "2.0")
    )

    batch = imported(breach, content, format="jsonl")

    assert problems(batch) == [
        ("2", 'sent_at "0001-01-01T00:00:00+05:00" is not between 2000 and 2100'),
        ("3", 'credits "1.5" is not a whole number'),
    ]
    assert MessageLogRecord.objects.get(provider_message_id="y-4").credits == 2


def test_it_refuses_a_two_character_country_that_is_not_letters(breach, acme):
    # Log copies write the country without a formula check: it must be letters.
    content = HEADER + GOOD + GOOD.replace("g-1", "g-2").replace(",US,", ",=1,")

    batch = imported(breach, content.encode())

    assert counts(batch)["imported"] == 1
    assert problems(batch) == [("3", 'country "=1" is not a two-letter ISO 3166 code')]
