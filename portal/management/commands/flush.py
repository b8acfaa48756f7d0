"""Django's flush, knowing that the audit log is append-only.

Anywhere but the test suite's own databases, a flush stops at the first audit event:
the log's guard and triggers refuse to empty it. The test suite empties its database
after each test that commits, and there the audit log goes with the rest
(settings.AUDIT_LOG_FLUSHABLE, set by tests/conftest.py only).
"""

from django.core.management.commands.flush import Command as FlushCommand

from portal.audit.guard import audit_log_flush_allowed


class Command(FlushCommand):
    def handle(self, **options):
        with audit_log_flush_allowed(options["database"]):
            return super().handle(**options)
