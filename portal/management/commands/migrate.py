"""Django's migrate, with the audit log's guard suspended: a migration may alter the
audit table or its triggers (the triggers still refuse any change to its rows)."""

from django.core.management.commands.migrate import Command as MigrateCommand

from portal.audit.guard import audit_guard_suspended


class Command(MigrateCommand):
    def handle(self, *args, **options):
        with audit_guard_suspended():
            return super().handle(*args, **options)
