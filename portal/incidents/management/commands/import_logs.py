"""`manage.py import_logs FILE --incident SLUG`: the upload's import, for dumps too large
to upload. Runs in this process (no worker, no time limit); progress goes to stderr
and the batch's counts, as one JSON object, to stdout.

The batch belongs to this command (a lease, portal/leases.py): no worker runs it. Run
again after a kill, the command picks up its unfinished batch of the same file and
incident and runs it again from the start, rather than make a second one."""

import hashlib
import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.accounts.models import Organization
from portal.incidents.imports.encodings import encoding_label
from portal.incidents.imports.services import (
    ImportProgress,
    ImportRefusedError,
    import_batch_create,
    import_batch_run,
)
from portal.incidents.models import ImportBatch, Incident
from portal.leases import owners_gone

_FORMAT_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "duo",
}
COUNTS = ("seen", "imported", "duplicate", "rejected", "unknown_account")


class Command(BaseCommand):
    help = (
        "Import a provider's log dump into an incident, as an upload would, in this "
        "process. Prints progress to stderr and the counts as JSON to stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the dump: CSV, JSON Lines or Duo JSON")
        parser.add_argument("--incident", required=True, help="the incident's slug")
        parser.add_argument(
            "--account",
            help="the account's id (as DA7QK4M2ZP): required for Duo logs, which name none",
        )
        parser.add_argument(
            "--format",
            choices=ImportBatch.Format.values,
            help="default: from the file name (.csv/.tsv csv, .jsonl jsonl, .json duo)",
        )
        parser.add_argument(
            "--accept-rejected",
            action="store_true",
            help=(
                "publish even if more rows are rejected than IMPORT_HOLD_REJECTED_PERCENT "
                "(otherwise such a file is held for review, unpublished)"
            ),
        )

    def handle(self, *args, file: Path, incident: str, account, format, accept_rejected, **options):
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        format = format or _FORMAT_BY_SUFFIX.get(file.suffix.lower())
        if format is None:
            raise CommandError(
                f"Cannot tell the format from {file.name!r}: give --format csv, jsonl or duo."
            )
        found = Incident.objects.filter(slug=incident).first()
        if found is None:
            raise CommandError(f"No incident with the slug {incident!r}.")
        organization = None
        if account:
            organization = Organization.objects.filter(account_id=account).first()
            if organization is None:
                raise CommandError(f"No account with the id {account!r}.")
        batch = self._unfinished(file, found, format, organization)
        if batch is not None:
            self.stderr.write(
                f"Batch {batch.public_id} of this file did not finish "
                f"({batch.get_status_display().lower()}, {batch.seen:,} rows read): "
                "running it again from the start"
            )
        else:
            try:
                with file.open("rb") as stream:
                    self.stderr.write(f"Storing {file.name} ({file.stat().st_size:,} bytes)...")
                    batch = import_batch_create(
                        incident=found,
                        upload=File(stream, name=file.name),
                        original_name=file.name,
                        format=format,
                        organization=organization,
                        run_by_command=True,
                    )
            except ImportRefusedError as error:
                raise CommandError(f"Refused: {error.message}") from None
        self.stderr.write(
            f"Importing as batch {batch.public_id} (read as {encoding_label(batch.encoding)})"
        )
        if accept_rejected:
            ImportBatch.objects.filter(pk=batch.pk).update(problems_accepted_at=timezone.now())
            batch.refresh_from_db()
        batch = import_batch_run(batch=batch, on_progress=self._progress)
        self.stderr.write("")
        self.stdout.write(json.dumps({name: getattr(batch, name) for name in COUNTS}))
        for group in batch.error_groups:
            self.stderr.write(
                f"{group['count']:>10,}  {group['reason']} (first: line {group['line']})"
            )
        if batch.error_report:
            self.stderr.write(f"Error report: {batch.error_report.name} (in the file storage)")
        if batch.status == ImportBatch.Status.HELD:
            raise CommandError(
                f"Held for review, nothing published: {batch.rejected:,} of {batch.seen:,} "
                f"rows rejected, more than {settings.IMPORT_HOLD_REJECTED_PERCENT}%. Publish "
                "it from the batch's page in the operator console, or run again with "
                "--accept-rejected."
            )
        if batch.status != ImportBatch.Status.COMPLETED:
            raise CommandError(f"The import failed: {batch.failure}")

    def _unfinished(self, file: Path, incident, format, organization) -> ImportBatch | None:
        """This command's earlier batch of the same file into the same incident that did
        not finish (killed, or failed), if any. Refuses while another run still holds
        its lease."""
        digest = hashlib.sha256()
        with file.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        batch = (
            ImportBatch.objects.filter(
                incident=incident,
                sha256=digest.hexdigest(),
                format=format,
                organization=organization,
                run_by_command=True,
                status__in=[
                    ImportBatch.Status.PENDING,
                    ImportBatch.Status.RUNNING,
                    ImportBatch.Status.FAILED,
                ],
            )
            .order_by("-created_at")
            .first()
        )
        if batch is None:
            return None
        if (
            batch.status == ImportBatch.Status.RUNNING
            and batch.leased_until
            and batch.leased_until > timezone.now()
            and not owners_gone([batch.lease_owner])
        ):
            raise CommandError(
                f"Batch {batch.public_id} of this file is being imported right now "
                f"(by {batch.lease_owner}). Wait for it, or stop that run first."
            )
        return batch

    def _progress(self, progress: ImportProgress) -> None:
        rate = progress.seen / progress.seconds if progress.seconds else 0
        share = progress.bytes_read * 100 // progress.bytes_total if progress.bytes_total else 0
        phase = ImportBatch.Phase(progress.phase).label
        line = (
            f"\r{phase}: {progress.seen:,} rows, {min(share, 100)}% of the file, "
            f"{rate:,.0f} rows/s, {progress.rejected:,} rejected, "
            f"{progress.unknown_account:,} unknown account, {progress.seconds:,.0f}s"
        )
        # \r keeps it on one line on a terminal; a log file gets one line each.
        self.stderr.write(line, ending="\n" if not sys.stderr.isatty() else "")
