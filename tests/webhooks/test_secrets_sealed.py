"""Webhook signing secrets are sealed in the database (portal.sealing): a copy of it
cannot sign the account's events; a SECRET_KEY rotated with the old one among the
fallbacks still opens them; without it the endpoint's page and its delivery log say so,
and replacing the secret mends it. The migration seals secrets written before it."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from portal.webhooks.models import WebhookAttempt, WebhookEndpoint
from portal.webhooks.services import (
    SIGNING_KEY_UNREADABLE,
    endpoint_rotate_secret,
    endpoint_test_send,
)
from tests.accounts.auth import signed_in

pytestmark = pytest.mark.django_db

OLD_KEY = "an-old-secret-key-" + "x" * 40
NEW_KEY = "a-new-secret-key-" + "y" * 40


def _stored(endpoint) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret, previous_secret FROM webhooks_webhookendpoint WHERE id = %s",
            [endpoint.pk],
        )
        return cursor.fetchone()


def _detail(endpoint) -> str:
    return reverse(
        "webhooks:detail",
        kwargs={"org": endpoint.organization.public_id, "endpoint": endpoint.public_id},
    )


def test_the_database_holds_the_secret_sealed(endpoint, alice):
    endpoint_rotate_secret(endpoint=endpoint, by=alice)
    endpoint.refresh_from_db()

    secret, previous = _stored(endpoint)

    assert endpoint.secret.startswith("whsec_")
    assert endpoint.previous_secret.startswith("whsec_")
    for stored, plain in ((secret, endpoint.secret), (previous, endpoint.previous_secret)):
        assert stored.startswith("sealed:")
        assert plain not in stored
        assert plain.removeprefix("whsec_") not in stored
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_a_rotated_key_with_the_old_one_among_the_fallbacks_still_signs(
    settings, django_capture_on_commit_callbacks, receiver, endpoint, alice
):
    settings.SECRET_KEY = OLD_KEY
    endpoint.save()  # sealed under the old key
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    found = WebhookEndpoint.objects.get(pk=endpoint.pk)
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_test_send(endpoint=found, by=alice)

    assert found.secret == endpoint.secret
    assert [got.verified for got in receiver.got] == [True]


def test_without_the_old_key_the_page_and_the_log_say_so_and_a_new_secret_mends_it(
    settings, django_capture_on_commit_callbacks, client, receiver, endpoint, alice
):
    settings.SECRET_KEY = OLD_KEY
    endpoint.save()
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, []
    signed_in(client, alice)

    found = WebhookEndpoint.objects.get(pk=endpoint.pk)
    page = client.get(_detail(found)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        delivery = endpoint_test_send(endpoint=found, by=alice)

    assert found.secret == ""
    assert "data-secret-unreadable" in page
    assert "This secret cannot be read" in page
    assert receiver.got == []
    assert WebhookAttempt.objects.get(delivery=delivery).error == SIGNING_KEY_UNREADABLE

    endpoint_rotate_secret(endpoint=found, by=alice)
    mended = WebhookEndpoint.objects.get(pk=endpoint.pk)
    receiver.secret = mended.secret
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_test_send(endpoint=mended, by=alice)

    assert mended.secret.startswith("whsec_")
    assert "data-secret-unreadable" not in client.get(_detail(mended)).content.decode()
    assert [got.verified for got in receiver.got] == [True]


def test_the_migration_seals_the_secrets_written_before_it(endpoint):
    plain = endpoint.secret
    with connection.cursor() as cursor:  # as the table held it before the migration
        cursor.execute(
            "UPDATE webhooks_webhookendpoint SET secret = %s WHERE id = %s", [plain, endpoint.pk]
        )
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == plain  # read as it is

    migration = importlib.import_module("portal.webhooks.migrations.0002_secrets_sealed")
    with connection.schema_editor() as editor:
        migration._seal(apps, editor)

    assert _stored(endpoint)[0].startswith("sealed:")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == plain
