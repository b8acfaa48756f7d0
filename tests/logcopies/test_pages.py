"""The account's log-copy pages and the operator's queue: requesting, deciding,
auto-approval, progress and retry. Downloads are in test_download.py."""

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.logcopies.models import LogCopyRequest
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = pytest.mark.django_db
Status = LogCopyRequest.Status


@pytest.fixture
def acme():
    return factories.organization("Acme Corp", time_zone="America/New_York")


@pytest.fixture
def breach(acme):
    incident = factories.incident(title="Telephony provider breach")
    factories.exposure(incident, acme, phone="+12125550143")
    factories.log_record(incident, acme, phone="+12125550143")
    factories.log_record(incident, acme, phone="+447700900123")
    return incident


@pytest.fixture
def ops():
    return factories.staff()


def url(name, acme, copy=None):
    kwargs = {"org": acme.public_id}
    if copy is not None:
        kwargs["copy"] = copy.public_id
    return reverse(f"logcopies:{name}", kwargs=kwargs)


def op_url(name, copy):
    return reverse(f"operator_logcopies:{name}", kwargs={"copy": copy.public_id})


def a_copy(acme, breach, requester, **fields):
    values = {"reason": "Our SOC needs the rows", "requested_by": requester}
    return LogCopyRequest.objects.create(organization=acme, incident=breach, **{**values, **fields})


def form(breach, **fields):
    return {
        "incident": str(breach.public_id),
        "scope": "account",
        "format": "csv",
        "reason": "Our SOC needs the rows",
        **fields,
    }


# Requesting ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["sam", "bob"])
def test_it_creates_a_request_as_security_staff_or_an_admin(client, request, acme, breach, who):
    person = request.getfixturevalue(who)
    signed_in(client, person)

    response = client.post(url("request", acme), form(breach, format="jsonl"))

    copy = LogCopyRequest.objects.get()
    assert response.status_code == 302
    assert response.url == url("detail", acme, copy)
    assert (copy.requested_by, copy.incident, copy.scope, copy.format, copy.status) == (
        person,
        breach,
        "account",
        "jsonl",
        Status.REQUESTED,
    )
    assert AuditEvent.objects.filter(action="logcopy.request", actor=person).exists()


def test_it_shows_the_form_with_the_accounts_incidents_only(client, acme, breach, sam):
    other = factories.incident(title="Someone else's breach")
    signed_in(client, sam)

    response = client.get(url("request", acme))

    assert response.status_code == 200
    assert b"Telephony provider breach" in response.content
    assert b"Someone else&#x27;s breach" not in response.content
    assert 'type="datetime-local"' in response.content.decode()

    refused = client.post(url("request", acme), form(other))
    assert refused.status_code == 400
    assert not LogCopyRequest.objects.exists()


def test_it_reads_the_date_range_in_the_accounts_time_zone(client, acme, breach, sam):
    signed_in(client, sam)

    client.post(
        url("request", acme),
        form(
            breach, scope="date_range", scope_start="2024-03-02T09:00", scope_end="2024-03-03T09:00"
        ),
    )

    copy = LogCopyRequest.objects.get()
    # 9:00 in New York in March (EST, before the switch on the 10th) is 14:00 UTC.
    assert copy.scope_start == datetime(2024, 3, 2, 14, 0, tzinfo=UTC)
    assert copy.scope_end == datetime(2024, 3, 3, 14, 0, tzinfo=UTC)


def test_it_refuses_a_range_that_ends_before_it_starts(client, acme, breach, sam):
    signed_in(client, sam)

    response = client.post(
        url("request", acme),
        form(
            breach, scope="date_range", scope_start="2024-03-03T09:00", scope_end="2024-03-02T09:00"
        ),
    )

    assert response.status_code == 400
    assert b"The end must come after the start." in response.content
    assert not LogCopyRequest.objects.exists()


def test_it_resolves_usernames_to_their_directory_phones(client, acme, breach, sam):
    factories.directory_user(acme, "jdoe", phones=["+12125550143", "+12125550100"])
    signed_in(client, sam)

    client.post(url("request", acme), form(breach, scope="chosen", chosen="jdoe\n+447700900123"))

    copy = LogCopyRequest.objects.get()
    assert sorted(copy.scope_phones) == ["+12125550100", "+12125550143", "+447700900123"]


