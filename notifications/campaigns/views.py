"""The account's campaign pages (DESIGN.md flow 7): the list, composing a draft, the
review before launch, launching, and one campaign with its live progress and controls.

Every view passes the access gate, so another account's campaign is a 404. Members who
see dashboards may follow the campaigns; composing, launching and the controls need
MANAGE_NOTICES, and so do the recipients' addresses on a campaign's page.
"""

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from notifications.audience import SKIP_NO_EMAIL, audience_count
from notifications.campaigns import controls, services
from notifications.campaigns.forms import CampaignForm
from notifications.campaigns.selectors import (
    LIVE,
    campaign_deliveries,
    campaign_incidents,
    campaign_pace,
    campaign_preview,
    campaign_progress,
    campaign_sample,
    campaign_snapshots,
    campaigns_of,
)
from notifications.campaigns.services import (
    AUDIENCE_FILTER_FIELDS,
    contact_missing,
    contact_missing_words,
)
from notifications.models import Delivery, NoticeCampaign
from portal.accounts.gate import Member, account_view
from portal.accounts.reauth import reauthentication_if_stale
from portal.accounts.roles import Capability
from portal.incidents.phones_display import country_name

PAGE_SIZE = 50
DELIVERY_PAGE_SIZE = 25
Status = NoticeCampaign.Status


# Helpers --------------------------------------------------------------------------


def _campaign(member: Member, public_id) -> NoticeCampaign:
    return member.get(
        NoticeCampaign.objects.select_related(
            "organization", "incident", "template", "created_by", "launched_by"
        ),
        public_id=public_id,
    )


def _url(name: str, member: Member, campaign: NoticeCampaign | None = None) -> str:
    kwargs = {"org": member.organization.public_id}
    if campaign is not None:
        kwargs["campaign"] = campaign.public_id
    return reverse(f"campaigns:{name}", kwargs=kwargs)


def _account_url(name: str, member: Member) -> str:
    return reverse(name, kwargs={"org": member.organization.public_id})


def _settings_url(member: Member) -> str | None:
    """Where this member fixes the designated contact, if their role lets them."""
    if not member.can(Capability.MANAGE_SETTINGS):
        return None
    return _account_url("accounts:settings", member)


def _base_context(member: Member, **extra) -> dict:
    return {
        "member": member,
        "organization": member.organization,
        "zone": member.organization.zone,
        "can_manage": member.can(Capability.MANAGE_NOTICES),
        **extra,
    }


def _audience_described(campaign: NoticeCampaign) -> str:
    """The audience in words: "A filter: country United States (US), not yet notified"."""
    if campaign.audience == NoticeCampaign.Audience.FILTER:
        values = campaign.audience_filter
        parts = []
        for name in AUDIENCE_FILTER_FIELDS:
            value = values.get(name)
            if not value:
                continue
            if name == "country":
                parts.append(f"country {country_name(value)} ({value})")
            elif name == "message_type":
                parts.append({"sms": "got SMS", "voice": "got calls", "both": "got both"}[value])
            elif name == "notified":
                parts.append("already notified" if value == "yes" else "not yet notified")
            else:
                parts.append(f"{name} {value}")
        return "A filter: " + (", ".join(parts) or "none")
    return campaign.get_audience_display()


def _detail_context(member: Member, campaign: NoticeCampaign, **extra) -> dict:
    progress = campaign_progress(campaign)
    return _base_context(
        member,
        campaign=campaign,
        progress=progress,
        pace=campaign_pace(campaign, progress, now=timezone.now()),
        live=campaign.status in LIVE,
        due=campaign.scheduled_at is not None and campaign.scheduled_at <= timezone.now(),
        **extra,
    )


def _pager(request, deliveries, param: str) -> dict:
    """One page of a delivery list, with links that keep the other list's page."""
    page = Paginator(deliveries, DELIVERY_PAGE_SIZE).get_page(request.GET.get(param))

    def link(number: int) -> str:
        query = request.GET.copy()
        query[param] = str(number)
        return f"?{query.urlencode()}#{param}"

    return {
        "page": page,
        "previous": link(page.previous_page_number()) if page.has_previous() else None,
        "next": link(page.next_page_number()) if page.has_next() else None,
    }


# The list -------------------------------------------------------------------------


