"""What PostgreSQL's planner knows of a table: an ANALYZE (in this transaction too)
sets `reltuples` to the rows it counted; a table never analyzed shows -1."""

from django.db import connection


def planner_rows(model) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
        )
        return cursor.fetchone()[0]


def analyzed(*models) -> bool:
    """Whether the planner's row count of each table is its row count now (and not 0)."""
    return all(model.objects.count() == planner_rows(model) > 0 for model in models)
