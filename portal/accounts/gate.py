"""The one access gate for account-scoped objects (DESIGN.md section 3).

Every account-scoped URL names its account: /o/<org public id>/... . The gate resolves
the signed-in person's membership of that account, or answers 404, and every lookup
below it is filtered by that account. An object of another account is a 404 whether
the URL names the other account or the member's own: never a 403 that would confirm
it exists.
"""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.utils.translation import gettext as _

from portal.accounts.models import Membership, Organization
from portal.accounts.roles import can

# The last account used, which the account switcher shows first on every page.
CURRENT_ACCOUNT_SESSION_KEY = "vigil_org"


@dataclass(frozen=True)
class Member:
    """A signed-in person acting in one account, with their role there."""

    user: object
    organization: Organization
    membership: Membership

    @property
    def role(self) -> str:
        return self.membership.role

    def can(self, capability: str) -> bool:
        return can(self.role, capability)

    def scoped(self, model_or_queryset) -> models.QuerySet:
        """Rows of this member's account only."""
        queryset = (
            model_or_queryset._default_manager.all()
            if isinstance(model_or_queryset, type)
            else model_or_queryset
        )
        return queryset.filter(organization=self.organization)

    def get(self, model_or_queryset, **lookup):
        """One row of this member's account, or 404."""
        try:
            return self.scoped(model_or_queryset).get(**lookup)
        except (models.ObjectDoesNotExist, ValueError) as error:
            raise Http404("No such object in this account.") from error


def memberships_of(user) -> list[Membership]:
    """All of the person's memberships with their accounts, by account name: what the
    gate needs and what the navbar's account switcher lists, in one query."""
    return list(
        Membership.objects.select_related("organization")
        .filter(user=user)
        .order_by("organization__name")
    )


def member_of(user, organization_public_id, *, memberships=None) -> Member:
    """The person as a member of that account, or 404. `memberships` (memberships_of)
    spares the query when they are loaded already."""
    if not user.is_authenticated:
        raise Http404
    if memberships is None:
        membership = (
            Membership.objects.select_related("organization")
            .filter(user=user, organization__public_id=organization_public_id)
            .first()
        )
    else:
        wanted = str(organization_public_id)
        membership = next((m for m in memberships if str(m.organization.public_id) == wanted), None)
    if membership is None:
        raise Http404("No such account.")
    return Member(user=user, organization=membership.organization, membership=membership)


def account_view(capability: str | None = None):
    """Decorate a view whose URL carries `org`: it receives `member` instead.

    Anonymous visitors go to sign in; a non-member gets 404; a member whose role lacks
    the capability gets 403 (they know the account exists, it is theirs).
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, org, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            # Loaded once for the gate and the navbar's account switcher, which reads
            # request.memberships instead of asking again.
            request.memberships = memberships_of(request.user)
            member = member_of(request.user, org, memberships=request.memberships)
            if capability is not None and not member.can(capability):
                raise PermissionDenied(_("Your role in this account does not allow this."))
            request.member = member
            _remember_account(request, member)
            return view(request, member, *args, **kwargs)

        wrapped.account_capability = capability
        return wrapped

    return decorator


def _remember_account(request, member: Member) -> None:
    # Written only when it changes, so a page view does not cost a session write.
    value = str(member.organization.public_id)
    if request.session.get(CURRENT_ACCOUNT_SESSION_KEY) != value:
        request.session[CURRENT_ACCOUNT_SESSION_KEY] = value


def staff_view(view):
    """Operator console views: staff only; anyone else gets 404, not a hint."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped
