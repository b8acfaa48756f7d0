"""The account's webhook endpoints, /o/<org>/settings/webhooks/: owners only
(MANAGE_SETTINGS), linked from the settings page. Each write is one service call,
audited there; the ones that hand out or change where the account's events go ask for
the password again when the owner's last sign-in is stale."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.gate import Member, account_view
from portal.accounts.reauth import reauthentication_if_stale
from portal.accounts.roles import Capability
from portal.webhooks.forms import EndpointForm
from portal.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from portal.webhooks.services import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    delivery_replay,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_test_send,
    endpoint_update,
)

# The delivery log shows the latest this many deliveries of an endpoint.
LOG_LENGTH = 50


def _form_error(form: EndpointForm, error: ValidationError) -> None:
    field = error.code if error.code in form.fields else None
    for message in error.messages:
        form.add_error(field, message)


@account_view(Capability.MANAGE_SETTINGS)
@require_http_methods(["GET", "HEAD", "POST"])
def endpoint_list(request, member: Member):
    form = EndpointForm()
    status = 200
    if request.method == "POST":
        response = _create(request, member=member)
        if not isinstance(response, EndpointForm):
            return response
        form, status = response, 400
    endpoints = member.scoped(WebhookEndpoint).order_by("created_at", "pk")
    return render(
        request,
        "webhooks/endpoints.html",
        {
            "member": member,
            "organization": member.organization,
            "endpoints": endpoints,
            "form": form,
        },
        status=status,
    )


@reauthentication_if_stale
def _create(request, *, member: Member):
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = endpoint_create(
                organization=member.organization,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            _form_error(form, error)
        else:
            if not form.cleaned_data["enabled"]:
                endpoint_update(
                    endpoint=endpoint, changes={"enabled": False}, by=request.user, request=request
                )
            messages.success(
                request,
                _("The endpoint is added. Its signing secret is below: give it to the receiver."),
            )
            return redirect(
                "webhooks:detail", org=member.organization.public_id, endpoint=endpoint.public_id
            )
    return form


@account_view(Capability.MANAGE_SETTINGS)
@require_http_methods(["GET", "HEAD", "POST"])
@never_cache  # it shows the signing secret: no copy in a browser's or a proxy's cache
def endpoint_detail(request, member: Member, endpoint):
    found = member.get(WebhookEndpoint, public_id=endpoint)
    status = 200
    if request.method == "POST":
        response = _update(request, member=member, endpoint=found)
        if not isinstance(response, EndpointForm):
            return response
        form, status = response, 400
    else:
        form = EndpointForm(
            initial={
                "url": found.url,
                "description": found.description,
                "events": found.events,
                "enabled": found.enabled,
            }
        )
    deliveries = (
        WebhookDelivery.objects.filter(endpoint=found)
        .select_related("event")
        .prefetch_related(
            Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("-started_at", "-pk"))
        )
        .order_by("-created_at", "-pk")[:LOG_LENGTH]
    )
    return render(
        request,
        "webhooks/endpoint.html",
        {
            "member": member,
            "organization": member.organization,
            "endpoint": found,
            "form": form,
            "deliveries": deliveries,
            "max_attempts": MAX_ATTEMPTS,
            "retry_delays": RETRY_DELAYS,
        },
        status=status,
    )


@reauthentication_if_stale
def _update(request, *, member: Member, endpoint: WebhookEndpoint):
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            changed = endpoint_update(
                endpoint=endpoint, changes=form.cleaned_data, by=request.user, request=request
            )
        except ValidationError as error:
            _form_error(form, error)
        else:
            if changed:
                messages.success(request, _("The endpoint is saved."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect(
                "webhooks:detail", org=member.organization.public_id, endpoint=endpoint.public_id
            )
    return form


@account_view(Capability.MANAGE_SETTINGS)
@require_POST
def endpoint_test(request, member: Member, endpoint):
    found = member.get(WebhookEndpoint, public_id=endpoint)
    endpoint_test_send(endpoint=found, by=request.user, request=request)
    messages.success(
        request, _("A test event is on its way. Its delivery appears in the log below.")
    )
    return redirect("webhooks:detail", org=member.organization.public_id, endpoint=found.public_id)


@account_view(Capability.MANAGE_SETTINGS)
@require_POST
@reauthentication_if_stale
def endpoint_rotate(request, member: Member, endpoint):
    found = member.get(WebhookEndpoint, public_id=endpoint)
    endpoint_rotate_secret(endpoint=found, by=request.user, request=request)
    messages.success(
        request,
        _(
            "The secret is replaced. For 24 hours each event is signed with the old secret "
            "too, so the receiver can switch without losing any."
        ),
    )
    return redirect("webhooks:detail", org=member.organization.public_id, endpoint=found.public_id)


@account_view(Capability.MANAGE_SETTINGS)
@require_POST
@reauthentication_if_stale
def endpoint_delete_view(request, member: Member, endpoint):
    found = member.get(WebhookEndpoint, public_id=endpoint)
    endpoint_delete(endpoint=found, by=request.user, request=request)
    messages.success(request, _("The endpoint is deleted. It gets no more events."))
    return redirect("webhooks:list", org=member.organization.public_id)


@account_view(Capability.MANAGE_SETTINGS)
@require_POST
def delivery_replay_view(request, member: Member, endpoint, delivery):
    found = member.get(WebhookEndpoint, public_id=endpoint)
    chosen = member.get(
        WebhookDelivery.objects.select_related("event", "endpoint").filter(endpoint=found),
        public_id=delivery,
    )
    delivery_replay(delivery=chosen, by=request.user, request=request)
    messages.success(
        request,
        _("The event is sent again, with the same webhook-id %(id)s.")
        % {"id": chosen.event.message_id},
    )
    return redirect("webhooks:detail", org=member.organization.public_id, endpoint=found.public_id)
