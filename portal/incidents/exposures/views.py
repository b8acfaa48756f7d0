"""The customer's incident pages: the dashboard, the exposed users, one exposed phone's
timeline, the phones nobody in the directory has, and revealing a number.

Every view goes through the gate (portal.accounts.gate) and then asks
`incident_of_account` (the rule of `incidents_of_account`), so an incident the account
has no exposures in, or one not published yet, is a 404 like any object of another
account.
"""

from functools import wraps
from urllib.parse import urlsplit

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core.exceptions import ReauthenticationRequired
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from portal.accounts.gate import Member, account_view
from portal.accounts.reauth import reauthentication_if_stale
from portal.accounts.roles import Capability
from portal.audit.services import audit_record
from portal.incidents.exposures.charts import per_day_svgs
from portal.incidents.exposures.exports import EXPORT_STREAM_MAX, csv_chunks, export_rows
from portal.incidents.exposures.forms import ExposureFilterForm
from portal.incidents.exposures.paging import (
    DeferredJoinPaginator,
    Lazy,
    count_cached,
    list_cache_key,
)
from portal.incidents.exposures.plan import response_plan
from portal.incidents.exposures.presenters import (
    breakdown_html,
    exposure_row,
    exposure_rows,
    exposure_rows_html,
    per_day_rows_html,
    phone_html,
    timeline_rows_html,
)
from portal.incidents.exposures.selectors import (
    EXPOSURE_ROW_FIELDS,
    exposure_filter_choices,
    exposure_summary,
    exposure_timeline,
    exposures_filtered,
    exposures_listed,
    exposures_of,
    exposures_of_same_person,
    incident_dashboard,
    incident_of_account,
    incidents_visible_to,
)
from portal.incidents.exposures.services import exposure_export_queue
from portal.incidents.models import DirectoryUser, Exposure, Incident

PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 100


def _incident(member: Member, public_id) -> Incident:
    found = incident_of_account(member.organization, public_id)
    if found is None:
        raise Http404("No such incident in this account.")
    return found


def _exposure(member: Member, incident: Incident, public_id) -> Exposure:
    return member.get(
        Exposure.objects.select_related("directory_user"), incident=incident, public_id=public_id
    )


# The dashboard's breakdowns: the numbers' attribute, heading, column, the list's filter.
BREAKDOWNS = [
    ("by_country", gettext_lazy("By country"), gettext_lazy("Country"), "country"),
    ("by_region", gettext_lazy("By region"), gettext_lazy("Region"), "region"),
    ("by_carrier", gettext_lazy("By carrier"), gettext_lazy("Carrier"), "carrier"),
    ("by_type", gettext_lazy("By message type"), gettext_lazy("Type"), "message_type"),
]


def _exposed_url(member: Member, incident: Incident) -> str:
    kwargs = {"org": member.organization.public_id, "incident": incident.public_id}
    return reverse("incidents:exposed", kwargs=kwargs)


def _breakdown_tables(numbers, *, exposed_url: str) -> list:
    return [
        breakdown_html(
            getattr(numbers, attribute),
            heading=heading,
            heading_id=attribute.replace("_", "-"),
            column=column,
            param=param,
            exposed_url=exposed_url,
        )
        for attribute, heading, column, param in BREAKDOWNS
    ]


def _page_context(member: Member, incident: Incident, **extra) -> dict:
    organization = member.organization
    return {
        "member": member,
        "organization": organization,
        "incident": incident,
        "can_reveal": member.can(Capability.REVEAL_PHONE),
        "can_manage_directory": member.can(Capability.MANAGE_DIRECTORY),
        "can_manage_notices": member.can(Capability.MANAGE_NOTICES),
        "can_export": member.can(Capability.EXPORT_EXPOSED),
        # Row links are this plus the exposure's id (`<exposed>/<exposure>/`): one
        # reverse() per page rather than two per row.
        "exposed_url": _exposed_url(member, incident),
        "directory_url": f"/o/{organization.public_id}/directory/",
        **extra,
    }


def _add_rows(request, context: dict, page, zone, *, unmatched: bool = False) -> None:
    rows = exposure_rows(
        page, zone=zone, exposed_url=context["exposed_url"], mask_people=not context["can_export"]
    )
    context["rows"] = rows
    context["unmatched"] = unmatched
    context["rows_html"] = exposure_rows_html(
        rows,
        can_reveal=context["can_reveal"],
        csrf_token=get_token(request),
        unmatched=unmatched,
    )


