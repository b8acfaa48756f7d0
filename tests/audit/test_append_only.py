import sqlite3
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import QuerySet

from portal.audit.models import AuditEvent, AuditLogAppendOnlyError
from portal.audit.services import audit_record
from tests import factories
from tests.database_roles import owner_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    acme = factories.organization()
    return audit_record(action="phone.reveal", organization=acme, details={"last4": "0143"})


def _raw_sql(sql):
    """`sql` through Django's cursor; %s, if it has one, is the event's id."""

    def run(event):
        with connection.cursor() as cursor:
            sql_here = sql.format(table=AuditEvent._meta.db_table)
            cursor.execute(sql_here, [event.pk] if "%s" in sql_here else None)

    return run


def _changed(event):
    event.action = "nothing.happened"
    event.save()


def _forged(event):
    return AuditEvent(id=event.pk, action="nothing.happened", actor_label="system")


def _upsert(queryset):
    def run(event):
        queryset().bulk_create(
            [_forged(event)],
            update_conflicts=True,
            update_fields=["action"],
            unique_fields=["id"],
        )

    return run


def _plain():
    """A QuerySet of the model that is not its own: no method of ours on it."""
    return QuerySet(AuditEvent)


# Every way Django offers to change or remove a row, through the model's own manager,
# its base manager, a plain QuerySet and raw SQL. (The outside probe of issue 11 found
# 8 of the first 14 of these working on SQLite.)
WAYS = {
    "save a changed event": _changed,
    "delete the event": lambda event: event.delete(),
    "manager update": lambda event: AuditEvent.objects.filter(pk=event.pk).update(action="x"),
    "manager delete": lambda event: AuditEvent.objects.filter(pk=event.pk).delete(),
    "bulk_update": lambda event: AuditEvent.objects.bulk_update([_forged(event)], ["action"]),
    "base manager update": lambda event: AuditEvent._base_manager.filter(pk=event.pk).update(
        action="x"
    ),
    "base manager delete": lambda event: AuditEvent._base_manager.filter(pk=event.pk).delete(),
    "plain QuerySet update": lambda event: _plain().filter(pk=event.pk).update(action="x"),
    "plain QuerySet delete": lambda event: _plain().filter(pk=event.pk).delete(),
    "bulk_create(update_conflicts=True)": _upsert(lambda: AuditEvent.objects),
    "plain bulk_create(update_conflicts=True)": _upsert(_plain),
    "_raw_delete": lambda event: AuditEvent.objects.filter(pk=event.pk)._raw_delete("default"),
    "plain _raw_delete": lambda event: _plain().filter(pk=event.pk)._raw_delete("default"),
    "save a new event over its id": lambda event: _forged(event).save(),
    "update_or_create": lambda event: AuditEvent.objects.update_or_create(
        pk=event.pk, defaults={"action": "x"}
    ),
    "raw UPDATE": _raw_sql("UPDATE {table} SET action = 'nothing.happened' WHERE id = %s"),
    "raw DELETE": _raw_sql("DELETE FROM {table} WHERE id = %s"),
    "raw DELETE of everything": _raw_sql("DELETE FROM {table}"),
    "raw TRUNCATE": _raw_sql(
        "TRUNCATE {table}" if connection.vendor == "postgresql" else "DELETE FROM {table}"
    ),
    # ...and switching off the triggers that refuse all that, beneath the ORM.
    "raw DROP TRIGGER": _raw_sql(
        "DROP TRIGGER audit_event_append_only ON {table}"
        if connection.vendor == "postgresql"
        else "DROP TRIGGER audit_event_refuse_update"
    ),
    "raw DISABLE TRIGGER": _raw_sql("ALTER TABLE {table} DISABLE TRIGGER ALL"),
    "raw session_replication_role": _raw_sql("SET session_replication_role = replica"),
}


@pytest.mark.parametrize("way", WAYS.values(), ids=WAYS.keys())
def test_it_refuses_every_way_to_change_or_remove_an_event(event, way):
    # Runs on SQLite by default and on PostgreSQL when DATABASE_URL names one: CI runs
    # the suite on both.
    with pytest.raises(AuditLogAppendOnlyError), transaction.atomic():
        way(event)

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.details) == ("phone.reveal", {"last4": "0143"})
    assert AuditEvent.objects.count() == 1


# Beneath Django: the database's own triggers refuse, to any client, the owner of the
# table included. These go through the driver, past the guard on Django's connections.
BENEATH = {
    "UPDATE": "UPDATE audit_auditevent SET action = 'nothing.happened' WHERE id = {id}",
    "DELETE": "DELETE FROM audit_auditevent WHERE id = {id}",
    "DELETE of everything": "DELETE FROM audit_auditevent",
    "upsert": "INSERT INTO audit_auditevent (id, created_at, actor_label, action, target_type,"
    " target_id, target_label, user_agent, details) VALUES ({id}, CURRENT_TIMESTAMP, 'x',"
    " 'nothing.happened', '', '', '', '', '{{}}') ON CONFLICT (id) DO UPDATE SET action ="
    " excluded.action",
}
BENEATH_POSTGRES = {
    "TRUNCATE": "TRUNCATE audit_auditevent",
    "TRUNCATE with others": "TRUNCATE accounts_signinthrottle, audit_auditevent",
}
BENEATH_SQLITE = {
    "INSERT OR REPLACE": "INSERT OR REPLACE INTO audit_auditevent (id, created_at, actor_label,"
    " action, target_type, target_id, target_label, user_agent, details) VALUES ({id},"
    " CURRENT_TIMESTAMP, 'x', 'nothing.happened', '', '', '', '', '{{}}')",
    "UPDATE OR REPLACE": "UPDATE OR REPLACE audit_auditevent SET action = 'x' WHERE id = {id}",
}
BENEATH.update({"postgresql": BENEATH_POSTGRES, "sqlite": BENEATH_SQLITE}[connection.vendor])


@contextmanager
def _driver_cursor():
    """On PostgreSQL the owner's own connection (the app's role, which the suite runs
    as, may not even try); on SQLite, which has no roles, the driver's under Django's."""
    if connection.vendor == "postgresql":
        with owner_connection() as raw:
            yield raw.cursor(), psycopg.Error
    else:
        connection.ensure_connection()
        yield connection.connection.cursor(), sqlite3.Error


@pytest.mark.django_db(transaction=True)  # the owner's connection sees committed rows only
@pytest.mark.parametrize("sql", BENEATH.values(), ids=BENEATH.keys())
def test_the_database_itself_refuses_every_change_even_to_the_owner(event, sql):
    with _driver_cursor() as (cursor, driver_error), pytest.raises(driver_error) as refused:
        cursor.execute(sql.format(id=event.pk))

    assert "append-only" in str(refused.value)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.details) == ("phone.reveal", {"last4": "0143"})


def test_it_still_appends(event):
    audit_record(action="phone.reveal", details={"last4": "0199"})
    AuditEvent.objects.bulk_create([AuditEvent(actor_label="system", action="bulk")])

    assert AuditEvent.objects.count() == 3


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
