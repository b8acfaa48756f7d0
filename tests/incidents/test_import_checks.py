"""What the importer checks beyond each cell's own shape: the file's encoding, the time
of each row against the incident's window, and whether a file with many rejected rows
may publish at all (issue 10)."""

import codecs
import csv
import io
from datetime import UTC, datetime

import pytest

from notifications.models import ScheduledEmail
from portal.audit.models import AuditEvent
from portal.incidents.imports.parsers import PHONE_NOTE
from portal.incidents.imports.services import (
    ImportRefusedError,
    import_batch_accept_problems,
    import_batch_discard,
)
from portal.incidents.models import Exposure, ImportBatch, MessageLogRecord
from tests import factories
from tests.incidents.imports import HEADER, counts, created, imported, report


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


@pytest.fixture
def acme(db):
    return factories.organization("Acme Corp", account_id="DA7QK4M2ZP")


@pytest.fixture
def breach(db):
    return factories.incident()


ACCENTED = (
    "a-1,DA7QK4M2ZP,2024-03-01T08:00:00Z,+5511961034260,Telefônica Vivo,BR,São Paulo,sms\n"
    "a-2,DA7QK4M2ZP,2024-03-01T09:00:00Z,+15145550123,Bell,CA,Québec,voice\n"
    "a-3,DA7QK4M2ZP,2024-03-01T10:00:00Z,+4915123456789,O2,DE,Baden-Württemberg,sms\n"
    "a-4,DA7QK4M2ZP,2024-03-01T11:00:00Z,+34612345678,Telefónica,ES,Córdoba,sms\n"
)
REGIONS = {"São Paulo", "Québec", "Baden-Württemberg", "Córdoba"}


def _regions() -> set[str]:
    return set(MessageLogRecord.objects.values_list("region", flat=True))


# --- Encodings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "found"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8"),
        ("utf-16", "utf-16"),  # with its BOM, little-endian here
        ("utf-16-be-bom", "utf-16"),
        ("latin-1", "cp1252"),
        ("cp1252", "cp1252"),
    ],
)
def test_it_reads_every_row_whole_in_the_encoding_the_file_was_written_in(
    breach, acme, encoding, found
):
    text = HEADER + ACCENTED
    if encoding == "utf-16-be-bom":
        content = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        content = text.encode(encoding)

    batch = imported(breach, content)

    assert batch.status == ImportBatch.Status.COMPLETED
    assert batch.encoding == found
    assert counts(batch) == {
        "seen": 4,
        "imported": 4,
        "duplicate": 0,
        "rejected": 0,
        "unknown_account": 0,
    }
    assert _regions() == REGIONS
    assert MessageLogRecord.objects.get(provider_message_id="a-1").carrier == "Telefônica Vivo"


def test_it_finds_a_latin1_accent_far_into_a_file_that_starts_plain(breach, acme):
    """The first megabytes are ASCII, so a sample of the head would say UTF-8: the whole
    file is checked on upload, and the accent deep inside decides."""
    plain = "".join(
        f"p-{number},DA7QK4M2ZP,2024-03-02T08:00:00Z,+12125550143,Verizon,US,New York,sms\n"
        for number in range(40_000)
    )
    content = (HEADER + plain + ACCENTED).encode("cp1252")
    assert len(content) > 2 << 20  # past any head a sniffer would sample

    batch = imported(breach, content)

    assert batch.encoding == "cp1252"
    assert (batch.imported, batch.rejected) == (40_004, 0)
    assert _regions() >= REGIONS


def test_it_reads_duo_json_written_in_utf16(breach, acme):
    content = (
        '[{"telephony_id": "d-1", "ts": "2024-03-04T14:22:10Z", "phone": "+12125550143", '
        '"type": "sms", "context": "Authentification réussie"}]'
    ).encode("utf-16")

    batch = imported(breach, content, format="duo", organization=acme)

    assert (batch.encoding, batch.imported) == ("utf-16", 1)
    assert MessageLogRecord.objects.get().context == "Authentification réussie"


