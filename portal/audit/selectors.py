"""Reads of the audit log: which events a viewer may see, and the filters on them."""

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from django.core.cache import cache
from django.db.models import Q, QuerySet

from portal.accounts.models import Membership, Organization
from portal.audit.display import action_label, details_json
from portal.audit.models import AuditEvent

# Events recorded before anyone picks an account (sign-in, lockout, factor changes)
# carry no organization; an account sees those of its current members.
ACCOUNTLESS_ACTION_PREFIXES = ("signin.", "mfa.")

_FULL_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class AuditFilters:
    who: str = ""
    action: str = ""
    action_prefix: str = ""
    date_from: date | None = None
    date_to: date | None = None
    account: str = ""  # operator console only

    def as_details(self) -> dict[str, str]:
        """The filters that are set, as an audit event's details."""
        return {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in vars(self).items()
            if value
        }


def _accountless_actions() -> Q:
    condition = Q()
    for prefix in ACCOUNTLESS_ACTION_PREFIXES:
        condition |= Q(action__startswith=prefix)
    return condition


def _events_of_accounts(organization_ids) -> Q:
    """Events of these accounts, and the account-less events of their current members.

    `organization_ids` is a list or a values() queryset; either way this is one query
    with subqueries, never a query per member.
    """
    members = Membership.objects.filter(organization_id__in=organization_ids).values("user_id")
    return Q(organization_id__in=organization_ids) | (
        Q(organization_id__isnull=True, actor_id__in=members) & _accountless_actions()
    )


def _with_rows_joined(queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    # A row shows the account and the actor's name: joined here, so a page of 50 costs
    # one query, not 101.
    return queryset.select_related("organization", "actor").order_by("-created_at", "-id")


def audit_events_of_account(organization: Organization) -> QuerySet[AuditEvent]:
    return _with_rows_joined(AuditEvent.objects.filter(_events_of_accounts([organization.pk])))


def audit_events_all() -> QuerySet[AuditEvent]:
    """Every event: the operator console's view."""
    return _with_rows_joined(AuditEvent.objects.all())


# The filter's list of actions reads every event of the account (26 ms at 50,000): kept
# for a few minutes, long enough for a new kind of action to show up on the next visit.
ACTIONS_PRESENT_SECONDS = 300


def audit_actions_present(events: QuerySet[AuditEvent]) -> list[str]:
    key = (
        "audit:actions:v1:"
        + hashlib.blake2b(str(events.query).encode(), digest_size=16).hexdigest()
    )
    actions = cache.get(key)
    if actions is None:
        actions = sorted(events.order_by().values_list("action", flat=True).distinct())
        cache.set(key, actions, ACTIONS_PRESENT_SECONDS)
    return actions


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def audit_events_filtered(
    events: QuerySet[AuditEvent], filters: AuditFilters, *, zone: tzinfo
) -> QuerySet[AuditEvent]:
    """Narrow `events` by the filters; dates are whole days in `zone`."""
    if filters.who:
        who = filters.who.strip()
        if _FULL_EMAIL.match(who):
            events = events.filter(actor_label__iexact=who)
        else:
            events = events.filter(actor_label__icontains=who)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.action_prefix:
        events = events.filter(action__startswith=filters.action_prefix.strip())
    if filters.date_from:
        events = events.filter(created_at__gte=_local_midnight(filters.date_from, zone))
    if filters.date_to:
        next_day = filters.date_to + timedelta(days=1)
        events = events.filter(created_at__lt=_local_midnight(next_day, zone))
    if filters.account:
        account = filters.account.strip()
        accounts = Organization.objects.filter(
            Q(account_id__iexact=account) | Q(name__icontains=account)
        ).values("pk")
        events = events.filter(_events_of_accounts(accounts))
    return events


CSV_HEADER = [
    "time",
    "actor",
    "action",
    "action_label",
    "account_id",
    "account",
    "target_type",
    "target_id",
    "target",
    "ip",
    "user_agent",
    "details",
]


def audit_event_csv_row(event: AuditEvent, *, zone: tzinfo) -> list:
    account = event.organization
    return [
        event.created_at.astimezone(zone).isoformat(timespec="seconds"),
        event.actor_label,
        event.action,
        action_label(event.action),
        account.account_id if account else "",
        account.name if account else "",
        event.target_type,
        event.target_id,
        event.target_label,
        event.ip or "",
        event.user_agent,
        details_json(event.details),
    ]
