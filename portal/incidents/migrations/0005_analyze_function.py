"""`vigil_analyze(table)`: ANALYZE for the app's role, which owns no table.

PostgreSQL lets only a table's owner ANALYZE it (before version 17's MAINTAIN), and the
app's role owns nothing (portal/database.py): without this, the import's ANALYZE of the
big table, in its publishing transaction, would be skipped with a warning, and the
exposure rebuild planned from statistics that know nothing of a new incident's rows.
The function runs with its owner's rights (SECURITY DEFINER), on a fixed list of the
tables that bulk loads fill, with its search_path pinned so that nothing the caller
creates can stand in for a table or function it names.
"""

from django.db import migrations

TABLES = (
    "incidents_messagelogrecord",
    "incidents_exposure",
    "incidents_directoryuser",
    "incidents_directoryphone",
    "notifications_delivery",
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        [schema] = cursor.fetchone()
    quote = schema_editor.quote_name
    allowed = ", ".join(f"'{table}'" for table in TABLES)
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {quote(schema)}.vigil_analyze(table_name text)
        RETURNS void LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, {quote(schema)} AS $$
        BEGIN
            IF table_name NOT IN ({allowed}) THEN
                RAISE EXCEPTION 'vigil_analyze: % is not a table it analyzes', table_name;
            END IF;
            EXECUTE format('ANALYZE %I.%I', '{schema}', table_name);
        END
        $$
        """,
        params=None,  # the body's % are its own, not placeholders
    )
    schema_editor.execute(f"REVOKE ALL ON FUNCTION {quote(schema)}.vigil_analyze(text) FROM PUBLIC")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS vigil_analyze(text)")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_import_checks")]

    operations = [migrations.RunPython(create, drop)]
