"""The operator console's incidents and imports (DESIGN.md flow 1): staff only
(`staff_view`), 404 for anyone else.

The writes these pages make are in `operator_services`; the import itself is the
engine's (`portal.incidents.imports`).
"""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Exists, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from portal.accounts.gate import staff_view
from portal.accounts.models import Organization
from portal.accounts.reauth import reauthentication_if_stale
from portal.accounts.selectors import SubqueryCount
from portal.incidents.exposures.services import incident_publish
from portal.incidents.imports.encodings import encoding_label
from portal.incidents.imports.errors import report_csv
from portal.incidents.imports.services import (
    ImportRefusedError,
    import_batch_accept_problems,
    import_batch_discard,
)
from portal.incidents.models import Exposure, ImportBatch, Incident, MessageRollup
from portal.incidents.operator.forms import IncidentForm, UploadForm
from portal.incidents.operator.selectors import incident_contacts
from portal.incidents.operator.services import (
    import_errors_download_record,
    import_retry,
    import_upload,
    incident_close,
    incident_create,
    incident_update,
)
from portal.incidents.reasons import reason_text

PAGE_SIZE = 50
# The batch page keeps polling while a batch is in one of these.
ACTIVE = (ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING)


# Reads ----------------------------------------------------------------------------


def _incidents_with_totals() -> QuerySet[Incident]:
    """Incidents with the accounts they touch, the log rows they hold and the last import.

    Accounts are counted as "accounts with an exposure here", one EXISTS per account
    through the (organization, incident, ...) indexes, rather than COUNT(DISTINCT) over
    the incident's exposures: accounts are hundreds, exposures millions.
    """
    exposed = Exposure.objects.filter(
        organization=OuterRef("pk"), incident=OuterRef(OuterRef("pk"))
    )
    accounts = Organization.objects.filter(Exists(exposed)).values("pk")
    batches = ImportBatch.objects.filter(incident=OuterRef("pk")).order_by()
    # The log rows however they arrived (an upload, import_logs, the demo's seeding):
    # summed from the rollup every writer keeps, not from the uploads' counts.
    rows = (
        MessageRollup.objects.filter(incident=OuterRef("pk"))
        .order_by()
        .values("incident")
        .annotate(total=Sum("messages"))
        .values("total")
    )
    latest = batches.order_by("-created_at", "-pk")
    return Incident.objects.annotate(
        account_count=SubqueryCount(accounts),
        log_rows=Coalesce(Subquery(rows), 0),
        last_import_at=Subquery(latest.values("created_at")[:1]),
        last_import_status=Subquery(latest.values("status")[:1]),
    )


def _incident_or_404(public_id) -> Incident:
    return get_object_or_404(_incidents_with_totals(), public_id=public_id)


def _batch_or_404(public_id) -> ImportBatch:
    return get_object_or_404(
        ImportBatch.objects.select_related(
            "incident", "organization", "created_by", "problems_accepted_by"
        ),
        public_id=public_id,
    )


