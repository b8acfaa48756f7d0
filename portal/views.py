from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from portal import health
from portal.incidents.exposures.selectors import incidents_visible_to
from portal.incidents.models import Exposure


@require_safe
def home(request):
    context = {}
    if request.user.is_authenticated:
        context["memberships"] = request.user.memberships.select_related("organization").order_by(
            "organization__name"
        )
        incidents = list(incidents_visible_to(request.user))
        # Each card leads to the response plan of the member's accounts in it (issue
        # 15 point 1): one query for which of their accounts each incident touches.
        names = {m.organization_id: m.organization for m in context["memberships"]}
        touched = (
            Exposure.objects.filter(incident__in=incidents, organization_id__in=list(names))
            .order_by()
            .values_list("incident_id", "organization_id")
            .distinct()
        )
        accounts: dict[int, list] = {}
        for incident_id, organization_id in touched:
            accounts.setdefault(incident_id, []).append(names[organization_id])
        for incident in incidents:
            incident.accounts = sorted(  # type: ignore[attr-defined]
                accounts.get(incident.pk, []), key=lambda organization: organization.name
            )
        context["incidents"] = incidents
    return render(request, "home.html", context)


@never_cache
@require_GET
def healthz(request):
    checks = {
        "database": "ok" if health.database_ok() else "unavailable",
        "broker": "ok" if health.broker_ok() else "unavailable",
    }
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