def test_it_names_the_usernames_it_does_not_know(client, acme, breach, sam):
    globex = factories.organization("Globex")
    factories.directory_user(globex, "elsewhere")
    signed_in(client, sam)

    response = client.post(
        url("request", acme), form(breach, scope="chosen", chosen="nobody, elsewhere")
    )

    assert response.status_code == 400
    assert b"Not in your directory: elsewhere, nobody" in response.content
    assert not LogCopyRequest.objects.exists()


def test_it_requires_a_reason(client, acme, breach, sam):
    signed_in(client, sam)

    response = client.post(url("request", acme), form(breach, reason=""))

    assert response.status_code == 400
    assert not LogCopyRequest.objects.exists()


def test_it_refuses_the_request_form_to_a_viewer(client, acme, breach, vera):
    signed_in(client, vera)

    assert client.get(url("request", acme)).status_code == 403
    assert client.post(url("request", acme), form(breach)).status_code == 403
    assert client.get(url("list", acme)).status_code == 403
    assert not LogCopyRequest.objects.exists()


# Listing and the copy's page ----------------------------------------------------


def test_it_lists_the_accounts_copies_in_few_queries(
    client, acme, breach, sam, bob, django_assert_max_num_queries
):
    for n in range(5):
        a_copy(
            acme, breach, sam if n % 2 else bob, status=Status.READY, sha256=f"{n}" * 64, size=10
        )
    a_copy(factories.organization("Globex"), breach, None, reason="not ours")
    signed_in(client, sam)
    client.get(url("list", acme))  # the session's first request records it: not ours

    # Session, user, user sessions, factor, memberships (gate, account switcher), count,
    # rows: twelve whatever the number of copies, none per copy.
    with django_assert_max_num_queries(12):
        response = client.get(url("list", acme))

    assert response.status_code == 200
    assert response.content.count(b"data-copy=") == 5
    assert b"not ours" not in response.content
    assert b"Request a copy" in response.content
    assert b"333333333333\xe2\x80\xa6" in response.content  # shortened


@pytest.mark.parametrize(
    ("statuses", "every"),
    [
        ([Status.READY, Status.GENERATING], "2s"),
        ([Status.READY, Status.APPROVED, Status.REQUESTED], "2s"),
        ([Status.REJECTED, Status.REQUESTED], "5s"),
    ],
)
def test_the_list_polls_while_a_copy_on_it_is_not_final(client, acme, breach, sam, statuses, every):
    """Issue 15 point 4: the list showed "Requested" until reloaded, while the copy's
    own page followed the operator and the worker."""
    for status in statuses:
        a_copy(acme, breach, sam, status=status)
    signed_in(client, sam)

    html = client.get(url("list", acme)).content.decode()

    assert (
        f'<div id="copies-live" class="card" hx-get="{url("list", acme)}" '
        f'hx-trigger="every {every}" hx-select="#copies-live" hx-swap="outerHTML">'
    ) in html


def test_the_list_stops_polling_once_every_copy_is_final(client, acme, breach, sam):
    for status in (Status.READY, Status.REJECTED, Status.EXPIRED, Status.FAILED):
        a_copy(acme, breach, sam, status=status)
    signed_in(client, sam)

    html = client.get(url("list", acme)).content.decode()

    assert 'id="copies-live"' in html
    assert "hx-trigger" not in html


def test_it_links_log_copies_from_the_account_home_for_those_who_may(client, acme, sam, vera):
    signed_in(client, sam)
    assert url("list", acme).encode() in client.get(f"/o/{acme.public_id}/").content
    signed_in(client, vera)
    assert url("list", acme).encode() not in client.get(f"/o/{acme.public_id}/").content


