"""The account's user directory: the list, the upload, its preview, apply and discard.

Thin: each view asks the gate for the member and their objects and calls one function
of portal.incidents.directory. Everyone who sees dashboards sees the directory (phones
masked); only those who manage it upload, apply and discard.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.gate import Member, account_view
from portal.accounts.roles import Capability
from portal.incidents.directory.csvfile import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from portal.incidents.directory.forms import DirectoryUploadForm
from portal.incidents.directory.selectors import (
    directory_import_is_stale,
    directory_import_plan,
    directory_import_sample,
    directory_match_counts,
    directory_users_of,
)
from portal.incidents.directory.services import (
    ERRORS_KEPT,
    directory_import_apply,
    directory_import_check,
    directory_import_discard,
)
from portal.incidents.models import DirectoryImport
from portal.incidents.phones_display import phone_masked

PAGE_SIZE = 50
IMPORTS_SHOWN = 10


def _index_url(member: Member) -> str:
    return reverse("directory:index", kwargs={"org": member.organization.public_id})


def _preview_url(member: Member, directory_import: DirectoryImport) -> str:
    return reverse(
        "directory:preview",
        kwargs={
            "org": member.organization.public_id,
            "directory_import": directory_import.public_id,
        },
    )


def _index(request, member: Member, form: DirectoryUploadForm | None):
    organization = member.organization
    page = Paginator(directory_users_of(organization), PAGE_SIZE).get_page(request.GET.get("page"))
    for user in page:
        user.phones_masked = [phone_masked(phone) for phone in user.phones]
    can_manage = member.can(Capability.MANAGE_DIRECTORY)
    counts = directory_match_counts(organization)
    return render(
        request,
        "directory/index.html",
        {
            "member": member,
            "organization": organization,
            "page": page,
            "matched": counts["matched"],
            "unmatched": counts["unmatched"],
            "exposed": counts["matched"] + counts["unmatched"],
            "can_manage": can_manage,
            "form": (form or DirectoryUploadForm()) if can_manage else None,
            "imports": member.scoped(DirectoryImport).select_related("created_by")[:IMPORTS_SHOWN],
            "required_columns": REQUIRED_COLUMNS,
            "optional_columns": OPTIONAL_COLUMNS,
            "zone": organization.zone,
        },
    )


@account_view(Capability.VIEW_DASHBOARD)
@require_safe
def directory_index(request, member: Member):
    return _index(request, member, None)


@account_view(Capability.MANAGE_DIRECTORY)
@require_POST
def directory_upload(request, member: Member):
    form = DirectoryUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            directory_import = directory_import_check(
                organization=member.organization,
                upload=upload,
                original_name=upload.name,
                by=request.user,
            )
        except ValidationError as error:
            form.add_error("file", error)
        else:
            return redirect(_preview_url(member, directory_import))
    # The page again, with the refusal on the form: nothing was kept.
    return _index(request, member, form)


@account_view(Capability.VIEW_DASHBOARD)
@require_safe
def directory_import_preview(request, member: Member, directory_import):
    found = member.get(
        DirectoryImport.objects.select_related("created_by"), public_id=directory_import
    )
    previewed = found.status == DirectoryImport.Status.PREVIEWED
    created, updated, unchanged = found.created_count, found.updated_count, found.unchanged_count
    stale = previewed and directory_import_is_stale(found)
    if stale:
        plan = directory_import_plan(directory_import=found)
        if plan is None:
            stale = False  # the file is gone: show the counts of the check
        else:
            created, updated, unchanged = plan.created, plan.updated, plan.unchanged
    counts = {"matched": 0, "unmatched": 0}
    if found.status == DirectoryImport.Status.APPLIED:
        counts = directory_match_counts(member.organization)
    sample = []
    if previewed:
        for row, action in directory_import_sample(directory_import=found):
            sample.append(
                {
                    "row": row,
                    "action": action,
                    "phones_masked": [phone_masked(phone) for phone in row.phones],
                }
            )
    return render(
        request,
        "directory/preview.html",
        {
            "member": member,
            "organization": member.organization,
            "directory_import": found,
            "previewed": previewed,
            "stale": stale,
            "created": created,
            "updated": updated,
            "unchanged": unchanged,
            "sample": sample,
            "errors_kept": ERRORS_KEPT,
            "errors_cut": len(found.errors) >= ERRORS_KEPT,
            "can_manage": member.can(Capability.MANAGE_DIRECTORY),
            "zone": member.organization.zone,
            "matched": counts["matched"],
            "exposed": counts["matched"] + counts["unmatched"],
        },
    )


@account_view(Capability.MANAGE_DIRECTORY)
@require_POST
def directory_import_apply_view(request, member: Member, directory_import):
    found = member.get(DirectoryImport, public_id=directory_import)
    try:
        applied = directory_import_apply(directory_import=found, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        counts = {
            "created": applied.created_count,
            "updated": applied.updated_count,
            "unchanged": applied.unchanged_count,
            "rejected": applied.rows_rejected,
        }
        done = (
            ngettext(
                "Applied: %(created)s added, %(updated)s updated, %(unchanged)s unchanged, "
                "%(rejected)s row with problems left out.",
                "Applied: %(created)s added, %(updated)s updated, %(unchanged)s unchanged, "
                "%(rejected)s rows with problems left out.",
                applied.rows_rejected,
            )
            if applied.rows_rejected
            else _("Applied: %(created)s added, %(updated)s updated, %(unchanged)s unchanged.")
        ) % counts
        rematched = ngettext(
            "The exposed phones were matched again: %(count)s exposure changed.",
            "The exposed phones were matched again: %(count)s exposures changed.",
            applied.exposures_rematched,
        ) % {"count": applied.exposures_rematched}
        messages.success(request, f"{done} {rematched}")
    return redirect(_preview_url(member, found))


@account_view(Capability.MANAGE_DIRECTORY)
@require_POST
def directory_import_discard_view(request, member: Member, directory_import):
    found = member.get(DirectoryImport, public_id=directory_import)
    try:
        directory_import_discard(directory_import=found, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(_preview_url(member, found))
    messages.success(
        request,
        _("Discarded %(file)s: the directory is unchanged and the file deleted.")
        % {"file": found.original_name},
    )
    return redirect(_index_url(member))
