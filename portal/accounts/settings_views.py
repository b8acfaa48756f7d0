"""The account settings page, /o/<org>/settings/: owners only (MANAGE_SETTINGS).

Its one write is `organization_settings_update` (accounts services). Saving asks the owner to re-authenticate when their last
sign-in is stale: the designated contact is where users' reports go, and the reply-to
where their answers go, so changing them is as sensitive as changing a role.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal.accounts.gate import Member, account_view
from portal.accounts.models import Organization
from portal.accounts.reauth import reauthentication_if_stale
from portal.accounts.roles import Capability
from portal.accounts.services import organization_settings_update
from portal.accounts.settings_forms import AccountSettingsForm

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
