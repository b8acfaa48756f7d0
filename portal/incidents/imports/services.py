"""Importing a provider's dump (DESIGN.md flow 1): store it, then read, check, load.

`import_batch_create` stores the upload and refuses, before any batch exists, a file
whose head shows it cannot be imported. `import_batch_run` does the import, the same
whether a Celery worker or `manage.py import_logs` runs it:

1. claim the batch (a conditional update: a completed batch is never run again, and
   only one run at a time holds it: an advisory lock on PostgreSQL, a file lock on
   SQLite, either of which dies with its process);
2. read the file as a stream, check each row, and write the good ones to a staging
   table in chunks that commit as they go, with progress written to the batch row;
3. in one transaction: move the staged rows into the big table (dropping message ids
   already there), rebuild the touched accounts' exposures, mark the batch completed.

A run killed anywhere leaves the live tables untouched or fully updated, never half;
running the batch again starts from a fresh staging table.
"""

import contextlib
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.accounts.models import Organization
from portal.audit.services import audit_record
from portal.database import process_lock, table_analyze
from portal.incidents.exposures.services import (
    NewRowTotals,
    exposure_match_directory,
    exposure_rebuild,
    incident_customer_notices,
)
from portal.incidents.imports.encodings import (
    UTF8,
    EncodingSniffer,
    encoding_checked,
    encoding_label,
    utf8_stream,
)
from portal.incidents.imports.errors import ErrorReport, ImportRefusedError
from portal.incidents.imports.loader import (
    ANALYZE_AFTER_ROWS,
    StagedTotals,
    StageWriter,
    publish_begin,
    publish_end,
    stage_create,
    stage_drop,
    stage_publish,
    stage_totals,
)
from portal.incidents.imports.parsers import (
    Problem,
    RowChecker,
    RowStream,
    SentAtWindow,
    check_head,
)
from portal.incidents.models import Exposure, ImportBatch, Incident
from portal.incidents.reasons import Reason, reason_data
from portal.incidents.signals import import_completed
from portal.jobs import IMPORT_BATCH_RUN, job
from portal.leases import LeaseKeeper, lease_owner, lease_until

__all__ = [
    "ImportProgress",
    "ImportRefusedError",
    "import_batch_accept_problems",
    "import_batch_create",
    "import_batch_discard",
    "import_batch_run",
]

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 0.5
PIPELINE = True  # PostgreSQL: publish on a second connection while reading (see _import)
MAX_RANGE_LINES = 250_000  # lines published by one statement, at most (when behind)
PROGRESS_EVERY_ROWS = 4096  # how often the clock is looked at, not how often we write
HASH_CHUNK = 1 << 20
# Advisory-lock keys: one per batch for its run, one per incident for publishing.
_RUN_LOCK_BASE = 0x56494749 << 32
_PUBLISH_LOCK_BASE = 0x56494750 << 32

Status, Phase, Format = ImportBatch.Status, ImportBatch.Phase, ImportBatch.Format


@dataclass(frozen=True)
class ImportProgress:
    """What a run has done so far, for a command's progress line."""

    phase: str
    bytes_read: int
    bytes_total: int
    seen: int
    rejected: int
    unknown_account: int
    seconds: float


# --- Creating a batch -------------------------------------------------------------