# The gate goes outermost, so a stranger gets its 404 whatever the method.
@account_view(Capability.VIEW_DASHBOARD)
@require_safe
def dashboard(request, member: Member, incident):
    found = _incident(member, incident)
    zone = member.organization.zone
    numbers = incident_dashboard(member.organization, found, zone=zone)
    plan = response_plan(member, found, summary=numbers.summary)
    return render(
        request,
        "incidents/dashboard.html",
        _page_context(
            member,
            found,
            numbers=numbers,
            chart_svg=per_day_svgs(numbers.per_day),
            per_day_rows=per_day_rows_html(numbers.per_day),
            breakdown_tables=_breakdown_tables(numbers, exposed_url=_exposed_url(member, found)),
            days_since_disclosure=plan.days_since_disclosure,
            plan=plan,
            zone=zone,
        ),
    )


def _filtered(request, member: Member, incident: Incident):
    """The form, its filters, the filtered list (built when first needed: a page in the
    cache needs none of it), the rollup's summary, and where the list's count and pages
    are kept (None when the account has no rollup to version them by)."""
    summary = exposure_summary(member.organization, incident)
    form = ExposureFilterForm(request.GET or None, choices=exposure_filter_choices(summary))
    # Before the form is cleaned: its bound fields keep the help text they were made with.
    people = member.can(Capability.EXPORT_EXPOSED)
    if not people:
        form.fields["q"].help_text = gettext(
            "The last four digits of the number, or all of it: names and emails are masked "
            "for your role, so they are not searched either."
        )
        form.fields["q"].widget.attrs["placeholder"] = "0143"
    filters = form.filters()
    reveal = member.can(Capability.REVEAL_PHONE)
    exposures = Lazy(
        lambda: exposures_filtered(
            exposures_of(member.organization, incident),
            filters,
            reveal=reveal,
            people=people,
            organization_id=member.organization.pk,
        )
    )
    cache_key = None
    if summary.refreshed_at is not None:
        cache_key = list_cache_key(
            key_parts=(
                member.organization.pk,
                incident.pk,
                reveal,
                people,
                *sorted(filters.as_details().items()),
            ),
            version=str(summary.refreshed_at),
        )
    return form, filters, exposures, summary, cache_key


def _count(filters, exposures: Lazy, summary, cache_key: str | None) -> tuple[int, bool]:
    """How many phones the list holds, and whether that is an estimate."""
    if not filters.is_narrowing():
        # Every phone: the rollup has counted them already.
        return summary.total("phones"), False
    by_place = {"country", "region", "carrier"}
    narrowing = {name for name, value in filters.as_details().items() if name != "sort"}
    if narrowing <= by_place:
        # Only by country, region or carrier: the rollup's groups are exactly those.
        wanted = {name: getattr(filters, name) for name in narrowing}
        return sum(
            group.phones
            for group in summary.groups
            if all(getattr(group, name) == value for name, value in wanted.items())
        ), False
    if cache_key is None:
        return exposures.get().count(), False
    # Counted on the first page; the next pages (and the same filter again) read it.
    return count_cached(exposures, cache_key=cache_key)


def _audit_reveal(request, member: Member, *, target, details: dict) -> None:
    """One `phone.reveal` event: by the reveal button (target: the exposure) or by a
    search that matched more digits than the mask shows (target: the incident)."""
    audit_record(
        action="phone.reveal",
        actor=request.user,
        organization=member.organization,
        target=target,
        request=request,
        details=details,
    )


