import functools
from typing import Any

from django.db import connection, models
from django.utils import timezone

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
    key = getattr(request, "auth", None)
    if signed_in and key is not None and hasattr(key, "prefix"):
        # An API call acting for the key's maker (portal.api sets request.auth to the
        # ApiKey): the event is the person's, and says which key made it.
        details = {**(details or {}), "through": f"API key {key.name} ({key.prefix})"}
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
    _insert(event)
    return event


@functools.cache
def _insert_sql() -> tuple[str, list[models.Field]]:
    """The INSERT that event.save() would write, written once: every API call writes
    an event, and the ORM took 0.5 ms a call to compile the same statement."""
    q = connection.ops.quote_name
    fields = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(q(str(field.column)) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    table = q(AuditEvent._meta.db_table)
    primary_key = q(str(AuditEvent._meta.pk.column))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {primary_key}"  # noqa: S608
    return sql, fields


def _insert(event: AuditEvent) -> None:
    """Save a new event, as event.save() does (no signal listens to it): created_at
    set now (auto_now_add), each value prepared by its field, the id the log gives."""
    sql, fields = _insert_sql()
    event.created_at = timezone.now()
    values = [field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    event.pk = row[0]
    event._state.adding = False
    event._state.db = connection.alias


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
