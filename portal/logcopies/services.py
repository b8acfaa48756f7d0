import csv
import hashlib
import json
import logging
import queue
import select
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from psycopg import pq

from portal.accounts.models import Organization
from portal.audit.services import audit_record
from portal.csvsafe import FORMULA_STARTS, safe_row
from portal.incidents.imports.phones import phone_normalized
from portal.incidents.models import MessageLogRecord
from portal.incidents.reasons import Reason, reason_text
from portal.jobs import LOGCOPY_GENERATE, job
from portal.leases import LeaseKeeper, lease_owner, lease_until
from portal.logcopies import keys
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.signals import logcopy_changed, logcopy_expired
from portal.logcopies.verify import MANIFEST_NAME, SIGNATURE_NAME

logger = logging.getLogger(__name__)


def logcopy_expire_due(*, now=None) -> int:
    """Expire ready copies past their expiry and delete their files. Returns how many."""
    now = now or timezone.now()
    due_ids = list(
        LogCopyRequest.objects.filter(
            status=LogCopyRequest.Status.READY, expires_at__lte=now
        ).values_list("id", flat=True)
    )
    expired = 0
    for copy_id in due_ids:
        with transaction.atomic():
            copy = (
                LogCopyRequest.objects.select_for_update()
                .filter(id=copy_id, status=LogCopyRequest.Status.READY)
                .first()
            )
            if copy is None:  # another sweep took it
                continue
            name = copy.file.name
            copy.status = LogCopyRequest.Status.EXPIRED
            copy.file = ""
            copy.save(update_fields=["status", "file"])
            audit_record(
                action="logcopy.expire",
                organization=copy.organization_id,
                target=copy,
                details={"rows": copy.rows, "sha256": copy.sha256},
            )
            logcopy_expired.send(sender=LogCopyRequest, copy=copy)
        # Delete the file only once the row says it is gone: a crash in between leaves
        # an orphan file, never a "ready" copy without its file.
        if name:
            copy.file.storage.delete(name)
        expired += 1
        logger.info("log copy %s expired", copy.public_id)
    return expired


# --- Requests and decisions ---------------------------------------------------------

AUTO_APPROVED_REASON = "approved automatically by the operator's policy"


class LogCopyRefusedError(ValidationError):
    """A request or a decision that cannot be taken; the message says why, for a person."""


def logcopy_request(
    *,
    organization,
    incident,
    requester,
    scope: str,
    format: str,
    reason: str,
    scope_start=None,
    scope_end=None,
    scope_phones=(),
    request=None,
) -> LogCopyRequest:
    """Record a request for a copy of the account's rows in one incident.

    Approved at once when the operator's policy says so for this account; generation
    is then queued once the request is committed.
    """
    reason = (reason or "").strip()
    if not reason:
        raise LogCopyRefusedError(_("Say why the copy is needed: the operator reads it."))
    if scope not in LogCopyRequest.Scope.values:
        raise LogCopyRefusedError(_("Unknown scope %(scope)r.") % {"scope": scope})
    if format not in LogCopyRequest.Format.values:
        raise LogCopyRefusedError(_("Unknown format %(format)r.") % {"format": format})
    phones: list[str] = []
    if scope == LogCopyRequest.Scope.DATE_RANGE:
        _check_range(incident, scope_start, scope_end)
    else:
        scope_start = scope_end = None
    if scope == LogCopyRequest.Scope.CHOSEN:
        phones = _phones_normalized(scope_phones)
    with transaction.atomic():
        copy = LogCopyRequest.objects.create(
            organization=organization,
            incident=incident,
            requested_by=requester,
            scope=scope,
            scope_start=scope_start,
            scope_end=scope_end,
            scope_phones=phones,
            format=format,
            reason=reason,
        )
        audit_record(
            action="logcopy.request",
            actor=requester,
            organization=organization,
            target=copy,
            request=request,
            details={
                "incident": incident.slug,
                "scope": scope,
                "format": format,
                "phones": len(phones),
            },
        )
        if organization.log_copy_auto_approve:
            _approve(copy, by=None, reason=AUTO_APPROVED_REASON, request=request)
    return copy


