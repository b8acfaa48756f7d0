"""The schema and the docs: OpenAPI 3.1 at /api/v1/openapi.json, Swagger UI at
/api/v1/docs served from our own static files (no CDN: the CSP allows only 'self')."""

import re

import pytest

from portal.api.access import OPERATION_CAPABILITIES
from tests.api.conftest import API

pytestmark = pytest.mark.django_db


def test_the_schema_is_openapi_3_1_and_names_each_operations_capability(client):
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    operations = [
        operation for methods in schema["paths"].values() for operation in methods.values()
    ]
    assert {"incidents_list", "incident_detail"} <= {op["operationId"] for op in operations}
    for operation in operations:
        assert operation["x-capability"] == OPERATION_CAPABILITIES[operation["operationId"]]
        assert operation["security"] == [{"ApiKeyAuth": []}]
        problem = operation["responses"]["403"]["content"]["application/problem+json"]
        assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"


def test_the_docs_load_their_assets_from_the_site_itself(client):
    response = client.get(f"{API}/docs")

    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle" in source for source in sources)
    assert all(source.startswith("/") for source in sources), sources
    assert "cdn" not in html.lower()
