from typing import Any

from django.db import models

from portal.audit.display import details_redacted
from portal.audit.models import AuditEvent
from portal.http import client_ip

SYSTEM = "system"


def audit_record(
    *,
    action: str,
    actor=None,
    organization: Any = None,
    target: models.Model | None = None,
    request=None,
    details: dict | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append one event. `organization` is an Organization or its id; `actor` a user.
    `actor_label` names an actor that is not a person (an API key) in place of
    "system"."""
    organization_id = getattr(organization, "pk", organization)
    signed_in = actor is not None and actor.is_authenticated
    event = AuditEvent(
        actor=actor if signed_in else None,
        actor_label=actor.email if signed_in else (actor_label or SYSTEM)[:254],
        organization_id=organization_id,
        action=action,
        # Redacted on the way in too: the log is append-only, so a phone number or a
        # secret written by mistake could never be taken out again.
        details=details_redacted(details or {}),
    )
    if target is not None:
        event.target_type = target._meta.label_lower
        event.target_id = str(getattr(target, "public_id", target.pk))
        event.target_label = str(target)[:200]
    if request is not None:
        event.ip = client_ip(request)
        event.user_agent = request.META.get("HTTP_USER_AGENT", "")[:300]
    event.save()
    return event


def audit_export_record(*, by, organization, filters, request) -> None:
    """Audit an export of the audit log: an account's (organization), or the
    operator's of every account (None)."""
    details = {"filters": filters.as_details()}
    if organization is None:
        details["scope"] = "operator"
    audit_record(
        action="audit.export",
        actor=by,
        organization=organization,
        request=request,
        details=details,
    )
