"""SSRF (issue 16 point 3): webhooks go to public https addresses only, checked when an
endpoint is saved and again at each delivery against the address connected to."""

import socket

import pytest
from django.core.exceptions import ValidationError

from portal.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from portal.webhooks.services import endpoint_create, endpoint_test_send

pytestmark = pytest.mark.django_db

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.10.20.30", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.10", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - the address refused, not bound
    ("::", "unspecified"),
    # IPv4 inside IPv6: judged as the IPv4 address it carries.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
]


def _url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/hooks"


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_it_refuses_an_endpoint_at_an_address_that_is_not_public(acme, alice, address, why):
    with pytest.raises(ValidationError) as refused:
        endpoint_create(organization=acme, url=_url(address), events=["report.filed"], by=alice)

    assert why in refused.value.messages[0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111"])
def test_it_accepts_a_public_address(acme, alice, address):
    made = endpoint_create(organization=acme, url=_url(address), events=["report.filed"], by=alice)

    assert made.url == _url(address)


def _resolving(monkeypatch, *addresses: str) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_it_refuses_a_name_with_any_private_address(monkeypatch, acme, alice):
    _resolving(monkeypatch, "93.184.216.34", "10.0.0.7")

    with pytest.raises(ValidationError) as refused:
        endpoint_create(
            organization=acme, url="https://hooks.example.com/x", events=["report.filed"], by=alice
        )

    assert "hooks.example.com resolves to 10.0.0.7, a private address" in refused.value.messages[0]


def test_it_refuses_plain_http_outside_debug_and_the_tests(settings, acme, alice):
    settings.WEBHOOKS_ALLOW_HTTP = False

    with pytest.raises(ValidationError) as refused:
        endpoint_create(
            organization=acme, url="http://93.184.216.34/x", events=["report.filed"], by=alice
        )

    assert "https" in refused.value.messages[0]


def test_it_refuses_loopback_unless_the_setting_allows_it(settings, acme, alice):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    made = endpoint_create(
        organization=acme, url="https://127.0.0.1:8443/x", events=["report.filed"], by=alice
    )
    assert made.pk
    # Loopback only: the private ranges stay refused.
    with pytest.raises(ValidationError):
        endpoint_create(
            organization=acme, url="https://10.0.0.1/x", events=["report.filed"], by=alice
        )


def test_it_checks_again_at_delivery_so_dns_rebinding_gets_nothing(
    monkeypatch, settings, receiver, acme, alice, django_capture_on_commit_callbacks
):
    # Saved while the name resolved to a public address...
    _resolving(monkeypatch, "93.184.216.34")
    made = endpoint_create(
        organization=acme,
        url=f"http://hooks.example.com:{receiver.port}/x",
        events=["report.filed"],
        by=alice,
    )
    # ...which now resolves to this machine.
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    _resolving(monkeypatch, "127.0.0.1")

    with django_capture_on_commit_callbacks(execute=True):
        endpoint_test_send(endpoint=made, by=alice)

    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert "resolves to 127.0.0.1, a loopback address" in attempt.error
    assert receiver.got == []
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PENDING


def test_it_connects_to_the_address_it_checked_with_the_name_as_host(
    monkeypatch, receiver, acme, alice, django_capture_on_commit_callbacks
):
    _resolving(monkeypatch, "127.0.0.1")
    made = endpoint_create(
        organization=acme,
        url=f"http://hooks.example.com:{receiver.port}/x",
        events=["report.filed"],
        by=alice,
    )
    receiver.secret = made.secret

    with django_capture_on_commit_callbacks(execute=True):
        endpoint_test_send(endpoint=made, by=alice)

    (got,) = receiver.got
    assert got.headers["host"] == f"hooks.example.com:{receiver.port}"
    assert got.verified
    assert WebhookAttempt.objects.get().address == "127.0.0.1"
