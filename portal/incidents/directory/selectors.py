"""Reads for the account's user directory."""

from django.db.models import Count, Q, QuerySet

from portal.accounts.models import Organization
from portal.incidents.directory.csvfile import DirectoryRow, directory_csv_lines
from portal.incidents.directory.services import (
    DirectoryPlan,
    directory_file_plan,
    directory_rows_classified,
)
from portal.incidents.models import DirectoryImport, DirectoryUser, Exposure, Incident

SAMPLE_SIZE = 20


def directory_users_of(organization: Organization) -> QuerySet[DirectoryUser]:
    return DirectoryUser.objects.filter(organization=organization).order_by("username")


def directory_match_counts(organization: Organization) -> dict[str, int]:
    """Exposed phones of the account's published incidents, with and without a person.

    Distinct phones: a phone exposed in two incidents is one phone, and its match is
    the same in both (exposures match by phone).
    """
    return Exposure.objects.filter(
        organization=organization, incident__status=Incident.Status.PUBLISHED
    ).aggregate(
        matched=Count("phone", distinct=True, filter=Q(directory_user__isnull=False)),
        unmatched=Count("phone", distinct=True, filter=Q(directory_user__isnull=True)),
    )


def directory_import_is_stale(directory_import: DirectoryImport) -> bool:
    """Whether another import changed the directory after this one was checked."""
    return DirectoryImport.objects.filter(
        organization_id=directory_import.organization_id,
        status=DirectoryImport.Status.APPLIED,
        applied_at__gt=directory_import.created_at,
    ).exists()


def directory_import_plan(*, directory_import: DirectoryImport) -> DirectoryPlan | None:
    """What applying would do now: the stored file read again against the directory as
    it is, without writing. For a preview whose counts another import made stale; None
    when the stored file is gone."""
    try:
        file = directory_import.upload.open("rb")
    except OSError:
        return None
    with file:
        return directory_file_plan(file, directory_import.organization, write=False)


def directory_import_sample(
    *, directory_import: DirectoryImport, size: int = SAMPLE_SIZE
) -> list[tuple[DirectoryRow, str]]:
    """The first valid rows of a preview, each with what applying will do to it."""
    rows: list[DirectoryRow] = []
    try:
        file = directory_import.upload.open("rb")
    except OSError:
        return []  # the page says what it can without it; applying refuses in words
    with file:
        _, lines = directory_csv_lines(file)
        for line in lines:
            if line.row is not None:
                rows.append(line.row)
                if len(rows) >= size:
                    break
        lines.close()
    return [
        (row, action)
        for row, action, _ in directory_rows_classified(directory_import.organization, rows)
    ]
