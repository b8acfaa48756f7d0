"""The endpoints page and an endpoint's page with its delivery log: owners only,
each change audited, in the member's language."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.accounts.auth import signed_in

pytestmark = pytest.mark.django_db


def _list(org) -> str:
    return reverse("webhooks:list", kwargs={"org": org.public_id})


def _detail(endpoint) -> str:
    return reverse(
        "webhooks:detail",
        kwargs={"org": endpoint.organization.public_id, "endpoint": endpoint.public_id},
    )


def test_the_settings_page_links_to_the_webhooks(client, acme, alice):
    signed_in(client, alice)

    page = client.get(reverse("accounts:settings", kwargs={"org": acme.public_id}))

    assert _list(acme) in page.content.decode()


def test_an_owner_adds_an_endpoint_and_sees_its_secret(client, acme, alice):
    signed_in(client, alice)

    response = client.post(
        _list(acme),
        {
            "url": "https://93.184.216.34/hooks",
            "description": "Our SIEM",
            "events": ["log_copy.ready", "report.filed"],
            "enabled": "on",
        },
    )

    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _detail(endpoint)
    response = client.get(_detail(endpoint))
    assert endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert endpoint.events == ["log_copy.ready", "report.filed"]
    event = AuditEvent.objects.get(action="webhook.create")
    assert (event.actor, event.organization_id) == (alice, acme.pk)
    assert endpoint.secret not in str(event.details)


def test_it_says_why_an_address_is_refused(client, acme, alice):
    signed_in(client, alice)

    response = client.post(
        _list(acme), {"url": "https://169.254.169.254/latest", "events": ["report.filed"]}
    )

    assert response.status_code == 400
    assert "169.254.169.254 is a cloud metadata address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_owner_changes_disables_and_deletes_an_endpoint(client, acme, alice, endpoint):
    signed_in(client, alice)

    client.post(
        _detail(endpoint),
        {"url": endpoint.url, "events": ["campaign.finished"], "description": "SOAR"},
    )
    endpoint.refresh_from_db()
    assert (endpoint.events, endpoint.enabled, endpoint.description) == (
        ["campaign.finished"],
        False,
        "SOAR",
    )
    delete = reverse(
        "webhooks:delete", kwargs={"org": acme.public_id, "endpoint": endpoint.public_id}
    )
    assert client.post(delete).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="webhook.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["webhook.create", "webhook.update", "webhook.delete"]


def test_the_test_button_and_the_log_and_replay(
    client, acme, alice, endpoint, receiver, django_capture_on_commit_callbacks
):
    signed_in(client, alice)
    test = reverse("webhooks:test", kwargs={"org": acme.public_id, "endpoint": endpoint.public_id})

    with django_capture_on_commit_callbacks(execute=True):
        client.post(test)
    delivery = WebhookDelivery.objects.get()
    page = client.get(_detail(endpoint)).content.decode()
    assert delivery.event.message_id in page
    assert "webhook.test" in page
    assert ">200<" in page

    replay = reverse(
        "webhooks:replay",
        kwargs={
            "org": acme.public_id,
            "endpoint": endpoint.public_id,
            "delivery": delivery.public_id,
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(replay)

    assert [got.webhook_id for got in receiver.got] == [delivery.event.message_id] * 2
    assert AuditEvent.objects.filter(action="webhook.replay").count() == 1


@pytest.mark.parametrize("person", ["bob", "sam", "vera"])
def test_only_owners_manage_webhooks(client, acme, person, request):
    signed_in(client, request.getfixturevalue(person))

    assert client.get(_list(acme)).status_code == 403
    assert (
        client.post(
            _list(acme), {"url": "https://93.184.216.34/", "events": ["report.filed"]}
        ).status_code
        == 403
    )
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("language", "words"),
    [("fr", "Ajouter"), ("es", "Añadir"), ("de", "hinzufügen")],
)
def test_the_pages_speak_the_members_language(client, acme, alice, endpoint, language, words):
    alice.language = language
    alice.save(update_fields=["language"])
    signed_in(client, alice)

    assert words in client.get(_list(acme)).content.decode()
    assert client.get(_detail(endpoint)).status_code == 200


def test_the_delivery_log_costs_the_same_queries_for_one_or_many(client, acme, alice, endpoint):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal.webhooks.services import event_record

    signed_in(client, alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(_detail(endpoint)).status_code == 200
        return len(captured)

    event_record(organization_id=acme.pk, event_type="report.filed", key="0", data={})
    queries()  # the first request of a session asks a few things once
    one = queries()
    for n in range(1, 10):
        event_record(organization_id=acme.pk, event_type="report.filed", key=str(n), data={})

    assert queries() == one
