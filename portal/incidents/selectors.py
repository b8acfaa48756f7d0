"""Reads for incidents (writes live in services.py)."""

from django.db.models import Exists, OuterRef, QuerySet

from portal.accounts.models import Membership
from portal.incidents.models import Exposure, Incident


def incidents_visible_to(user) -> QuerySet[Incident]:
    """Published incidents that touch at least one account the user is a member of.

    An account sees an incident only if it has exposures in it (DESIGN.md section 3).
    EXISTS rather than a join with DISTINCT: an incident has one exposure row per
    exposed phone, so the join would multiply each incident by thousands of rows.
    """
    if not user.is_authenticated:
        return Incident.objects.none()
    member_of = Membership.objects.filter(user=user).values("organization_id")
    touches_an_account = Exposure.objects.filter(
        incident=OuterRef("pk"), organization_id__in=member_of
    )
    return Incident.objects.filter(Exists(touches_an_account), status=Incident.Status.PUBLISHED)
