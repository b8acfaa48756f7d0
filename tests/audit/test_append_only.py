import pytest
from django.db import DatabaseError, connection, transaction

from portal.audit.models import AuditEvent, AuditLogAppendOnlyError
from portal.audit.services import audit_record
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    acme = factories.organization()
    return audit_record(action="phone.reveal", organization=acme, details={"last4": "0143"})


def test_it_refuses_to_update_an_event_through_the_orm(event):
    event.action = "nothing.happened"
    with pytest.raises(AuditLogAppendOnlyError):
        event.save()
    with pytest.raises(AuditLogAppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")

    assert AuditEvent.objects.get(pk=event.pk).action == "phone.reveal"


def test_it_refuses_to_delete_an_event_through_the_orm(event):
    with pytest.raises(AuditLogAppendOnlyError):
        event.delete()
    with pytest.raises(AuditLogAppendOnlyError):
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'nothing.happened' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_it_refuses_raw_sql_changes_on_postgres(event, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])

    assert AuditEvent.objects.get(pk=event.pk).action == "phone.reveal"


def test_it_records_the_system_as_actor_when_there_is_no_user(event):
    assert event.actor is None
    assert event.actor_label == "system"


def test_it_never_stores_a_secret_or_a_full_phone_number():
    event = audit_record(
        action="phone.reveal",
        organization=factories.organization(),
        details={"phone": "+12125550143", "note": "called +447700900123", "token": "s3cr3t"},
    )

    stored = AuditEvent.objects.get(pk=event.pk).details
    assert stored == {"phone": "***0143", "note": "called ***0123", "token": "[hidden]"}


def test_it_cuts_a_phone_number_however_it_was_typed_in_any_detail():
    event = audit_record(
        action="exposure.export",
        organization=factories.organization(),
        details={
            "filters": {"q": "9716281352", "country": "US"},
            "note": "asked about (212) 555-0143, twice",
            "last4": "0143",
            "when": "2024-03-01 10:00:00",
            "incident": "12345678-1234-4abc-8def-123456789abc",
            "address": "192.168.100.200",
        },
    )

    assert AuditEvent.objects.get(pk=event.pk).details == {
        "filters": {"q": "***1352", "country": "US"},
        "note": "asked about ***0143, twice",
        "last4": "0143",
        "when": "2024-03-01 10:00:00",
        "incident": "12345678-1234-4abc-8def-123456789abc",
        "address": "192.168.100.200",
    }
