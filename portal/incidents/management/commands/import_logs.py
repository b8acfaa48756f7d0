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
from django.utils.translation import gettext as _

from portal.accounts.models import Organization
from portal.incidents.imports.encodings import encoding_label
from portal.incidents.imports.services import (
    ImportProgress,
    ImportRefusedError,
    import_batch_create,
    import_batch_run,
)
from portal.incidents.models import ImportBatch, Incident
from portal.incidents.numbers import number_text
from portal.incidents.reasons import reason_text
from portal.languages import command_language
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

    def handle(self, *args, **options):
        # In English, or in the language the shell's LANGUAGE names.
        with command_language():
            self._import(**options)

    def _import(self, *, file: Path, incident: str, account, format, accept_rejected, **options):
        if not file.is_file():
            raise CommandError(_("No such file: %(file)s") % {"file": file})
        format = format or _FORMAT_BY_SUFFIX.get(file.suffix.lower())
        if format is None:
            raise CommandError(
                _("Cannot tell the format from %(name)r: give --format csv, jsonl or duo.")
                % {"name": file.name}
            )
        found = Incident.objects.filter(slug=incident).first()
        if found is None:
            raise CommandError(_("No incident with the slug %(slug)r.") % {"slug": incident})
        organization = None
        if account:
            organization = Organization.objects.filter(account_id=account).first()
            if organization is None:
                raise CommandError(_("No account with the id %(account)r.") % {"account": account})
        batch = self._unfinished(file, found, format, organization)
        if batch is not None:
            self.stderr.write(
                _(
                    "Batch %(batch)s of this file did not finish (%(status)s, %(seen)s rows "
                    "read): running it again from the start"
                )
                % {
                    "batch": batch.public_id,
                    "status": batch.get_status_display().lower(),
                    "seen": number_text(batch.seen),
                }
            )
        else:
            try:
                with file.open("rb") as stream:
                    self.stderr.write(
                        _("Storing %(name)s (%(size)s bytes)...")
                        % {"name": file.name, "size": number_text(file.stat().st_size)}
                    )
                    batch = import_batch_create(
                        incident=found,
                        upload=File(stream, name=file.name),
                        original_name=file.name,
                        format=format,
                        organization=organization,
                        run_by_command=True,
                    )
            except ImportRefusedError as error:
                raise CommandError(
                    _("Refused: %(reason)s") % {"reason": reason_text(error.message)}
                ) from None
        self.stderr.write(
            _("Importing as batch %(batch)s (read as %(encoding)s)")
            % {"batch": batch.public_id, "encoding": encoding_label(batch.encoding)}
        )
        if accept_rejected:
            ImportBatch.objects.filter(pk=batch.pk).update(problems_accepted_at=timezone.now())
            batch.refresh_from_db()
        batch = import_batch_run(batch=batch, on_progress=self._progress)
        self.stderr.write("")
        self.stdout.write(json.dumps({name: getattr(batch, name) for name in COUNTS}))
        for group in batch.error_groups:
            self.stderr.write(
                _("%(count)s  %(reason)s (first: line %(line)s)")
                % {
                    "count": number_text(group["count"]).rjust(10),
                    "reason": reason_text(group),
                    "line": group["line"],
                }
            )
        if batch.error_report:
            self.stderr.write(
                _("Error report: %(name)s (in the file storage)")
                % {"name": batch.error_report.name}
            )
        if batch.status == ImportBatch.Status.HELD:
            raise CommandError(
                _(
                    "Held for review, nothing published: %(rejected)s of %(seen)s rows "
                    "rejected, more than %(limit)s%%. Publish it from the batch's page in the "
                    "operator console, or run again with --accept-rejected."
                )
                % {
                    "rejected": number_text(batch.rejected),
                    "seen": number_text(batch.seen),
                    "limit": settings.IMPORT_HOLD_REJECTED_PERCENT,
                }
            )
        if batch.status != ImportBatch.Status.COMPLETED:
            raise CommandError(
                _("The import failed: %(reason)s")
                % {
                    "reason": reason_text(batch.failure_reason)
                    if batch.failure_reason
                    else batch.failure
                }
            )

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
                _(
                    "Batch %(batch)s of this file is being imported right now (by %(owner)s). "
                    "Wait for it, or stop that run first."
                )
                % {"batch": batch.public_id, "owner": batch.lease_owner}
            )
        return batch

    def _progress(self, progress: ImportProgress) -> None:
        rate = progress.seen / progress.seconds if progress.seconds else 0
        share = progress.bytes_read * 100 // progress.bytes_total if progress.bytes_total else 0
        phase = ImportBatch.Phase(progress.phase).label
        line = "\r" + _(
            "%(phase)s: %(seen)s rows, %(share)s%% of the file, %(rate)s rows/s, "
            "%(rejected)s rejected, %(unknown)s unknown account, %(seconds)ss"
        ) % {
            "phase": phase,
            "seen": number_text(progress.seen),
            "share": min(share, 100),
            "rate": number_text(round(rate)),
            "rejected": number_text(progress.rejected),
            "unknown": number_text(progress.unknown_account),
            "seconds": number_text(round(progress.seconds)),
        }
        # \r keeps it on one line on a terminal; a log file gets one line each.
        self.stderr.write(line, ending="\n" if not sys.stderr.isatty() else "")