def test_it_refuses_a_file_in_an_encoding_it_does_not_read_and_names_it(breach, acme):
    moscow = "\u041c\u043e\u0441\u043a\u0432\u0430"  # Moscow, in Cyrillic
    cyrillic = f"c-1,DA7QK4M2ZP,2024-03-01T08:00:00Z,+79161234567,MTS,RU,{moscow},sms\n" * 200
    content = (HEADER + cyrillic).encode("cp1251")

    with pytest.raises(ImportRefusedError) as refused:
        created(breach, content)

    message = refused.value.message
    assert message.startswith("The file is not UTF-8 (byte ")
    assert "it looks like " in message
    assert "Save it as UTF-8" in message
    assert not ImportBatch.objects.exists()


def test_it_refuses_a_utf8_bom_on_a_file_that_is_not_utf8(breach, acme):
    content = codecs.BOM_UTF8 + (HEADER + ACCENTED).encode("cp1252")

    with pytest.raises(ImportRefusedError, match="UTF-8 byte-order mark but is not UTF-8"):
        created(breach, content)


def test_it_refuses_utf16_that_breaks_off_mid_character(breach, acme):
    content = (HEADER + ACCENTED).encode("utf-16") + b"\x41"

    with pytest.raises(ImportRefusedError, match="ends in the middle of a character"):
        created(breach, content)


# --- Times --------------------------------------------------------------------------


def test_it_rejects_rows_outside_the_window_or_in_the_future_and_keeps_the_tolerance(
    breach, acme, settings
):
    settings.IMPORT_HOLD_REJECTED_PERCENT = 100
    content = (
        HEADER
        + "t-2,DA7QK4M2ZP,2024-02-28T00:00:00Z,+12125550143,V,US,NY,sms\n"  # 1 day early
        + "t-3,DA7QK4M2ZP,2024-04-02T23:59:59Z,+12125550143,V,US,NY,sms\n"  # inside 48 h
        + "t-4,DA7QK4M2ZP,2024-02-27T00:00:00-01:00,+12125550143,V,US,NY,sms\n"  # 49 h early
        + "t-5,DA7QK4M2ZP,2099-01-01T00:00:00Z,+12125550143,V,US,NY,sms\n"
        + "t-6,DA7QK4M2ZP,2023-03-01T00:00:00Z,+12125550143,V,US,NY,sms\n"
        + "t-7,DA7QK4M2ZP,1709290000000,+12125550143,V,US,NY,sms\n"  # milliseconds
        + "t-8,DA7QK4M2ZP,1709290000,+12125550143,V,US,NY,sms\n"  # seconds
    )

    batch = imported(breach, content)

    window = "2024-03-01 00:00 to 2024-04-01 00:00 UTC, give or take 2 days"
    assert [(row["line"], row["reason"]) for row in report(batch)] == [
        ("4", f'sent_at "2024-02-27T00:00:00-01:00" is outside the exposure window ({window})'),
        ("5", 'sent_at "2099-01-01T00:00:00Z" is in the future'),
        ("6", f'sent_at "2023-03-01T00:00:00Z" is outside the exposure window ({window})'),
    ]
    assert set(MessageLogRecord.objects.values_list("provider_message_id", flat=True)) == {
        "t-2",
        "t-3",
        "t-7",
        "t-8",
    }
    moments = MessageLogRecord.objects.filter(provider_message_id__in=["t-7", "t-8"])
    assert {row.sent_at for row in moments} == {datetime(2024, 3, 1, 10, 46, 40, tzinfo=UTC)}


def test_it_takes_the_tolerance_from_the_incident(breach, acme):
    breach.sent_at_tolerance_hours = 0
    breach.save(update_fields=["sent_at_tolerance_hours"])
    content = HEADER + "t-2,DA7QK4M2ZP,2024-02-29T23:59:59Z,+12125550143,V,US,NY,sms\n"

    batch = imported(breach, content)

    assert report(batch)[0]["reason"].endswith("give or take 0 hours)")
    assert batch.imported == 0


