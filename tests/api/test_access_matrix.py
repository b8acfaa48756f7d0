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
from typing import Any

import pytest
from django.urls import reverse

from portal.accounts.roles import ROLE_CAPABILITIES, Role
from portal.api.access import OPERATION_CAPABILITIES
from portal.api.main import api
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


# Path parameter -> what makes it (called once per world, returning every parameter it
# sets). Add a maker for a new resource's parameters.
OBJECTS: dict[str, Callable[[Any, Any], dict[str, str]]] = {
    "incident_id": _incident_only_acme_has,
    "exposure_id": _incident_only_acme_has,
}
# Operation id -> a valid body, for operations that take one.
BODIES: dict[str, dict] = {}


@pytest.fixture
def world(acme, globex, alice, charlie) -> World:
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
        body = json.dumps(BODIES[operation["operationId"]])
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


@pytest.mark.parametrize(("method", "path", "operation"), GATED, ids=_ids(GATED))
def test_a_key_without_the_capability_is_403(world, api_key, api_client, method, path, operation):
    capability = operation["x-capability"]
    lacking = ROLE_CAPABILITIES[Role.OWNER] - {capability}
    client = api_client(api_key(world.acme, lacking))

    response = _call(client, method, path, operation, world)

    assert response.status_code == 403, response.content[:300]
    assert capability in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=_ids(OPERATIONS))
def test_a_key_holding_the_capability_succeeds(world, api_key, api_client, method, path, operation):
    capability = operation["x-capability"]
    client = api_client(api_key(world.acme, {capability} if capability else Role.VIEWER))

    response = _call(client, method, path, operation, world)

    assert 200 <= response.status_code < 300, response.content[:300]