def _check_range(incident, start, end) -> None:
    if start is None or end is None:
        raise LogCopyRefusedError(_("A date range needs both a start and an end."))
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise LogCopyRefusedError(_("The date range needs times with a time zone."))
    if end <= start:
        raise LogCopyRefusedError(_("The end of the date range must come after its start."))
    if start < incident.window_start or end > incident.window_end:
        window = (
            f"{incident.window_start:%Y-%m-%d %H:%M} to {incident.window_end:%Y-%m-%d %H:%M} UTC"
        )
        raise LogCopyRefusedError(
            _("The date range must lie within the incident's exposure window (%(window)s).")
            % {"window": window}
        )


def _phones_normalized(raw_phones) -> list[str]:
    phones: list[str] = []
    for raw in raw_phones or ():
        raw = str(raw).strip()
        if not raw:
            continue
        e164, _country, problem, _note = phone_normalized(raw, "")
        if problem:
            raise LogCopyRefusedError(
                _("%(problem)s. Write phones in international form, like +12125550143.")
                % {"problem": reason_text(problem)}
            )
        if e164 not in phones:
            phones.append(e164)
    if not phones:
        raise LogCopyRefusedError(_("Choose at least one phone number."))
    return phones


def logcopy_approve(*, copy: LogCopyRequest, by, reason: str = "", request=None) -> LogCopyRequest:
    with transaction.atomic():
        _approve(copy, by=by, reason=reason.strip(), request=request)
    return copy


def _approve(copy: LogCopyRequest, *, by, reason: str, request) -> None:
    _decide(copy, status=LogCopyRequest.Status.APPROVED, by=by, reason=reason, request=request)
    transaction.on_commit(lambda: _after_approval(copy.pk), robust=True)


def _tell_requester(copy: LogCopyRequest, event: str) -> None:
    """The requester's email (through notifications' outbox, retried if the mail
    server fails), made in the caller's transaction."""
    logcopy_changed.send(sender=LogCopyRequest, copy=copy, event=event)


def _decide(copy: LogCopyRequest, *, status: str, by, reason: str, request) -> None:
    """Approve or reject a request still waiting (inside the caller's transaction), and
    audit it as logcopy.approve or logcopy.reject; refused once decided."""
    now = timezone.now()
    decided = LogCopyRequest.objects.filter(
        pk=copy.pk, status=LogCopyRequest.Status.REQUESTED
    ).update(status=status, decided_by=by, decided_at=now, decision_reason=reason)
    if decided != 1:
        raise LogCopyRefusedError(_("This request was already decided."))
    copy.status, copy.decided_by, copy.decided_at = status, by, now
    copy.decision_reason = reason
    approved = status == LogCopyRequest.Status.APPROVED
    audit_record(
        action=f"logcopy.{'approve' if approved else 'reject'}",
        actor=by,
        organization=copy.organization_id,
        target=copy,
        request=request,
        details={"reason": reason},
    )
    _tell_requester(copy, "approved" if approved else "rejected")


def _after_approval(copy_id: int) -> None:
    job(LOGCOPY_GENERATE).delay(copy_id)


def logcopy_reject(*, copy: LogCopyRequest, by, reason: str, request=None) -> LogCopyRequest:
    reason = (reason or "").strip()
    if not reason:
        raise LogCopyRefusedError(_("Say why the request is rejected: the requester reads it."))
    with transaction.atomic():
        _decide(copy, status=LogCopyRequest.Status.REJECTED, by=by, reason=reason, request=request)
    return copy


def logcopy_retry(*, copy: LogCopyRequest, by, request=None) -> LogCopyRequest:
    """Send a failed copy back to the queue."""

    now = timezone.now()
    with transaction.atomic():
        # generated_at stamps the queuing, so the sweep gives the task five minutes.
        retried = LogCopyRequest.objects.filter(
            pk=copy.pk, status=LogCopyRequest.Status.FAILED
        ).update(
            status=LogCopyRequest.Status.APPROVED,
            failure="",
            failure_reason={},
            progress_rows=0,
            total_rows=None,
            generated_at=now,
        )
        if retried != 1:
            raise LogCopyRefusedError(_("Only a copy that failed can be retried."))
        copy.status, copy.failure, copy.progress_rows = LogCopyRequest.Status.APPROVED, "", 0
        copy.failure_reason = {}
        copy.total_rows, copy.generated_at = None, now
        audit_record(
            action="logcopy.retry",
            actor=by,
            organization=copy.organization_id,
            target=copy,
            request=request,
        )
        transaction.on_commit(lambda: job(LOGCOPY_GENERATE).delay(copy.pk), robust=True)
    return copy