def _audit_search_reveal(
    request, member: Member, incident: Incident, filters, *, exposures: Lazy, page=None
) -> None:
    """A search by more digits than the mask shows tells those digits of every number
    it keeps: a reveal, audited as one, with what was searched (cut to its last digits
    as it is written, like every phone number in the log), how many numbers matched and
    which exposures the list's `page` showed (or, for an export, the first page's worth).

    Only those who may reveal numbers search that way: for anyone else
    exposures_filtered matches such a search only to a number typed in full.
    """
    if not (member.can(Capability.REVEAL_PHONE) and filters.searches_past_the_mask()):
        return
    if page is not None:
        matched, named = page.paginator.count, [exposure.public_id for exposure in page]
    else:
        matched = exposures.get().count()
        named = list(exposures.get().values_list("public_id", flat=True)[:PAGE_SIZE])
    _audit_reveal(
        request,
        member,
        target=incident,
        details={
            "via": "search" if page is not None else "export",
            # Under a "phone" key: cut to its last digits however short, as it is written.
            "phone_search": filters.q,
            "digits": len(filters.phone_digits),
            "matched": matched,
            "exposures": [str(public_id) for public_id in named],
        },
    )


@account_view(Capability.VIEW_DASHBOARD)
@require_safe
def exposed(request, member: Member, incident):
    found = _incident(member, incident)
    form, filters, exposures, summary, cache_key = _filtered(request, member, found)
    filtered = filters.is_narrowing()
    paginator = DeferredJoinPaginator(
        exposures,
        PAGE_SIZE,
        # The ids come from the account's filtered list: loading them needs no filter.
        load=exposures_listed,
        cache_key=cache_key,
    )
    paginator.count, paginator.estimated = _count(filters, exposures, summary, cache_key)
    page = paginator.get_page(request.GET.get("page"))
    _audit_search_reveal(request, member, found, filters, exposures=exposures, page=page)
    zone = member.organization.zone
    context = _page_context(member, found, form=form, filtered=filtered, page=page, zone=zone)
    _add_rows(request, context, page, zone)
    return render(request, "incidents/exposed.html", context)


@account_view(Capability.EXPORT_EXPOSED)
@never_cache
@require_GET  # not HEAD: every export is audited, and a HEAD would record one for nothing
def exposed_export(request, member: Member, incident):
    """A small export streams from here (at most EXPORT_STREAM_MAX rows, in 64 KB
    chunks: well under a second); a larger one becomes a job that a worker writes to
    storage, and the member waits on its page for the signed download link."""
    found = _incident(member, incident)
    _, filters, exposures, summary, cache_key = _filtered(request, member, found)
    organization = member.organization
    zone = organization.zone
    reveal = member.can(Capability.REVEAL_PHONE)
    total, estimated = _count(filters, exposures, summary, cache_key)
    audit_record(
        action="exposure.export",
        actor=request.user,
        organization=organization,
        target=found,
        request=request,
        details={
            "filters": filters.as_details(),
            "numbers": "masked",
            "rows": total,
            "how": "streamed" if total <= EXPORT_STREAM_MAX else "job",
            **({"rows_estimated": True} if estimated else {}),
        },
    )
    _audit_search_reveal(request, member, found, filters, exposures=exposures)
    if total > EXPORT_STREAM_MAX:
        export = exposure_export_queue(
            member=member, incident=found, filters=filters, reveal=reveal, total=total
        )
        return redirect("logcopies:export", org=organization.public_id, export=export.public_id)
    response = StreamingHttpResponse(
        csv_chunks(export_rows(exposures.get(), zone)), content_type="text/csv; charset=utf-8"
    )
    today = timezone.localdate(timezone=zone)
    filename = f"vigil-exposed-{organization.account_id}-{found.slug}-{today:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@account_view(Capability.VIEW_DASHBOARD)
