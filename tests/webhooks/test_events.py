"""Each event type fires from the real action, in its transaction, and reaches the
endpoint signed; no payload carries a phone number or an email address."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from notifications.delivery.sending import campaign_finish_if_done
from notifications.models import NoticeCampaign
from notifications.reports.services import suspicion_report_file
from portal.incidents.exposures.services import incident_publish
from portal.incidents.models import Incident
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.services import logcopy_expire_due, logcopy_generate
from portal.webhooks.models import WebhookDelivery, WebhookEvent
from tests import factories
from tests.incidents.imports import HEADER, imported

pytestmark = pytest.mark.django_db

PHONE = "+12125550143"
EMAIL = "alice.person@acme.example"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """The action's transaction commits: what it queued on commit runs (the task,
    eagerly), as it would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _only(receiver, event_type: str) -> dict:
    (got,) = receiver.of_type(event_type)
    assert got.verified
    body = got.body.decode()
    assert PHONE not in body
    assert "2125550143" not in body
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", body), body
    assert WebhookEvent.objects.get(type=event_type).message_id == got.webhook_id
    assert WebhookDelivery.objects.get(event__type=event_type).status == "delivered"
    return got.payload


def test_log_copy_ready(committed, receiver, endpoint, acme, sam, media_root):
    incident = factories.incident()
    factories.log_record(incident, acme, phone=PHONE)
    copy = LogCopyRequest.objects.create(
        organization=acme,
        incident=incident,
        requested_by=sam,
        scope="account",
        format="csv",
        reason="SOC",
        status="approved",
    )

    with committed():
        logcopy_generate(copy=copy)

    copy.refresh_from_db()
    data = _only(receiver, "log_copy.ready")["data"]
    assert data["log_copy"]["id"] == str(copy.public_id)
    assert data["log_copy"]["status"] == "ready"
    assert data["log_copy"]["rows"] == 1
    assert data["log_copy"]["sha256"] == copy.sha256
    assert data["log_copy"]["url"].endswith(f"/o/{acme.public_id}/log-copies/{copy.public_id}/")
    assert data["incident"]["id"] == str(incident.public_id)


def test_log_copy_expired(committed, receiver, endpoint, acme, media_root):
    copy = LogCopyRequest.objects.create(
        organization=acme,
        incident=factories.incident(),
        reason="SOC",
        status=LogCopyRequest.Status.READY,
        rows=3,
        sha256="ab" * 32,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    copy.file.save("copy.zip", ContentFile(b"zip bytes"), save=True)

    with committed():
        assert logcopy_expire_due() == 1

    data = _only(receiver, "log_copy.expired")["data"]
    assert (data["log_copy"]["id"], data["log_copy"]["status"]) == (str(copy.public_id), "expired")


def test_campaign_finished(committed, receiver, endpoint, acme):
    incident = factories.incident()
    person = factories.directory_user(acme, "jdoe", email=EMAIL, phones=[PHONE])
    exposed = factories.exposure(incident, acme, phone=PHONE, directory_user=person)
    campaign = NoticeCampaign.objects.create(
        organization=acme,
        incident=incident,
        name="March notice",
        status=NoticeCampaign.Status.SENDING,
        recipients_total=1,
    )
    factories.sent_delivery(campaign, exposed)

    with committed():
        assert campaign_finish_if_done(campaign_id=campaign.pk) is True

    data = _only(receiver, "campaign.finished")["data"]
    assert data["campaign"]["id"] == str(campaign.public_id)
    assert (data["campaign"]["status"], data["campaign"]["sent"], data["campaign"]["failed"]) == (
        "completed",
        1,
        0,
    )


def test_report_filed(committed, receiver, endpoint, acme):
    incident = factories.incident()
    person = factories.directory_user(acme, "jdoe", email=EMAIL, phones=[PHONE])
    exposed = factories.exposure(incident, acme, phone=PHONE, directory_user=person)
    campaign = NoticeCampaign.objects.create(organization=acme, incident=incident)
    delivery = factories.sent_delivery(campaign, exposed)

    with committed():
        report = suspicion_report_file(
            delivery=delivery,
            channel="call",
            occurred_at=timezone.now() - timedelta(hours=1),
            contact_detail="+12125550100",
            description="They asked for my code; call me at someone@example.org",
        )

    payload = _only(receiver, "report.filed")
    assert payload["data"]["report"]["id"] == str(report.public_id)
    assert payload["data"]["report"]["channel"] == "call"
    body = receiver.of_type("report.filed")[0].body.decode()
    assert "12125550100" not in body
    assert "asked for my code" not in body


def test_incident_published(committed, receiver, endpoint, acme, olivia):
    incident = factories.incident(status=Incident.Status.DRAFT)
    factories.exposure(incident, acme, phone=PHONE)
    factories.exposure(incident, acme, phone="+447700900123")

    with committed():
        assert incident_publish(incident=incident, by=olivia) is True

    data = _only(receiver, "incident.published")["data"]
    assert data["incident"]["id"] == str(incident.public_id)
    assert data["exposures"] == 2
    assert data["incident"]["url"].endswith(f"/o/{acme.public_id}/incidents/{incident.public_id}/")


def test_import_completed(committed, receiver, endpoint, acme, media_root):
    incident = factories.incident(window_start=datetime(2024, 3, 1, tzinfo=UTC))
    dump = HEADER + (
        f"m-1,{acme.account_id},2024-03-01T08:14:02Z,{PHONE},Verizon,US,NY,sms\n"
        f"m-2,{acme.account_id},2024-03-02T08:14:02Z,{PHONE},Verizon,US,NY,voice\n"
    )

    with committed():
        batch = imported(incident, dump)

    assert batch.status == "completed"
    data = _only(receiver, "import.completed")["data"]
    assert data["import"]["id"] == str(batch.public_id)
    assert data["import"]["rows"] == 2
    assert data["exposures"] == 1


def test_a_draft_incidents_import_tells_no_account(committed, receiver, endpoint, acme, media_root):
    incident = factories.incident(status=Incident.Status.DRAFT)
    dump = HEADER + f"m-1,{acme.account_id},2024-03-01T08:14:02Z,{PHONE},Verizon,US,NY,sms\n"

    with committed():
        imported(incident, dump)

    assert receiver.got == []
    assert not WebhookEvent.objects.exists()


def test_an_event_rolls_back_with_its_transaction(committed, receiver, endpoint, acme, olivia):
    from django.db import transaction

    incident = factories.incident(status=Incident.Status.DRAFT)
    factories.exposure(incident, acme, phone=PHONE)

    def publish_then_fail():
        with transaction.atomic():
            incident_publish(incident=incident, by=olivia)
            raise RuntimeError("the publication fails after the signal")

    with committed(), pytest.raises(RuntimeError):
        publish_then_fail()

    assert not WebhookEvent.objects.exists()
    assert receiver.got == []


def test_an_account_without_endpoints_gets_no_event(committed, receiver, acme, olivia):
    incident = factories.incident(status=Incident.Status.DRAFT)
    factories.exposure(incident, acme, phone=PHONE)

    with committed():
        incident_publish(incident=incident, by=olivia)

    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()