# --- Generation ---------------------------------------------------------------------
#
# While a copy is approved or generating, `generated_at` holds the time of the last
# sign of life (queued, claimed, progress written); the sweep re-queues a copy whose
# stamp is too old. Once ready it is the time of generation, as in the manifest.

PROGRESS_EVERY = 50_000
FORMULA_CODES_SQL = "(" + ", ".join(str(ord(char)) for char in FORMULA_STARTS) + ")"
# (header name, column, free text that outsiders chose: made formula-safe in CSV).
# The others are never altered: the phone is E.164 (the import's phone rule made it),
# the time is ours, the type one of two words, the codes checked against tables.
CSV_COLUMNS = (
    ("message_id", "provider_message_id", True),
    ("sent_at", "sent_at", False),
    ("phone", "phone", False),
    ("message_type", "message_type", False),
    ("context", "context", True),
    ("credits", "credits", False),
    ("carrier", "carrier", True),
    # Checked by the import: two letters, and a code from the ISO 3166-2 table.
    ("country", "country", False),
    ("region", "region", True),
    ("region_code", "region_code", False),
)
VALUE_COLUMNS = tuple(column for _header, column, _format in CSV_COLUMNS)
CSV_GUARDED = tuple(guarded for _header, _column, guarded in CSV_COLUMNS)
DATA_NAMES = {"csv": "messages.csv", "jsonl": "messages.jsonl", "duo": "telephony.json"}
TXID_NAMESPACE = uuid.UUID("5f0c4a34-8d3e-4c47-9a0b-6b1d2f7e9c11")


class _GenerationError(Exception):
    """A failure with a reason a person can read; recorded, not raised further."""

    def __init__(self, reason: Reason):
        super().__init__(reason)
        self.reason = reason


def logcopy_scoped_records(copy: LogCopyRequest):
    """The account's rows of the copy's incident and scope, in `sent_at, id` order."""
    records = MessageLogRecord.objects.filter(
        organization_id=copy.organization_id, incident_id=copy.incident_id
    )
    if copy.scope == LogCopyRequest.Scope.DATE_RANGE:
        records = records.filter(sent_at__gte=copy.scope_start, sent_at__lt=copy.scope_end)
    elif copy.scope == LogCopyRequest.Scope.CHOSEN:
        records = records.filter(phone__in=list(copy.scope_phones))
    return records.order_by("sent_at", "id")


def logcopy_generate(*, copy: LogCopyRequest) -> LogCopyRequest:
    """Write the copy's zip (data file and manifest), store it, mark the copy ready.

    Claims the copy first, so two workers handed the same task never both write it.
    Memory stays flat: rows stream from the database straight into the zip entry.
    """
    now = timezone.now()
    claimed = LogCopyRequest.objects.filter(
        pk=copy.pk,
        status__in=[LogCopyRequest.Status.APPROVED, LogCopyRequest.Status.FAILED],
    ).update(
        status=LogCopyRequest.Status.GENERATING,
        progress_rows=0,
        total_rows=None,
        failure="",
        failure_reason={},
        generated_at=now,
        lease_owner=lease_owner(),
        leased_until=lease_until(now),
    )
    if claimed != 1:
        logger.info("log copy %s is not waiting for generation: nothing to do", copy.public_id)
        copy.refresh_from_db()
        return copy
    copy.refresh_from_db()
    copy = LogCopyRequest.objects.select_related("organization", "incident", "requested_by").get(
        pk=copy.pk
    )
    folder = Path(tempfile.mkdtemp(prefix="vigil-logcopy-"))
    try:
        with LeaseKeeper(_lease_renewal(copy), name="logcopy-lease"):
            _generate(copy, folder)
    except _GenerationError as error:
        _fail(copy, error.reason)
    except Exception as error:
        logger.exception("log copy %s: generation failed", copy.public_id)
        _fail(
            copy,
            Reason(
                gettext_noop("An unexpected error stopped the generation (%(error)s)."),
                error=type(error).__name__,
            ),
        )
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return copy


