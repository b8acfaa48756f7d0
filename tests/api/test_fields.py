"""Days and times are ISO text: a number (or digits) is refused by name, where pydantic
alone read it as a Unix timestamp (schemathesis found `?date_to=0` answering 200)."""

import pytest

from portal.accounts.roles import Role
from portal.logcopies.models import LogCopyRequest
from tests import factories
from tests.api.conftest import API

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("day", ["0", "1700000000", "10/03/2024"])
def test_a_day_that_is_not_yyyy_mm_dd_is_refused(acme, api_key, api_client, day):
    response = api_client(api_key(acme, Role.OWNER)).get(f"{API}/audit/events", {"date_to": day})

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["loc"][-1] == "date_to"
    assert "YYYY-MM-DD" in error["msg"]


def test_a_day_is_read(acme, api_key, api_client):
    response = api_client(api_key(acme, Role.OWNER)).get(
        f"{API}/audit/events", {"date_from": "2024-03-10", "date_to": "2024-03-11"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize("moment", [0, 1710061200, "1710061200", "10/03/2024 09:00"])
def test_a_time_that_is_not_rfc_3339_text_is_refused(acme, api_key, api_client, moment):
    incident = factories.incident()
    factories.exposure(incident, acme)

    response = api_client(api_key(acme, Role.SECURITY)).post(
        f"{API}/logcopies",
        {
            "incident": str(incident.public_id),
            "scope": "date_range",
            "scope_start": moment,
            "scope_end": "2024-03-12T09:00:00+01:00",
            "reason": "Our SOC",
        },
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "scope_start"
    assert not LogCopyRequest.objects.exists()


def test_a_time_without_its_offset_is_refused(acme, api_key, api_client):
    incident = factories.incident()
    factories.exposure(incident, acme)

    response = api_client(api_key(acme, Role.SECURITY)).post(
        f"{API}/logcopies",
        {
            "incident": str(incident.public_id),
            "scope": "date_range",
            "scope_start": "2024-03-10T09:00:00",
            "scope_end": "2024-03-12T09:00:00+01:00",
            "reason": "Our SOC",
        },
        content_type="application/json",
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "scope_start"
