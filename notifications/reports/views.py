"""Suspicion reports: the public form behind a notice's link, and the account's list,
one report's page and its triage.

The public form needs no sign-in: the unguessable token in the link is the only key,
and it opens one delivery's form, nothing else. An unknown token gets the same 404
page whoever's it might have been. Filing is rate-limited per link and per address,
in the cache (shared by every web process), so a leaked link cannot flood an account.
"""

import hashlib
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications.models import Delivery, SuspicionReport
from notifications.notice_templates.rendering import snapshot_language
from notifications.reports import services as reports
from notifications.reports.forms import ReportForm, TriageForm
from portal.accounts.gate import Member, account_view
from portal.accounts.roles import Capability
from portal.http import client_ip
from portal.languages import language_supported
from portal.ratelimit import RateLimit, rate_reached, rate_take

PAGE_SIZE = 50

# Per hour. A person reporting a run of calls files a few; more than this through one
# link, or from one address across links, is someone hammering the form.
REPORTS_PER_TOKEN = 5
REPORTS_PER_IP = 20
RATE_WINDOW_SECONDS = 3600


# Rate limits ------------------------------------------------------------------------


def _rate_limits(token: str, ip: str | None) -> tuple[RateLimit, RateLimit]:
    # Hashed: the cache holds neither a usable link nor an address.
    def digest(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()[:32]

    return (
        RateLimit(f"report-rate:token:{digest(token)}", REPORTS_PER_TOKEN, RATE_WINDOW_SECONDS),
        RateLimit(f"report-rate:ip:{digest(ip or 'unknown')}", REPORTS_PER_IP, RATE_WINDOW_SECONDS),
    )


# The public form --------------------------------------------------------------------


def _delivery(token: str) -> Delivery | None:
    return (
        Delivery.objects.select_related("campaign", "organization")
        .filter(report_token=token)
        .first()
    )


def _report_language(request, delivery: Delivery) -> str:
    """The public pages' language: the reporter's pick with the switcher (?lang=),
    else the language the notice was written to them in, else the portal's default."""
    chosen = language_supported(request.GET.get("lang"))
    if chosen:
        return chosen
    snapshot = delivery.campaign.template_snapshot
    notice = (
        snapshot_language(snapshot, delivery.language)
        if snapshot.get("languages")
        else delivery.language
    )
    return language_supported(notice) or settings.LANGUAGE_CODE


def _language_links(request, current: str) -> list[dict]:
    """The switcher of the public pages: links, so a choice needs no cookie and keeps
    the page (the thanks page stays the thanks page)."""
    links = []
    for code, name in settings.LANGUAGES:
        query = request.GET.copy()
        query["lang"] = code
        links.append(
            {
                "code": code,
                "name": name,
                "url": f"{request.path}?{query.urlencode()}",
                "current": code == current,
            }
        )
    return links


@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def report_form(request, token: str):
    delivery = _delivery(token)
    if delivery is None:
        # Whoever's it was: the visitor's pick, else their browser's language.
        language = language_supported(request.GET.get("lang")) or request.LANGUAGE_CODE
        translation.activate(language)
        links = {"language_links": _language_links(request, language)}
        return render(request, "notifications/report_unknown.html", links, status=404)
    language = _report_language(request, delivery)
    translation.activate(language)
    request.LANGUAGE_CODE = language
    organization = delivery.organization
    zone = organization.zone
    context: dict[str, Any] = {
        "organization": organization,
        "contact": reports.report_contact(delivery),
        "zone": zone,
        "language_links": _language_links(request, language),
    }
    if request.method != "POST" and request.GET.get("filed"):
        return render(request, "notifications/report_thanks.html", context)
    limits = _rate_limits(token, client_ip(request))
    if rate_reached(*limits):
        return render(request, "notifications/report_rate_limited.html", context, status=429)
    form = ReportForm(request.POST if request.method == "POST" else None, zone=zone)
    if request.method == "POST" and form.is_valid():
        if not rate_take(*limits):
            return render(request, "notifications/report_rate_limited.html", context, status=429)
        data = form.cleaned_data
        try:
            reports.suspicion_report_file(
                delivery=delivery,
                channel=data["channel"],
                occurred_at=data["occurred_at"],
                occurred_zone=data["zone"],
                asked_for=data["asked_for"],
                contact_detail=data["contact_detail"],
                description=data["description"],
                request=request,
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            # Redirect after the POST, so a reload does not file the report twice.
            return redirect(f"{request.path}?filed=1&lang={language}")
    return render(
        request,
        "notifications/report_form.html",
        {**context, "form": form},
        status=400 if form.errors else 200,
    )


# The account's reports --------------------------------------------------------------


def _report(member: Member, public_id) -> SuspicionReport:
    return member.get(
        SuspicionReport.objects.select_related(
            "incident", "triaged_by", "delivery__campaign", "delivery__directory_user"
        ),
        public_id=public_id,
    )


def _detail_url(member: Member, report: SuspicionReport) -> str:
    return reverse(
        "reports:detail",
        kwargs={"org": member.organization.public_id, "report": report.public_id},
    )


def _campaign_url(member: Member, report: SuspicionReport) -> str:
    if report.delivery is None:
        return ""
    return reverse(
        "campaigns:detail",
        kwargs={
            "org": member.organization.public_id,
            "campaign": report.delivery.campaign.public_id,
        },
    )


@account_view(Capability.VIEW_REPORTS)
@require_GET
def report_list(request, member: Member):
    status = request.GET.get("status", "")
    if status not in SuspicionReport.Status.values:
        status = ""
    everything = member.scoped(SuspicionReport)
    counts = dict(
        everything.order_by()
        .values_list("status")
        .annotate(count=Count("id"))
        .values_list("status", "count")
    )
    shown = everything.filter(status=status) if status else everything
    shown = shown.select_related("incident", "delivery__directory_user").order_by(
        "-created_at", "-id"
    )
    page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/report_list.html",
        {
            "member": member,
            "organization": member.organization,
            "page": page,
            "status": status,
            "statuses": [
                (value, label, counts.get(value, 0))
                for value, label in SuspicionReport.Status.choices
            ],
            "total": sum(counts.values()),
            "zone": member.organization.zone,
        },
    )


def _detail_page(request, member: Member, report: SuspicionReport, form: TriageForm, status=200):
    return render(
        request,
        "notifications/report_detail.html",
        {
            "member": member,
            "organization": member.organization,
            "report": report,
            "form": form,
            "campaign_url": _campaign_url(member, report),
            "zone": member.organization.zone,
        },
        status=status,
    )


@account_view(Capability.VIEW_REPORTS)
@require_GET
def report_detail(request, member: Member, report):
    found = _report(member, report)
    return _detail_page(request, member, found, TriageForm(report=found))


@account_view(Capability.VIEW_REPORTS)
@require_POST
def report_triage(request, member: Member, report):
    found = _report(member, report)
    form = TriageForm(request.POST, report=found)
    if not form.is_valid():
        return _detail_page(request, member, found, form, status=400)
    try:
        reports.suspicion_report_triage(
            report=found,
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
            by=request.user,
            seen=form.cleaned_data["seen"] or None,
            request=request,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("The report is now %(status)s.") % {"status": found.get_status_display().lower()},
        )
    return redirect(_detail_url(member, found))
