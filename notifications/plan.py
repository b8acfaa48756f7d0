"""The notice and report steps of an account's response plan
(portal/incidents/exposures/plan.py): notify the exposed users without undue delay,
then watch what they report."""

from functools import partial
from typing import Any
from uuid import UUID

from django.db import connection
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.models import NoticeCampaign, SuspicionReport
from portal.accounts.roles import Capability
from portal.incidents.exposures.plan import PlanNumbers, PlanPart, PlanStep, State
from portal.incidents.numbers import number_text

# A campaign in one of these is still reaching people: the step follows it.
_UNDER_WAY = (
    NoticeCampaign.Status.SCHEDULED,
    NoticeCampaign.Status.SENDING,
    NoticeCampaign.Status.PAUSED,
)


def _under_way(column: str, *, member, incident) -> tuple[str, list[Any]]:
    """A column of the incident's latest notice still reaching people (or NULL)."""
    q = connection.ops.quote_name
    statuses = ", ".join(["%s"] * len(_UNDER_WAY))
    sql = (
        f"SELECT {q(column)} FROM {q(NoticeCampaign._meta.db_table)}"  # noqa: S608 (names from the model)
        f" WHERE organization_id = %s AND incident_id = %s AND status IN ({statuses})"
        " ORDER BY created_at DESC, id DESC LIMIT 1"
    )
    return sql, [member.organization.pk, incident.pk, *(str(status) for status in _UNDER_WAY)]


def _new_reports(*, member, incident) -> tuple[str, list[Any]]:
    """How many new reports the account has to triage: this incident's, and those that
    name none (filed without a notice's link)."""
    sql = (
        f"SELECT count(*) FROM {connection.ops.quote_name(SuspicionReport._meta.db_table)}"  # noqa: S608
        " WHERE organization_id = %s AND status = %s"
        " AND (incident_id = %s OR incident_id IS NULL)"
    )
    return sql, [member.organization.pk, str(SuspicionReport.Status.NEW), incident.pk]


def _notify_step(*, member, incident, numbers: PlanNumbers, under_way) -> PlanStep:
    org = member.organization.public_id
    may_send = member.can(Capability.MANAGE_NOTICES)
    not_yours = "" if may_send else _("An owner or admin sends the notices.")
    step = partial(
        PlanStep, order=40, key="notify", title=_("Notify your users without undue delay")
    )
    if under_way is not None:
        return step(
            state=State.ONGOING,
            detail=_("“%(name)s” is %(status)s: %(sent)s of %(total)s sent.")
            % {
                "name": under_way["name"] or _("The notice"),
                "status": NoticeCampaign.Status(under_way["status"]).label.lower(),
                "sent": number_text(under_way["sent"]),
                "total": number_text(under_way["total"]),
            },
            action_label=_("Follow the notice"),
            action_url=reverse(
                "campaigns:detail",
                kwargs={"org": org, "campaign": UUID(str(under_way["public_id"]))},
            ),
        )
    if not numbers.matched_phones:
        return step(
            state=State.WAITING,
            detail=_("Nobody to notify yet: no exposed phone matches your directory."),
            not_yours=not_yours,
        )
    if numbers.notified_phones >= numbers.matched_phones:
        return step(
            state=State.DONE,
            detail=ngettext(
                "The %(count)s matched phone is notified.",
                "All %(count)s matched phones are notified.",
                numbers.matched_phones,
            )
            % {"count": number_text(numbers.matched_phones)},
            not_yours=not_yours,
        )
    return step(
        state=State.TODO,
        detail=_("%(percent)s%% notified (%(notified)s of %(matched)s matched phones).")
        % {
            "percent": numbers.notified_percent,
            "notified": number_text(numbers.notified_phones),
            "matched": number_text(numbers.matched_phones),
        },
        action_label=_("Send a notice") if may_send else "",
        action_url=(
            reverse("campaigns:new", kwargs={"org": org}) + f"?incident={incident.public_id}"
            if may_send
            else ""
        ),
        not_yours=not_yours,
    )


def _reports_step(*, member, new: int) -> PlanStep:
    org = member.organization.public_id
    may_see = member.can(Capability.VIEW_REPORTS)
    if new:
        state = State.TODO
        detail = ngettext(
            "%(count)s new report to triage.", "%(count)s new reports to triage.", new
        ) % {"count": number_text(new)}
    else:
        state = State.ONGOING
        detail = _("No new report. What your users report through a notice's link lands here.")
    return PlanStep(
        order=50,
        key="reports",
        title=_("Watch what your users report"),
        state=state,
        detail=detail,
        action_label=_("See the reports") if may_see else "",
        action_url=reverse("reports:list", kwargs={"org": org}) if may_see else "",
        not_yours="" if may_see else _("Owners, admins and security staff see the reports."),
    )


def notice_plan_parts(*, member, incident, numbers: PlanNumbers) -> list[PlanPart]:
    """The notice and report steps, their numbers read in the plan's one query."""
    columns = {
        "public_id": "public_id",
        "name": "name",
        "status": "status",
        "total": "recipients_total",
        "sent": "sent_count",
    }
    return [
        PlanPart(
            values={
                name: _under_way(column, member=member, incident=incident)
                for name, column in columns.items()
            },
            step=lambda values: _notify_step(
                member=member,
                incident=incident,
                numbers=numbers,
                under_way=values if values["status"] is not None else None,
            ),
        ),
        PlanPart(
            values={"new": _new_reports(member=member, incident=incident)},
            step=lambda values: _reports_step(member=member, new=values["new"]),
        ),
    ]