def test_it_polls_progress_while_the_copy_is_generated(client, acme, breach, sam):
    copy = a_copy(acme, breach, sam, status=Status.GENERATING, progress_rows=250, total_rows=1000)
    signed_in(client, sam)

    page = client.get(url("detail", acme, copy)).content.decode()
    partial = client.get(url("progress", acme, copy)).content.decode()

    for html in (page, partial):
        assert f'hx-get="{url("progress", acme, copy)}"' in html
        assert 'hx-trigger="every 2s"' in html
        assert 'value="25"' in html
        assert " style=" not in html
    assert "<html" not in partial


def test_it_polls_while_the_copy_waits_for_the_operator(client, acme, breach, sam):
    """Issue 15 point 4: the approval comes from the operator's browser; the requester's
    page showed "Waiting for the operator" until reloaded."""
    copy = a_copy(acme, breach, sam, status=Status.REQUESTED)
    signed_in(client, sam)

    page = client.get(url("detail", acme, copy)).content.decode()
    partial = client.get(url("progress", acme, copy)).content.decode()

    for html in (page, partial):
        assert f'hx-get="{url("progress", acme, copy)}"' in html
        assert 'hx-trigger="every 5s"' in html
        assert "Waiting for the operator to approve it." in html
        assert "This page updates by itself when they decide." in html
    # The decision beside it is in the partial too, so it changes with the status.
    assert 'id="decision-heading"' in partial
    assert "<html" not in partial


@pytest.mark.parametrize("status", [Status.REJECTED, Status.EXPIRED, Status.FAILED])
def test_it_does_not_poll_a_copy_in_a_final_state(client, acme, breach, sam, status):
    copy = a_copy(acme, breach, sam, status=status)
    signed_in(client, sam)

    assert "hx-trigger" not in client.get(url("detail", acme, copy)).content.decode()


def test_it_stops_polling_once_the_copy_is_ready(client, acme, breach, sam):
    copy = a_copy(acme, breach, sam, status=Status.READY, sha256="ab" * 32, rows=2, size=100)
    signed_in(client, sam)

    partial = client.get(url("progress", acme, copy)).content.decode()

    assert "hx-trigger" not in partial
    assert "ab" * 32 in partial
    assert url("link", acme, copy) in partial


def test_it_shows_a_failure_and_retries_it(
    client, acme, breach, sam, media_root, django_capture_on_commit_callbacks
):
    copy = a_copy(acme, breach, sam, status=Status.FAILED, failure="The disk was full.")
    signed_in(client, sam)

    page = client.get(url("detail", acme, copy)).content.decode()
    assert "The disk was full." in page
    assert url("retry", acme, copy) in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("retry", acme, copy))

    assert response.status_code == 302
    copy.refresh_from_db()
    # The generation runs eagerly in tests.
    assert copy.status == Status.READY
    assert copy.rows == 2


def test_a_failure_the_worker_wrote_is_read_in_the_members_language(
    client, settings, acme, breach, sam, media_root, django_capture_on_commit_callbacks
):
    from portal.logcopies.services import logcopy_generate

    settings.LOGCOPY_SIGNING_KEY = settings.LOGCOPY_SIGNING_KEY_FILE = ""
    settings.LOGCOPY_SIGNING_KEY_GENERATE = False
    sam.language = "fr"
    sam.save(update_fields=["language"])
    factories.log_record(breach, acme)
    copy = a_copy(acme, breach, sam, status=Status.APPROVED)
    with django_capture_on_commit_callbacks(execute=True):
        logcopy_generate(copy=copy)  # as the worker runs it: in no one's language
    copy.refresh_from_db()
    signed_in(client, sam)

    page = client.get(url("detail", acme, copy)).content.decode()

    assert copy.status == Status.FAILED
    assert "qui signe les copies n" in page
    assert "signs copies" not in page
    assert "qui signe les copies n" in mail.outbox[-1].body
    # What machines read stays as written: the API's failure and the audit event.
    assert copy.failure.startswith("The operator's key that signs copies is not set up")
    event = AuditEvent.objects.get(action="logcopy.fail")
    assert event.details["failure"] == copy.failure


def test_it_says_an_expired_copy_expired(client, acme, breach, sam):
    copy = a_copy(acme, breach, sam, status=Status.EXPIRED, sha256="ab" * 32, rows=2, size=100)
    signed_in(client, sam)

    response = client.get(url("detail", acme, copy))

    assert b"This copy expired" in response.content
    assert url("link", acme, copy).encode() not in response.content


