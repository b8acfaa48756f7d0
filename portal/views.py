from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from portal import health
from portal.incidents.exposures.selectors import incidents_visible_to


@require_safe
def home(request):
    context = {}
    if request.user.is_authenticated:
        context["memberships"] = request.user.memberships.select_related("organization").order_by(
            "organization__name"
        )
        context["incidents"] = incidents_visible_to(request.user)
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
