"""Campaigns through the API: the account's list, one campaign's status with its counts
and pace (held by the account's rate or not), and the launch, which only a key with
the notices capability may do, through the page's service and its checks.

Acme (with a designated contact) has three exposed people in the breach, two with an
email address; Globex is another account.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.campaigns import services
from notifications.models import Delivery, NoticeCampaign, NoticeTemplate
from portal.accounts.models import ApiKey
from portal.accounts.roles import Capability, Role
from portal.audit.models import AuditEvent
from portal.incidents.models import DirectoryUser
from tests import factories
from tests.api.conftest import API

pytestmark = pytest.mark.django_db
Status = NoticeCampaign.Status


@pytest.fixture
def acme():
    return factories.organization(
        "Acme Corp",
        contact_name="Acme Security Desk",
        contact_email="security@acme.example",
        notice_rate_per_minute=2,
    )


@pytest.fixture
def breach(acme):
    incident = factories.incident(title="Telephony provider breach")
    for username, email, phone in [
        ("jane", "jane@acme.example", "+12125550143"),
        ("luc", "luc@acme.example", "+33612345678"),
        ("nora", "", "+12125550100"),
    ]:
        person = factories.directory_user(acme, username, email=email, phones=[phone])
        factories.exposure(incident, acme, phone=phone, directory_user=person)
    return incident


@pytest.fixture
def template(acme):
    return NoticeTemplate.objects.create(
        organization=acme,
        name="Our notice",
        language="en",
        subject="About {{ incident_title }}",
        body_text="Hello {{ recipient_name }}, tell {{ contact_name }}.",
    )


@pytest.fixture
def dispatched(monkeypatch):
    calls = []
    monkeypatch.setattr(services, "_dispatch_soon", lambda: calls.append("dispatch"))
    return calls


def a_draft(acme, breach, template, **fields):
    return services.notice_campaign_create(
        organization=acme,
        by=None,
        incident=breach,
        template=template,
        audience=NoticeCampaign.Audience.ALL_MATCHED,
        **fields,
    )


def sending(acme, breach, template, **counts) -> NoticeCampaign:
    campaign = a_draft(acme, breach, template)
    NoticeCampaign.objects.filter(pk=campaign.pk).update(
        status=Status.SENDING, launched_at=timezone.now(), **counts
    )
    campaign.refresh_from_db()
    return campaign


def test_it_lists_the_accounts_campaigns_with_their_counts(
    acme, globex, breach, template, api_key, api_client
):
    draft = a_draft(acme, breach, template, name="Second wave")
    busy = sending(acme, breach, template, recipients_total=10, sent_count=6, failed_count=1)
    other = factories.incident()
    factories.exposure(other, globex)

    response = api_client(api_key(acme, Role.VIEWER)).get(f"{API}/campaigns")

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [str(busy.public_id), str(draft.public_id)]
    assert items[0]["counts"] == {
        "total": 10,
        "sent": 6,
        "failed": 1,
        "skipped": 0,
        "pending": 3,
        "percent": 70,
    }
    assert items[1]["name"] == "Second wave"
    assert items[1]["status"] == "draft"
    assert items[1]["template"] == "Our notice"


def test_it_says_when_a_sending_campaign_is_held_by_the_accounts_rate(
    acme, breach, template, api_key, api_client
):
    campaign = sending(acme, breach, template, recipients_total=4, sent_count=1)
    client = api_client(api_key(acme, Role.VIEWER))

    free = client.get(f"{API}/campaigns/{campaign.public_id}").json()
    # The account's rate is 2 a minute: two notices claimed in the last minute hold it.
    people = list(DirectoryUser.objects.filter(organization=acme).order_by("id")[:2])
    Delivery.objects.bulk_create(
        [
            Delivery(
                campaign=campaign,
                organization=acme,
                directory_user=person,
                email=person.email,
                status=Delivery.Status.SENDING,
                claimed_at=timezone.now() - timedelta(seconds=10),
            )
            for person in people
        ]
    )
    held = client.get(f"{API}/campaigns/{campaign.public_id}").json()

    assert free["counts"]["pending"] == 3
    assert free["pace"]["held_by_rate"] is False
    assert free["pace"]["rate_per_minute"] == 2
    assert held["pace"]["held_by_rate"] is True


def test_a_draft_has_no_pace(acme, breach, template, api_key, api_client):
    campaign = a_draft(acme, breach, template)

    body = api_client(api_key(acme, Role.VIEWER)).get(f"{API}/campaigns/{campaign.public_id}")

    assert body.json()["pace"] is None


def test_it_launches_a_draft_as_the_page_does_and_audits_it(
    acme, breach, template, alice, api_key, api_client, dispatched
):
    campaign = a_draft(acme, breach, template)
    key = api_key(acme, Role.ADMIN, by=alice, name="SOAR playbook")

    response = api_client(key).post(f"{API}/campaigns/{campaign.public_id}/launch")

    assert response.status_code == 200, response.content
    campaign.refresh_from_db()
    assert campaign.status == Status.SCHEDULED
    assert campaign.launched_by == alice
    assert campaign.template_snapshot["name"] == "Our notice"
    assert response.json()["status"] == "scheduled"
    event = AuditEvent.objects.get(action="notice.launch")
    assert event.actor == alice
    assert event.details["recipients"] == 2
    assert (
        event.details["through"]
        == f"API key SOAR playbook ({ApiKey.objects.get(name='SOAR playbook').prefix})"
    )
    call = AuditEvent.objects.get(action="api.call", details__operation="campaign_launch")
    assert "SOAR playbook" in call.actor_label


@pytest.mark.parametrize("role", [Role.SECURITY, Role.VIEWER])
def test_only_a_key_with_the_notices_capability_launches(
    acme, breach, template, api_key, api_client, dispatched, role
):
    campaign = a_draft(acme, breach, template)

    response = api_client(api_key(acme, role)).post(f"{API}/campaigns/{campaign.public_id}/launch")

    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    assert not AuditEvent.objects.filter(action="notice.launch").exists()


def test_it_launches_once(acme, breach, template, api_key, api_client, dispatched):
    campaign = a_draft(acme, breach, template)
    client = api_client(api_key(acme, [Capability.MANAGE_NOTICES]))
    client.post(f"{API}/campaigns/{campaign.public_id}/launch")

    again = client.post(f"{API}/campaigns/{campaign.public_id}/launch")

    assert again.status_code == 409
    assert "launched only once" in again.json()["detail"]
    assert AuditEvent.objects.filter(action="notice.launch").count() == 1


def test_it_refuses_to_launch_without_a_designated_contact(
    acme, breach, template, api_key, api_client, dispatched
):
    campaign = a_draft(acme, breach, template)
    acme.contact_email = ""
    acme.save(update_fields=["contact_email"])

    response = api_client(api_key(acme, Role.OWNER)).post(
        f"{API}/campaigns/{campaign.public_id}/launch"
    )

    assert response.status_code == 409
    assert "designated contact" in response.json()["detail"]
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT


def test_another_accounts_campaign_is_not_found(
    acme, globex, breach, template, api_key, api_client, dispatched
):
    campaign = a_draft(acme, breach, template)
    client = api_client(api_key(globex))

    assert client.get(f"{API}/campaigns/{campaign.public_id}").status_code == 404
    assert client.post(f"{API}/campaigns/{campaign.public_id}/launch").status_code == 404
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