def test_it_answers_404_to_charlie_on_every_page(client, acme, breach, sam, charlie):
    copy = a_copy(acme, breach, sam, status=Status.FAILED)
    signed_in(client, charlie)

    for name in ("list", "request"):
        assert client.get(url(name, acme)).status_code == 404
    for name in ("detail", "progress"):
        assert client.get(url(name, acme, copy)).status_code == 404
    for name in ("retry", "link"):
        assert client.post(url(name, acme, copy)).status_code == 404
    assert client.post(url("request", acme), form(breach)).status_code == 404
    copy.refresh_from_db()
    assert copy.status == Status.FAILED


# The operator's queue -----------------------------------------------------------


def test_it_lists_waiting_requests_oldest_first(client, acme, breach, sam, ops):
    first = a_copy(acme, breach, sam, reason="first")
    second = a_copy(acme, breach, sam, reason="second")
    LogCopyRequest.objects.filter(pk=first.pk).update(created_at=datetime(2024, 4, 1, tzinfo=UTC))
    signed_in(client, ops)

    html = client.get(reverse("operator_logcopies:queue")).content.decode()

    assert html.index(str(first.public_id)) < html.index(str(second.public_id))
    assert "sam@acme.example" in html
    assert "Acme Corp" in html


def test_it_approves_with_a_reason_and_emails_the_requester(
    client, acme, breach, sam, ops, media_root, django_capture_on_commit_callbacks
):
    copy = a_copy(acme, breach, sam)
    signed_in(client, ops)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(op_url("approve", copy), {"approve-reason": "Case 4711"})

    assert response.status_code == 302
    copy.refresh_from_db()
    assert (copy.decided_by, copy.decision_reason) == (ops, "Case 4711")
    assert copy.status == Status.READY  # generated eagerly
    assert mail.outbox
    assert all(message.to == ["sam@acme.example"] for message in mail.outbox)


def test_it_requires_a_reason_to_reject(client, acme, breach, sam, ops):
    copy = a_copy(acme, breach, sam)
    signed_in(client, ops)

    response = client.post(op_url("reject", copy), {"reject-reason": " "})

    assert response.status_code == 400
    assert b"Say why" in response.content
    copy.refresh_from_db()
    assert copy.status == Status.REQUESTED


def test_it_rejects_with_a_reason_and_emails_the_requester(
    client, acme, breach, sam, ops, django_capture_on_commit_callbacks
):
    copy = a_copy(acme, breach, sam)
    signed_in(client, ops)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(op_url("reject", copy), {"reject-reason": "Ask your account manager"})

    copy.refresh_from_db()
    assert (copy.status, copy.decision_reason) == (Status.REJECTED, "Ask your account manager")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sam@acme.example"]
    page = client.get(op_url("detail", copy)).content.decode()
    assert "Ask your account manager" in page


def test_it_approves_automatically_under_the_accounts_policy(
    client, acme, breach, sam, ops, media_root, django_capture_on_commit_callbacks
):
    signed_in(client, ops)
    response = client.post(
        reverse("operator_logcopies:policy", kwargs={"org": acme.public_id}),
        {"auto_approve": "on"},
    )
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.log_copy_auto_approve
    event = AuditEvent.objects.get(action="logcopy.policy")
    assert event.details == {"auto_approve": True}
    assert b'data-policy="auto"' in client.get(reverse("operator_logcopies:queue")).content

    signed_in(client, sam)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("request", acme), form(breach))

    copy = LogCopyRequest.objects.get()
    assert copy.status == Status.READY
    assert copy.decided_by is None


def test_it_hides_the_operator_pages_from_members(client, acme, breach, sam, alice):
    copy = a_copy(acme, breach, sam)
    for person in (sam, alice):
        signed_in(client, person)
        assert client.get(reverse("operator_logcopies:queue")).status_code == 404
        assert client.get(op_url("detail", copy)).status_code == 404
        assert client.post(op_url("approve", copy)).status_code == 404
    copy.refresh_from_db()
    assert copy.status == Status.REQUESTED
