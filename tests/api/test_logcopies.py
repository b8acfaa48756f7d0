"""Log copies through the API: a request checked and audited as the page's form does,
the account's list and one copy's status, and the download through a link signed for
one copy and one key, good for five minutes.

Acme has a published incident with an exposure (so its members may ask for its rows);
Globex is another account, whose copies are a 404 to Acme's keys.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.utils import timezone

from portal.accounts.models import ApiKey
from portal.accounts.roles import Capability, Role
from portal.audit.models import AuditEvent
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.signing import download_token_make
from tests import factories
from tests.api.conftest import API

pytestmark = pytest.mark.django_db
Status = LogCopyRequest.Status
CONTENT = b"PK zip bytes of the copy " * 5000


@pytest.fixture
def breach(acme):
    incident = factories.incident(title="March 2024 SMS logs")
    factories.exposure(incident, acme)
    return incident


def a_copy(organization, incident, **fields) -> LogCopyRequest:
    values = {
        "organization": organization,
        "incident": incident,
        "reason": "Our SOC needs the rows",
    }
    return LogCopyRequest.objects.create(**{**values, **fields})


@pytest.fixture
def ready(acme, breach, sam, media_root):
    copy = a_copy(
        acme,
        breach,
        requested_by=sam,
        status=Status.READY,
        rows=3,
        size=len(CONTENT),
        sha256=hashlib.sha256(CONTENT).hexdigest(),
        files=[{"name": "messages.csv", "size": 120, "sha256": "ab" * 32}],
        key_fingerprint="SHA256:6Zr0y2mVt0kq",
        generated_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=7),
    )
    copy.file.save("copy.zip", ContentFile(CONTENT), save=True)
    return copy


def ask(api_client, key, **body):
    return api_client(key).post(f"{API}/logcopies", body, content_type="application/json")


# Requests -----------------------------------------------------------------------------


def test_it_records_a_request_for_the_keys_maker_and_audits_it(
    acme, breach, alice, api_key, api_client
):
    key = api_key(acme, Role.SECURITY, by=alice, name="SOC script")

    response = ask(api_client, key, incident=str(breach.public_id), reason="Our SOC needs it")

    assert response.status_code == 201, response.content
    copy = LogCopyRequest.objects.get()
    assert (copy.organization, copy.incident, copy.requested_by) == (acme, breach, alice)
    assert (copy.scope, copy.format, copy.status) == ("account", "csv", Status.REQUESTED)
    body = response.json()
    assert body["id"] == str(copy.public_id)
    assert body["status"] == "requested"
    assert body["incident"] == {
        "id": str(breach.public_id),
        "slug": breach.slug,
        "title": "March 2024 SMS logs",
    }
    assert body["requested_by"] == "alice@acme.example"
    request_event = AuditEvent.objects.get(action="logcopy.request")
    assert request_event.actor == alice
    assert request_event.target_id == str(copy.public_id)
    assert (
        request_event.details["through"]
        == f"API key SOC script ({ApiKey.objects.get(name='SOC script').prefix})"
    )
    call = AuditEvent.objects.get(action="api.call")
    assert "SOC script" in call.actor_label
    assert call.details["status"] == 201


def test_it_reads_a_date_range_with_its_offset_and_keeps_it_in_utc(
    acme, breach, api_key, api_client
):
    response = ask(
        api_client,
        api_key(acme, Role.SECURITY),
        incident=str(breach.public_id),
        scope="date_range",
        scope_start="2024-03-10T09:00:00+01:00",
        scope_end="2024-03-12T09:00:00+01:00",
        reason="The week of the phishing wave",
    )

    assert response.status_code == 201, response.content
    copy = LogCopyRequest.objects.get()
    assert copy.scope_start == datetime(2024, 3, 10, 8, 0, tzinfo=UTC)
    assert copy.scope_end == datetime(2024, 3, 12, 8, 0, tzinfo=UTC)
    assert response.json()["scope_start"].startswith("2024-03-10T08:00:00")


def test_it_takes_phones_and_directory_usernames_for_a_chosen_scope(
    acme, breach, api_key, api_client
):
    factories.directory_user(acme, "jdoe", phones=["+12125550143", "+33612345678"])

    response = ask(
        api_client,
        api_key(acme, Role.SECURITY),
        incident=str(breach.public_id),
        scope="chosen",
        chosen=["+1 212 555 0100", "jdoe"],
        reason="Two people who were phished",
    )

    assert response.status_code == 201, response.content
    copy = LogCopyRequest.objects.get()
    assert sorted(copy.scope_phones) == ["+12125550100", "+12125550143", "+33612345678"]
    assert response.json()["phones"] == 3


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"scope": "date_range", "scope_start": "2024-03-10T00:00:00Z"}, "scope_end", "end"),
        (
            {
                "scope": "date_range",
                "scope_start": "2024-05-01T00:00:00Z",
                "scope_end": "2024-05-02T00:00:00Z",
            },
            None,
            "exposure window",
        ),
        ({"scope": "chosen", "chosen": ["nobody-here"]}, "chosen", "Not in your directory"),
        ({"scope": "chosen"}, "chosen", "at least one"),
        ({"reason": "   "}, "reason", "required"),
    ],
)
def test_it_refuses_what_the_form_refuses_and_says_where(
    acme, breach, api_key, api_client, body, field, words
):
    values = {"incident": str(breach.public_id), "reason": "Our SOC needs it", **body}

    response = ask(api_client, api_key(acme, Role.SECURITY), **values)

    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert any(
        words in error["msg"] and error["loc"][-1] == (field or "copy_request")
        for error in problem["errors"]
    ), problem
    assert words in problem["detail"]
    assert not LogCopyRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="logcopy.request").exists()


def test_it_refuses_an_incident_the_account_has_no_exposure_in(acme, api_key, api_client):
    elsewhere = factories.incident()
    factories.exposure(elsewhere, factories.organization("Globex"))

    response = ask(
        api_client, api_key(acme, Role.SECURITY), incident=str(elsewhere.public_id), reason="x"
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "copy_request", "incident"]
    assert not LogCopyRequest.objects.exists()


def test_it_refuses_a_request_to_a_key_without_the_capability(acme, breach, api_key, api_client):
    key = api_key(acme, [Capability.VIEW_DASHBOARD, Capability.DOWNLOAD_LOG_COPY])

    response = ask(api_client, key, incident=str(breach.public_id), reason="Our SOC")

    assert response.status_code == 403
    assert not LogCopyRequest.objects.exists()


def test_it_approves_at_once_when_the_accounts_policy_says_so(acme, breach, api_key, api_client):
    acme.log_copy_auto_approve = True
    acme.save(update_fields=["log_copy_auto_approve"])

    response = ask(
        api_client, api_key(acme, Role.ADMIN), incident=str(breach.public_id), reason="Our SOC"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "approved"
    assert LogCopyRequest.objects.get().status == Status.APPROVED
    assert AuditEvent.objects.filter(action="logcopy.approve").exists()


@pytest.mark.parametrize("format", ["csv", "jsonl", "duo"])
def test_it_records_the_format_asked_for(acme, breach, api_key, api_client, format):
    response = ask(
        api_client,
        api_key(acme, Role.SECURITY),
        incident=str(breach.public_id),
        format=format,
        reason="For our SIEM",
    )

    assert response.status_code == 201
    assert LogCopyRequest.objects.get().format == format
    assert response.json()["format"] == format
    assert AuditEvent.objects.get(action="logcopy.request").details["format"] == format


def test_it_refuses_a_format_it_does_not_make(acme, breach, api_key, api_client):
    response = ask(
        api_client,
        api_key(acme, Role.SECURITY),
        incident=str(breach.public_id),
        format="xlsx",
        reason="For our SIEM",
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "format"
    assert not LogCopyRequest.objects.exists()


# Reading ------------------------------------------------------------------------------


def test_a_ready_copy_says_what_to_check_the_download_against(acme, ready, api_key, api_client):
    body = api_client(api_key(acme, Role.SECURITY)).get(f"{API}/logcopies/{ready.public_id}").json()

    assert body["status"] == "ready"
    assert body["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert body["size"] == len(CONTENT)
    assert body["files"] == [{"name": "messages.csv", "size": 120, "sha256": "ab" * 32}]
    assert body["key_fingerprint"] == "SHA256:6Zr0y2mVt0kq"


def test_it_lists_the_accounts_copies_newest_first_a_page_at_a_time(
    acme, globex, breach, api_key, api_client
):
    older = a_copy(acme, breach)
    newer = a_copy(acme, breach)
    a_copy(globex, breach)
    client = api_client(api_key(acme, Role.ADMIN))

    first = client.get(f"{API}/logcopies", {"limit": 1}).json()
    second = client.get(f"{API}/logcopies", {"limit": 1, "cursor": first["next_cursor"]}).json()

    assert [item["id"] for item in first["items"]] == [str(newer.public_id)]
    assert [item["id"] for item in second["items"]] == [str(older.public_id)]
    assert second["next_cursor"] is None


def test_it_shows_a_copys_progress(acme, breach, api_key, api_client):
    copy = a_copy(acme, breach, status=Status.GENERATING, progress_rows=250, total_rows=1000)

    body = api_client(api_key(acme, Role.SECURITY)).get(f"{API}/logcopies/{copy.public_id}").json()

    assert (body["status"], body["percent"], body["progress_rows"]) == ("generating", 25, 250)


@pytest.mark.parametrize(
    ("capabilities", "status"),
    [
        ([Capability.REQUEST_LOG_COPY], 200),
        ([Capability.DOWNLOAD_LOG_COPY], 200),
        ([Capability.VIEW_DASHBOARD], 403),
    ],
)
def test_it_shows_copies_to_keys_that_request_or_download_them(
    acme, breach, api_key, api_client, capabilities, status
):
    copy = a_copy(acme, breach)
    client = api_client(api_key(acme, capabilities))

    assert client.get(f"{API}/logcopies").status_code == status
    assert client.get(f"{API}/logcopies/{copy.public_id}").status_code == status


def test_another_accounts_copy_is_not_found(globex, breach, ready, api_key, api_client):
    client = api_client(api_key(globex))

    for response in (
        client.get(f"{API}/logcopies/{ready.public_id}"),
        client.post(f"{API}/logcopies/{ready.public_id}/link"),
        client.get(f"{API}/logcopies/{ready.public_id}/download/anything"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
    ready.refresh_from_db()
    assert ready.download_count == 0


# Downloads ----------------------------------------------------------------------------


def test_it_downloads_through_a_link_that_lives_five_minutes(
    acme, ready, alice, api_key, api_client
):
    client = api_client(api_key(acme, Role.SECURITY, by=alice, name="SIEM"))

    link = client.post(f"{API}/logcopies/{ready.public_id}/link")

    assert link.status_code == 200
    body = link.json()
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=4) < expires_at - timezone.now() <= timedelta(minutes=5)
    url = urlsplit(body["url"])
    assert url.scheme == "http"
    assert url.path.startswith(f"{API}/logcopies/{ready.public_id}/download/")

    response = client.get(url.path)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == CONTENT
    ready.refresh_from_db()
    assert ready.download_count == 1
    event = AuditEvent.objects.get(action="logcopy.download")
    assert event.actor == alice
    assert event.details["sha256"] == ready.sha256
    key = AuditEvent.objects.filter(action="api.call").first().actor_label
    assert event.details["through"] == key  # which key, not only whose
    calls = AuditEvent.objects.filter(action="api.call").order_by("id")
    assert [call.details["operation"] for call in calls] == ["logcopy_link", "logcopy_download"]


def test_a_link_is_dead_after_five_minutes(acme, ready, api_key, api_client):
    client = api_client(api_key(acme, Role.SECURITY))
    path = urlsplit(client.post(f"{API}/logcopies/{ready.public_id}/link").json()["url"]).path

    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        response = client.get(path)

    assert response.status_code == 410
    assert "five minutes" in response.json()["detail"]
    ready.refresh_from_db()
    assert ready.download_count == 0


def test_a_link_opens_only_with_a_key_that_may_download_the_copy(
    acme, globex, ready, api_key, api_client
):
    maker = api_client(api_key(acme, Role.SECURITY, name="one"))
    path = urlsplit(maker.post(f"{API}/logcopies/{ready.public_id}/link").json()["url"]).path

    assert api_client().get(path).status_code == 401
    assert api_client(api_key(acme, Role.ADMIN)).get(path).status_code == 403
    assert api_client(api_key(globex)).get(path).status_code == 404
    ready.refresh_from_db()
    assert ready.download_count == 0
    # Another key of the account that may download: the link is no credential, the key is.
    assert api_client(api_key(acme, Role.OWNER, name="two")).get(path).status_code == 200


def test_a_link_names_one_copy(acme, breach, ready, api_key, api_client, media_root):
    other = a_copy(acme, breach, status=Status.READY, expires_at=ready.expires_at)
    other.file.save("other.zip", ContentFile(b"PK other"), save=True)
    client = api_client(api_key(acme, Role.SECURITY))
    path = urlsplit(client.post(f"{API}/logcopies/{ready.public_id}/link").json()["url"]).path

    response = client.get(path.replace(str(ready.public_id), str(other.public_id)))

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="logcopy.download").exists()


def test_a_members_page_link_does_not_open_through_the_api(acme, ready, sam, api_key, api_client):
    token = download_token_make(copy=ready, user=sam)

    response = api_client(api_key(acme, Role.SECURITY, by=sam)).get(
        f"{API}/logcopies/{ready.public_id}/download/{token}"
    )

    assert response.status_code == 403


def test_a_key_that_cannot_download_gets_no_link(acme, ready, api_key, api_client):
    # Admins request copies; downloading them is security staff's and owners'.
    response = api_client(api_key(acme, Role.ADMIN)).post(f"{API}/logcopies/{ready.public_id}/link")

    assert response.status_code == 403


@pytest.mark.parametrize("status", [Status.REQUESTED, Status.GENERATING, Status.EXPIRED])
def test_only_a_ready_copy_gets_a_link(acme, breach, api_key, api_client, status):
    copy = a_copy(acme, breach, status=status)

    response = api_client(api_key(acme, Role.SECURITY)).post(
        f"{API}/logcopies/{copy.public_id}/link"
    )

    assert response.status_code == 409
    assert str(status) in response.json()["detail"]


def test_a_link_to_a_copy_that_expired_since_is_gone(acme, ready, api_key, api_client):
    client = api_client(api_key(acme, Role.SECURITY))
    path = urlsplit(client.post(f"{API}/logcopies/{ready.public_id}/link").json()["url"]).path
    LogCopyRequest.objects.filter(pk=ready.pk).update(status=Status.EXPIRED)

    response = client.get(path)

    assert response.status_code == 410
    assert not AuditEvent.objects.filter(action="logcopy.download").exists()