def _lease_renewal(copy: LogCopyRequest):
    """The generation's lease, renewed while it runs (portal/leases.py): one long query
    or a slow storage never lets it lapse; a dead worker stops renewing it, and the
    sweep or a worker starting up queues the copy again."""
    owner = lease_owner()

    def renew(until) -> int:
        return LogCopyRequest.objects.filter(
            pk=copy.pk, status=LogCopyRequest.Status.GENERATING, lease_owner=owner
        ).update(leased_until=until)

    return renew


def _zip_path(copy: LogCopyRequest, folder: Path) -> tuple[Path, str | None]:
    """Where to write the zip, and its name in storage when it is written there.

    Storage on local disk is written in place: copying a finished 100 MB zip from a
    temporary folder into it cost a tenth of a million-row copy's generation. Other
    storages (S3) get the temporary file."""
    storage = copy.file.storage
    # The copy's own name, with no suffix for "taken": only one generation of a copy
    # runs at a time (the claim), so what is there is a killed run's leftover of this
    # same copy, and writing over it cleans it up.
    name = copy.file.field.generate_filename(copy, f"log-copy-{copy.public_id}.zip")
    try:
        path = Path(storage.path(name))
    except NotImplementedError:
        return folder / f"log-copy-{copy.public_id}.zip", None
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, name


def _write_zip(
    copy: LogCopyRequest, records, zip_path: Path, data_name: str, progress: "_Progress"
) -> tuple[int, list[dict], datetime, str]:
    """Write the data file, the manifest and its signature into a zip at `zip_path`;
    returns (rows, the manifest's files, time of generation, key fingerprint)."""
    # The key before the rows: a deployment without one fails at once, not after
    # writing a million rows.
    try:
        fingerprint = keys.key_fingerprint()
    except keys.SigningKeyProblem as problem:
        logger.error("log copy %s: %s", copy.public_id, problem)
        raise _GenerationError(
            Reason(
                gettext_noop(
                    "The operator's key that signs copies is not set up, so no copy can be "
                    "made now. Retry once the operator has fixed it."
                )
            )
        ) from problem
    with zipfile.ZipFile(zip_path, "w", ZIP_COMPRESSION) as zf:
        # Dated now (a bare name would be dated 1980 by unzip); owner-only, like the
        # entries writestr() makes.
        entry = zipfile.ZipInfo(data_name, date_time=time.gmtime()[:6])
        entry.compress_type, entry.external_attr = ZIP_COMPRESSION, 0o600 << 16
        with zf.open(entry, "w", force_zip64=True) as raw:
            sink = _HashingSink(raw)
            try:
                if copy.format == "csv" and connection.vendor == "postgresql":
                    rows = _csv_by_copy(copy, sink, progress)
                else:
                    writer = {"csv": _write_csv, "jsonl": _write_jsonl, "duo": _write_duo}
                    rows = writer[copy.format](copy, records, sink, progress, copy.total_rows)
            finally:
                sink.close()
        files = [{"name": data_name, "size": sink.size, "sha256": sink.sha256.hexdigest()}]
        generated_at = timezone.now()
        manifest = manifest_bytes(copy, files, rows, generated_at, fingerprint)
        zf.writestr(MANIFEST_NAME, manifest)
        zf.writestr(SIGNATURE_NAME, keys.sign(manifest))
    return rows, files, generated_at, fingerprint


