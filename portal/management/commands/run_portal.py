"""Run everything the portal needs in one terminal: web server, Celery worker and beat.

On the embedded default (nothing configured) that is SQLite, the filesystem broker and
mail in files, all under var/. With DATABASE_URL and REDIS_URL set, the same processes
run against them. Ctrl-C stops all of them.
"""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.incidents.models import Incident


class Command(BaseCommand):
    help = "Migrate, seed the demo breach if the database is empty, and run web, worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--no-seed", action="store_true", help="Do not seed the demo breach.")

    def handle(self, *args, no_seed: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:
            # gunicorn serves static files through whitenoise from STATIC_ROOT.
            call_command("collectstatic", interactive=False, verbosity=0)
        # The demo is for the embedded default only: seed_demo refuses with DEBUG off.
        if settings.DEBUG and not no_seed and not Incident.objects.exists():
            self.stdout.write("Empty database: seeding the demo breach...")
            call_command("seed_demo", stdout=self.stdout, verbosity=0)

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        processes: dict[str, subprocess.Popen] = {}
        try:
            for name, argv in self._commands().items():
                processes[name] = subprocess.Popen(argv)
            self._announce()
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(
                            f"{name} stopped (exit code {process.returncode}); stopping the rest."
                        )
                        exit_code = process.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._stop_all(processes)
        self.stdout.write("Stopped web, worker and beat.")
        if exit_code:
            sys.exit(exit_code)

    def _commands(self) -> dict[str, list[str]]:
        python = sys.executable
        address = f"{settings.BIND_HOST}:{settings.PORT}"
        if settings.DEBUG:
            web = [python, "manage.py", "runserver", address, "--noreload", "--skip-checks"]
        else:
            web = [
                python,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                address,
                "--workers",
                str(settings.WEB_CONCURRENCY),
                "--access-logfile",
                "-",
            ]
        return {
            "web": web,
            "worker": [
                python,
                "-m",
                "celery",
                "--app",
                "portal",
                "worker",
                "--queues",
                ",".join(settings.WORKER_QUEUES),
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "--app",
                "portal",
                "beat",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
                "--loglevel",
                "INFO",
            ],
        }

    def _announce(self) -> None:
        from portal.incidents.demo.people import DEMO_PASSWORD, DEMO_TOTP_SECRET, demo_sign_in_lines

        url = f"http://{settings.BIND_HOST}:{settings.PORT}/"
        self.stdout.write(self.style.SUCCESS(f"\nVigil is running at {url}"))
        self.stdout.write(f"Database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        self.stdout.write(f"Broker: {settings.CELERY_BROKER_URL.split('://', 1)[0]}")
        if settings.EMAIL_MODE == "file":
            self.stdout.write(f"Mail is written to files in {settings.MAIL_FILE_DIR}")
        lines = demo_sign_in_lines()
        for line in lines:
            self.stdout.write(line)
        if lines:
            self.stdout.write(f"(demo password for every seeded member: {DEMO_PASSWORD})")
            self.stdout.write(
                "(second factor: run `.venv/bin/python manage.py demo_totp_code` for the "
                f"current code, or add the secret {DEMO_TOTP_SECRET} to an authenticator app)"
            )
        self.stdout.write("Press Ctrl-C to stop web, worker and beat.\n")

    def _stop_all(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
