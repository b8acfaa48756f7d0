"""The audit log refuses changes on SQLite too, and TRUNCATE on PostgreSQL.

0002 made PostgreSQL refuse UPDATE and DELETE. This adds what was missing:

- SQLite (the embedded default) gets triggers that raise ABORT on UPDATE and DELETE,
  and on an INSERT over an existing id: `INSERT OR REPLACE` removes the old row without
  firing delete triggers (unless recursive triggers are on), so it needs its own. An
  upsert (ON CONFLICT DO UPDATE) fires the UPDATE trigger.
- PostgreSQL gets a statement trigger refusing TRUNCATE, for the owner of the table:
  the application's role has no TRUNCATE privilege at all (docs/database-roles.md).

The base manager becomes the model's own manager, which refuses updates and deletes,
so Django's `_base_manager` refuses them too.

On SQLite an ALTER of this table rebuilds it without its triggers: a later migration
that alters the table must run the SQLite part of this one again
(tests/audit/test_append_only.py checks that the triggers are there).
"""

from django.db import migrations

SQLITE_CREATE = [
    """CREATE TRIGGER audit_event_refuse_update BEFORE UPDATE ON audit_auditevent
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE on audit_auditevent refused');
    END""",
    """CREATE TRIGGER audit_event_refuse_delete BEFORE DELETE ON audit_auditevent
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only: DELETE on audit_auditevent refused');
    END""",
    """CREATE TRIGGER audit_event_refuse_replace BEFORE INSERT ON audit_auditevent
    WHEN EXISTS (SELECT 1 FROM audit_auditevent WHERE id = NEW.id)
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only: REPLACE on audit_auditevent refused');
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audit_event_refuse_update",
    "DROP TRIGGER IF EXISTS audit_event_refuse_delete",
    "DROP TRIGGER IF EXISTS audit_event_refuse_replace",
]
# The function of 0002 raises for any TG_OP, TRUNCATE included.
POSTGRES_CREATE = [
    """CREATE TRIGGER audit_event_refuse_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()""",
]
POSTGRES_DROP = ["DROP TRIGGER IF EXISTS audit_event_refuse_truncate ON audit_auditevent"]


def _by_vendor(sqlite: list[str], postgres: list[str]):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in {"sqlite": sqlite, "postgresql": postgres}.get(vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"base_manager_name": "objects", "ordering": ["-created_at", "-id"]},
        ),
        migrations.RunPython(
            _by_vendor(SQLITE_CREATE, POSTGRES_CREATE), _by_vendor(SQLITE_DROP, POSTGRES_DROP)
        ),
    ]
