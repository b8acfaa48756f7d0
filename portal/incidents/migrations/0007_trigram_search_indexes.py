"""Trigram indexes for searching exposed users by name, email, username and phone
digits: a search for "%thompson%" or "%1234" reads the index instead of every row.

PostgreSQL only (pg_trgm); SQLite keeps scanning, slower but right. They stay out of
the models' state (RunPython, not AddIndex) because SQLite cannot build them; the
models' comments point here. pg_trgm is a trusted extension (PostgreSQL 13+), so the
database's owner, who runs migrations (docs/database-roles.md), may create it.

The name, email and username indexes are on UPPER(column): Django's icontains on
PostgreSQL compares UPPER(column::text) LIKE UPPER(pattern), and only an index on that
same expression serves it. The phone index is on the column: endswith is a
case-sensitive LIKE.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "directory_user_name_trgm": ("incidents_directoryuser", "UPPER(name) gin_trgm_ops"),
    "directory_user_email_trgm": ("incidents_directoryuser", "UPPER(email) gin_trgm_ops"),
    "directory_user_username_trgm": ("incidents_directoryuser", "UPPER(username) gin_trgm_ops"),
    "exposure_phone_trgm": ("incidents_exposure", "phone gin_trgm_ops"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({expression})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_exposure_rollups_and_sort_indexes")]

    operations = [
        # django.contrib.postgres's operation: a no-op on SQLite.
        TrigramExtension(),
        migrations.RunPython(create, drop, elidable=False),
    ]
