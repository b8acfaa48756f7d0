"""The operator console's log-copy queue (DESIGN.md flow 6): staff approve or reject
requests, and set which accounts' requests are approved automatically. Staff only
(`staff_view`); 404 for anyone else.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.gate import staff_view
from portal.accounts.models import Organization
from portal.logcopies import services
from portal.logcopies.forms import DecisionForm
from portal.logcopies.models import LogCopyRequest

RECENT_DECISIONS = 50


# Pages ----------------------------------------------------------------------------


def _with_related(queryset):
    return queryset.select_related("organization", "incident", "requested_by", "decided_by")


def _copy_or_404(public_id) -> LogCopyRequest:
    return get_object_or_404(_with_related(LogCopyRequest.objects), public_id=public_id)


def _detail_url(copy: LogCopyRequest) -> str:
    return reverse("operator_logcopies:detail", kwargs={"copy": copy.public_id})


@staff_view
@require_safe
def queue(request):
    waiting = _with_related(
        LogCopyRequest.objects.filter(status=LogCopyRequest.Status.REQUESTED)
    ).order_by("created_at")
    decided = _with_related(
        LogCopyRequest.objects.exclude(status=LogCopyRequest.Status.REQUESTED).filter(
            decided_at__isnull=False
        )
    ).order_by("-decided_at")[:RECENT_DECISIONS]
    accounts = Organization.objects.order_by("name").only(
        "public_id", "name", "account_id", "log_copy_auto_approve", "log_copy_retention_days"
    )
    return render(
        request,
        "operator/logcopies/queue.html",
        {"waiting": list(waiting), "decided": list(decided), "accounts": accounts},
    )


def _render_detail(request, copy, *, approve_form=None, reject_form=None, status=200):
    return render(
        request,
        "operator/logcopies/detail.html",
        {
            "copy": copy,
            "approve_form": approve_form or DecisionForm(prefix="approve"),
            "reject_form": reject_form or DecisionForm(prefix="reject", reason_required=True),
        },
        status=status,
    )


@staff_view
@require_safe
def detail(request, copy):
    return _render_detail(request, _copy_or_404(copy))


@staff_view
@require_POST
def approve(request, copy):
    return _decide(
        request,
        copy,
        prefix="approve",
        decide=services.logcopy_approve,
        done=_("Approved. The copy is being generated; the requester is told."),
    )


@staff_view
@require_POST
def reject(request, copy):
    return _decide(
        request,
        copy,
        prefix="reject",
        decide=services.logcopy_reject,
        done=_("Rejected. The requester is told why."),
    )


def _decide(request, copy, *, prefix: str, decide, done: str):
    found = _copy_or_404(copy)
    form = DecisionForm(request.POST, prefix=prefix, reason_required=prefix == "reject")
    if not form.is_valid():
        return _render_detail(request, found, status=400, **{f"{prefix}_form": form})
    try:
        decide(copy=found, by=request.user, reason=form.cleaned_data["reason"], request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect(_detail_url(found))


@staff_view
@require_POST
def policy(request, org):
    organization = get_object_or_404(Organization, public_id=org)
    choice = request.POST.get("auto_approve")
    if choice not in ("on", "off"):
        return HttpResponseBadRequest("auto_approve must be on or off.")
    auto_approve = choice == "on"
    services.logcopy_policy_set(
        organization=organization, auto_approve=auto_approve, by=request.user, request=request
    )
    if auto_approve:
        messages.success(
            request,
            _("Log copies for %(name)s are now approved automatically.")
            % {"name": organization.name},
        )
    else:
        messages.success(
            request,
            _("Log copies for %(name)s now wait for approval.") % {"name": organization.name},
        )
    return redirect(reverse("operator_logcopies:queue") + "#policies")
