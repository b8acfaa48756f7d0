"""The owner's own connection to the test database, for tests that must go past the
app's role (which the suite runs as on PostgreSQL with two roles) and past Django."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection


@contextmanager
def owner_connection() -> Iterator[psycopg.Connection]:
    """A psycopg connection, in autocommit, as the owner of the tables: the role of
    MIGRATE_DATABASE_URL, or the only role when that is unset. It sees only what the
    test committed (mark the test django_db(transaction=True))."""
    params = connection.settings_dict
    owner = (settings.DATABASE_ROLES or {}).get("owner") or params
    with psycopg.connect(
        dbname=params["NAME"],
        host=params.get("HOST") or None,
        port=params.get("PORT") or None,
        user=owner.get("USER") or None,
        password=owner.get("PASSWORD") or None,
        autocommit=True,
    ) as raw:
        yield raw
