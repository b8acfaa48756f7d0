"""The log-copy step of an account's response plan (portal/incidents/exposures/plan.py):
the latest copy of the incident's rows the account asked for, and what moves it on."""

from typing import Any
from uuid import UUID

from django.db import connection
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.roles import Capability
from portal.incidents.exposures.plan import PlanPart, PlanStep, State
from portal.logcopies.models import LogCopyRequest

Status = LogCopyRequest.Status

_STATES: dict[str, tuple[str, object]] = {
    Status.REQUESTED: (
        State.WAITING,
        gettext_lazy("Requested: waiting for the operator's approval."),
    ),
    Status.APPROVED: (State.WAITING, gettext_lazy("Approved: waiting for a worker to make it.")),
    Status.GENERATING: (State.WAITING, gettext_lazy("Being made.")),
    Status.READY: (State.DONE, gettext_lazy("Ready to download.")),
    Status.REJECTED: (State.OPTIONAL, gettext_lazy("The operator rejected the last request.")),
    Status.EXPIRED: (
        State.OPTIONAL,
        gettext_lazy("The last copy expired and its file is deleted."),
    ),
    Status.FAILED: (State.OPTIONAL, gettext_lazy("Making the last copy failed.")),
}


def _latest(column: str, *, member, incident) -> tuple[str, list[Any]]:
    """A column of the account's latest copy of the incident's rows."""
    q = connection.ops.quote_name
    sql = (
        f"SELECT {q(column)} FROM {q(LogCopyRequest._meta.db_table)}"  # noqa: S608 (names from the model)
        " WHERE organization_id = %s AND incident_id = %s ORDER BY created_at DESC, id DESC LIMIT 1"
    )
    return sql, [member.organization.pk, incident.pk]


def logcopy_plan_part(*, member, incident) -> PlanPart:
    """The step, its latest copy read in the plan's one query."""
    return PlanPart(
        values={
            "public_id": _latest("public_id", member=member, incident=incident),
            "status": _latest("status", member=member, incident=incident),
        },
        step=lambda values: logcopy_plan_step(
            member=member, latest=values if values["status"] is not None else None
        ),
    )


def logcopy_plan_step(*, member, latest) -> PlanStep:
    """The step for the account's latest copy (its `public_id` and `status`), or None."""
    org = member.organization.public_id
    may_request = member.can(Capability.REQUEST_LOG_COPY)
    may_see = may_request or member.can(Capability.DOWNLOAD_LOG_COPY)
    not_yours = "" if may_see else _("Security staff, admins and owners request the logs.")
    if latest is None:
        return PlanStep(
            order=30,
            key="logs",
            title=_("Request the logs, if you want them"),
            state=State.OPTIONAL,
            detail=_("A copy of your account's stolen rows, for your own investigation."),
            action_label=_("Request a copy") if may_request else "",
            action_url=reverse("logcopies:request", kwargs={"org": org}) if may_request else "",
            not_yours=not_yours,
        )
    state, detail = _STATES[latest["status"]]
    return PlanStep(
        order=30,
        key="logs",
        title=_("Request the logs, if you want them"),
        state=state,
        detail=str(detail),
        action_label=_("See the copy") if may_see else "",
        action_url=(
            reverse("logcopies:detail", kwargs={"org": org, "copy": UUID(str(latest["public_id"]))})
            if may_see
            else ""
        ),
        not_yours=not_yours,
    )