@account_view(Capability.VIEW_DASHBOARD)
@require_safe
def campaign_list(request, member: Member):
    page = Paginator(campaigns_of(member.organization), PAGE_SIZE).get_page(request.GET.get("page"))
    for campaign in page:
        campaign.progress = campaign_progress(campaign)
    return render(
        request,
        "notifications/campaign_list.html",
        _base_context(
            member,
            page=page,
            templates_url=_account_url("notice_templates:list", member),
        ),
    )


# Composing ------------------------------------------------------------------------


def _compose(request, member: Member, campaign: NoticeCampaign | None):
    zone = member.organization.zone
    initial = {}
    if campaign is not None:
        initial = CampaignForm.initial_for(campaign, zone=zone)
    elif request.GET.get("incident"):
        # From an incident's dashboard: that incident, if the account may use it.
        wanted = _uuid(request.GET["incident"])
        if wanted and campaign_incidents(member.organization).filter(public_id=wanted).exists():
            initial["incident"] = wanted
    form = CampaignForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        organization=member.organization,
        zone=zone,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {
            "by": request.user,
            "incident": data["incident"],
            "template": data["template"],
            "audience": data["audience"],
            "audience_filter": form.audience_filter(),
            "chosen_users": form.chosen_users,
            "name": data["name"],
            "scheduled_at": data["scheduled_at"],
        }
        try:
            if campaign is None:
                saved = services.notice_campaign_create(organization=member.organization, **values)
            else:
                saved = services.notice_campaign_update(campaign=campaign, **values)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            return redirect(_url("review", member, saved))
    return render(
        request,
        "notifications/campaign_compose.html",
        _base_context(
            member,
            form=form,
            campaign=campaign,
            contact_missing=contact_missing_words(form.contact_missing),
            settings_url=_settings_url(member),
            templates_url=_account_url("notice_templates:list", member),
        ),
        status=400 if form.errors else 200,
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


def _form_errors(form, error: ValidationError) -> None:
    """A service's refusal, on the field it names when the form has that field."""
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for field, field_messages in error.message_dict.items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)


@account_view(Capability.MANAGE_NOTICES)
@require_http_methods(["GET", "HEAD", "POST"])
def campaign_new(request, member: Member):
    return _compose(request, member, None)


@account_view(Capability.MANAGE_NOTICES)
@require_http_methods(["GET", "HEAD", "POST"])
def campaign_edit(request, member: Member, campaign):
    found = _campaign(member, campaign)
    if found.status != Status.DRAFT:
        messages.info(request, _("This campaign is launched: it can no longer be changed."))
        return redirect(_url("detail", member, found))
    return _compose(request, member, found)


# Review and launch ----------------------------------------------------------------


def _language_name(code: str) -> str:
    """ "fr" as a person reads it: "French (fr)"."""
    try:
        return f"{get_language_info(code)['name']} ({code})"
    except KeyError:
        return code


# The preview walks the audience to its sample: the first thousand are plenty to look at.
MAX_SAMPLE = 1000


def _sample_index(request, total: int) -> int:
    try:
        index = int(request.GET.get("sample", 0))
    except ValueError:
        index = 0
    return max(0, min(index, total - 1, MAX_SAMPLE - 1))


@account_view(Capability.MANAGE_NOTICES)
@require_safe
def campaign_review(request, member: Member, campaign):
    found = _campaign(member, campaign)
    if found.status != Status.DRAFT:
        return redirect(_url("detail", member, found))
    counted = audience_count(found)
    index = _sample_index(request, counted.total)
    sample = campaign_sample(found, index) if counted.total else None
    preview = campaign_preview(found, sample) if sample is not None else None
    snapshot, _contact = campaign_snapshots(found)
    missing = contact_missing(member.organization)
    problems = []
    if missing:
        problems.append("contact")
    if snapshot is None:
        problems.append("template")
    if not counted.recipients:
        problems.append("audience")
    return render(
        request,
        "notifications/campaign_review.html",
        _detail_context(
            member,
            found,
            counted=counted,
            skip_no_email=SKIP_NO_EMAIL,
            preview=preview,
            preview_language=_language_name(preview.language) if preview else "",
            sample_index=index,
            next_sample=(
                f"?{urlencode({'sample': index + 1})}"
                if index + 1 < min(counted.total, MAX_SAMPLE)
                else None
            ),
            languages=sorted(snapshot["languages"]) if snapshot else [],
            audience_described=_audience_described(found),
            contact_missing=contact_missing_words(missing),
            settings_url=_settings_url(member),
            problems=problems,
        ),
    )


