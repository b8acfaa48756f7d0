"""Reads of the operator console's account pages: every account with its counts, and
the incidents touching one account (incidents' reads, so they live above accounts)."""

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from portal.accounts.models import Membership, Organization
from portal.accounts.roles import INCIDENT_CONTACT_ROLES
from portal.accounts.selectors import SubqueryCount
from portal.incidents.models import Exposure, ExposureRollup, Incident


def _incidents_touching(organization_ref) -> QuerySet[Incident]:
    # Incidents are few and exposures many: EXISTS per incident walks the
    # (organization, incident, ...) index instead of counting thousands of phones.
    exposed = Exposure.objects.filter(organization=organization_ref, incident=OuterRef("pk"))
    return Incident.objects.filter(Exists(exposed))


def operator_accounts(search: str = "") -> QuerySet[Organization]:
    """Every account, with its member and incident counts, for the operator console."""
    members = Membership.objects.filter(organization=OuterRef("pk")).values("pk")
    incidents = _incidents_touching(OuterRef(OuterRef("pk"))).values("pk")
    accounts = Organization.objects.annotate(
        member_count=SubqueryCount(members), incident_count=SubqueryCount(incidents)
    ).order_by("name", "pk")
    search = search.strip()
    if search:
        accounts = accounts.filter(Q(name__icontains=search) | Q(account_id__icontains=search))
    return accounts


def account_incidents(organization: Organization) -> QuerySet[Incident]:
    """Incidents with exposures in this account, with the account's counts in each,
    summed from the dashboard's rollup (a few hundred rows per incident, not every
    exposure)."""
    rollup = ExposureRollup.objects.filter(organization=organization, incident=OuterRef("pk"))

    def total(column: str):
        summed = rollup.order_by().values("incident").annotate(total=Sum(column)).values("total")
        return Coalesce(Subquery(summed), 0)

    return (
        _incidents_touching(organization)
        .annotate(
            exposure_count=total("phones"),
            notified_count=total("notified"),
            message_count=total("messages"),
        )
        .order_by("-window_start")
    )


def incident_contacts(incident: Incident) -> QuerySet[Organization]:
    """The accounts in the incident, each with how many of its owners and admins (the
    roles the customer notice goes to) have an email: what the operator is shown before
    publishing or importing, so they know who will be emailed."""
    contacts = (
        Membership.objects.filter(organization=OuterRef("pk"), role__in=INCIDENT_CONTACT_ROLES)
        .exclude(user__email="")
        .values("pk")
    )
    exposed = Exposure.objects.filter(incident=incident, organization=OuterRef("pk"))
    return (
        Organization.objects.filter(Exists(exposed))
        .annotate(contact_count=SubqueryCount(contacts))
        .order_by("name", "pk")
    )
