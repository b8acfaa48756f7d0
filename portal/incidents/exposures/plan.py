"""The response plan on each account's incident page (issue 15 point 1): the steps the
seed asks of a customer, each with its state and the one action that moves it, and the
clock since disclosure.

Incidents knows two steps (review who was exposed, match the directory); the apps above
it add theirs through `response_plan_steps` (log copies: request the logs; notifications:
notify the users, watch the reports), so the import direction holds. The numbers come
from the rollup (exposure_summary): one query, cold or warm. What the other apps need
(the latest copy, the notice under way, the new reports) comes in one more query: each
app answers with a `PlanPart`, the scalar SQL subqueries it needs and how to make its
step from their values, and the plan asks for all of them at once. Written out, as
`incident_of_account` is: the ORM took longer to compile these subqueries than the
database took to answer them.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from portal.accounts.roles import Capability
from portal.incidents.exposures.selectors import ExposureSummary, exposure_summary
from portal.incidents.numbers import number_text
from portal.incidents.signals import response_plan_steps


class State:
    DONE = "done"
    TODO = "todo"  # the account's move
    WAITING = "waiting"  # someone else's move (the operator, a worker)
    ONGOING = "ongoing"  # never finished: watching, reviewing
    OPTIONAL = "optional"


# How each state reads beside its step, and its badge's colour.
STATE_LABELS = {
    State.DONE: (gettext_lazy("Done"), "text-bg-success"),
    State.TODO: (gettext_lazy("To do"), "text-bg-danger"),
    State.WAITING: (gettext_lazy("Waiting"), "text-bg-warning"),
    State.ONGOING: (gettext_lazy("Ongoing"), "text-bg-info"),
    State.OPTIONAL: (gettext_lazy("Optional"), "text-bg-light border"),
}


@dataclass(frozen=True)
class PlanNumbers:
    phones: int
    matched_phones: int
    notified_phones: int
    messages: int
    exposed_users: int

    @classmethod
    def of(cls, summary: ExposureSummary) -> "PlanNumbers":
        return cls(
            phones=summary.total("phones"),
            matched_phones=summary.total("matched"),
            notified_phones=summary.total("notified"),
            messages=summary.total("messages"),
            exposed_users=summary.exposed_users,
        )

    @property
    def unmatched_phones(self) -> int:
        return self.phones - self.matched_phones

    @property
    def notified_percent(self) -> int:
        if not self.matched_phones:
            return 0
        return self.notified_phones * 100 // self.matched_phones


@dataclass(frozen=True)
class PlanStep:
    order: int  # where it stands in the plan
    key: str
    title: str
    state: str
    detail: str  # the state in words, with numbers
    action_label: str = ""
    action_url: str = ""
    # Said instead of the action to a member whose role cannot take it.
    not_yours: str = ""

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state][0])

    @property
    def badge(self) -> str:
        return STATE_LABELS[self.state][1]


@dataclass(frozen=True)
class PlanPart:
    """An app's step in two halves: the values it needs, each a scalar SQL subquery and
    its parameters (`SELECT count(*) FROM ... WHERE a = %s`: one column, at most one
    row, NULL when none), then the step made from those values, by the same names."""

    values: Mapping[str, tuple[str, list[Any]]]
    step: Callable[[Mapping[str, Any]], PlanStep]


def _part_values(parts: list[PlanPart]) -> list[dict[str, Any]]:
    """Every part's values in one query, each part's under its own names."""
    names = [(index, name) for index, part in enumerate(parts) for name in part.values]
    answers: list[dict[str, Any]] = [{} for _part in parts]
    if names:
        subqueries = [parts[index].values[name] for index, name in names]
        sql = "SELECT " + ", ".join(f"({subquery})" for subquery, _params in subqueries)
        with connection.cursor() as cursor:
            cursor.execute(sql, [param for _subquery, params in subqueries for param in params])
            row = cursor.fetchone()
        for (index, name), value in zip(names, row, strict=True):
            answers[index][name] = value
    return answers


@dataclass(frozen=True)
class ResponsePlan:
    steps: list[PlanStep]
    disclosed_at: datetime | None
    days_since_disclosure: int | None
    next_step: PlanStep | None = field(default=None)


def _own_steps(member, incident, numbers: PlanNumbers) -> list[PlanStep]:
    org = member.organization.public_id
    kwargs = {"org": org, "incident": incident.public_id}
    review = PlanStep(
        order=10,
        key="review",
        title=_("Review who was exposed"),
        state=State.ONGOING,
        detail=ngettext(
            "%(phones)s phone and %(messages)s messages in the stolen logs.",
            "%(phones)s phones and %(messages)s messages in the stolen logs.",
            numbers.phones,
        )
        % {"phones": number_text(numbers.phones), "messages": number_text(numbers.messages)},
        action_label=_("See the exposed users"),
        action_url=reverse("incidents:exposed", kwargs=kwargs),
    )
    if numbers.phones and not numbers.unmatched_phones:
        state = State.DONE
        detail = _("Every exposed phone is matched to a person in your directory.")
    else:
        state = State.TODO
        detail = ngettext(
            "%(unmatched)s of %(phones)s phones matches nobody in your directory yet: "
            "a notice cannot reach it.",
            "%(unmatched)s of %(phones)s phones match nobody in your directory yet: "
            "a notice cannot reach them.",
            numbers.unmatched_phones,
        ) % {
            "unmatched": number_text(numbers.unmatched_phones),
            "phones": number_text(numbers.phones),
        }
    can_import = member.can(Capability.MANAGE_DIRECTORY)
    directory = PlanStep(
        order=20,
        key="directory",
        title=_("Match your user directory"),
        state=state,
        detail=detail,
        action_label=_("Import the directory") if can_import and state != State.DONE else "",
        action_url=reverse("directory:index", kwargs={"org": org}) if can_import else "",
        not_yours="" if can_import else _("An owner or admin imports the directory."),
    )
    return [review, directory]


def response_plan(member, incident, *, summary: ExposureSummary | None = None) -> ResponsePlan:
    """The plan of `member`'s account in `incident`, its steps in order, the first
    one that is the account's move marked as the next."""
    organization = member.organization
    if summary is None:
        summary = exposure_summary(organization, incident)
    numbers = PlanNumbers.of(summary)
    steps = _own_steps(member, incident, numbers)
    parts: list[PlanPart] = []
    for _receiver, answer in response_plan_steps.send(
        sender=type(incident), member=member, incident=incident, numbers=numbers
    ):
        parts.extend(cast(list[PlanPart], answer) or [])
    steps.extend(part.step(values) for part, values in zip(parts, _part_values(parts), strict=True))
    steps.sort(key=lambda step: step.order)
    days = None
    if incident.disclosed_at:
        today = timezone.localdate(timezone=organization.zone)
        days = max(0, (today - timezone.localdate(incident.disclosed_at, organization.zone)).days)
    return ResponsePlan(
        steps=steps,
        disclosed_at=incident.disclosed_at,
        days_since_disclosure=days,
        next_step=next((step for step in steps if step.state == State.TODO), None),
    )
