"""Django's migrate, run as the owner of the tables, which then grants the app's role
what it needs (portal/database.py).

With MIGRATE_DATABASE_URL set, the connection is the owner's for the whole command,
whatever DATABASE_URL says, so a plain `manage.py migrate` can never leave tables owned
by the app's role. The audit log's guard is suspended meanwhile: a migration may alter
the audit table or its triggers (the triggers still refuse any change to its rows).
"""

from django.core.management.commands.migrate import Command as MigrateCommand

from portal.audit.guard import audit_guard_suspended
from portal.database import connected_as_owner, database_app_role_grant


class Command(MigrateCommand):
    def handle(self, *args, **options):
        database = options["database"]
        with audit_guard_suspended(), connected_as_owner(database):
            result = super().handle(*args, **options)
            database_app_role_grant(using=database)
        return result
