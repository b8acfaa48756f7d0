"""Least privilege on PostgreSQL: the app's role (DATABASE_URL), which web, worker, beat
and this test suite connect as, owns nothing and may only read and append to the audit
log; the owner (MIGRATE_DATABASE_URL) migrates. docs/database-roles.md.

Each statement here goes to the database through the driver, past the audit log's guard
on Django's connections: what is tested is the database's refusal, to the app's role.
"""

from unittest import mock

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from portal.audit.models import AuditEvent
from portal.database import STAGING_SCHEMA, database_app_role_grant

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.app_role]

AUDIT = AuditEvent._meta.db_table


def refusal(sql: str) -> str:
    """What PostgreSQL answers the app's role for `sql`; fails the test if it obeys."""
    connection.ensure_connection()
    with pytest.raises(psycopg.Error) as refused, transaction.atomic():
        connection.connection.cursor().execute(sql)
    return str(refused.value)


def one(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_the_suite_runs_as_the_app_role_which_owns_nothing():
    user, superuser, createrole, bypassrls = one(
        "SELECT current_user, rolsuper, rolcreaterole, rolbypassrls"
        " FROM pg_roles WHERE rolname = current_user"
    )
    owned = one(
        """
        SELECT
            (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relowner = r.oid AND n.nspname NOT LIKE 'pg\\_%%'),
            (SELECT count(*) FROM pg_proc WHERE proowner = r.oid),
            (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid),
            (SELECT count(*) FROM pg_database WHERE datdba = r.oid)
        FROM pg_roles r WHERE r.rolname = current_user
        """
    )

    assert user != "postgres"
    assert (superuser, createrole, bypassrls) == (False, False, False)
    assert owned == (0, 0, 0, 0)  # tables, sequences and indexes; functions; schemas; databases


@pytest.mark.parametrize(
    "sql",
    [
        f"ALTER TABLE {AUDIT} DISABLE TRIGGER audit_event_append_only",
        f"ALTER TABLE {AUDIT} DISABLE TRIGGER USER",
        f"ALTER TABLE {AUDIT} DISABLE TRIGGER ALL",
        f"DROP TRIGGER audit_event_append_only ON {AUDIT}",
        f"DROP TRIGGER audit_event_refuse_truncate ON {AUDIT}",
    ],
)
def test_it_cannot_switch_off_the_audit_triggers(sql):
    assert "must be owner" in refusal(sql)


def test_it_cannot_switch_off_every_trigger_for_its_session():
    answer = refusal("SET session_replication_role = replica")

    assert 'permission denied to set parameter "session_replication_role"' in answer


@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE audit_auditevent",
        "UPDATE audit_auditevent SET action = 'nothing.happened'",
        "DELETE FROM audit_auditevent",
        "SELECT id FROM audit_auditevent FOR UPDATE",
    ],
)
def test_it_cannot_change_the_audit_log(sql):
    assert f"permission denied for table {AUDIT}" in refusal(sql)


def test_it_may_only_read_and_append_to_the_audit_log():
    privileges = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    held = one(
        "SELECT " + ", ".join(f"has_table_privilege(current_user, %s, '{p}')" for p in privileges),
        [AUDIT] * len(privileges),
    )

    assert dict(zip(privileges, held, strict=True)) == {
        "SELECT": True,
        "INSERT": True,
        "UPDATE": False,
        "DELETE": False,
        "TRUNCATE": False,
        "REFERENCES": False,
        "TRIGGER": False,
    }


@pytest.mark.parametrize(
    ("sql", "answer"),
    [
        ("DROP TABLE accounts_user", "must be owner"),
        ("ALTER TABLE accounts_user ADD COLUMN x int", "must be owner"),
        ("TRUNCATE accounts_signinthrottle", "permission denied"),  # no table at all
        (f"TRUNCATE accounts_signinthrottle, {AUDIT}", "permission denied"),
        ("CREATE TABLE public.planted (x int)", "permission denied for schema public"),
        (
            "CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE sql AS 'SELECT 1::text'",
            "permission denied for schema public",
        ),
    ],
)
def test_it_cannot_change_the_schema_it_works_in(sql, answer):
    # Nor plant a function there that the owner's next migration would run as the owner.
    assert answer in refusal(sql)


def test_it_may_make_and_drop_the_imports_staging_tables():
    # The import's unqualified CREATE TABLE import_stage_<id> lands in the staging
    # schema, first in the app role's search_path: the one place it may create tables.
    with connection.cursor() as cursor:
        cursor.execute("CREATE UNLOGGED TABLE import_stage_0 (line bigint NOT NULL)")
        cursor.execute("SELECT schemaname FROM pg_tables WHERE tablename = 'import_stage_0'")
        assert cursor.fetchone() == (STAGING_SCHEMA,)
        cursor.execute("DROP TABLE import_stage_0")


@pytest.mark.django_db(transaction=True)  # migrate reconnects, as the owner
def test_migrate_runs_as_the_owner_and_grants_the_app_role_again():
    migrated_as = []

    def grant(*, using):
        migrated_as.append(one("SELECT current_user")[0])
        database_app_role_grant(using=using)

    with mock.patch("portal.management.commands.migrate.database_app_role_grant", grant):
        call_command("migrate", verbosity=0)

    assert migrated_as == [settings.DATABASE_ROLES["owner"]["USER"]]
    # The app's role again afterwards, with its grants (and still nothing more).
    assert one("SELECT current_user") == (settings.DATABASE_ROLES["app"]["USER"],)
    assert one("SELECT has_table_privilege(current_user, %s, 'UPDATE')", [AUDIT]) == (False,)
    assert one("SELECT has_table_privilege(current_user, 'accounts_user', 'UPDATE')") == (True,)


def test_the_app_role_refreshes_statistics_of_the_tables_bulk_loads_fill_and_no_others():
    from portal.database import table_analyze
    from portal.incidents.models import MessageLogRecord
    from tests import factories

    acme = factories.organization("Acme Corp", account_id="DA7QK4M2ZP")
    breach = factories.incident()
    for _ in range(3):
        factories.log_record(breach, acme)
    table = MessageLogRecord._meta.db_table
    statistics = "SELECT count(*) FROM pg_stats WHERE tablename = %s"
    # A plain ANALYZE by a role that does not own the table is skipped, with a warning.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    assert one(statistics, [table]) == (0,)

    table_analyze(MessageLogRecord)  # inside the test's transaction, rows uncommitted

    assert one(statistics, [table])[0] > 0
    assert "is not a table it analyzes" in refusal(f"SELECT vigil_analyze('{AUDIT}')")
