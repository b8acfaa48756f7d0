"""Writes for teams: invitations, roles and removal (DESIGN.md flow 10).

Every change here is a sensitive action and lands in the audit log. The token of an
invitation is a secret: it goes into the email and nowhere else (not the audit log,
not a log line).
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import Invitation, Membership, Organization, User
from portal.accounts.roles import Role
from portal.accounts.signals import invitation_created
from portal.audit.services import audit_record
from portal.languages import language_supported

# Long enough to span a weekend, short enough that a forwarded link goes stale soon.
# A constant rather than a setting: no operator has asked to change it.
INVITATION_VALID_FOR = timedelta(days=7)


class TeamChangeRefusedError(ValidationError):
    """A team change the rules forbid; the message says why, in words for the person."""


class LastOwnerError(TeamChangeRefusedError):
    pass


class InvitationUnusableError(ValidationError):
    """The invitation was revoked, has expired or has already been accepted."""


def invitation_problem(invitation: Invitation) -> str | None:
    """Why this invitation cannot be accepted now, or None if it can."""
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.expires_at <= timezone.now():
        return "expired"
    return None


def invitation_accept_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("invitations:accept", args=[invitation.token])


def invitation_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    by: User,
    request: HttpRequest | None = None,
    language: str = "",
) -> Invitation:
    """Invite `email` into `organization` with `role`, and email them the link in
    `language` (one of settings.LANGUAGES; by default the inviter's own, else the
    portal's).

    A pending invitation to the same address is revoked first: the newest email is the
    one that works, so a resend never leaves two live links around. The email leaves
    once the invitation is committed, never for a row that was rolled back.
    """
    email = BaseUserManager.normalize_email(email.strip())
    if role not in Role.values:
        raise TeamChangeRefusedError(_("%(role)r is not a role.") % {"role": role})
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise TeamChangeRefusedError(
            _(
                "%(email)s is already a member of %(name)s. Change their role in the list "
                "of members instead."
            )
            % {"email": email, "name": organization.name}
        )
    language = (
        language_supported(language)
        or language_supported(getattr(by, "language", ""))
        or settings.LANGUAGE_CODE
    )
    now = timezone.now()
    with transaction.atomic():
        replaced = list(
            Invitation.objects.select_for_update()
            .filter(
                organization=organization,
                email__iexact=email,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
            )
            .order_by("pk")
        )
        for old in replaced:
            old.revoked_at = now
            old.save(update_fields=["revoked_at"])
            audit_record(
                action="invitation.revoke",
                actor=by,
                organization=organization,
                target=old,
                request=request,
                details={"email": old.email, "role": old.role, "reason": "replaced"},
            )
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            invited_by=by,
            expires_at=now + INVITATION_VALID_FOR,
            language=language,
        )
        audit_record(
            action="invitation.create",
            actor=by,
            organization=organization,
            target=invitation,
            request=request,
            details={
                "email": email,
                "role": role,
                "language": language,
                "expires_at": invitation.expires_at.isoformat(),
                "replaces": len(replaced),
            },
        )
        # The email goes through notifications' outbox (retried if the mail server
        # fails), made in this transaction and sent once it commits.
        invitation_created.send(sender=Invitation, invitation=invitation)
    return invitation


def invitation_revoke(
    *, invitation: Invitation, by: User, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        # Conditional: a revoke racing an accept must not undo a membership already made.
        revoked = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if revoked != 1:
            raise TeamChangeRefusedError(
                _("The invitation for %(email)s was already accepted or revoked.")
                % {"email": invitation.email}
            )
        audit_record(
            action="invitation.revoke",
            actor=by,
            organization=invitation.organization_id,
            target=invitation,
            request=request,
            details={"email": invitation.email, "role": invitation.role},
        )


_UNUSABLE_MESSAGES = {
    "revoked": "This invitation was withdrawn.",
    "accepted": "This invitation has already been used.",
    "expired": "This invitation has expired.",
}


def _invitation_claim(*, invitation: Invitation, user: User) -> None:
    """Mark the invitation accepted by `user`, once: a conditional update, so two
    requests with the same token (a double click, a replayed link) cannot both pass."""
    claimed = Invitation.objects.filter(
        pk=invitation.pk,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).update(accepted_at=timezone.now(), accepted_by=user)
    if claimed != 1:
        invitation.refresh_from_db(fields=["accepted_at", "revoked_at", "expires_at"])
        problem = invitation_problem(invitation) or "accepted"
        raise InvitationUnusableError(_UNUSABLE_MESSAGES[problem], code=problem)


def invitation_accept(
    *, invitation: Invitation, user: User, request: HttpRequest | None = None
) -> Membership:
    """An existing user, signed in as the invited address, joins the account."""
    if user.email.lower() != invitation.email.lower():
        raise TeamChangeRefusedError(
            _("This invitation is for %(invited)s; you are signed in as %(email)s.")
            % {"invited": invitation.email, "email": user.email}
        )
    organization = invitation.organization
    with transaction.atomic():
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise TeamChangeRefusedError(
                _("You are already a member of %(name)s.") % {"name": organization.name}
            )
        membership = _invitation_join(invitation, user, request=request, new_user=False)
    return membership


def invitation_accept_as_new_user(
    *,
    invitation: Invitation,
    name: str,
    password: str,
    request: HttpRequest | None = None,
    language: str = "",
) -> User:
    """Create the invited person's user and their membership, in one transaction.

    The caller has validated the password. Signing in is the caller's: it needs the
    request, and the user exists only once this returns. `language` (the one the
    person read the invitation's page in) becomes theirs.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=invitation.email,
                    password=password,
                    name=name.strip(),
                    language=language_supported(language) or "",
                )
        except IntegrityError as error:  # someone created this address meanwhile
            raise TeamChangeRefusedError(
                _(
                    "There is already a Vigil user for %(email)s. Sign in as them, then open "
                    "the invitation link again."
                )
                % {"email": invitation.email}
            ) from error
        _invitation_join(invitation, user, request=request, new_user=True)
    return user


def _invitation_join(
    invitation: Invitation, user: User, *, request: HttpRequest | None, new_user: bool
) -> Membership:
    """Inside the caller's transaction: use the invitation up, make the membership, and
    audit the acceptance."""
    _invitation_claim(invitation=invitation, user=user)
    membership = Membership.objects.create(
        user=user, organization=invitation.organization, role=invitation.role
    )
    audit_record(
        action="invitation.accept",
        actor=user,
        organization=invitation.organization,
        target=invitation,
        request=request,
        details={"email": invitation.email, "role": invitation.role, "new_user": new_user},
    )
    return membership


def _lock_owners_and(membership: Membership) -> tuple[Membership, int]:
    """Lock the account's owner memberships and `membership`; return it fresh and the
    number of owners.

    Two owners demoting each other at the same moment would each count two owners and
    leave none; the row locks make the second wait and count again. Locked in primary
    key order so that two of these never deadlock each other.
    """
    locked = list(
        Membership.objects.select_for_update()
        .filter(organization_id=membership.organization_id)
        .filter(Q(role=Role.OWNER) | Q(pk=membership.pk))
        .order_by("pk")
    )
    fresh = next((row for row in locked if row.pk == membership.pk), None)
    if fresh is None:
        raise TeamChangeRefusedError(_("This person is no longer a member of the account."))
    owners = sum(1 for row in locked if row.role == Role.OWNER)
    return fresh, owners


def membership_change_role(
    *, membership: Membership, role: str, by: User, request: HttpRequest | None = None
) -> Membership:
    if role not in Role.values:
        raise TeamChangeRefusedError(_("%(role)r is not a role.") % {"role": role})
    with transaction.atomic():
        membership, owners = _lock_owners_and(membership)
        previous = membership.role
        if previous == role:
            return membership
        if previous == Role.OWNER and owners <= 1:
            raise LastOwnerError(
                _(
                    "%(email)s is the only owner of %(name)s. Make someone else an owner "
                    "first: an account always keeps one."
                )
                % {"email": membership.user.email, "name": membership.organization.name}
            )
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            action="member.role_change",
            actor=by,
            organization=membership.organization_id,
            target=membership,
            request=request,
            details={"member": membership.user.email, "from": previous, "to": role},
        )
    return membership


