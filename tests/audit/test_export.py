"""Exporting an account's audit log as CSV."""

import csv
import io
from datetime import UTC, datetime
from unittest import mock

from django.http import StreamingHttpResponse

from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from tests import factories


def url(org) -> str:
    return f"/o/{org.public_id}/audit/export.csv"


def rows_of(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_it_exports_the_accounts_events_with_a_header(client, sign_in, alice, acme):
    incident = factories.incident(title="March 2024 SMS logs")
    audit_record(
        action="logcopy.download",
        actor=alice,
        organization=acme,
        target=incident,
        details={"rows": 1200},
    )
    sign_in(alice)

    response = client.get(url(acme))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    rows = rows_of(response)
    download = next(row for row in rows if row["action"] == "logcopy.download")
    assert download["actor"] == "alice@acme.example"
    assert download["action_label"] == "Downloaded a log copy"
    assert download["account_id"] == "DA9XK2ACME"
    assert download["target"] == "March 2024 SMS logs"
    assert download["target_id"] == str(incident.public_id)
    assert download["details"] == '{"rows": 1200}'


def test_it_names_the_file_after_the_account_and_the_day(client, sign_in, alice, acme):
    sign_in(alice)
    # 23:30 UTC is already the next day in Berlin, the account's time zone.
    with mock.patch(
        "django.utils.timezone.now", return_value=datetime(2024, 3, 9, 23, 30, tzinfo=UTC)
    ):
        response = client.get(url(acme))

    assert response["Content-Disposition"] == (
        'attachment; filename="vigil-audit-DA9XK2ACME-2024-03-10.csv"'
    )


def test_it_exports_only_the_filtered_events(client, sign_in, alice, bob, acme, record_at):
    record_at(
        datetime(2024, 3, 9, 23, 30, tzinfo=UTC),
        action="phone.reveal",
        actor=bob,
        organization=acme,
    )
    record_at(
        datetime(2024, 3, 9, 22, 30, tzinfo=UTC),
        action="phone.reveal",
        actor=bob,
        organization=acme,
    )
    record_at(
        datetime(2024, 3, 9, 23, 45, tzinfo=UTC),
        action="phone.reveal",
        actor=alice,
        organization=acme,
    )
    record_at(
        datetime(2024, 3, 9, 23, 50, tzinfo=UTC),
        action="logcopy.download",
        actor=bob,
        organization=acme,
    )
    sign_in(alice)

    response = client.get(
        url(acme),
        {"who": "bob@acme.example", "action": "phone.reveal", "date_from": "2024-03-10"},
    )

    rows = rows_of(response)
    assert [(row["time"], row["actor"], row["action"]) for row in rows] == [
        ("2024-03-10T00:30:00+01:00", "bob@acme.example", "phone.reveal")
    ]


def test_it_never_exports_another_accounts_events(client, sign_in, alice, acme, globex, charlie):
    audit_record(action="phone.reveal", actor=charlie, organization=globex)
    audit_record(action="signin.success", actor=charlie)
    audit_record(action="phone.reveal", actor=alice, organization=acme)
    sign_in(alice)

    rows = rows_of(client.get(url(acme)))

    assert {row["actor"] for row in rows} == {"alice@acme.example"}
    assert {row["account_id"] for row in rows} == {"DA9XK2ACME"}


def test_it_includes_members_sign_ins(client, sign_in, alice, bob, acme):
    audit_record(action="signin.lockout", actor=bob, details={"failures": 5})
    sign_in(alice)

    rows = rows_of(client.get(url(acme)))

    lockout = next(row for row in rows if row["action"] == "signin.lockout")
    assert lockout["actor"] == "bob@acme.example"
    assert lockout["account_id"] == ""


def test_it_neutralizes_spreadsheet_formulas(client, sign_in, alice, acme):
    evil = factories.directory_user(acme, username="evil", name="=cmd|' /C calc'!A0")
    audit_record(action="directory.import", actor=alice, organization=acme, target=evil)
    sign_in(alice)

    rows = rows_of(client.get(url(acme), {"action": "directory.import"}))

    assert rows[0]["target"] == "'=cmd|' /C calc'!A0"


def test_it_records_the_export_with_its_filters(client, sign_in, alice, acme):
    sign_in(alice)

    response = client.get(url(acme), {"who": "bob", "action_prefix": "signin.", "page": "3"})
    rows_of(response)

    event = AuditEvent.objects.get(action="audit.export")
    assert event.actor == alice
    assert event.organization == acme
    assert event.details == {"filters": {"who": "bob", "action_prefix": "signin."}}


def test_it_refuses_a_viewer(client, sign_in, vera, acme):
    sign_in(vera)

    assert client.get(url(acme)).status_code == 403
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_it_is_a_404_for_someone_outside_the_account(client, sign_in, charlie, acme):
    sign_in(charlie)

    assert client.get(url(acme)).status_code == 404
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_it_refuses_head_requests_which_would_record_an_empty_export(client, sign_in, alice, acme):
    sign_in(alice)

    assert client.head(url(acme)).status_code == 405
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_it_hides_secrets_and_full_phone_numbers(client, sign_in, alice, acme):
    audit_record(
        action="phone.reveal",
        actor=alice,
        organization=acme,
        details={"phone": "+12125550143", "recovery_codes": ["123456"]},
    )
    sign_in(alice)

    text = b"".join(client.get(url(acme)).streaming_content).decode()

    assert "+12125550143" not in text
    assert "123456" not in text
    assert "***0143" in text
