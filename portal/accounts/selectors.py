"""Reads of accounts, their members and invitations (writes live in services.py)."""

from datetime import timedelta

from allauth.mfa.models import Authenticator
from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from portal.accounts.mfa import SECOND_FACTORS
from portal.accounts.models import Invitation, Membership, Organization
from portal.accounts.roles import Role
from portal.audit.models import AuditEvent


class SubqueryCount(Subquery):
    """COUNT(*) of a correlated subquery, as one column of the outer query.

    Counting through joins instead (Count("memberships"), Count("exposures")) would
    multiply members by exposures, thousands of rows per account, before DISTINCT
    threw them away.
    """

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


_ROLE_ORDER = Case(
    *(When(role=role, then=Value(rank)) for rank, role in enumerate(Role.values)),
    default=Value(len(Role.values)),
    output_field=IntegerField(),
)


def account_members(organization: Organization) -> QuerySet[Membership]:
    """Members, owners first, each with `has_second_factor` (TOTP or passkey)."""
    factors = Authenticator.objects.filter(user=OuterRef("user_id"), type__in=SECOND_FACTORS)
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(has_second_factor=Exists(factors), role_rank=_ROLE_ORDER)
        .order_by("role_rank", "user__email")
    )


def account_invitations_pending(organization: Organization) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            organization=organization,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .order_by("expires_at")
    )


# --- One's own sign-ins -----------------------------------------------------------

# The wrong second-factor codes a person is shown: the last month's, at most this many.
SECOND_FACTOR_FAILURES_DAYS = 30
SECOND_FACTOR_FAILURES_SHOWN = 20


def second_factor_failures(user, *, since=None) -> list[AuditEvent]:
    """Wrong second-factor codes entered for this person's account (the audit log's
    `signin.mfa_failed`), newest first, with when and from which address: whoever
    entered them had the password. Since `since`, else over the last month."""
    since = since or timezone.now() - timedelta(days=SECOND_FACTOR_FAILURES_DAYS)
    return list(
        AuditEvent.objects.filter(actor=user, action="signin.mfa_failed", created_at__gt=since)
        .only("created_at", "ip", "details")
        .order_by("-created_at", "-id")[:SECOND_FACTOR_FAILURES_SHOWN]
    )


def last_sign_in_at(user):
    """When this person last signed in fully (password and second factor), or None."""
    return (
        AuditEvent.objects.filter(actor=user, action="signin.success")
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
