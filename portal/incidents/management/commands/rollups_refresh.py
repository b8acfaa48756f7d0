"""`manage.py rollups_refresh`: sum every account's exposures and log rows again into
the dashboard's rollups, after a change their writers do not see (an edit in the admin)."""

from django.core.management.base import BaseCommand

from portal.incidents.exposures.services import rollups_refresh_all


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        pairs = rollups_refresh_all()
        self.stdout.write(f"Rollups refreshed for {pairs} (account, incident) pairs.")