def membership_remove(
    *, membership: Membership, by: User, request: HttpRequest | None = None
) -> None:
    """Remove a member from the account (or, when `by` is the member, leave it)."""
    with transaction.atomic():
        membership, owners = _lock_owners_and(membership)
        if membership.role == Role.OWNER and owners <= 1:
            raise LastOwnerError(
                _(
                    "%(email)s is the only owner of %(name)s and cannot be removed. Make "
                    "someone else an owner first: an account always keeps one."
                )
                % {"email": membership.user.email, "name": membership.organization.name}
            )
        audit_record(
            action="member.remove",
            actor=by,
            organization=membership.organization_id,
            target=membership,
            request=request,
            details={
                "member": membership.user.email,
                "role": membership.role,
                "left": membership.user_id == by.pk,
            },
        )
        membership.delete()


def organization_settings_update(
    *, organization: Organization, changes: dict, by, request=None
) -> list[str]:
    """Save the changed settings and audit which ones changed (names only: the values
    include people's addresses, and the account's page shows the current ones).
    Returns the changed field names; nothing is written when there are none."""
    changed = sorted(
        name for name, value in changes.items() if getattr(organization, name) != value
    )
    if not changed:
        return []
    with transaction.atomic():
        for name in changed:
            setattr(organization, name, changes[name])
        organization.save(update_fields=changed)
        audit_record(
            action="account.settings",
            actor=by,
            organization=organization,
            target=organization,
            request=request,
            details={"changed": changed},
        )
    return changed
