"""`manage.py rollups_refresh`: sum every account's exposures and log rows again into
the dashboard's rollups, after a change their writers do not see (an edit in the admin)."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from portal.incidents.exposures.services import rollups_refresh_all
from portal.languages import command_language


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        pairs = rollups_refresh_all()
        with command_language():
            self.stdout.write(
                _("Rollups refreshed for %(pairs)s (account, incident) pairs.") % {"pairs": pairs}
            )
