"""`manage.py demo_totp_code`: the current second-factor code of the demo members.

Demo data only: it refuses with DEBUG off, and for anyone whose authenticator secret is
not the demo's published one.
"""

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.core.management.base import BaseCommand, CommandError

from portal.incidents.demo.people import DEMO_TOTP_SECRET, OPERATOR_EMAIL, demo_refuse_in_production


class Command(BaseCommand):
    help = "Print the current authenticator code shared by the seeded demo members."

    def add_arguments(self, parser):
        parser.add_argument("email", nargs="?", default=OPERATOR_EMAIL, help="a seeded demo member")

    def handle(self, *args, email: str, **options):
        demo_refuse_in_production()
        authenticator = Authenticator.objects.filter(
            user__email__iexact=email, type=Authenticator.Type.TOTP
        ).first()
        if authenticator is None:
            raise CommandError(f"{email} has no authenticator app set up.")
        if decrypt(authenticator.data["secret"]) != DEMO_TOTP_SECRET:
            raise CommandError(f"{email} is not a demo member: their secret is their own.")
        now = time.time()
        code = format_hotp_value(hotp_value(DEMO_TOTP_SECRET, int(now) // 30))
        self.stdout.write(code)
        if options["verbosity"] >= 2:
            self.stderr.write(f"valid for {30 - int(now) % 30} more seconds")
