"""Writes for the account's user directory (DESIGN.md flow 5).

Checking stores the upload and records counts, the first errors and what applying
would do; nothing reaches the directory until the preview is applied. Applying reads
the stored file again rather than trusting anything kept from the check, upserts by
username in batches, rebuilds the phone index of the people it touched and re-matches
the account's exposures, all in one transaction.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.accounts.models import Organization
from portal.audit.services import audit_record
from portal.database import table_analyze
from portal.incidents.directory.csvfile import (
    MAX_UPLOAD_BYTES,
    DirectoryFileRefusedError,
    DirectoryRow,
    directory_csv_lines,
    too_large_message,
)
from portal.incidents.exposures.services import exposure_match_directory
from portal.incidents.models import DirectoryImport, DirectoryPhone, DirectoryUser, Exposure

ERRORS_KEPT = 500  # per import; the counts still cover every rejected row
# Rows looked up and written per round trip: well under SQLite's limit on query
# parameters, and few enough that a 20 MB file never sits in memory whole.
BATCH_SIZE = 500


class Action:
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(slots=True)
class DirectoryPlan:
    """What a file does to the directory: counts, and the errors a person can fix."""

    rows_total: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    sha256: str = ""


def directory_rows_classified(
    organization: Organization, rows: list[DirectoryRow]
) -> list[tuple[DirectoryRow, str, DirectoryUser | None]]:
    """Each row with what applying it does, against the directory as it is now."""
    existing = {
        user.username: user
        for user in DirectoryUser.objects.filter(
            organization=organization, username__in=[row.username for row in rows]
        ).only("id", "username", "name", "email", "phones", "language")
    }
    classified = []
    for row in rows:
        user = existing.get(row.username)
        if user is None:
            action = Action.CREATE
        elif row.differs_from(user):
            action = Action.UPDATE
        else:
            action = Action.UNCHANGED
        classified.append((row, action, user))
    return classified


def _write(organization: Organization, rows: list[DirectoryRow], existing_ids: list[int]) -> None:
    """Upsert these people and rebuild their phone index."""
    saved = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                organization=organization,
                username=row.username,
                name=row.name,
                email=row.email,
                phones=list(row.phones),
                language=row.language,
            )
            for row in rows
        ],
        # An upsert keeps an existing person's public id and created_at: only what the
        # file says about them changes.
        update_conflicts=True,
        unique_fields=["organization", "username"],
        update_fields=["name", "email", "phones", "language", "updated_at"],
    )
    # PostgreSQL and SQLite 3.35+ return the id of the inserted or updated row.
    DirectoryPhone.objects.filter(directory_user_id__in=existing_ids).delete()
    DirectoryPhone.objects.bulk_create(
        DirectoryPhone(organization=organization, directory_user_id=user.pk, phone=phone)
        for user in saved
        for phone in user.phones
    )


def directory_file_plan(file, organization: Organization, *, write: bool) -> DirectoryPlan:
    """Read a whole file: count it, keep the first errors, classify its valid rows in
    batches against the directory and, when `write`, apply each batch."""
    raw, lines = directory_csv_lines(file)
    plan = DirectoryPlan()

    def flush(batch: list[DirectoryRow]) -> None:
        if not batch:
            return
        changes, existing_ids = [], []
        for row, action, user in directory_rows_classified(organization, batch):
            if action == Action.CREATE:
                plan.created += 1
                changes.append(row)
            elif action == Action.UPDATE:
                plan.updated += 1
                changes.append(row)
                existing_ids.append(user.pk)
            else:
                plan.unchanged += 1
        if write and changes:
            _write(organization, changes, existing_ids)
        batch.clear()

    batch: list[DirectoryRow] = []
    for line in lines:
        plan.rows_total += 1
        if line.row is None:
            plan.rows_rejected += 1
            plan.errors.extend(line.errors[: ERRORS_KEPT - len(plan.errors)])
            continue
        plan.rows_valid += 1
        batch.append(line.row)
        if len(batch) >= BATCH_SIZE:
            flush(batch)
    flush(batch)
    plan.sha256 = raw.sha256.hexdigest()
    return plan


# --- Services --------------------------------------------------------------------------


def directory_import_check(
    *, organization: Organization, upload, original_name: str, by
) -> DirectoryImport:
    """Check an uploaded directory file and keep it as a preview; nothing is applied.

    Raises DirectoryFileRefusedError (a ValidationError, in words the uploader can act on)
    when the file as a whole cannot be used; nothing is stored then.
    """
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise DirectoryFileRefusedError(too_large_message(size))
    upload.seek(0)
    plan = directory_file_plan(upload, organization, write=False)
    if plan.rows_total == 0:
        raise DirectoryFileRefusedError(
            "The file has a header but no rows below it: there is nobody to import."
        )
    directory_import = DirectoryImport(
        organization=organization,
        original_name=(original_name or "directory.csv")[:300],
        sha256=plan.sha256,
        status=DirectoryImport.Status.PREVIEWED,
        rows_total=plan.rows_total,
        rows_valid=plan.rows_valid,
        rows_rejected=plan.rows_rejected,
        errors=plan.errors,
        # While previewed these say what applying would do, as of the check; applying
        # counts again and overwrites them with what it did.
        created_count=plan.created,
        updated_count=plan.updated,
        unchanged_count=plan.unchanged,
        created_by=by if by is not None and by.is_authenticated else None,
    )
    upload.seek(0)
    # Stored under the import's random id: the original name is the uploader's, kept
    # for display only.
    directory_import.upload.save(f"{directory_import.public_id}.csv", upload, save=False)
    try:
        directory_import.save()
    except BaseException:
        directory_import.upload.delete(save=False)
        raise
    return directory_import


def directory_import_apply(
    *, directory_import: DirectoryImport, by, request=None
) -> DirectoryImport:
    """Apply a previewed import: upsert its valid rows by username, rebuild their phone
    index, and re-match the account's exposures. People not in the file are kept.

    Refused (ValidationError) when the import is not waiting to be applied, so applying
    twice, or a discarded import, changes nothing.
    """
    organization = directory_import.organization
    with transaction.atomic():
        # Applies of one account queue behind each other, so each compares against the
        # directory the previous one left (the lock is on the account's row; NO KEY,
        # so inserts that reference the account are not blocked). On SQLite the
        # IMMEDIATE transaction already holds the database's write lock.
        Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk).first()
        locked = DirectoryImport.objects.select_for_update().get(pk=directory_import.pk)
        if locked.status != DirectoryImport.Status.PREVIEWED:
            raise ValidationError(
                f"This import is {locked.get_status_display().lower()}: it cannot be "
                "applied again. Upload the file again to make a new preview."
            )
        # The stored file, read again: the preview's counts may be stale by now, and
        # the directory is written from the file itself.
        try:
            file = locked.upload.open("rb")
        except OSError as error:
            raise ValidationError(
                "The stored file of this import is gone. Upload the file again."
            ) from error
        with file:
            plan = directory_file_plan(file, organization, write=True)
        if plan.sha256 != locked.sha256:
            raise ValidationError(
                "The stored file is not the one that was checked. Upload it again."
            )
        rematched = exposure_match_directory(
            organization_ids=[organization.pk], directory_changed=bool(plan.updated)
        )
        # Fresh statistics for what the next queries plan from (the sweep's reminders,
        # the exposed users' list): a first directory can be most of these tables.
        table_analyze(DirectoryUser, DirectoryPhone, Exposure)
        now = timezone.now()
        applied = DirectoryImport.objects.filter(
            pk=locked.pk, status=DirectoryImport.Status.PREVIEWED
        ).update(
            status=DirectoryImport.Status.APPLIED,
            applied_at=now,
            rows_total=plan.rows_total,
            rows_valid=plan.rows_valid,
            rows_rejected=plan.rows_rejected,
            errors=plan.errors,
            created_count=plan.created,
            updated_count=plan.updated,
            unchanged_count=plan.unchanged,
        )
        if applied != 1:  # cannot happen under the lock; refuse rather than write twice
            raise ValidationError("This import was applied meanwhile.")
        locked.refresh_from_db()
        audit_record(
            action="directory.import",
            actor=by,
            organization=organization,
            target=locked,
            request=request,
            details={
                "rows": plan.rows_total,
                "rejected": plan.rows_rejected,
                "created": plan.created,
                "updated": plan.updated,
                "unchanged": plan.unchanged,
                "exposures_rematched": rematched,
            },
        )
    locked.exposures_rematched = rematched
    return locked


def directory_import_discard(*, directory_import: DirectoryImport, by) -> DirectoryImport:
    """Drop a preview without applying it, and delete its stored file (it holds the
    names, emails and phones of the account's people, and nobody will need it)."""
    name = directory_import.upload.name
    storage = directory_import.upload.storage
    with transaction.atomic():
        discarded = DirectoryImport.objects.filter(
            pk=directory_import.pk, status=DirectoryImport.Status.PREVIEWED
        ).update(status=DirectoryImport.Status.DISCARDED, upload="")
        if discarded != 1:
            raise ValidationError("Only an import waiting to be applied can be discarded.")
        if name:
            transaction.on_commit(lambda: storage.delete(name), robust=True)
    directory_import.refresh_from_db()
    return directory_import
