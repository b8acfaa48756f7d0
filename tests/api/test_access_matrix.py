"""The API's access matrix, built from the generated OpenAPI schema: every operation
(those added later included) is called

- with no key: 401;
- with a key of another account (holding everything): 404 for the objects of this one,
  and, for an operation that names none, nothing of this account in the answer;
- with a key of this account lacking the operation's capability (`x-capability`, from
  portal.api.access's one table): 403;
- with a key holding it: 2xx.

A path parameter needs a maker in OBJECTS, and an operation with a body an example in
BODIES; an operation added without them fails here and says what to add.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from notifications.models import Delivery, NoticeCampaign, NoticeTemplate, SuspicionReport
from portal.accounts.models import Organization
from portal.accounts.roles import ROLE_CAPABILITIES, Role
from portal.api.access import OPERATION_CAPABILITIES
from portal.api.main import api
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.signing import api_download_token_make
from tests import factories

pytestmark = pytest.mark.django_db

SCHEMA = api.get_openapi_schema(path_prefix="/api/v1/")
OPERATIONS = [
    (method.upper(), path, operation)
    for path, methods in SCHEMA["paths"].items()
    for method, operation in methods.items()
]
# The operations that need a capability (all of them today; `@requires(None)` would
# open one to any key of the account).
GATED = [entry for entry in OPERATIONS if entry[2]["x-capability"] is not None]


@dataclass
class World:
    acme: Any
    globex: Any
    objects: dict[str, str]  # path parameter -> one of Acme's objects' public id


def _incident_only_acme_has(acme, globex) -> dict[str, str]:
    incident = factories.incident(title="Acme's")
    exposure = factories.exposure(incident, acme)
    factories.log_record(incident, acme)
    shared = factories.incident(title="Both")
    factories.exposure(shared, acme)
    factories.exposure(shared, globex, "+14155550100")
    return {"incident_id": str(incident.public_id), "exposure_id": str(exposure.public_id)}


def _ready_copy(acme, globex) -> dict[str, str]:
    """A ready log copy of Acme's (with its file) and a download link's token for it."""
    incident = factories.incident(title="Acme's copy")
    factories.exposure(incident, acme)
    copy = LogCopyRequest.objects.create(
        organization=acme,
        incident=incident,
        reason="Our SOC needs the rows",
        status=LogCopyRequest.Status.READY,
        expires_at=timezone.now() + timedelta(days=7),
    )
    copy.file.save("copy.zip", ContentFile(b"PK zip"), save=True)
    return {"copy_id": str(copy.public_id), "token": api_download_token_make(copy=copy)}


def _campaign_and_report(acme, globex) -> dict[str, str]:
    """A draft campaign Acme can launch, and a report filed through its notice."""
    Organization.objects.filter(pk=acme.pk).update(
        contact_name="Acme Security Desk", contact_email="security@acme.example"
    )
    incident = factories.incident(title="Acme's notice")
    person = factories.directory_user(acme, "jdoe")
    factories.exposure(incident, acme, directory_user=person)
    template = NoticeTemplate.objects.create(
        organization=acme, name="Our notice", language="en", subject="About", body_text="Hi"
    )
    campaign = NoticeCampaign.objects.create(
        organization=acme, incident=incident, template=template, audience="all_matched"
    )
    delivery = Delivery.objects.create(
        campaign=campaign, organization=acme, directory_user=person, email=person.email
    )
    report = SuspicionReport.objects.create(
        organization=acme,
        delivery=delivery,
        incident=incident,
        channel=SuspicionReport.Channel.CALL,
        occurred_at=timezone.now(),
    )
    return {"campaign_id": str(campaign.public_id), "report_id": str(report.public_id)}


# Path parameter -> what makes it (called once per world, returning every parameter it
# sets). Add a maker for a new resource's parameters.
OBJECTS: dict[str, Callable[[Any, Any], dict[str, str]]] = {
    "incident_id": _incident_only_acme_has,
    "exposure_id": _incident_only_acme_has,
    "copy_id": _ready_copy,
    "token": _ready_copy,
    "campaign_id": _campaign_and_report,
    "report_id": _campaign_and_report,
}


def _copy_request(world) -> dict:
    """A request for an incident both accounts have exposures in: each account's key
    may ask for its own rows of it."""
    incident = factories.incident(title="Both accounts'")
    factories.exposure(incident, world.acme)
    factories.exposure(incident, world.globex, "+14155550100")
    return {"incident": str(incident.public_id), "reason": "Our SOC needs the rows"}


# Operation id -> a valid body, for operations that take one (a callable gets the world).
BODIES: dict[str, dict | Callable[[Any], dict]] = {
    "logcopy_request": _copy_request,
    "report_triage": {"status": "triaged", "note": "Called back"},
}


@pytest.fixture
def world(acme, globex, alice, charlie, media_root) -> World:
    objects: dict[str, str] = {}
    for maker in dict.fromkeys(OBJECTS.values()):
        objects.update(maker(acme, globex))
    return World(acme=acme, globex=globex, objects=objects)


def _call(client, method: str, path: str, operation: dict, world: World):
    def value(match):
        name = match.group(1)
        assert name in world.objects, f"tests/api/test_access_matrix.py: add a maker for {name}"
        return world.objects[name]

    url = re.sub(r"\{(\w+)\}", value, path)
    if "requestBody" in operation:
        assert operation["operationId"] in BODIES, (
            f"tests/api/test_access_matrix.py: add a body for {operation['operationId']}"
        )
        body = BODIES[operation["operationId"]]
        body = json.dumps(body(world) if callable(body) else body)
        return client.generic(method, url, body, content_type="application/json")
    return client.generic(method, url)


def _ids(operations):
    return [f"{method} {path}" for method, path, _ in operations]


def test_every_operation_declares_its_capability():
    for _method, _path, operation in OPERATIONS:
        assert operation["operationId"] in OPERATION_CAPABILITIES
        assert operation["x-capability"] == OPERATION_CAPABILITIES[operation["operationId"]]


def test_the_schema_is_served_where_the_matrix_reads_it(client):
    served = client.get(reverse("api:openapi-json")).json()

    assert served["paths"].keys() == SCHEMA["paths"].keys()


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=_ids(OPERATIONS))
def test_no_key_is_401(world, api_client, method, path, operation):
    response = _call(api_client(), method, path, operation, world)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=_ids(OPERATIONS))
def test_another_accounts_key_sees_nothing_of_this_one(
    world, api_key, api_client, method, path, operation
):
    client = api_client(api_key(world.globex, Role.OWNER))

    response = _call(client, method, path, operation, world)

    if re.search(r"\{\w+\}", path):
        assert response.status_code == 404, response.content[:300]
    else:
        assert response.status_code < 300
        content = b"".join(response.streaming_content) if response.streaming else response.content
        for public_id in world.objects.values():
            assert public_id.encode() not in content


def _needed(operation) -> list[str]:
    """The operation's capability, or its alternatives (any one of them will do)."""
    needed = operation["x-capability"]
    return needed if isinstance(needed, list) else [needed]


@pytest.mark.parametrize(("method", "path", "operation"), GATED, ids=_ids(GATED))
def test_a_key_without_the_capability_is_403(world, api_key, api_client, method, path, operation):
    needed = _needed(operation)
    lacking = ROLE_CAPABILITIES[Role.OWNER] - set(needed)
    client = api_client(api_key(world.acme, lacking))

    response = _call(client, method, path, operation, world)

    assert response.status_code == 403, response.content[:300]
    assert all(capability in response.json()["detail"] for capability in needed)


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=_ids(OPERATIONS))
def test_a_key_holding_the_capability_succeeds(world, api_key, api_client, method, path, operation):
    needed = _needed(operation) if operation["x-capability"] else [None]
    for capability in needed:
        client = api_client(api_key(world.acme, {capability} if capability else Role.VIEWER))

        response = _call(client, method, path, operation, world)

        assert 200 <= response.status_code < 300, (capability, response.content[:300])