def test_it_draws_the_dashboard_chart_within_the_window_whatever_the_data(breach, acme):
    from portal.incidents.exposures.selectors import messages_per_day

    # Rows the checks let through before this issue: two years early, 75 years late.
    factories.log_record(breach, acme, sent_at=datetime(2022, 3, 1, tzinfo=UTC))
    factories.log_record(breach, acme, sent_at=datetime(2099, 1, 1, tzinfo=UTC))
    factories.log_record(breach, acme, sent_at=datetime(2024, 3, 15, tzinfo=UTC))
    factories.log_record(breach, acme, sent_at=datetime(2024, 2, 29, 12, tzinfo=UTC))

    days = messages_per_day(acme, breach, zone=UTC, messages=4)

    assert [day.day for day in (days[0], days[-1])] == [
        datetime(2024, 2, 29).date(),  # in the tolerance, with a message: shown
        datetime(2024, 3, 31).date(),
    ]
    assert sum(day.total for day in days) == 2


# --- Phones kept although only possible ---------------------------------------------


def test_it_says_in_the_row_why_a_number_only_possible_was_kept(breach, acme):
    content = HEADER + "n-2,DA7QK4M2ZP,2024-03-01T08:00:00Z,07700 900123,EE,GB,England,sms\n"

    imported(breach, content)

    row = MessageLogRecord.objects.get()
    assert row.phone == "+447700900123"
    assert row.extra[PHONE_NOTE].startswith("possible but not valid")


# --- Held for review ----------------------------------------------------------------


def _mostly_wrong(rows: int = 40, wrong: int = 12) -> str:
    lines = [
        f"h-{n},DA7QK4M2ZP,2024-03-01T08:00:00Z,"
        + ("12" if n < wrong else f"+1212555{n:04d}")
        + ",Verizon,US,NY,sms\n"
        for n in range(rows)
    ]
    return HEADER + "".join(lines)


def test_it_holds_a_file_with_too_many_rejected_rows_and_publishes_nothing(
    breach, acme, django_capture_on_commit_callbacks
):
    factories.member(acme, "owner@acme.example", "owner")

    with django_capture_on_commit_callbacks(execute=True):
        batch = imported(breach, _mostly_wrong())

    assert batch.status == ImportBatch.Status.HELD
    assert counts(batch) == {
        "seen": 40,
        "imported": 0,
        "duplicate": 0,
        "rejected": 12,
        "unknown_account": 0,
    }
    # Grouped by the English text; stored with the untranslated message and its
    # parameters (the file's value blanked), for each viewer's language.
    assert batch.error_groups == [
        {
            "reason": "phone “…” is too short for US",
            "count": 12,
            "line": 2,
            "msgid": 'phone "%(phone)s" %(problem)s',
            "params": {
                "phone": "…",
                "problem": {"msgid": "is too short for %(country)s", "params": {"country": "US"}},
            },
        },
    ]
    assert len(report(batch)) == 12
    assert not MessageLogRecord.objects.exists()
    assert not Exposure.objects.exists()
    # The customer notice waits for rows that are published.
    assert not ScheduledEmail.objects.filter(kind="customer_notice").exists()
    assert AuditEvent.objects.filter(action="import.held").count() == 1


def test_it_publishes_a_held_file_once_the_operator_accepts_its_problems(
    breach, acme, olivia, django_capture_on_commit_callbacks
):
    batch = imported(breach, _mostly_wrong())

    with django_capture_on_commit_callbacks(execute=True):
        assert import_batch_accept_problems(batch=batch, by=olivia)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMPLETED
    assert (batch.imported, batch.rejected) == (28, 12)
    assert batch.problems_accepted_by == olivia
    assert MessageLogRecord.objects.count() == 28
    assert Exposure.objects.count() == 28
    assert not import_batch_accept_problems(batch=batch, by=olivia)  # once only
    assert AuditEvent.objects.filter(action="import.accept_problems").count() == 1