@dataclass(frozen=True)
class BatchProgress:
    """What the progress panel shows of a batch, computed from its row."""

    batch: ImportBatch

    @property
    def active(self) -> bool:
        return self.batch.status in ACTIVE

    @property
    def percent(self) -> int:
        batch = self.batch
        if batch.status == ImportBatch.Status.COMPLETED:
            return 100
        if not batch.bytes_total:
            return 0
        # Rounded down: "100%" only once the last byte is read.
        return min(100, batch.bytes_read * 100 // batch.bytes_total)

    @property
    def readable(self) -> int:
        """Rows read that a held batch would publish (less duplicates, found later)."""
        batch = self.batch
        return max(0, batch.seen - batch.rejected - batch.unknown_account)

    @property
    def hold_limit(self) -> float:
        return settings.IMPORT_HOLD_REJECTED_PERCENT

    @property
    def rejected_percent(self) -> float:
        batch = self.batch
        return batch.rejected * 100 / batch.seen if batch.seen else 0.0

    @property
    def elapsed(self) -> timedelta | None:
        batch = self.batch
        end = batch.finished_at or batch.progress_at
        if batch.started_at is None or end is None or end <= batch.started_at:
            return None
        return end - batch.started_at

    @property
    def rows_per_second(self) -> int | None:
        elapsed = self.elapsed
        if elapsed is None:
            return None
        return round(self.batch.seen / elapsed.total_seconds())

    @property
    def seconds_left(self) -> int | None:
        """A rough guess from the share of bytes read so far, while reading."""
        batch, elapsed = self.batch, self.elapsed
        if (
            batch.status != ImportBatch.Status.RUNNING
            or batch.phase != ImportBatch.Phase.READING
            or elapsed is None
            or not batch.bytes_read
            or batch.bytes_read >= batch.bytes_total
        ):
            return None
        share_left = (batch.bytes_total - batch.bytes_read) / batch.bytes_read
        return round(elapsed.total_seconds() * share_left)


def _detail(request, incident: Incident, *, upload_form: UploadForm | None = None):
    batches = list(incident.import_batches.select_related("organization").order_by("-created_at"))
    contacts = list(incident_contacts(incident))
    return render(
        request,
        "operator/incidents/detail.html",
        {
            "incident": incident,
            "batches": batches,
            "any_active": any(batch.status in ACTIVE for batch in batches),
            # Who publishing emails (every account here), or whom an import does not
            # email again (these accounts are in the incident already).
            "contacts": contacts,
            "contact_people": sum(account.contact_count for account in contacts),  # type: ignore[attr-defined]
            "upload_form": upload_form or UploadForm(),
        },
    )


def _detail_url(incident: Incident) -> str:
    return reverse("operator_incidents:detail", kwargs={"incident": incident.public_id})


def _batch_url(batch: ImportBatch) -> str:
    return reverse("operator_incidents:batch", kwargs={"batch": batch.public_id})


# Views ----------------------------------------------------------------------------
# The gate goes outermost, so a stranger gets its 404 whatever the method.


@staff_view
@require_safe
def incident_list(request):
    incidents = _incidents_with_totals().order_by("-created_at", "-pk")
    return render(
        request,
        "operator/incidents/list.html",
        {"page": Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))},
    )


@staff_view
@require_safe
def incident_detail(request, incident):
    return _detail(request, _incident_or_404(incident))


def _incident_form_page(request, form: IncidentForm, incident: Incident | None = None):
    return render(request, "operator/incidents/form.html", {"form": form, "incident": incident})


@staff_view
@require_http_methods(["GET", "HEAD", "POST"])
def incident_create_view(request):
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = incident_create(fields=form.cleaned_data, by=request.user, request=request)
        except IntegrityError:
            # Another operator took the short name between the check and the insert.
            form.add_error("slug", _("Another incident already has this short name."))
        else:
            messages.success(
                request, _("“%(title)s” is saved as a draft.") % {"title": incident.title}
            )
            return redirect(_detail_url(incident))
    return _incident_form_page(request, form)


@staff_view
@require_http_methods(["GET", "HEAD", "POST"])
def incident_edit(request, incident):
    incident = get_object_or_404(Incident, public_id=incident)
    form = IncidentForm(request.POST or None, instance=incident)
    if request.method == "POST" and form.is_valid():
        if not form.has_changed():
            return redirect(_detail_url(incident))
        try:
            incident = incident_update(
                incident=incident,
                changes={name: form.cleaned_data[name] for name in form.changed_data},
                by=request.user,
                request=request,
            )
        except IntegrityError:
            form.add_error("slug", _("Another incident already has this short name."))
        else:
            messages.success(request, _("The incident is saved."))
            return redirect(_detail_url(incident))
    return _incident_form_page(request, form, incident)