def import_batch_create(
    *,
    incident: Incident,
    upload,
    original_name: str,
    format: str,
    organization: Organization | None = None,
    by=None,
    run_by_command: bool = False,
) -> ImportBatch:
    """Store the upload as a pending batch, or raise ImportRefusedError saying why not.
    `run_by_command`: the batch belongs to the `import_logs` run that makes it, and no
    worker ever runs it (tasks.import_batches_resume_stale).

    Streams the whole file once for its sha256, size and encoding (and once more when
    it is not UTF-8, to check all of it decodes), reads the head (empty, required
    columns, the Duo shape), then streams it into storage. Does not enqueue the run:
    the caller does, after its transaction commits.
    """
    if format not in Format.values:
        raise ImportRefusedError(
            _("Unknown format %(format)r: choose csv, jsonl or duo.") % {"format": format}
        )
    if format == Format.DUO and organization is None:
        raise ImportRefusedError(_("Choose the account these Duo logs belong to."))
    if format != Format.DUO and organization is not None:
        raise ImportRefusedError(
            _(
                "An account is chosen only for Duo logs: every row of a CSV or JSON Lines "
                "dump names its own account_id."
            )
        )
    upload.seek(0)
    digest = hashlib.sha256()
    sniffer = EncodingSniffer()
    size = 0
    for chunk in upload.chunks(HASH_CHUNK):
        digest.update(chunk)
        sniffer.feed(chunk)
        size += len(chunk)
    encoding = sniffer.encoding()
    if encoding != UTF8:
        upload.seek(0)
        encoding_checked(upload, encoding)
    upload.seek(0)
    check_head(format, utf8_stream(upload, encoding))
    upload.seek(0)
    name = PurePath(original_name).name or "upload"
    batch = ImportBatch(
        incident=incident,
        organization=organization,
        original_name=name[:300],
        sha256=digest.hexdigest(),
        format=format,
        encoding=encoding,
        bytes_total=size,
        created_by=by,
        run_by_command=run_by_command,
    )
    # The storage API streams `upload` in chunks: never the whole file in memory.
    batch.upload.save(name, upload, save=False)
    batch.save()
    logger.info(
        "import batch %s created: %s in %s, %d bytes, sha256 %s",
        batch.public_id,
        batch.format,
        encoding_label(encoding),
        size,
        batch.sha256,
    )
    return batch


# --- Held batches -------------------------------------------------------------------


def import_batch_accept_problems(*, batch: ImportBatch, by, request=None) -> bool:
    """Let a batch held for its rejected rows publish what it could read: it is run
    again (the file is read afresh, the rejected rows reported as before) and published
    whatever its share of rejected rows. False when the batch is no longer held."""
    now = timezone.now()
    with transaction.atomic():
        accepted = ImportBatch.objects.filter(pk=batch.pk, status=Status.HELD).update(
            status=Status.PENDING,
            phase=Phase.QUEUED,
            problems_accepted_by=by,
            problems_accepted_at=now,
            # The stale-batch sweep would otherwise see an old stamp and queue it twice.
            progress_at=now,
            # Queued to a worker from here on, even if a command made it.
            run_by_command=False,
        )
        if not accepted:
            return False
        audit_record(
            action="import.accept_problems",
            actor=by,
            organization=batch.organization_id,
            target=batch,
            request=request,
            details={
                "incident": batch.incident.slug,
                "seen": batch.seen,
                "rejected": batch.rejected,
            },
        )
        transaction.on_commit(lambda: job(IMPORT_BATCH_RUN).delay(batch.pk), robust=True)
    return True


def import_batch_discard(*, batch: ImportBatch, by, request=None) -> bool:
    """Leave a held batch unpublished for good (the operator will upload a better
    file). Its counts and error report stay, for the record. False when not held."""
    with transaction.atomic():
        discarded = ImportBatch.objects.filter(pk=batch.pk, status=Status.HELD).update(
            status=Status.DISCARDED
        )
        if not discarded:
            return False
        audit_record(
            action="import.discard",
            actor=by,
            organization=batch.organization_id,
            target=batch,
            request=request,
            details={"incident": batch.incident.slug, "rejected": batch.rejected},
        )
    return True


# --- Running a batch --------------------------------------------------------------


class _SupersededError(Exception):
    """Another run has claimed the batch since this one did."""


