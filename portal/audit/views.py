"""The audit log: an account's (owners and admins) and the operator's (every event)."""

import hashlib
import zoneinfo
from typing import cast

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from portal.accounts.gate import account_view, staff_view
from portal.accounts.roles import Capability
from portal.audit.forms import AuditFilterForm, OperatorAuditFilterForm
from portal.audit.models import AuditEvent
from portal.audit.selectors import (
    CSV_HEADER,
    audit_actions_present,
    audit_event_csv_row,
    audit_events_all,
    audit_events_filtered,
    audit_events_of_account,
)
from portal.audit.services import audit_export_record
from portal.csvsafe import stream_csv

PAGE_SIZE = 50
# Rows fetched per round trip while an export streams: memory stays flat however
# long the log is.
EXPORT_CHUNK = 2000
UTC = zoneinfo.ZoneInfo("UTC")


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP events (a count of every event the account ever had
    cost 20 ms at 50,000, on every page); past that, the pages say "more than" and
    stop at the cap, and the date filters reach further back."""

    COUNT_CAP = 10_000
    # An audit log only grows (until retention trims years-old events): a filter that
    # reached the cap is remembered as capped for a while, and the pages after it, and
    # the same view again, skip counting 10,001 rows (5 ms at a million rows).
    CAPPED_SECONDS = 300
    capped = False

    @cached_property
    def count(self) -> int:
        events = cast("QuerySet[AuditEvent]", self.object_list)
        key = self._capped_key(events)
        if key is not None and cache.get(key):
            self.capped = True
            return self.COUNT_CAP
        counted = events.order_by()[: self.COUNT_CAP + 1].count()
        if counted > self.COUNT_CAP:
            self.capped = True
            if key is not None:
                cache.set(key, True, self.CAPPED_SECONDS)
            return self.COUNT_CAP
        return counted

    @staticmethod
    def _capped_key(events) -> str | None:
        """The filter's query itself (account and filters included) is the key."""
        try:
            sql, params = events.order_by().query.sql_with_params()
        except EmptyResultSet:
            return None
        text = f"{sql}|{params!r}"
        return "audit:capped:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _filtered(request, form_class, scope, zone):
    form = form_class(
        request.GET or None, actions=audit_actions_present(scope), zone_name=str(zone)
    )
    filters = form.filters()
    return form, filters, audit_events_filtered(scope, filters, zone=zone)


def _csv_response(events, *, zone, filename: str) -> StreamingHttpResponse:
    rows = (
        audit_event_csv_row(event, zone=zone) for event in events.iterator(chunk_size=EXPORT_CHUNK)
    )
    response = StreamingHttpResponse(
        stream_csv(CSV_HEADER, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# The gate goes outermost, so a stranger gets its 404 whatever the method.
@account_view(Capability.VIEW_AUDIT)
@require_safe
def audit_list(request, member):
    organization = member.organization
    zone = organization.zone
    form, _, events = _filtered(
        request, AuditFilterForm, audit_events_of_account(organization), zone
    )
    return render(
        request,
        "audit/list.html",
        {
            "organization": organization,
            "form": form,
            "page": CappedPaginator(events, PAGE_SIZE).get_page(request.GET.get("page")),
            "zone": zone,
        },
    )


@account_view(Capability.VIEW_AUDIT)
@never_cache
@require_GET  # not HEAD: every export is audited, and a HEAD would record one for nothing
def audit_export(request, member):
    organization = member.organization
    zone = organization.zone
    _, filters, events = _filtered(
        request, AuditFilterForm, audit_events_of_account(organization), zone
    )
    audit_export_record(
        by=request.user, organization=organization, filters=filters, request=request
    )
    today = timezone.localdate(timezone=zone)
    return _csv_response(
        events, zone=zone, filename=f"vigil-audit-{organization.account_id}-{today:%Y-%m-%d}.csv"
    )


@staff_view
@require_safe
def operator_audit_list(request):
    form, _, events = _filtered(request, OperatorAuditFilterForm, audit_events_all(), UTC)
    return render(
        request,
        "operator/audit.html",
        {
            "form": form,
            "page": CappedPaginator(events, PAGE_SIZE).get_page(request.GET.get("page")),
            "zone": UTC,
        },
    )


@staff_view
@never_cache
@require_GET
def operator_audit_export(request):
    _, filters, events = _filtered(request, OperatorAuditFilterForm, audit_events_all(), UTC)
    audit_export_record(by=request.user, organization=None, filters=filters, request=request)
    today = timezone.localdate(timezone=UTC)
    return _csv_response(events, zone=UTC, filename=f"vigil-audit-all-{today:%Y-%m-%d}.csv")