@staff_view
@require_POST
# Publishing shows the incident to every touched account (and will email them): the
# same fresh proof of identity as launching a notice.
@reauthentication_if_stale
def incident_publish_view(request, incident):
    incident = get_object_or_404(Incident, public_id=incident)
    if incident_publish(incident=incident, by=request.user, request=request):
        messages.success(
            request,
            _(
                "“%(title)s” is published: customers now see it, and the owners and admins "
                "of each affected account are being emailed."
            )
            % {"title": incident.title},
        )
    else:
        incident.refresh_from_db(fields=["status"])
        messages.error(
            request,
            _("Only a draft can be published, and this incident is %(status)s.")
            % {"status": incident.get_status_display().lower()},
        )
    return redirect(_detail_url(incident))


@staff_view
@require_POST
def incident_close_view(request, incident):
    incident = get_object_or_404(Incident, public_id=incident)
    if incident_close(incident=incident, by=request.user, request=request):
        messages.success(request, _("“%(title)s” is closed.") % {"title": incident.title})
    else:
        messages.error(request, _("This incident is already closed."))
    return redirect(_detail_url(incident))


@staff_view
@require_POST
def incident_upload(request, incident):
    incident = _incident_or_404(incident)
    # The file is already on disk by now: Django streamed the request body into a
    # temporary file (anything over FILE_UPLOAD_MAX_MEMORY_SIZE), and the engine
    # copies it into storage chunk by chunk. Nothing here may call .read().
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            batch = import_upload(
                incident=incident,
                upload=form.cleaned_data["upload"],
                format=form.cleaned_data["format"],
                organization=form.cleaned_data["organization"],
                by=request.user,
                request=request,
            )
        except ImportRefusedError as error:
            form.add_error("upload", reason_text(error.message))
        else:
            return redirect(_batch_url(batch))
    return _detail(request, incident, upload_form=form)


@staff_view
@require_safe
def batch_detail(request, batch):
    batch = _batch_or_404(batch)
    return render(
        request,
        "operator/incidents/batch.html",
        {
            "batch": batch,
            "incident": batch.incident,
            "progress": BatchProgress(batch),
            "encoding": encoding_label(batch.encoding),
        },
    )


@staff_view
@never_cache
@require_safe
def batch_progress(request, batch):
    batch = _batch_or_404(batch)
    return render(
        request,
        "operator/incidents/_batch_progress.html",
        {"batch": batch, "progress": BatchProgress(batch)},
    )


@staff_view
@never_cache
@require_GET  # not HEAD: every download is audited, and a HEAD would record one for nothing
def batch_errors(request, batch):
    batch = _batch_or_404(batch)
    if not batch.error_report:
        raise Http404("This batch has no error report.")
    try:
        report = batch.error_report.open("rb")
    except FileNotFoundError as error:
        raise Http404("The error report is missing from storage.") from error
    import_errors_download_record(batch=batch, by=request.user, request=request)
    filename = f"{PurePath(batch.original_name).stem or 'import'}-errors.csv"
    # Written in the reader's language as it streams (the worker stored each reason's
    # message and parameters beside its English), a row at a time: a dump wrong on
    # every line makes a report of millions.
    language = translation.get_language()

    def lines():
        with report, translation.override(language):
            yield from report_csv(report)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _batch_action(request, batch, action, *, done: str, refused: str):
    """One button on a batch's page: the service answers whether it applied."""
    batch = _batch_or_404(batch)
    if action(batch=batch, by=request.user, request=request):
        messages.success(request, done)
    else:
        messages.error(request, refused)
    return redirect(_batch_url(batch))


@staff_view
@require_POST
def batch_retry(request, batch):
    return _batch_action(
        request,
        batch,
        import_retry,
        done=_("The import is queued again."),
        refused=_("Only a failed import can be retried."),
    )


@staff_view
@require_POST
def batch_accept_problems(request, batch):
    return _batch_action(
        request,
        batch,
        import_batch_accept_problems,
        done=_(
            "The import runs again and will publish the rows it can read; the rejected "
            "rows stay in its error report."
        ),
        refused=_("Only an import held for review can be published this way."),
    )


@staff_view
@require_POST
def batch_discard(request, batch):
    return _batch_action(
        request,
        batch,
        import_batch_discard,
        done=_("The import is discarded: none of its rows were published."),
        refused=_("Only an import held for review can be discarded."),
    )
