"""The audit log's guard on every database connection Django opens.

The model and its queryset refuse what the ORM does through them. This refuses the
rest of what goes through Django: SQL that would change or remove audit events, or
switch off the triggers that refuse it, is stopped before it reaches the database,
whether a plain QuerySet(AuditEvent).update() wrote it, a bulk upsert, or a raw
statement through connection.cursor(). Below it, the database's own triggers (audit
migrations 0002 and 0003) refuse the same to anything that does not go through Django,
and on PostgreSQL the application's role has no privilege to change the table at all
(docs/database-roles.md).

Migrations run with the guard suspended (the schema may change; the triggers still
refuse changes to rows), and so does the flush that empties a test database between
tests, which alone also lifts the triggers (`audit_log_flush_allowed`).
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import connections, transaction

from portal.audit.models import AuditEvent, AuditLogAppendOnlyError

TABLE = AuditEvent._meta.db_table
TRIGGER_PREFIX = "audit_event_"  # every trigger of the audit migrations is named so

# The table's name, quoted or not, schema-qualified or not.
_NAME = rf"""(?:[`"\[]?\w+[`"\]]?\s*\.\s*)?[`"\[]?{TABLE}\b"""
_REFUSED = re.compile(
    rf"""
      \bUPDATE\s+(?:OR\s+\w+\s+)?(?:ONLY\s+)?{_NAME}       # UPDATE, SQLite's UPDATE OR ...
    | \bDELETE\s+FROM\s+(?:ONLY\s+)?{_NAME}
    | \bTRUNCATE\b[^;]*?{_NAME}                             # TRUNCATE a, audit, b
    | \bREPLACE\s+INTO\s+{_NAME}                            # SQLite's (INSERT OR) REPLACE
    | \bINTO\s+{_NAME}[^;]*?\bDO\s+UPDATE\b                 # an upsert that overwrites
    | \bDROP\s+TRIGGER\b[^;]*?\b{TRIGGER_PREFIX}
    | \bALTER\s+TABLE\b[^;]*?{_NAME}[^;]*?\bTRIGGER\b       # ... DISABLE TRIGGER
    | \bsession_replication_role\b                          # PostgreSQL: triggers off
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Cheap first look, so that the statements that cannot concern the log (nearly all)
# cost one scan.
_MENTIONS = re.compile(rf"{TABLE}|{TRIGGER_PREFIX}|session_replication_role", re.IGNORECASE)

_suspended: ContextVar[bool] = ContextVar("audit_guard_suspended", default=False)


def audit_guard(execute, sql, params, many, context):
    """An execute wrapper (Django's connection.execute_wrappers)."""
    if (
        isinstance(sql, str)
        and _MENTIONS.search(sql)
        and not _suspended.get()
        and _REFUSED.search(sql)
    ):
        raise AuditLogAppendOnlyError(
            "the audit log is append-only: this statement would change or remove events"
        )
    return execute(sql, params, many, context)


def audit_guard_install(sender, connection, **kwargs) -> None:
    """On connection_created: guard the connection (once; it may reconnect)."""
    if audit_guard not in connection.execute_wrappers:
        # First, not last: Django's execute_wrapper() context pops the last wrapper
        # when it ends, and would take the guard with it.
        connection.execute_wrappers.insert(0, audit_guard)


@contextmanager
def audit_guard_suspended() -> Iterator[None]:
    """For migrations, whose DDL may name the table; per thread (a context variable)."""
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)


@contextmanager
def audit_log_flush_allowed(using: str) -> Iterator[None]:
    """Let `flush` empty the audit log too, where settings.AUDIT_LOG_FLUSHABLE says so:
    the test suite's own databases, emptied after each test that commits. Anywhere
    else this changes nothing, and a flush stops at the first audit event.

    On PostgreSQL the owner (who alone may) switches the triggers off for the length of
    one transaction; SQLite has no such switch, so its triggers are dropped and made
    again from their own definitions in that transaction.
    """
    if not settings.AUDIT_LOG_FLUSHABLE:
        yield
        return
    connection = connections[using]
    table = connection.ops.quote_name(TABLE)
    with audit_guard_suspended(), transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            return
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            [TABLE],
        )
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
        yield
        for _, sql in triggers:
            cursor.execute(sql)
