"""What the action routers (log copies, campaigns, reports) share: how they name an
incident, whom a key acts for, and the extra problems their operations may answer."""

from uuid import UUID

from django.http import HttpRequest
from ninja import Schema

from portal.accounts.models import User
from portal.api.access import api_key_of
from portal.incidents.models import Incident

PROBLEM = {"$ref": "#/components/schemas/Problem"}


def problem_responses(**statuses: str) -> dict:
    """`openapi_extra` for problems beyond the five every operation answers (added by
    portal.api.main): `problem_responses(**{"409": "why"})`. The keys are strings, as
    the schema's own problem statuses are, so no status appears twice."""
    return {
        "responses": {
            status: {
                "description": description,
                "content": {"application/problem+json": {"schema": PROBLEM}},
            }
            for status, description in statuses.items()
        }
    }


CONFLICT = problem_responses(
    **{"409": "The object's state does not allow this now: `detail` says why."}
)


class IncidentRef(Schema):
    """An incident as the action resources name it; /incidents/{id} has the rest."""

    id: UUID
    slug: str
    title: str


def incident_ref(incident: Incident) -> dict:
    return {"id": incident.public_id, "slug": incident.slug, "title": incident.title}


def acting_user(request: HttpRequest) -> User | None:
    """Whom a key acts for in the services the pages call: the owner who made it. Its
    capabilities are some of that person's, and a key whose maker has left the account
    holds none, so no call gets this far without them."""
    return api_key_of(request).created_by
