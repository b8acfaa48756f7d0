"""Account pages: the team, the settings' neighbours, and invitation links (the account
home lists incidents, so it lives in incidents: exposures.views.account_home).

Thin: each view parses input, asks the gate (portal.accounts.gate) for the member and
their objects, and calls one service. Refusals a person can act on come back as
messages on the team page.
"""

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from portal.accounts import services
from portal.accounts.forms import InvitationForm, InvitationSignupForm, MembershipRoleForm
from portal.accounts.gate import CURRENT_ACCOUNT_SESSION_KEY, Member, account_view
from portal.accounts.models import Invitation, Membership, User
from portal.accounts.reauth import reauthentication_if_stale
from portal.accounts.roles import Capability, Role
from portal.languages import language_supported

logger = logging.getLogger(__name__)

# How long an expired, unanswered invitation stays listed, so the owner sees why the
# person never joined and can invite them again.
EXPIRED_INVITATIONS_SHOWN_FOR = timedelta(days=30)

# The order the team page lists members in: who can do most first.
ROLE_ORDER = {role: index for index, role in enumerate(Role.values)}


def _refusal(request, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


@account_view()
@require_safe
def team(request, member: Member):
    memberships = sorted(
        member.scoped(Membership).select_related("user"),
        key=lambda m: (ROLE_ORDER.get(m.role, 99), (m.user.name or m.user.email).lower()),
    )
    owner_count = sum(1 for m in memberships if m.role == Role.OWNER)
    for m in memberships:
        m.is_you = m.pk == member.membership.pk
        # The page offers no way to demote or remove the only owner; the service refuses
        # it anyway (and races), this only spares the person a refusal.
        m.is_only_owner = m.role == Role.OWNER and owner_count == 1
    now = timezone.now()
    invitations = (
        member.scoped(Invitation)
        .filter(
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now - EXPIRED_INVITATIONS_SHOWN_FOR,
        )
        .select_related("invited_by")
        .order_by("-expires_at")  # the ones that still work first
    )
    can_manage = member.can(Capability.MANAGE_TEAM)
    return render(
        request,
        "accounts/team.html",
        {
            "member": member,
            "organization": member.organization,
            "memberships": memberships,
            "invitations": invitations,
            "now": now,
            "can_manage_team": can_manage,
            "invite_form": InvitationForm(
                # The inviter's language, else the one this page is in.
                initial={
                    "language": language_supported(request.user.language) or request.LANGUAGE_CODE
                }
            )
            if can_manage
            else None,
            "roles": Role.choices,
        },
    )


def _team_url(member: Member) -> str:
    return reverse("accounts:team", kwargs={"org": member.organization.public_id})


@account_view(Capability.MANAGE_TEAM)
@require_POST
def invitation_create(request, member: Member):
    form = InvitationForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))
        return redirect(_team_url(member))
    try:
        invitation = services.invitation_create(
            organization=member.organization,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            by=request.user,
            request=request,
            language=form.cleaned_data.get("language", ""),
        )
    except ValidationError as error:
        _refusal(request, error)
    except (smtplib.SMTPException, OSError):
        # The invitation is saved (the email leaves after commit); only the email failed.
        logger.exception("invitation email to the invited address failed")
        messages.error(
            request,
            _(
                "The invitation is saved, but the email could not be sent (our mail server "
                "did not take it). Invite the same address again in a few minutes to resend it."
            ),
        )
    else:
        messages.success(
            request,
            _("Invitation sent to %(email)s as %(role)s. The link works for %(days)s days.")
            % {
                "email": invitation.email,
                "role": invitation.get_role_display(),
                "days": services.INVITATION_VALID_FOR.days,
            },
        )
    return redirect(_team_url(member))


@account_view(Capability.MANAGE_TEAM)
@require_POST
def invitation_revoke(request, member: Member, invitation):
    found = member.get(Invitation, public_id=invitation)
    try:
        services.invitation_revoke(invitation=found, by=request.user, request=request)
    except ValidationError as error:
        _refusal(request, error)
    else:
        messages.success(
            request,
            _("The invitation for %(email)s is withdrawn; its link no longer works.")
            % {"email": found.email},
        )
    return redirect(_team_url(member))


@account_view(Capability.MANAGE_TEAM)
@require_POST
@reauthentication_if_stale
def membership_change_role(request, member: Member, membership):
    target = member.get(Membership.objects.select_related("user"), public_id=membership)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed roles."))
        return redirect(_team_url(member))
    try:
        changed = services.membership_change_role(
            membership=target, role=form.cleaned_data["role"], by=request.user, request=request
        )
    except ValidationError as error:
        _refusal(request, error)
    else:
        messages.success(
            request,
            _("%(email)s is now %(role)s.")
            % {"email": target.user.email, "role": changed.get_role_display().lower()},
        )
    return redirect(_team_url(member))


