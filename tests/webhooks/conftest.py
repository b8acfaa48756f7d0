"""What the webhooks' tests share: a local receiver, allowed through the SSRF check
(plain http and loopback, both off outside the tests), and an endpoint of Acme's
pointing at it."""

import pytest

from portal.webhooks.models import EventType
from portal.webhooks.services import endpoint_create
from tests.webhooks.receiver import Receiver


@pytest.fixture
def local_receiver_allowed(settings):
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    settings.WEBHOOKS_TIMEOUT_SECONDS = 3


@pytest.fixture
def receiver(local_receiver_allowed):
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(receiver, acme, alice):
    made = endpoint_create(organization=acme, url=receiver.url, events=EventType.values, by=alice)
    receiver.secret = made.secret
    return made