def import_batch_run(
    *, batch: ImportBatch, on_progress: Callable[[ImportProgress], None] | None = None
) -> ImportBatch:
    """Import the batch's file; safe to call again on a failed or abandoned batch, and
    a no-op on a completed one or one another process is running. Returns the batch
    as the database has it afterwards."""
    with _run_lock(batch) as mine:
        if not mine:
            logger.info("import batch %s is being run elsewhere: left to it", batch.public_id)
        else:
            token = _claim(batch)
            if token is None:
                logger.info("import batch %s is already completed", batch.public_id)
            else:
                with LeaseKeeper(_lease_renewal(batch, token), name="import-lease"):
                    _Run(batch, token, on_progress).execute()
    batch.refresh_from_db()
    return batch


def _run_lock(batch: ImportBatch):
    """True when this process may run the batch: nobody else holds its lock, which goes
    away with the process that holds it (portal.database.process_lock)."""
    return process_lock(_RUN_LOCK_BASE + batch.pk, f"import-batch-{batch.pk}")


def _lease_renewal(batch: ImportBatch, token):
    """The run's lease, renewed while it runs (portal/leases.py): the sweep, or a worker
    starting up, takes a batch over only once its run stopped renewing it."""

    def renew(until) -> int:
        return ImportBatch.objects.filter(
            pk=batch.pk, started_at=token, status=Status.RUNNING
        ).update(leased_until=until)

    return renew


def _claim(batch: ImportBatch):
    """Start a run: reset the counts of any earlier one. Returns the run's token (its
    start time, which every later write of this run is conditional on), or None."""
    now = timezone.now()
    old_report = (
        ImportBatch.objects.filter(pk=batch.pk).values_list("error_report", flat=True).first()
    )
    claimed = (
        ImportBatch.objects.filter(pk=batch.pk)
        .exclude(status__in=(Status.COMPLETED, Status.HELD, Status.DISCARDED))
        .update(
            status=Status.RUNNING,
            phase=Phase.READING,
            started_at=now,
            progress_at=now,
            lease_owner=lease_owner(),
            leased_until=lease_until(now),
            finished_at=None,
            failure="",
            failure_reason={},
            bytes_read=0,
            seen=0,
            imported=0,
            duplicate=0,
            rejected=0,
            unknown_account=0,
            first_errors=[],
            error_groups=[],
            error_report="",
        )
    )
    if not claimed:
        return None
    if old_report:
        batch.error_report.storage.delete(old_report)
    return now