# The notice's HTML as a document of its own, for the review's <iframe>. Email HTML
# styles itself inline, which the portal's policy rightly forbids; this document gets
# a policy of its own that allows inline styles and nothing else: no script, no
# request anywhere, a sandbox, and only the portal may frame it.
PREVIEW_HTML_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox"
)


@account_view(Capability.MANAGE_NOTICES)
@xframe_options_sameorigin
@never_cache
@require_safe
def campaign_preview_html(request, member: Member, campaign):
    found = _campaign(member, campaign)
    sample = campaign_sample(found, _sample_index(request, MAX_SAMPLE))
    preview = campaign_preview(found, sample) if sample is not None else None
    if preview is None or not preview.rendered.html:
        raise Http404("This notice has no HTML body.")
    response = HttpResponse(preview.rendered.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PREVIEW_HTML_POLICY
    response["Referrer-Policy"] = "no-referrer"
    return response


@account_view(Capability.MANAGE_NOTICES)
@require_POST
def campaign_launch(request, member: Member, campaign):
    # The gate and the lookup first, so another account's campaign is a 404 before any
    # re-authentication.
    return _launch(request, member=member, campaign=_campaign(member, campaign))


@reauthentication_if_stale
def _launch(request, *, member: Member, campaign: NoticeCampaign):
    try:
        launched = services.notice_campaign_launch(
            campaign=campaign, by=request.user, request=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        if campaign.status == Status.DRAFT:
            return redirect(_url("review", member, campaign))
        return redirect(_url("detail", member, campaign))
    if (
        launched.scheduled_at
        and launched.launched_at
        and launched.scheduled_at > launched.launched_at
    ):
        messages.success(request, _("The campaign is scheduled. It starts at the time you chose."))
    else:
        messages.success(request, _("The campaign is launched: the notices are on their way."))
    return redirect(_url("detail", member, launched))


# One campaign ---------------------------------------------------------------------


@account_view(Capability.VIEW_DASHBOARD)
@require_safe
def campaign_detail(request, member: Member, campaign):
    found = _campaign(member, campaign)
    finished = found.status == Status.CANCELLED or (
        found.status == Status.COMPLETED and not found.failed_count
    )
    context = _detail_context(
        member,
        found,
        audience_described=_audience_described(found),
        has_actions=not finished,
    )
    if context["can_manage"] and found.status != Status.DRAFT:
        # The recipients' addresses: the account's own users, shown to those who send.
        context["failed"] = _pager(
            request, campaign_deliveries(found, Delivery.Status.FAILED), "failed"
        )
        context["skipped"] = _pager(
            request, campaign_deliveries(found, Delivery.Status.SKIPPED), "skipped"
        )
    return render(request, "notifications/campaign_detail.html", context)


@account_view(Capability.VIEW_DASHBOARD)
@never_cache
@require_safe
def campaign_progress_view(request, member: Member, campaign):
    found = _campaign(member, campaign)
    if request.GET.get("status", found.status) != found.status:
        # The status moved on (sending to completed, say): the whole page changes, its
        # buttons and lists too, so htmx reloads it rather than swapping the numbers.
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "notifications/_campaign_progress.html", _detail_context(member, found))


def _control(request, member: Member, campaign, action: str, done: str):
    found = _campaign(member, campaign)
    service = getattr(controls, f"notice_campaign_{action}")
    try:
        service(campaign=found, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect(_url("detail", member, found))


@account_view(Capability.MANAGE_NOTICES)
@require_POST
def campaign_pause(request, member: Member, campaign):
    return _control(
        request, member, campaign, "pause", "Paused: no more notices leave until you resume."
    )


@account_view(Capability.MANAGE_NOTICES)
@require_POST
def campaign_resume(request, member: Member, campaign):
    return _control(
        request, member, campaign, "resume", "Resumed: the notices are on their way again."
    )


@account_view(Capability.MANAGE_NOTICES)
@require_POST
def campaign_cancel(request, member: Member, campaign):
    return _control(
        request, member, campaign, "cancel", "Cancelled: no more notices of this campaign leave."
    )


@account_view(Capability.MANAGE_NOTICES)
@require_POST
def campaign_retry(request, member: Member, campaign):
    return _control(
        request, member, campaign, "retry_failed", "The failed notices are being sent again."
    )
