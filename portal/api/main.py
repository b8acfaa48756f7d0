"""The API v1 (issue 16): `api`, its routers, its schema and its per-call audit.

One NinjaAPI at /api/v1/ (portal/urls.py): the schema at /api/v1/openapi.json
(OpenAPI 3.1), the browsable docs at /api/v1/docs (Swagger UI from ninja's own
static files: no CDN). Each resource is a router in portal/api/routers/<name>.py,
added below. docs/api.md says why django-ninja and how to call it.
"""

from functools import wraps
from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from portal.accounts.models import ApiKey
from portal.api.access import OPERATION_CAPABILITIES, capability_of
from portal.api.auth import ApiKeyAuth, key_label
from portal.api.errors import ProblemOut, problems_install
from portal.api.routers import audit, campaigns, exposures, incidents, logcopies, reports
from portal.audit.services import audit_record

# Answered by every operation (the schema says so, and schemathesis checks it).
PROBLEM_STATUSES = {
    "401": "No API key, or one that is unknown, expired or revoked.",
    "403": "The key lacks the operation's capability, or is used from an address it does not allow.",
    "404": "No such object in the key's account.",
    "422": "Invalid input: `errors` says where and why.",
    "429": "Over the key's rate limit: see Retry-After.",
}

# Answered by every operation that reads a body, when it is not JSON (ninja's parser).
BODY_NOT_JSON = "The body is not JSON."


class VigilAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        # The view's name: unique in the API (access.requires checks), the key of
        # OPERATION_CAPABILITIES, and the URL name.
        return operation.view_func.__name__

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = ProblemOut.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        problem = {"$ref": "#/components/schemas/Problem"}
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                capability = OPERATION_CAPABILITIES.get(operation.get("operationId", ""))
                operation["x-capability"] = capability
                # Ninja keys them by int; one key per status once written as JSON.
                responses = {str(status): r for status, r in operation.get("responses", {}).items()}
                operation["responses"] = responses
                statuses = dict(PROBLEM_STATUSES)
                if "requestBody" in operation:
                    statuses["400"] = BODY_NOT_JSON
                for status, description in statuses.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/problem+json": {"schema": problem}},
                        },
                    )
        return schema


api = VigilAPI(
    title="Vigil API",
    version="1",
    description=(
        "Security staff's access to one account's incidents, exposures, log copies, "
        "notices, reports and audit log. Authenticate with an API key made by an owner "
        "on the account's settings page: `Authorization: Bearer vgl_...`. Errors are "
        "RFC 9457 problem details. Each operation's `x-capability` is the capability "
        "its key must hold (a list: any one of them)."
    ),
    urls_namespace="api",
    auth=ApiKeyAuth(),
    docs=Swagger(settings={"persistAuthorization": False}),
)
problems_install(api)


def _operation_of(run):
    # The bound Operation.run, under whatever view decorators came before this one.
    while not hasattr(run, "__self__"):
        run = run.__wrapped__
    return run.__self__


def _gated_and_audited(run):
    """Around each operation: tell authentication the capability it needs (checked
    before the input is read), and audit the call with the key's name and the answer's
    status once it is known."""
    operation = _operation_of(run)
    capability = capability_of(operation.view_func)
    name = operation.view_func.__name__

    @wraps(run)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any):
        request.api_capability = capability  # type: ignore[attr-defined]
        response = run(request, *args, **kwargs)
        key = getattr(request, "auth", None)
        if isinstance(key, ApiKey):
            audit_record(
                action="api.call",
                actor_label=key_label(key),
                organization=key.organization_id,
                request=request,
                details={
                    "operation": name,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                },
            )
        return response

    return wrapped


api.add_decorator(_gated_and_audited, mode="view")
api.add_router("/incidents", incidents.router)
api.add_router("/incidents", exposures.router)
api.add_router("/audit", audit.router)
api.add_router("/logcopies", logcopies.router)
api.add_router("/campaigns", campaigns.router)
api.add_router("/reports", reports.router)