def test_it_discards_a_held_file_for_good(breach, acme, olivia):
    batch = imported(breach, _mostly_wrong())

    assert import_batch_discard(batch=batch, by=olivia)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DISCARDED
    assert not MessageLogRecord.objects.exists()
    assert not import_batch_accept_problems(batch=batch, by=olivia)
    assert AuditEvent.objects.filter(action="import.discard").count() == 1


def test_it_publishes_a_few_bad_rows_without_holding(breach, acme, settings):
    # Nine rejected of forty is over 1%, but under the minimum that holds a file.
    batch = imported(breach, _mostly_wrong(wrong=9))

    assert batch.status == ImportBatch.Status.COMPLETED
    assert batch.imported == 31

    settings.IMPORT_HOLD_MIN_REJECTED = 1
    settings.IMPORT_HOLD_REJECTED_PERCENT = 50
    batch = imported(breach, _mostly_wrong(wrong=9).replace("h-", "i-"))
    assert batch.status == ImportBatch.Status.COMPLETED


def test_it_shows_the_operator_a_held_file_with_its_reasons_and_what_to_do(
    client, breach, acme, olivia
):
    batch = imported(breach, _mostly_wrong())
    client.force_login(olivia)

    html = client.get(f"/operator/incidents/batches/{batch.public_id}/").content.decode()

    assert "Held for your review: nothing was published." in html
    assert "12 of 40 rows (30%) were rejected, more than the 1%" in html
    assert "phone “…” is too short for US" in html
    assert "Publish the 28 rows that could be read" in html
    assert "Discard the import" in html

    response = client.post(f"/operator/incidents/batches/{batch.public_id}/discard/")
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DISCARDED


def test_it_shows_a_french_operator_the_reasons_in_french_grouped_the_same(
    client, breach, acme, olivia
):
    batch = imported(breach, _mostly_wrong())
    olivia.language = "fr"
    olivia.save(update_fields=["language"])
    client.force_login(olivia)

    html = client.get(f"/operator/incidents/batches/{batch.public_id}/").content.decode()

    assert '<html lang="fr">' in html
    assert "rejetées</dt>" in html  # the outcome's counts, named in French too
    groups = html.split("data-error-groups", 1)[1].split("</table>", 1)[0]
    assert groups.count("<tr>") == 2  # the header and one group of 12
    assert "le téléphone “…” est trop court pour US" in groups
    assert "is too short" not in html
    rows = html.split("data-error-groups", 1)[1].split("</table>", 2)[1]
    assert rows.count("le téléphone &quot;12&quot; est trop court pour US") == 12


def test_a_french_operator_downloads_the_error_report_in_french(client, breach, acme, olivia):
    batch = imported(breach, _mostly_wrong())
    olivia.language = "fr"
    olivia.save(update_fields=["language"])
    client.force_login(olivia)

    response = client.get(f"/operator/incidents/batches/{batch.public_id}/errors.csv")

    assert response.status_code == 200
    assert 'filename="' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 12
    assert list(rows[0]) == ["line", "message_id", "account_id", "reason"]
    assert {row["reason"] for row in rows} == {'le téléphone "12" est trop court pour US'}


def test_it_still_shows_reasons_stored_as_english_text_before_they_kept_their_msgid(
    client, breach, acme, olivia
):
    batch = imported(breach, _mostly_wrong())
    batch.error_groups = [{"reason": "phone “…” is too short for US", "count": 12, "line": 2}]
    batch.first_errors = [
        {"line": 2, "message_id": "h-0", "account_id": "DA7QK4M2ZP", "reason": 'phone "12" x'}
    ]
    batch.save(update_fields=["error_groups", "first_errors"])
    olivia.language = "fr"
    olivia.save(update_fields=["language"])
    client.force_login(olivia)

    html = client.get(f"/operator/incidents/batches/{batch.public_id}/").content.decode()

    assert "phone “…” is too short for US" in html
    assert "phone &quot;12&quot; x" in html


