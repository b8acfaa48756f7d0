"""`manage.py seed_demo`: the demo breach, the same for the same seed."""

from django.core.management.base import BaseCommand, CommandError

from portal.incidents.demo import (
    DEFAULT_ROWS,
    DEFAULT_SEED,
    DemoSeedError,
    demo_breach_seed,
)
from portal.incidents.demo.people import (
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    demo_refuse_in_production,
    demo_sign_in_lines,
)


class Command(BaseCommand):
    help = (
        "Seed a synthetic breach: an operator, three customer accounts with a member in "
        "every role, one published incident (1-31 March 2024), its log rows, directories "
        "and exposures. The same --seed gives the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rows", type=int, default=DEFAULT_ROWS, help=f"log rows (default {DEFAULT_ROWS:,})"
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete a demo breach seeded before (incident, demo accounts and members) first",
        )

    def handle(self, *args, rows: int, seed: int, reset: bool, **options):
        demo_refuse_in_production()
        try:
            summary = demo_breach_seed(rows=rows, seed=seed, reset=reset)
        except DemoSeedError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded the demo breach (seed {summary.seed}) in {summary.seconds:.1f}s:"
            )
        )
        self.stdout.write(
            f"  {summary.accounts} accounts with {summary.members} members in every role, "
            f"{summary.staff} operator"
        )
        self.stdout.write(
            f"  {summary.rows:,} log rows to {summary.phones:,} phones: "
            f"{summary.exposures:,} exposures, {summary.matched_share:.0%} matched to "
            f"{summary.directory_users:,} directory users "
            f"({summary.directory_users_without_email:,} without email)"
        )
        if options["verbosity"] >= 1:
            for line in demo_sign_in_lines():
                self.stdout.write(line)
            self.stdout.write(f"(demo password for every seeded member: {DEMO_PASSWORD})")
            self.stdout.write(
                f"(second factor: `manage.py demo_totp_code` prints the current code; "
                f"or add the secret {DEMO_TOTP_SECRET} to an authenticator app)"
            )