def _file_sha256(path: Path) -> str:
    """The SHA-256 of the finished zip: what `sha256sum` of the download prints.

    Read back once it is closed: the zip writer goes back to fill in each entry's
    header, so the bytes cannot be hashed on the way out. The file was just written,
    so this reads the page cache (about 0.1 s for 100 MB)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _generate(copy: LogCopyRequest, folder: Path) -> None:
    records = logcopy_scoped_records(copy)
    total = records.count()
    LogCopyRequest.objects.filter(pk=copy.pk).update(total_rows=total)
    copy.total_rows = total
    data_name = DATA_NAMES[copy.format]
    zip_path, stored_name = _zip_path(copy, folder)
    progress = _Progress(copy)
    try:
        rows, files, generated_at, fingerprint = _write_zip(
            copy, records, zip_path, data_name, progress
        )
        if rows != total:
            # Rows arrived or left between the count and the read (an import running);
            # the manifest holds what was written, which is what matters.
            logger.info("log copy %s: counted %d rows, wrote %d", copy.public_id, total, rows)
        size = zip_path.stat().st_size
        sha256 = _file_sha256(zip_path)
        if stored_name:
            copy.file.name = stored_name
        else:
            with zip_path.open("rb") as fh:
                copy.file.save(f"log-copy-{copy.public_id}.zip", File(fh), save=False)
    except BaseException:
        if stored_name:
            zip_path.unlink(missing_ok=True)
        raise
    finally:
        progress.close()
    retention = timedelta(days=copy.organization.log_copy_retention_days)
    copy.status = LogCopyRequest.Status.READY
    copy.size, copy.rows, copy.sha256 = size, rows, sha256
    copy.files, copy.key_fingerprint = files, fingerprint
    copy.progress_rows, copy.total_rows = rows, max(total, rows)
    copy.generated_at, copy.expires_at, copy.failure = generated_at, generated_at + retention, ""
    copy.failure_reason = {}
    with transaction.atomic():
        copy.save(
            update_fields=[
                "status",
                "file",
                "size",
                "rows",
                "sha256",
                "files",
                "key_fingerprint",
                "progress_rows",
                "total_rows",
                "generated_at",
                "expires_at",
                "failure",
                "failure_reason",
            ]
        )
        audit_record(
            action="logcopy.ready",
            organization=copy.organization_id,
            target=copy,
            details={"rows": rows, "sha256": copy.sha256, "size": size, "format": copy.format},
        )
        _tell_requester(copy, "ready")
    logger.info("log copy %s ready: %d rows, %d bytes", copy.public_id, rows, size)


def _fail(copy: LogCopyRequest, reason: Reason) -> None:
    """Failed: the reason kept in English (the API, the audit log) and as its message
    and parameters, for each reader's language (LogCopyRequest.failure_text)."""
    name = copy.file.name if copy.file else ""
    with transaction.atomic():
        LogCopyRequest.objects.filter(pk=copy.pk).update(
            status=LogCopyRequest.Status.FAILED,
            failure=str(reason),
            failure_reason=reason.as_data(),
            generated_at=None,
            file="",
        )
        copy.refresh_from_db()
        audit_record(
            action="logcopy.fail",
            organization=copy.organization_id,
            target=copy,
            details={"failure": str(reason)},
        )
        _tell_requester(copy, "failed")
    if name:
        copy.file.storage.delete(name)


# Of the manifest's own layout (docs/logcopy-formats.md); raised when a field changes
# meaning or goes, not when one is added.
MANIFEST_SCHEMA_VERSION = 1


def manifest_bytes(copy, files: list[dict], rows: int, generated_at, fingerprint: str) -> bytes:
    """The manifest exactly as it is signed and stored: these bytes, not a re-encoding
    of the JSON, are what `manifest.json.sig` signs."""
    scope: dict = {"kind": copy.scope}
    if copy.scope == LogCopyRequest.Scope.DATE_RANGE:
        scope |= {"start": _utc_iso(copy.scope_start), "end": _utc_iso(copy.scope_end)}
    elif copy.scope == LogCopyRequest.Scope.CHOSEN:
        scope["phones"] = list(copy.scope_phones)
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "request_id": str(copy.public_id),
        "account": {"id": copy.organization.account_id, "name": copy.organization.name},
        "incident": {
            "id": str(copy.incident.public_id),
            "slug": copy.incident.slug,
            "title": copy.incident.title,
        },
        "scope": scope,
        "format": copy.format,
        "generated_at": _utc_iso(generated_at),
        "row_count": rows,
        "files": files,
        "signature": {
            "algorithm": "Ed25519",
            "file": SIGNATURE_NAME,
            "encoding": "raw",
            "key_fingerprint": fingerprint,
            "public_key_url": f"{settings.SITE_URL}{keys.PUBLIC_KEY_PATH}",
        },
    }
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()