def test_it_lets_no_one_but_staff_publish_or_discard_a_held_file(client, breach, acme):
    batch = imported(breach, _mostly_wrong())
    member = factories.member(acme, "owner@acme.example", "owner")
    client.force_login(member)

    for action in ("publish", "discard"):
        response = client.post(f"/operator/incidents/batches/{batch.public_id}/{action}/")
        assert response.status_code == 404
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.HELD


# --- CSV that goes wrong across lines -------------------------------------------------


def test_it_names_every_line_a_quote_that_never_closes_took_with_it(breach, acme, settings):
    settings.IMPORT_HOLD_REJECTED_PERCENT = 100
    good = "q-{n},DA7QK4M2ZP,2024-03-01T08:00:00Z,+1212555{n:04d},Verizon,US,NY,sms\n"
    content = (
        HEADER
        + good.format(n=2)
        + 'q-3,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550003,"Verizon,US,NY,sms\n'
        + "".join(good.format(n=n) for n in range(4, 10))
    )

    batch = imported(breach, content)

    assert (batch.seen, batch.imported, batch.rejected) == (2, 1, 1)
    [problem] = report(batch)
    assert problem["line"] == "3"
    assert problem["reason"] == (
        "lines 3-9 read as one record (a quoted field runs across them): cannot be read "
        "as CSV (unexpected end of data)"
    )


def test_it_names_the_lines_a_stray_quote_joined_into_one_record(breach, acme, settings):
    settings.IMPORT_HOLD_REJECTED_PERCENT = 100
    good = "q-{n},DA7QK4M2ZP,2024-03-01T08:00:00Z,+1212555{n:04d},Verizon,US,NY,sms\n"
    content = (
        HEADER
        + good.format(n=2)
        + 'q-3,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550003,"Verizon,US,NY,sms\n'
        + 'q-4,DA7QK4M2ZP,2024-03-01T08:00:00Z,+12125550004,Verizon",US,NY,sms\n'
        + good.format(n=5)
    )

    batch = imported(breach, content)

    assert batch.imported == 2  # lines 2 and 5
    [problem] = report(batch)
    assert problem["reason"].startswith("lines 3-4 read as one record")


def test_it_refuses_a_file_whose_lines_end_in_a_carriage_return_alone(breach, acme):
    content = (HEADER + ACCENTED).replace("\n", "\r")

    with pytest.raises(ImportRefusedError, match="carriage return alone"):
        created(breach, content)


# --- The country is the number's ------------------------------------------------------


def test_it_files_a_row_under_its_numbers_country_and_keeps_the_hint_it_was_given(breach, acme):
    content = (
        HEADER
        + "r-2,DA7QK4M2ZP,2024-03-01T08:00:00Z,+34612345678,Vodacom,ZA,Gauteng,sms\n"
        + "r-3,DA7QK4M2ZP,2024-03-01T09:00:00Z,0049 1512 3000371,Singtel,SG,,sms\n"
        + "r-4,DA7QK4M2ZP,2024-03-01T10:00:00Z,+34612345678,Movistar,ES,Madrid,sms\n"
    )

    imported(breach, content)

    roaming = MessageLogRecord.objects.get(provider_message_id="r-2")
    assert (roaming.country, roaming.extra["vigil_country_as_written"]) == ("ES", "ZA")
    assert MessageLogRecord.objects.get(provider_message_id="r-3").phone == "+4915123000371"
    home = MessageLogRecord.objects.get(provider_message_id="r-4")
    assert (home.country, home.region_code) == ("ES", "")
    assert "vigil_country_as_written" not in home.extra
    assert set(Exposure.objects.values_list("phone", "country")) == {
        ("+34612345678", "ES"),
        ("+4915123000371", "DE"),
    }
