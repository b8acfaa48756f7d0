"""Django's flush, as the owner of the tables, knowing the audit log is append-only.

The app's role may not empty tables (it has no TRUNCATE), so the flush connects as the
owner (MIGRATE_DATABASE_URL, portal/database.py). Anywhere but the test suite's own
databases it still stops at the first audit event: the log's guard and triggers refuse
to empty it. The suite empties its database after each test that commits, and there
the audit log goes with the rest (settings.AUDIT_LOG_FLUSHABLE, set by tests only).
"""

from django.core.management.commands.flush import Command as FlushCommand

from portal.audit.guard import audit_log_flush_allowed
from portal.database import connected_as_owner


class Command(FlushCommand):
    def handle(self, **options):
        database = options["database"]
        with connected_as_owner(database), audit_log_flush_allowed(database):
            return super().handle(**options)
