"""Downloading a log copy: a POST makes a link for one person and one copy, good for
five minutes; the GET checks it, the membership and the capability again, streams the
file and audits it. Any failure is a page that says what to do, and no file."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import Membership
from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.signing import download_token_make
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = pytest.mark.django_db
Status = LogCopyRequest.Status
CONTENT = b"PK zip bytes of the copy " * 5000  # more than one chunk


@pytest.fixture
def acme():
    return factories.organization("Acme Corp")


@pytest.fixture
def copy(acme, sam, media_root):
    incident = factories.incident()
    factories.exposure(incident, acme)
    copy = LogCopyRequest.objects.create(
        organization=acme,
        incident=incident,
        requested_by=sam,
        reason="Our SOC needs the rows",
        status=Status.READY,
        rows=3,
        size=len(CONTENT),
        sha256=hashlib.sha256(CONTENT).hexdigest(),
        expires_at=timezone.now() + timedelta(days=7),
    )
    copy.file.save("copy.zip", ContentFile(CONTENT), save=True)
    return copy


def url(name, copy, **kwargs):
    return reverse(
        f"logcopies:{name}",
        kwargs={"org": copy.organization.public_id, "copy": copy.public_id, **kwargs},
    )


def link(client, copy) -> str:
    response = client.post(url("link", copy))
    assert response.status_code == 302
    assert response.url.startswith(url("detail", copy) + "download/")
    return response.url


def assert_no_file(response, copy, status, words):
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert "attachment" not in response.get("Content-Disposition", "")
    assert words in response.content.decode()
    assert b"No file was sent." in response.content
    copy.refresh_from_db()
    assert copy.download_count == 0
    assert not AuditEvent.objects.filter(action="logcopy.download").exists()


@pytest.mark.parametrize("who", ["sam", "alice"])
def test_it_downloads_the_file_for_security_staff_and_owners(client, request, copy, who):
    person = request.getfixturevalue(who)
    signed_in(client, person)

    response = client.get(link(client, copy))

    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == CONTENT
    assert int(response["Content-Length"]) == copy.size
    assert response["Content-Disposition"].startswith("attachment;")
    assert ".zip" in response["Content-Disposition"]
    copy.refresh_from_db()
    assert copy.download_count == 1
    event = AuditEvent.objects.get(action="logcopy.download")
    assert event.actor == person
    assert event.organization_id == copy.organization_id
    assert event.target_id == str(copy.public_id)
    assert event.details["size"] == len(CONTENT)
    assert event.details["sha256"] == hashlib.sha256(CONTENT).hexdigest()


def test_it_gives_an_admin_no_link(client, copy, bob):
    signed_in(client, bob)

    assert client.post(url("link", copy)).status_code == 403
    page = client.get(url("detail", copy)).content
    assert url("link", copy).encode() not in page


def test_it_sends_no_file_for_another_members_link(client, copy, sam, alice):
    signed_in(client, alice)
    alices_link = link(client, copy)

    signed_in(client, sam)
    response = client.get(alices_link)

    assert_no_file(response, copy, 403, "not valid for you")


def test_it_sends_no_file_for_a_tampered_link(client, copy, sam):
    signed_in(client, sam)
    token = link(client, copy).rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")

    response = client.get(url("download", copy, token=tampered))

    assert_no_file(response, copy, 403, "not valid for you")


def test_it_sends_no_file_for_a_link_made_for_another_copy(client, copy, sam):
    other = LogCopyRequest.objects.create(
        organization=copy.organization, incident=copy.incident, reason="x"
    )
    signed_in(client, sam)
    token = download_token_make(copy=other, user=sam)

    response = client.get(url("download", copy, token=token))

    assert_no_file(response, copy, 403, "not valid for you")


def test_it_sends_no_file_for_an_expired_link(client, copy, sam):
    signed_in(client, sam)
    made = link(client, copy)

    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        signed_in(client, sam)
        response = client.get(made)

    assert_no_file(
        response,
        copy,
        410,
        "This download link has expired; request a new one from the copy's page",
    )


def test_it_sends_no_file_once_the_membership_is_gone(client, copy, sam):
    signed_in(client, sam)
    made = link(client, copy)
    Membership.objects.filter(user=sam).delete()

    response = client.get(made)

    assert response.status_code == 404
    copy.refresh_from_db()
    assert copy.download_count == 0


def test_it_sends_no_file_once_the_role_lost_the_capability(client, copy, sam):
    signed_in(client, sam)
    made = link(client, copy)
    Membership.objects.filter(user=sam).update(role=Role.ADMIN)

    response = client.get(made)

    assert response.status_code == 403
    copy.refresh_from_db()
    assert copy.download_count == 0


def test_it_asks_to_reauthenticate_when_the_sign_in_is_stale(client, copy, sam):
    signed_in(client, sam, seconds_ago=3600)

    response = client.post(url("link", copy))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/")
    copy.refresh_from_db()
    assert copy.download_count == 0


def test_it_says_the_copy_expired(client, copy, sam):
    signed_in(client, sam)
    made = link(client, copy)
    LogCopyRequest.objects.filter(pk=copy.pk).update(status=Status.EXPIRED, file="")

    response = client.get(made)

    assert_no_file(response, copy, 410, "This copy has expired")
    page = client.get(url("detail", copy)).content
    assert b"This copy expired" in page
    refused = client.post(url("link", copy))
    assert refused.status_code == 302
    assert refused.url == url("detail", copy)


def test_it_answers_404_to_charlie_even_with_a_link(client, copy, sam):
    charlie = factories.member(
        factories.organization("Globex"), "charlie@globex.example", Role.SECURITY
    )
    token = download_token_make(copy=copy, user=charlie)
    signed_in(client, charlie)

    assert client.get(url("download", copy, token=token)).status_code == 404
    assert client.post(url("link", copy)).status_code == 404
    copy.refresh_from_db()
    assert copy.download_count == 0