# Stored, not deflated: on two cores deflate (even its fastest level) cost about as much
# as reading the rows, and kept generation under 0.6 of a raw COPY TO STDOUT. A copy is
# downloaded once or twice over the network a security team already trusts; its size
# is shown before the download, and anyone can compress it after.
ZIP_COMPRESSION = zipfile.ZIP_STORED
_BUFFER = 1 << 20
ROWS_PER_BLOCK = 10_000  # about a megabyte of CSV


class _HashingSink:
    """Buffers small writes into megabyte blocks that a thread of its own hashes and
    writes into the zip entry: hashlib lets go of the GIL on large blocks, so
    that work overlaps the reading of rows instead of adding to it. The queue is
    bounded, so at most a few blocks are ever held, whatever the number of rows."""

    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.parts: list[bytes] = []
        self.pending = 0
        self._blocks: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="logcopy-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (block := self._blocks.get()) is not None:
            if self._error is not None:
                continue  # keep taking blocks so the reader never blocks on a full queue
            try:
                self.sha256.update(block)
                self.raw.write(block)
                self.size += len(block)
            except BaseException as error:  # handed to the reading thread in close()
                self._error = error

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.pending += len(data)
        if self.pending >= _BUFFER:
            self.flush()

    def write_many(self, parts: list[bytes]) -> None:
        self.parts.extend(parts)
        self.flush()

    def flush(self) -> None:
        if self._error is not None:
            raise self._error
        if self.parts:
            self._blocks.put(b"".join(self.parts))
            self.parts, self.pending = [], 0

    def close(self) -> None:
        """Write what is left and wait for the writer; raises what the writer met."""
        if self._thread.is_alive():
            try:
                self.flush()
            finally:
                self._blocks.put(None)
                self._thread.join()
        if self._error is not None:
            raise self._error


class _Progress:
    """Writes `progress_rows` (and the sign of life in `generated_at`) every 50k rows.

    On PostgreSQL the rows stream over the default connection, which is busy until
    they end, so progress goes through a second connection of its own.
    """

    def __init__(self, copy: LogCopyRequest):
        self.copy_id = copy.pk
        self.next_at = PROGRESS_EVERY
        self.own = (
            connections.create_connection(DEFAULT_DB_ALIAS)
            if connection.vendor == "postgresql"
            else None
        )

    def rows(self, count: int) -> None:
        if count < self.next_at:
            return
        self.next_at = count + PROGRESS_EVERY
        if self.own is None:
            LogCopyRequest.objects.filter(pk=self.copy_id).update(
                progress_rows=count, generated_at=timezone.now()
            )
            return
        with self.own.cursor() as cursor:
            cursor.execute(
                f"UPDATE {LogCopyRequest._meta.db_table} SET progress_rows = %s,"  # noqa: S608
                " generated_at = %s WHERE id = %s",
                [count, timezone.now(), self.copy_id],
            )

    def close(self) -> None:
        if self.own is not None:
            self.own.close()


