import logging

from django.http import HttpResponseRedirect, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET, require_safe

from portal import health
from portal.incidents.exposures.selectors import incidents_visible_to
from portal.incidents.models import Exposure

logger = logging.getLogger(__name__)


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


@requires_csrf_token
def server_error(request):
    """The 500 page in the site's layout. Django's own handler renders 500.html without
    the request, so the layout would have no CSP nonce for its scripts, no language and
    no signed-in person; this one renders with them, and falls back to Django's when
    that fails too (the database may be what broke)."""
    try:
        return render(request, "500.html", status=500)
    except Exception:
        logger.exception("The 500 page failed to render with the request; plain one sent")
        try:
            return defaults.server_error(request)
        except Exception:
            return HttpResponseServerError("Server error (500)", content_type="text/plain")


@require_safe
@cache_control(max_age=86_400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links to. The file lives with the
    other static files (hashed and cached for a year in production); the redirect is
    cached for a day, so a new icon still arrives. The URL is looked up per request: in
    production it comes from the manifest, which does not exist before collectstatic."""
    return HttpResponseRedirect(static("img/favicon.ico"))