@require_safe
def exposure_detail(request, member: Member, incident, exposure):
    found = _incident(member, incident)
    shown = _exposure(member, found, exposure)
    zone = member.organization.zone
    context = _page_context(
        member,
        found,
        exposure=shown,
        person=shown.directory_user,
        other_phones=list(exposures_of_same_person(shown)),
        page=Paginator(exposure_timeline(shown), TIMELINE_PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
        zone=zone,
    )
    row = exposure_row(
        shown, zone=zone, exposed_url=context["exposed_url"], mask_people=not context["can_export"]
    )
    context["phone_html"] = phone_html(
        row, can_reveal=context["can_reveal"], csrf_token=get_token(request)
    )
    # Written in Python: a page of 100 messages through the template engine was most of
    # the page's time (portal/incidents/exposures/presenters.py).
    context["timeline_html"] = timeline_rows_html(context["page"], zone=zone)
    return render(request, "incidents/exposure.html", context)


@account_view(Capability.VIEW_DASHBOARD)
@require_safe
def unmatched(request, member: Member, incident):
    found = _incident(member, incident)
    organization = member.organization
    exposures = (
        exposures_of(organization, found)
        .filter(directory_user__isnull=True)
        .select_related("directory_user")  # always none: for the rows, without a query
        .only(*EXPOSURE_ROW_FIELDS)
        .order_by("-last_seen_at", "-id")
    )
    page = Paginator(exposures, PAGE_SIZE).get_page(request.GET.get("page"))
    zone = organization.zone
    context = _page_context(
        member,
        found,
        page=page,
        has_directory=DirectoryUser.objects.filter(organization=organization).exists(),
        zone=zone,
    )
    _add_rows(request, context, page, zone, unmatched=True)
    return render(request, "incidents/unmatched.html", context)


def _reauthentication_in_page(view):
    """A reveal is an htmx request, and htmx would follow allauth's redirect to the
    re-authentication page inside it and swap that whole page into the table. Send
    the browser there instead (HX-Redirect), with the page the person was on as `next`,
    so they come back to it and reveal again. A plain form post keeps allauth's own
    flow, which replays the POST after the person has confirmed who they are."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ReauthenticationRequired:
            if not request.headers.get("HX-Request"):
                raise
            methods = get_account_adapter().get_reauthentication_methods(request.user)
            if not methods:
                raise
            back = request.headers.get("HX-Current-URL", "")
            if back and url_has_allowed_host_and_scheme(
                back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                parts = urlsplit(back)
                back = parts.path + (f"?{parts.query}" if parts.query else "")
            else:
                # The exposure's own page: the reveal URL is `<exposure page>reveal/`.
                back = request.path.removesuffix("reveal/")
            response = HttpResponse(status=200)
            response["HX-Redirect"] = f"{methods[0]['url']}?{urlencode({'next': back})}"
            return response

    return wrapped


@account_view(Capability.REVEAL_PHONE)
@never_cache
@require_POST
def exposure_reveal(request, member: Member, incident, exposure):
    # Looked up before re-authentication, so another account's exposure is a 404
    # straight away, as it is on every other page.
    found = _incident(member, incident)
    return _reveal(
        request, member=member, incident=found, exposure=_exposure(member, found, exposure)
    )


@_reauthentication_in_page
@reauthentication_if_stale
def _reveal(request, *, member: Member, incident: Incident, exposure: Exposure):
    # The exposure names the number; the number itself never goes in the log.
    _audit_reveal(request, member, target=exposure, details={"incident": str(incident.public_id)})
    context = _page_context(member, incident, exposure=exposure)
    context["row"] = exposure_row(
        exposure, zone=member.organization.zone, exposed_url=context["exposed_url"]
    )
    if request.headers.get("HX-Request"):
        return render(request, "incidents/_phone_revealed.html", context)
    # Without JavaScript, or replayed by allauth after re-authentication.
    return render(request, "incidents/reveal.html", context)


@account_view()
@require_safe
def account_home(request, member: Member):
    organization = member.organization
    touches_this_account = Exposure.objects.filter(
        incident=OuterRef("pk"), organization=organization
    )
    incidents = list(incidents_visible_to(request.user).filter(Exists(touches_this_account)))
    if member.can(Capability.VIEW_DASHBOARD):
        # The card leads to the plan, and says its next step (issue 15 point 1).
        for incident in incidents:
            incident.plan = response_plan(member, incident)  # type: ignore[attr-defined]
    return render(
        request,
        "accounts/account_home.html",
        {
            "member": member,
            "organization": organization,
            "incidents": incidents,
            "can_view_audit": member.can(Capability.VIEW_AUDIT),
            "can_view_dashboard": member.can(Capability.VIEW_DASHBOARD),
            "can_log_copies": member.can(Capability.REQUEST_LOG_COPY)
            or member.can(Capability.DOWNLOAD_LOG_COPY),
            "can_manage_team": member.can(Capability.MANAGE_TEAM),
            "can_view_reports": member.can(Capability.VIEW_REPORTS),
            "can_manage_settings": member.can(Capability.MANAGE_SETTINGS),
            "can_manage_notices": member.can(Capability.MANAGE_NOTICES),
            "allowed": [label for value, label in Capability.choices if member.can(value)],
        },
    )