def _csv_by_copy(copy, sink: _HashingSink, progress: _Progress) -> int:
    """PostgreSQL writes the CSV itself (COPY TO STDOUT), formula-safe cells included:
    the same rule as csv_safe.safe_cell, in SQL, so Python only moves bytes."""
    # Measured on a million rows: to_char() and NULLIF() cost the server more than
    # the whole COPY of the raw rows does, so sent_at keeps PostgreSQL's own output
    # (the session is in UTC: "2024-03-04 14:22:10.125+00", which _csv_timestamp
    # matches), and the formula check compares one code point (ascii()), not text.
    # The expressions apply to the sorted rows (the subquery), so the sort stays narrow.
    selects = []
    for header, column, outsider in CSV_COLUMNS:
        expression = column
        if outsider:
            expression = (
                f"CASE WHEN ascii({column}) IN {FORMULA_CODES_SQL}"
                f" THEN '''' || {column} ELSE {column} END"
            )
        selects.append(f'{expression} AS "{header}"')
    where, params = (
        "organization_id = %s AND incident_id = %s",
        [copy.organization_id, copy.incident_id],
    )
    if copy.scope == LogCopyRequest.Scope.DATE_RANGE:
        where += " AND sent_at >= %s AND sent_at < %s"
        params += [copy.scope_start, copy.scope_end]
    elif copy.scope == LogCopyRequest.Scope.CHOSEN:
        where += " AND phone = ANY(%s)"
        params.append(list(copy.scope_phones))
    sql = (
        f"COPY (SELECT {', '.join(selects)} FROM (SELECT {', '.join(VALUE_COLUMNS)}"  # noqa: S608
        f" FROM {MessageLogRecord._meta.db_table} WHERE {where} ORDER BY sent_at, id) AS r)"
        " TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    try:
        rows = _copy_out(sql, params, sink, progress)
    except BaseException:
        # A COPY broken off (a server error, a time limit, an interrupt) can leave the
        # connection mid-protocol: a fresh one for whatever runs next (recording the
        # failure), rather than "another command is already in progress".
        connection.close()
        raise
    return max(rows, 0)


def _copy_out(sql: str, params: list, sink: "_HashingSink", progress: "_Progress") -> int:
    rows, parts = -1, []  # -1: the header comes first
    append = parts.append
    with connection.cursor() as cursor, cursor.cursor.copy(sql, params):
        # libpq hands COPY data over one row at a time, and psycopg's iterator spends
        # five Python calls on each (measured: most of a million-row copy's time in
        # Python). Its own libpq call, in a loop of one: psycopg starts the COPY, this
        # reads it to the end and takes its result, as psycopg's reader would.
        pgconn = cursor.cursor.connection.pgconn
        get_copy_data, socket = pgconn.get_copy_data, pgconn.socket
        while True:
            size, data = get_copy_data(1)  # 1: answer 0 at once instead of blocking
            if size > 0:
                append(data)
                if len(parts) == ROWS_PER_BLOCK:
                    rows += ROWS_PER_BLOCK
                    sink.write_many(parts)
                    parts.clear()
                    if rows >= progress.next_at:
                        progress.rows(rows)
            elif size == 0:
                # Nothing buffered: wait for the server (without the GIL), then read.
                select.select([socket], [], [])
                pgconn.consume_input()
            elif size == -1:
                _copy_result_check(pgconn)
                break
            else:  # -2 (psycopg's C build raises this itself)
                raise DatabaseError(
                    f"the copy failed: {pgconn.error_message.decode(errors='replace')}"
                )
    rows += len(parts)
    sink.write_many(parts)
    return rows


def _copy_result_check(pgconn) -> None:
    """Take the COPY's final result(s) off the connection; raise if it failed."""
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            message = result.error_message.decode(errors="replace").strip()
            raise DatabaseError(f"the copy failed: {message}")


def _stream(records):
    # PostgreSQL: a server-side cursor (Django's iterator); SQLite: chunked fetches.
    return records.values_list("id", *VALUE_COLUMNS).iterator(chunk_size=5000)


def _utc_iso(moment) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _csv_timestamp(moment) -> str:
    """A time as PostgreSQL writes a timestamptz in UTC: "2024-03-04 14:22:10.125+00"
    (ISO 8601 / RFC 3339 with a space; microseconds without trailing zeros)."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "+00"


def _write_csv(copy, records, sink: _HashingSink, progress: _Progress, total: int) -> int:
    text = _TextOut(sink)
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header for header, _column, _format in CSV_COLUMNS)
    rows = 0
    for _id, message_id, sent_at, phone, kind, context, credits, *place in _stream(records):
        writer.writerow(
            safe_row(
                (
                    message_id,
                    _csv_timestamp(sent_at),
                    phone,
                    kind,
                    context,
                    "" if credits is None else credits,
                    *place,
                ),
                CSV_GUARDED,
            )
        )
        rows += 1
        if rows >= progress.next_at:
            text.flush()
            progress.rows(rows)
    text.flush()
    return rows


def _jsonl_item(
    message_id, sent_at, phone, kind, context, credits, carrier, country, region, region_code
) -> dict:
    return {
        "message_id": message_id,
        "sent_at": _utc_iso(sent_at),
        "phone": phone,
        "message_type": kind,
        "context": context,
        "credits": credits,
        "carrier": carrier,
        "country": country,
        "region": region,
        "region_code": region_code,
    }


def _write_jsonl(copy, records, sink: _HashingSink, progress: _Progress, total: int) -> int:
    rows = 0
    for _id, *values in _stream(records):
        sink.write(json.dumps(_jsonl_item(*values), ensure_ascii=False).encode() + b"\n")
        rows += 1
        if rows >= progress.next_at:
            progress.rows(rows)
    return rows


def _duo_item(
    incident_key: str,
    record_id,
    message_id,
    sent_at,
    phone,
    kind,
    context,
    credits,
    carrier,
    country,
    region,
    region_code,
) -> dict:
    """One row as an item of Duo's telephony log v2, with the v2 names and types, and
    our carrier, country and region after them. `txid` is stable: the same row gives
    the same id in every copy."""
    return {
        "context": context,
        "credits": credits or 0,
        "phone": phone,
        "telephony_id": message_id,
        "ts": _utc_iso(sent_at),
        "txid": str(uuid.uuid5(TXID_NAMESPACE, f"{incident_key}:{message_id}")),
        "type": "phone" if kind == MessageLogRecord.MessageType.VOICE else "sms",
        "carrier": carrier,
        "country": country,
        "region": region,
    }


def _write_duo(copy, records, sink: _HashingSink, progress: _Progress, total: int) -> int:
    # Written item by item: the response object is never built whole in memory. The
    # total comes from the count taken before; rows that arrive in between would
    # make it wrong, so the closing metadata uses the rows actually written.
    incident_key = str(copy.incident.public_id)
    sink.write(b'{"stat": "OK", "response": {"items": [')
    rows = 0
    for values in _stream(records):
        item = json.dumps(_duo_item(incident_key, *values), ensure_ascii=False).encode()
        sink.write(b"\n" + item if rows == 0 else b",\n" + item)
        rows += 1
        if rows >= progress.next_at:
            progress.rows(rows)
    metadata = {"next_offset": None, "total_objects": {"value": rows, "relation": "eq"}}
    sink.write(b'\n], "metadata": ' + json.dumps(metadata).encode() + b"}}\n")
    return rows


class _TextOut:
    """csv.writer writes str; the sink takes bytes. Encodes a batch of lines at a time."""

    def __init__(self, sink: _HashingSink):
        self.sink = sink
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) >= 2000:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.sink.write("".join(self.lines).encode())
            self.lines = []


# --- Policy and downloads ----------------------------------------------------------


def logcopy_policy_set(*, organization: Organization, auto_approve: bool, by, request) -> bool:
    """Whether the account's requests skip the queue. Returns whether it changed."""
    with transaction.atomic():
        changed = (
            Organization.objects.filter(pk=organization.pk)
            .exclude(log_copy_auto_approve=auto_approve)
            .update(log_copy_auto_approve=auto_approve)
        )
        if changed:
            audit_record(
                action="logcopy.policy",
                actor=by,
                organization=organization,
                target=organization,
                request=request,
                details={"auto_approve": auto_approve},
            )
    return bool(changed)


def logcopy_download_record(*, copy: LogCopyRequest, by, request) -> None:
    """Count and audit one download, before the first byte leaves."""
    with transaction.atomic():
        # F(): two downloads at once must both count.
        LogCopyRequest.objects.filter(pk=copy.pk).update(download_count=F("download_count") + 1)
        audit_record(
            action="logcopy.download",
            actor=by,
            organization=copy.organization_id,
            target=copy,
            request=request,
            details={"size": copy.size, "sha256": copy.sha256, "rows": copy.rows},
        )


# Reads ----------------------------------------------------------------------------
