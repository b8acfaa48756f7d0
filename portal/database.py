"""Two PostgreSQL roles: the owner of the tables, who migrates, and the app's role.

Web, worker and beat connect as the app's role (DATABASE_URL), which owns nothing: it
cannot alter a table, switch a trigger off, truncate, or change the audit log, where
it may only read and append. `migrate` connects as the owner (MIGRATE_DATABASE_URL)
and, once the schema is current, grants the app's role what it needs on every table,
sequence and schema. docs/database-roles.md has the whole of it, and the SQL that
creates the two roles.

With MIGRATE_DATABASE_URL unset (SQLite, or one role in development) all of this does
nothing: the one role does both.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

# The schema where the app's role may create tables: the import's staging tables
# (portal/incidents/imports/loader.py), which it makes, fills and drops as it runs. Its
# search_path puts this schema first (set where the role is created), so those
# unqualified CREATE TABLEs land here, while it may create nothing in the schema the
# owner migrates. A role that could create functions there could plant one for the
# owner's next migration to run with the owner's rights.
STAGING_SCHEMA = "staging"


def _roles() -> dict | None:
    return settings.DATABASE_ROLES


@contextmanager
def connected_as_owner(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """This thread's connection to `using` as the owner for the block, then back."""
    roles = _roles()
    connection = connections[using]
    if (
        not roles
        or using != DEFAULT_DB_ALIAS
        or connection.settings_dict.get("USER") == roles["owner"]["USER"]
    ):
        yield
        return
    as_app = connection.settings_dict
    connection.close()
    # A copy for this connection alone: other threads' connections (a live server's)
    # share the settings dict, and must not become the owner meanwhile.
    connection.settings_dict = {**as_app, **roles["owner"]}
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict = as_app


def database_role_use(role: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Every connection made from now on to `using` is made as `role` ("owner" or
    "app"). For the test suite: the owner creates, migrates and drops the test database,
    and the tests themselves run as the app's role, as production does."""
    roles = _roles()
    if not roles:
        return
    connections[using].close()
    connections[using].settings_dict.update(roles[role])


def database_app_role_grant(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """As the owner, once the schema is current: grant the app's role exactly what it
    needs. Idempotent; `migrate` runs it each time, so tables a migration adds are
    covered (and default privileges cover those the owner makes otherwise)."""
    roles = _roles()
    connection = connections[using]
    if not roles or connection.vendor != "postgresql":
        return
    from portal.audit.models import AuditEvent

    quote = connection.ops.quote_name
    app = quote(roles["app"]["USER"])
    audit = quote(AuditEvent._meta.db_table)
    staging = quote(STAGING_SCHEMA)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema(), pg_get_serial_sequence(%s, 'id')", [audit])
        schema, audit_sequence = cursor.fetchone()
        schema = quote(schema)
        for statement in (
            f"GRANT USAGE ON SCHEMA {schema} TO {app}",
            f"CREATE SCHEMA IF NOT EXISTS {staging}",
            f"GRANT USAGE, CREATE ON SCHEMA {staging} TO {app}",
            # Rows, not tables: no TRUNCATE, REFERENCES or TRIGGER anywhere.
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
            f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
            # The audit log: read and append, nothing else.
            f"REVOKE ALL ON {audit} FROM {app}",
            f"GRANT SELECT, INSERT ON {audit} TO {app}",
            f"REVOKE UPDATE ON SEQUENCE {audit_sequence} FROM {app}",
            # Tables and sequences the owner creates later, outside `migrate`.
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
            f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
            f" GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {app}",
            # ANALYZE of the tables bulk loads fill (incidents/0005): owners only, else.
            f"GRANT EXECUTE ON FUNCTION {schema}.vigil_analyze(text) TO {app}",
        ):
            cursor.execute(statement)


def table_analyze(*models) -> None:
    """Fresh planner statistics for the tables of these models, now, in the current
    transaction (rows it has not committed yet count). Call after a bulk load: the
    planner would otherwise plan the next statement from statistics that know nothing
    of the new rows. On PostgreSQL through `vigil_analyze`, so that the app's role,
    which owns no table, may; the tables it takes are listed in incidents/0005."""
    from django.db import connection

    with connection.cursor() as cursor:
        for model in models:
            table = model._meta.db_table
            if connection.vendor == "postgresql":
                cursor.execute("SELECT vigil_analyze(%s)", [table])
            else:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


@contextmanager
def process_lock(key: int, name: str) -> Iterator[bool]:
    """True when no other process holds the lock `key` (PostgreSQL: a session advisory
    lock) or `name` (SQLite, the embedded default on one machine: a lock file under
    var/locks). Either goes away with the process that holds it, so a killed worker
    never leaves one behind."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            locked = cursor.fetchone()[0]
        try:
            yield locked
        finally:
            # Not over a lost connection (the lock went with it): the error that lost
            # it is the one to report.
            if locked and connection.is_usable():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    folder = Path(settings.VAR_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{name}.lock").open("w") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
