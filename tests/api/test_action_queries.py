"""The action lists cost the same number of queries for one row as for many: what each
row shows is joined, never fetched row by row."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import Delivery, NoticeCampaign, NoticeTemplate, SuspicionReport
from portal.accounts.roles import Role
from portal.logcopies.models import LogCopyRequest
from tests import factories
from tests.api.conftest import API

pytestmark = pytest.mark.django_db


def _add_rows(acme, sam, n: int) -> None:
    incident = factories.incident()
    template = NoticeTemplate.objects.create(
        organization=acme, name=f"Notice {n}", language="en", subject="S", body_text="B"
    )
    for i in range(n):
        LogCopyRequest.objects.create(
            organization=acme, incident=incident, requested_by=sam, reason="SOC"
        )
        campaign = NoticeCampaign.objects.create(
            organization=acme, incident=incident, template=template, name=f"c{n}-{i}"
        )
        person = factories.directory_user(acme, f"user-{n}-{i}")
        delivery = Delivery.objects.create(
            campaign=campaign, organization=acme, directory_user=person, email=person.email
        )
        SuspicionReport.objects.create(
            organization=acme,
            delivery=delivery,
            incident=incident,
            channel=SuspicionReport.Channel.CALL,
            occurred_at=timezone.now() - timedelta(hours=1),
        )


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("listing", ["logcopies", "campaigns", "reports"])
def test_a_list_costs_the_same_queries_for_one_row_as_for_many(
    acme, sam, api_key, api_client, listing
):
    client = api_client(api_key(acme, Role.OWNER))
    _add_rows(acme, sam, 1)
    # The key's first call records when and from where it was used; the next ones
    # within the minute do not.
    client.get(f"{API}/{listing}")
    one = _queries(client, f"{API}/{listing}")
    _add_rows(acme, sam, 6)

    many = _queries(client, f"{API}/{listing}")

    assert len(client.get(f"{API}/{listing}").json()["items"]) == 7
    assert many == one
