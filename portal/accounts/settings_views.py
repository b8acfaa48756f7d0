"""The account settings page, /o/<org>/settings/, and its API keys page,
/o/<org>/settings/api-keys/: owners only (MANAGE_SETTINGS).

Its one write is `organization_settings_update` (accounts services). Saving asks the owner to re-authenticate when their last
sign-in is stale: the designated contact is where users' reports go, and the reply-to
where their answers go, so changing them is as sensitive as changing a role.
"""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.db.models import F
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.api_keys import ApiKeyRefusedError, api_key_create
from portal.accounts.api_keys import api_key_revoke as revoke_api_key
from portal.accounts.gate import Member, account_view
from portal.accounts.models import ApiKey, Organization
from portal.accounts.reauth import reauthentication_if_stale
from portal.accounts.roles import ROLE_CAPABILITIES, Capability
from portal.accounts.services import organization_settings_update
from portal.accounts.settings_forms import AccountSettingsForm, ApiKeyForm

# Page ---------------------------------------------------------------------------------


def _page(request, member: Member, form: AccountSettingsForm, *, status: int = 200):
    return render(
        request,
        "accounts/settings.html",
        {"member": member, "organization": member.organization, "form": form},
        status=status,
    )


@account_view(Capability.MANAGE_SETTINGS)
@require_http_methods(["GET", "HEAD", "POST"])
def account_settings(request, member: Member):
    if request.method == "POST":
        return _save(request, member=member)
    return _page(request, member, AccountSettingsForm(instance=_fresh(member)))


def _fresh(member: Member) -> Organization:
    # A form writes what it cleans into its instance, even when it refuses the whole:
    # it gets a copy of its own, never the organization the rest of the request reads.
    return Organization.objects.get(pk=member.organization.pk)


@reauthentication_if_stale
def _save(request, *, member: Member):
    organization = _fresh(member)
    form = AccountSettingsForm(request.POST, instance=_fresh(member))
    if not form.is_valid():
        return _page(request, member, form, status=400)
    changed = organization_settings_update(
        organization=organization,
        changes={name: form.cleaned_data[name] for name in form.changed_data},
        by=request.user,
        request=request,
    )
    if changed:
        messages.success(request, _("The settings are saved."))
    else:
        messages.info(request, _("Nothing changed."))
    return redirect("accounts:settings", org=organization.public_id)


# API keys ---------------------------------------------------------------------------


def _keys_page(request, member: Member, form: ApiKeyForm, *, created=None, status: int = 200):
    keys = list(
        ApiKey.objects.filter(organization=member.organization)
        .select_related("created_by", "revoked_by")
        # The live keys first (no revocation), each group newest first.
        .order_by(F("revoked_at").desc(nulls_first=True), "-created_at")
    )
    response = render(
        request,
        "accounts/api_keys.html",
        {
            "member": member,
            "organization": member.organization,
            "form": form,
            "keys": keys,
            "created": created,
        },
        status=status,
    )
    # The page that shows a new key once must not be kept by the browser or a proxy.
    add_never_cache_headers(response)
    return response


def _key_form(member: Member, data=None) -> ApiKeyForm:
    return ApiKeyForm(
        data,
        capabilities=ROLE_CAPABILITIES.get(member.role, frozenset()),
        today=timezone.localdate(timezone=member.organization.zone),
    )


# The session's key for a key just made, until the page shows it (once).
_CREATED_KEY = "api_key_created"


def _created_key(request, member: Member) -> dict | None:
    """The key made just before this page's view, popped from the session: shown
    once, on this account's page only."""
    created = request.session.pop(_CREATED_KEY, None)
    if not created or created.get("organization") != str(member.organization.public_id):
        return None
    key = ApiKey.objects.filter(organization=member.organization, public_id=created["key"]).first()
    if key is None:
        return None
    return {"key": key, "presented": created["presented"]}


@account_view(Capability.MANAGE_SETTINGS)
@require_http_methods(["GET", "HEAD", "POST"])
def api_keys(request, member: Member):
    if request.method == "POST":
        return _key_create(request, member=member)
    created = _created_key(request, member) if request.method == "GET" else None
    return _keys_page(request, member, _key_form(member), created=created)


@reauthentication_if_stale
def _key_create(request, *, member: Member):
    form = _key_form(member, request.POST)
    if not form.is_valid():
        return _keys_page(request, member, form, status=400)
    zone = member.organization.zone
    last_day = form.cleaned_data["expires_on"]
    # At the end of its last day in the account's time zone.
    expires_at = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)
    try:
        key, presented = api_key_create(
            organization=member.organization,
            name=form.cleaned_data["name"],
            capabilities=form.cleaned_data["capabilities"],
            expires_at=expires_at,
            networks=form.cleaned_data["networks"],
            by=request.user,
            request=request,
        )
    except ApiKeyRefusedError as error:
        form.add_error(None, error)
        return _keys_page(request, member, form, status=400)
    # POST/redirect/GET: reloading the page the key is shown on must not make a
    # second key. The key waits in the session (server-side) for that one page.
    request.session[_CREATED_KEY] = {
        "organization": str(member.organization.public_id),
        "key": str(key.public_id),
        "presented": presented,
    }
    return redirect("accounts:api_keys", org=member.organization.public_id)


@account_view(Capability.MANAGE_SETTINGS)
@require_POST
def api_key_revoke(request, member: Member, key):
    found = member.get(ApiKey, public_id=key)
    if revoke_api_key(key=found, by=request.user, request=request):
        messages.success(
            request,
            _("The key %(name)s is revoked: calls with it are refused from now on.")
            % {"name": found.name},
        )
    else:
        messages.info(request, _("That key was revoked already."))
    return redirect("accounts:api_keys", org=member.organization.public_id)