class _Run:
    def __init__(self, batch: ImportBatch, token, on_progress):
        self.batch = batch
        self.token = token
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.last_write = 0.0
        self.phase = Phase.READING
        self.bytes_read = 0
        self.seen = 0
        self.valid = 0
        self.rejected = 0
        self.unknown_account = 0
        self.errors = ErrorReport(item_label="item" if batch.format == Format.DUO else "")
        self.report_name = ""

    def execute(self) -> None:
        batch = self.batch
        logger.info("import batch %s: started (%s)", batch.public_id, batch.format)
        try:
            self._import()
        except _SupersededError:
            logger.warning("import batch %s: taken over by another run", batch.public_id)
            self._forget_report()
            return
        except ImportRefusedError as error:
            self._fail(error.message)
        except BaseException as error:
            # Also SoftTimeLimitExceeded, KeyboardInterrupt: record why, then let it
            # go on up, so Celery and the command report it too.
            self._fail(_failure_text(error))
            raise
        finally:
            self.errors.close()
            with contextlib.suppress(Exception):
                stage_drop(batch)

    def _import(self) -> None:
        # On PostgreSQL, outside a transaction (always, but in tests), the big table
        # is filled by a second connection while this one still reads: PostgreSQL
        # inserts and indexes on one core while Python parses on another. Elsewhere,
        # all of it is published after reading, on this one.
        # (Tried and dropped once while the big table had foreign keys: the reader's
        # progress updates pile up versions of the batch row that the publisher's open
        # transaction keeps alive, and the check of each new row's import_batch_id
        # walked them all, so ten million rows crawled. Without those constraints
        # nothing walks them.)
        pipelined = (
            PIPELINE and connection.vendor == "postgresql" and not connection.in_atomic_block
        )
        stage_create(self.batch, by_line=pipelined)
        publisher = _ThreadedPublisher(self) if pipelined else _Publisher(self)
        try:
            self._read(publisher)
            if self.errors.count:
                # Saved before the publishing transaction ends: storage is not
                # transactional, and a failed run deletes it again (see _fail).
                batch = self.batch
                self.report_name = batch.error_report.storage.save(
                    batch.error_report.field.generate_filename(
                        batch, f"{batch.public_id}-errors.csv"
                    ),
                    self.errors.as_file(),
                )
        except BaseException:
            publisher.abort()
            raise
        if self._too_many_rejected():
            publisher.abort()  # rolls back what it published so far
            self._hold()
            return
        try:
            # While the publisher inserts the last ranges, this connection sums the
            # staged rows for the exposures (PostgreSQL; SQLite has one connection).
            totals = (
                stage_totals(self.batch)
                if connection.vendor == "postgresql" and self.valid
                else None
            )
        except BaseException:
            publisher.abort()
            raise
        publisher.finish(totals)

    def _too_many_rejected(self) -> bool:
        limit = settings.IMPORT_HOLD_REJECTED_PERCENT
        return (
            self.batch.problems_accepted_at is None
            and self.rejected >= settings.IMPORT_HOLD_MIN_REJECTED
            and self.rejected * 100 > limit * self.seen
        )

    def _hold(self) -> None:
        """Stop short of publishing: too many rows were rejected for the file to be
        trusted as read. The operator sees why, grouped, and publishes it or not."""
        batch = self.batch
        counts = self._finish(Status.HELD, inserted=0)
        share = self.rejected * 100 / self.seen
        audit_record(
            action="import.held",
            actor=batch.created_by,
            organization=batch.organization_id,
            target=batch,
            details={
                **counts,
                "incident": batch.incident.slug,
                "rejected_percent": round(share, 2),
                "limit_percent": settings.IMPORT_HOLD_REJECTED_PERCENT,
            },
        )
        logger.warning(
            "import batch %s: held for review: %.2f%% of %d rows rejected (limit %s%%)",
            batch.public_id,
            share,
            self.seen,
            settings.IMPORT_HOLD_REJECTED_PERCENT,
        )

    # Reading ------------------------------------------------------------------

    def _read(self, publisher: "_Publisher") -> None:
        batch = self.batch
        incident = batch.incident
        checker = RowChecker(
            accounts=self._accounts(),
            window=SentAtWindow(
                start=incident.window_start,
                end=incident.window_end,
                tolerance=timedelta(hours=incident.sent_at_tolerance_hours),
                now=timezone.now(),
            ),
            sqlite=connection.vendor == "sqlite",
        )
        check = checker.check
        writer = StageWriter(batch)
        staged, flush_rows = writer.rows, writer.flush_rows
        errors = self.errors
        account_id = batch.organization.account_id if batch.organization_id else ""
        with batch.upload.storage.open(batch.upload.name, "rb") as stored:
            stream = utf8_stream(stored, batch.encoding)
            rows = RowStream(batch.format, stream, account_id=account_id)
            seen = 0
            for row in rows:
                seen += 1
                # A checked row is a plain tuple; anything else is a Problem.
                problem = row if type(row) is Problem else check(row)
                if type(problem) is tuple:
                    staged.append(problem)
                    if len(staged) >= flush_rows:
                        writer.flush()
                        publisher.staged(writer.last_line)
                else:
                    if problem.unknown_account:
                        self.unknown_account += 1
                    else:
                        self.rejected += 1
                    errors.add(problem.line, problem.message_id, problem.account_id, problem.reason)
                if not seen % PROGRESS_EVERY_ROWS:
                    self.seen, self.bytes_read = seen, rows.bytes_read
                    self._progress()
            writer.flush()
            publisher.staged(writer.last_line)
            self.seen, self.bytes_read = seen, rows.bytes_read
        self.valid = writer.written
        self.phase = Phase.LOADING
        self._progress(force=True)

    def _accounts(self) -> dict[str, int]:
        if self.batch.organization_id:
            organization = self.batch.organization
            return {organization.account_id: organization.pk}
        return dict(Organization.objects.values_list("account_id", "pk"))

    # Publishing ---------------------------------------------------------------

    def _publish(self, ranges: Iterable[int], totals: Callable[[], StagedTotals | None]) -> None:
        """The one transaction that changes the live tables: the staged rows, a range
        of lines at a time as `ranges` yields where the staging table ends (it ends
        when reading is done), then the exposures and the batch's completion.
        `totals()`, asked once the ranges are done, are the staged rows summed."""
        batch = self.batch
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Imports into one incident publish one at a time: the NOT EXISTS in
                # stage_publish relies on it, and their exposure upserts would
                # otherwise take row locks in each other's way.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(%s)", [_PUBLISH_LOCK_BASE + batch.incident_id]
                    )
            publish_begin()
            inserted, after = 0, 0
            by_account: dict[int, int | None] = {}
            clock = _Clock(batch)
            for upto in ranges:
                if upto > after:
                    count, counts = stage_publish(batch=batch, after_line=after, upto_line=upto)
                    clock.lap(f"lines {after + 1}-{upto} published: {count} rows")
                    inserted += count
                    for account, rows in counts.items():
                        before = by_account.get(account, 0)
                        by_account[account] = (
                            None if rows is None or before is None else before + rows
                        )
                    after = upto
            accounts = sorted(by_account)
            new_rows = _new_rows(totals(), by_account)
            self.phase = Phase.EXPOSURES  # shown by the reader's progress, if it waits
            publish_end(batch=batch, organization_ids=accounts)
            clock.lap("references held")
            if accounts:
                # Read before the rebuild: the accounts that had no exposure in this
                # incident yet are the only ones a published incident's notice is new to.
                already_in = set(
                    Exposure.objects.filter(incident=batch.incident, organization_id__in=accounts)
                    .order_by()
                    .values_list("organization_id", flat=True)
                    .distinct()
                )
                exposure_rebuild(
                    incident=batch.incident,
                    organization_ids=accounts,
                    new_rows=new_rows,
                    log_changed=inserted >= ANALYZE_AFTER_ROWS,
                )
                clock.lap(f"exposures of {len(accounts)} accounts rebuilt")
                exposure_match_directory(organization_ids=accounts)
                clock.lap("exposures matched to the directories")
                # The exposures it wrote: the next plans (the sweep's reminders, the
                # dashboards) would otherwise be made without knowing of them.
                table_analyze(Exposure)
                clock.lap("exposures analyzed")
                if batch.incident.status == Incident.Status.PUBLISHED:
                    # An account this import brings into a published incident gets the
                    # customer notice the others got at publication; accounts already in
                    # it, however their rows arrived, are not emailed again, nor accounts
                    # the file has no row for.
                    new_accounts = [pk for pk in accounts if pk not in already_in]
                    if new_accounts:
                        incident_customer_notices(batch.incident, organization_ids=new_accounts)
            counts = self._finish(Status.COMPLETED, inserted=inserted)
            import_completed.send(sender=ImportBatch, batch=batch, rows_by_account=by_account)
            audit_record(
                action="import.completed",
                actor=batch.created_by,
                organization=batch.organization_id,
                target=batch,
                details={
                    **counts,
                    "incident": batch.incident.slug,
                    "format": batch.format,
                    "accounts": len(accounts),
                    "seconds": round(time.monotonic() - self.started, 1),
                },
            )
        logger.info(
            "import batch %s: completed in %.1fs: %s",
            batch.public_id,
            time.monotonic() - self.started,
            counts,
        )

    def _finish(self, status: str, *, inserted: int) -> dict[str, int]:
        """Write the run's outcome, status, phase and counts in one update (so the page
        never shows a finished batch in an earlier phase); returns the counts."""
        now = timezone.now()
        counts = {
            "seen": self.seen,
            "imported": inserted,
            "duplicate": self.valid - inserted if status == Status.COMPLETED else 0,
            "rejected": self.rejected,
            "unknown_account": self.unknown_account,
        }
        finished = self._mine().update(
            status=status,
            phase=Phase.DONE,
            bytes_read=self.batch.bytes_total,
            first_errors=self.errors.first,
            error_groups=self.errors.groups,
            error_report=self.report_name,
            progress_at=now,
            finished_at=now,
            **counts,
        )
        if not finished:
            raise _SupersededError
        return counts

    # Progress and failure -----------------------------------------------------

    def _mine(self):
        return ImportBatch.objects.filter(pk=self.batch.pk, started_at=self.token)

    def _progress(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_write < PROGRESS_SECONDS:
            return
        self.last_write = now
        # A queryset update: committed at once (no transaction is open while reading),
        # so the batch page sees it. Only while running: the publisher may have written
        # the outcome (status and phase "done" in one update) a moment ago, and a late
        # progress write must not put an earlier phase back on a finished batch.
        written = (
            self._mine()
            .filter(status=Status.RUNNING)
            .update(
                phase=self.phase,
                bytes_read=self.bytes_read,
                seen=self.seen,
                rejected=self.rejected,
                unknown_account=self.unknown_account,
                first_errors=self.errors.first,
                error_groups=self.errors.groups,
                progress_at=timezone.now(),
            )
        )
        if not written:
            if self._mine().exists():
                return  # finished meanwhile by the publisher, which is this run
            raise _SupersededError
        if self.on_progress:
            self.on_progress(
                ImportProgress(
                    phase=self.phase,
                    bytes_read=self.bytes_read,
                    bytes_total=self.batch.bytes_total,
                    seen=self.seen,
                    rejected=self.rejected,
                    unknown_account=self.unknown_account,
                    seconds=now - self.started,
                )
            )

    def _forget_report(self) -> None:
        if self.report_name:
            with contextlib.suppress(Exception):
                self.batch.error_report.storage.delete(self.report_name)
            self.report_name = ""

    def _fail(self, reason: str) -> None:
        batch = self.batch
        self._forget_report()
        logger.warning("import batch %s: failed: %s", batch.public_id, reason)
        try:
            now = timezone.now()
            # Not a batch the publisher completed while this thread was interrupted.
            if (
                self._mine()
                .exclude(status__in=(Status.COMPLETED, Status.HELD))
                .update(
                    status=Status.FAILED,
                    failure=reason,
                    failure_reason=reason_data(reason),
                    seen=self.seen,
                    rejected=self.rejected,
                    unknown_account=self.unknown_account,
                    first_errors=self.errors.first,
                    error_groups=self.errors.groups,
                    progress_at=now,
                    finished_at=now,
                )
            ):
                audit_record(
                    action="import.failed",
                    actor=batch.created_by,
                    organization=batch.organization_id,
                    target=batch,
                    details={
                        "reason": reason[:500],
                        "incident": batch.incident.slug,
                        "format": batch.format,
                        "seen": self.seen,
                        "rejected": self.rejected,
                        "unknown_account": self.unknown_account,
                    },
                )
        except Exception:
            # The database may be what failed; the batch stays "running" and the
            # stale-batch sweep runs it again.
            logger.exception("import batch %s: could not record the failure", batch.public_id)


def _new_rows(totals: StagedTotals | None, inserted: dict[int, int | None]) -> NewRowTotals | None:
    """The staged totals, for the accounts whose every staged message id was inserted
    (none was in the incident already): for them, the totals are of exactly the rows
    inserted."""
    if totals is None:
        return None
    vouched = frozenset(
        account
        for account, rows in inserted.items()
        if rows is not None and totals.messages.get(account) == rows
    )
    return NewRowTotals(phones=totals.phones, quarters=totals.quarters, organization_ids=vouched)


class _Clock:
    """Debug log of how long each publishing step took: where an import's time goes."""

    def __init__(self, batch: ImportBatch):
        self.batch = batch
        self.started = self.last = time.monotonic()

    def lap(self, what: str) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            now = time.monotonic()
            logger.debug(
                "import batch %s: %s in %.2fs (%.1fs in)",
                self.batch.public_id,
                what,
                now - self.last,
                now - self.started,
            )
            self.last = now


class _Publisher:
    """Publishes after reading, in this thread and on this connection."""

    def __init__(self, run: _Run):
        self.run = run
        self.last_line = 0

    def staged(self, last_line: int) -> None:
        self.last_line = last_line

    def finish(self, totals: StagedTotals | None = None) -> None:
        self.run._publish([self.last_line], lambda: totals)

    def abort(self) -> None:
        pass


class _AbortedError(Exception):
    """The reader failed: the publisher rolls back."""


_DONE, _ABORT = object(), object()


class _ThreadedPublisher(_Publisher):
    """Publishes on a thread of its own, with its own database connection (Django's
    are per thread), each range as soon as the reader has staged and committed it.
    The thread waits on PostgreSQL most of the time, so the GIL is the reader's."""

    def __init__(self, run: _Run):
        super().__init__(run)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.database = None  # the thread's psycopg connection, to cancel its query
        self.totals: StagedTotals | None = None
        self.thread = threading.Thread(
            target=self._work, name=f"import-publisher-{run.batch.pk}", daemon=True
        )
        self.thread.start()

    def staged(self, last_line: int) -> None:
        if self.error is not None:
            raise self.error  # no use reading on: the transaction is gone
        self.queue.put(last_line)

    def finish(self, totals: StagedTotals | None = None) -> None:
        # Read by the publisher's thread only after it takes _DONE off the queue.
        self.totals = totals
        self.queue.put(_DONE)
        try:
            # The reader's connection is free now: it keeps the batch's progress
            # fresh (and shows the publisher's phase) until the publisher is done.
            while self.thread.is_alive():
                self.thread.join(PROGRESS_SECONDS)
                if self.thread.is_alive():
                    self.run._progress()
        except BaseException:
            self.abort()
            raise
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self.queue.put(_ABORT)
        if self.database is not None:
            # Stop a long statement now rather than wait for it: the transaction is
            # rolled back either way.
            with contextlib.suppress(Exception):
                self.database.cancel_safe()
        self.thread.join()

    def _ranges(self) -> Iterator[int]:
        published = 0
        while True:
            items = [self.queue.get()]
            # Whatever else is waiting goes in the same statement, up to a limit: a
            # publisher that fell behind catches up in a few ranges instead of many,
            # and none so large that its sort or its foreign-key checks pile up.
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self.queue.get_nowait())
            if _ABORT in items:
                raise _AbortedError
            lines = [item for item in items if isinstance(item, int)]
            for index, line in enumerate(lines):
                if line - published >= MAX_RANGE_LINES or index == len(lines) - 1:
                    yield line
                    published = line
            if _DONE in items:
                return

    def _work(self) -> None:
        try:
            connection.ensure_connection()
            self.database = connection.connection
            self.run._publish(self._ranges(), lambda: self.totals)
        except BaseException as error:
            self.error = error
        finally:
            self.database = None
            connection.close()


def _failure_text(error: BaseException) -> Reason:
    name = type(error).__name__
    if name == "SoftTimeLimitExceeded":
        return Reason(
            gettext_noop(
                "The import took longer than a worker may run a job, and stopped; nothing was "
                "loaded. Import a file this large with `manage.py import_logs`."
            )
        )
    if isinstance(error, KeyboardInterrupt):
        return Reason(gettext_noop("The import was interrupted; nothing was loaded. Run it again."))
    return Reason(
        gettext_noop(
            "The import stopped on an unexpected error (%(name)s); nothing was loaded. Run it "
            "again; if it fails the same way, the worker's log has the details."
        ),
        name=name,
    )