@account_view()
@require_POST
@reauthentication_if_stale
def membership_remove(request, member: Member, membership):
    target = member.get(Membership.objects.select_related("user"), public_id=membership)
    leaving = target.pk == member.membership.pk
    # Anyone may leave; only those who manage the team may remove someone else.
    if not leaving and not member.can(Capability.MANAGE_TEAM):
        raise PermissionDenied(_("Your role in this account does not allow this."))
    try:
        services.membership_remove(membership=target, by=request.user, request=request)
    except ValidationError as error:
        _refusal(request, error)
        return redirect(_team_url(member))
    if leaving:
        request.session.pop(CURRENT_ACCOUNT_SESSION_KEY, None)
        messages.success(request, _("You left %(name)s.") % {"name": member.organization.name})
        return redirect("home")
    messages.success(
        request,
        _("%(email)s is no longer a member of %(name)s. Their access ended now.")
        % {"email": target.user.email, "name": member.organization.name},
    )
    return redirect(_team_url(member))


# --- Invitation links (/invitations/<token>/), reached from the email -------------


def _invalid(request, invitation: Invitation, problem: str):
    return render(
        request,
        "accounts/invitation_invalid.html",
        {"invitation": invitation, "organization": invitation.organization, "problem": problem},
        status=410,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept(request, token: str):
    invitation = (
        Invitation.objects.select_related("organization", "invited_by").filter(token=token).first()
    )
    if invitation is None:
        raise Http404("No such invitation.")
    _invitation_language(request, invitation)
    problem = services.invitation_problem(invitation)
    if problem:
        return _invalid(request, invitation, problem)

    invited_user_exists = User.objects.filter(email__iexact=invitation.email).exists()
    signed_in_as_invited = (
        request.user.is_authenticated and request.user.email.lower() == invitation.email.lower()
    )
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "invited_user_exists": invited_user_exists,
        "signed_in_as_invited": signed_in_as_invited,
        "login_url": reverse("account_login") + "?" + urlencode({"next": request.path}),
    }
    if request.user.is_authenticated and not signed_in_as_invited:
        # Someone else's session: say so rather than join the wrong person.
        return render(request, "accounts/invitation_accept.html", context)
    if signed_in_as_invited and request.method == "POST":
        return _join_as_signed_in(request, invitation)
    if invited_user_exists:
        # Signed in as the invited address (GET: the Join button), or not signed in
        # at all (a link to sign in and come back).
        return render(request, "accounts/invitation_accept.html", context)
    return _join_as_new_user(request, invitation, context)


def _invitation_language(request, invitation: Invitation) -> None:
    """The page opens in the invitation's language, the one its email was in, rather
    than the browser's; a language this browser chose with the switcher (the cookie),
    or a signed-in member's own, still wins."""
    language = language_supported(invitation.language)
    if not language:
        return
    user = request.user
    if user.is_authenticated and language_supported(user.language):
        return
    if language_supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)):
        return
    translation.activate(language)
    request.LANGUAGE_CODE = language


def _joined(request, invitation: Invitation, message: str):
    request.session[CURRENT_ACCOUNT_SESSION_KEY] = str(invitation.organization.public_id)
    messages.success(request, message)
    # Without a second factor yet, the middleware sends them to enrol first.
    return redirect("accounts:home", org=invitation.organization.public_id)


def _join_as_signed_in(request, invitation: Invitation):
    try:
        membership = services.invitation_accept(
            invitation=invitation, user=request.user, request=request
        )
    except services.InvitationUnusableError as error:
        return _invalid(request, invitation, error.code)
    except ValidationError as error:
        _refusal(request, error)
        return redirect("home")
    return _joined(
        request,
        invitation,
        _("You joined %(name)s as %(role)s.")
        % {"name": invitation.organization.name, "role": membership.get_role_display()},
    )


def _join_as_new_user(request, invitation: Invitation, context: dict):
    form = InvitationSignupForm(
        request.POST if request.method == "POST" else None, email=invitation.email
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept_as_new_user(
                invitation=invitation,
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
                request=request,
                # The invitation's language, when the page was in it, becomes theirs
                # (a language chosen with the switcher does, as at any sign-in).
                language=invitation.language
                if invitation.language == request.LANGUAGE_CODE
                else "",
            )
        except services.InvitationUnusableError as error:
            return _invalid(request, invitation, error.code)
        except ValidationError as error:
            _refusal(request, error)
            return redirect(request.path)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return _joined(
            request,
            invitation,
            _("Welcome to Vigil. You joined %(name)s as %(role)s.")
            % {"name": invitation.organization.name, "role": invitation.get_role_display()},
        )
    return render(request, "accounts/invitation_accept.html", {**context, "form": form})
