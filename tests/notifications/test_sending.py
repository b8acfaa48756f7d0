"""Sending: claimed batches go over one SMTP connection to a real (local) server, each
result is recorded, transient errors retry with backoff and permanent ones fail once."""

import email
import email.policy
import logging
import smtplib
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from notifications.delivery import dispatch, sending
from notifications.models import Delivery, NoticeCampaign
from notifications.notice_templates.rendering import message_id_for
from portal.incidents.exposures.selectors import exposure_summary
from portal.incidents.models import Exposure
from tests.notifications.engine_world import campaign_world
from tests.notifications.smtp_sink import SmtpSink, refuse, transient_then_accept

pytestmark = pytest.mark.django_db

Status = Delivery.Status


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Dispatch what is due and run the senders it queues (eagerly)."""

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.campaigns_dispatch_due()

    return run


def again(campaign):
    """Another sender's turn on the campaign (what a successor task would do)."""
    sending.campaign_send(campaign_id=campaign.pk)
    campaign.refresh_from_db()


def make_due(campaign):
    Delivery.objects.filter(campaign=campaign, status=Status.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_it_sends_every_notice_with_the_message_id_of_its_delivery(sink, send):
    world = campaign_world(5, without_email=1)

    send()

    campaign = NoticeCampaign.objects.get()
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert (campaign.sent_count, campaign.failed_count, campaign.skipped_count) == (4, 0, 1)
    assert campaign.completed_at is not None
    assert campaign.progress_at is not None
    sent = Delivery.objects.filter(campaign=world.campaign, status=Status.SENT).order_by("pk")
    assert [d.message_id for d in sent] == [message_id_for(d.pk) for d in sent]
    assert sorted(sink.message_ids) == sorted(d.message_id for d in sent)
    assert all(d.attempts == 1 and d.sent_at for d in sent)


def test_it_renders_each_notice_for_its_recipient_in_their_language(sink, send):
    world = campaign_world(2)

    send()

    by_recipient = {}
    for raw in sink.messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        by_recipient[message["To"]] = message
    english = by_recipient["jdoe-0000@acme.example"]
    assert english["Subject"] == "March 2024 SMS logs: be vigilant"
    assert english["Reply-To"] == "security@acme.example"
    text = english.get_body(("plain",)).get_content()
    assert "Hello Jane Doe 0," in text
    assert "4 messages to your phone ending 0000" in text
    token = Delivery.objects.get(directory_user=world.users[0]).report_token
    assert f"/report/{token}/" in text
    assert english.get_body(("html",)) is not None
    french = by_recipient["jdoe-0001@acme.example"]
    assert french["Subject"] == "March 2024 SMS logs : restez vigilant"


def test_it_sends_a_batch_over_one_connection(sink, send):
    campaign_world(250)

    send()

    assert len(sink.message_ids) == 250
    # Batches of 100: three connections, not 250.
    assert sink.sessions == 3
    assert NoticeCampaign.objects.get().sent_count == 250


def test_it_stamps_every_exposure_of_a_person_notified(sink, send):
    world = campaign_world(2, without_email=1)
    before = timezone.now()

    send()

    notified = Exposure.objects.filter(directory_user=world.users[0])
    assert notified.count() == 2
    assert all(e.last_notified_at and e.last_notified_at >= before for e in notified)
    assert Exposure.objects.get(directory_user=world.users[1]).last_notified_at is None


def test_the_dashboard_counts_the_people_it_notified(sink, send):
    world = campaign_world(2, without_email=1)

    send()

    # The dashboard reads the rollup, which the sender refreshes as it stamps.
    summary = exposure_summary(world.organization, world.incident)
    assert summary.total("notified") == 2  # the first person's two phones
    assert summary.total("matched") == 3


def test_it_retries_a_transient_refusal_with_backoff_and_then_sends(sink, send, settings):
    settings.NOTICE_RETRY_SECONDS = 60
    sink.rcpt_answer = transient_then_accept(times=2)
    world = campaign_world(3)

    send()

    campaign = NoticeCampaign.objects.get()
    assert campaign.status == NoticeCampaign.Status.SENDING
    pending = Delivery.objects.filter(campaign=campaign)
    assert {d.status for d in pending} == {Status.PENDING}
    first = pending.first()
    assert first.attempts == 1
    assert first.last_error.startswith("451 ")
    wait = (first.next_attempt_at - timezone.now()).total_seconds()
    assert 50 < wait <= 60
    # Not due yet: nothing is sent again before the backoff.
    again(campaign)
    assert sink.offered["jdoe-0000@acme.example"] == 1

    make_due(campaign)
    again(campaign)
    first.refresh_from_db()
    assert first.attempts == 2
    assert 110 < (first.next_attempt_at - timezone.now()).total_seconds() <= 120

    make_due(campaign)
    again(campaign)
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert campaign.sent_count == 3
    assert {d.attempts for d in Delivery.objects.filter(campaign=world.campaign)} == {3}
    assert len(sink.message_ids) == 3


def test_it_fails_a_permanent_refusal_once_without_retrying(sink, send):
    sink.rcpt_answer = refuse({"jdoe-0001@acme.example"})
    world = campaign_world(3)

    send()

    campaign = NoticeCampaign.objects.get()
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert (campaign.sent_count, campaign.failed_count) == (2, 1)
    failed = Delivery.objects.get(directory_user=world.users[1])
    assert failed.status == Status.FAILED
    assert failed.attempts == 1
    assert failed.last_error.startswith("550 5.1.1")
    assert failed.next_attempt_at is None
    again(campaign)
    assert sink.offered["jdoe-0001@acme.example"] == 1
    assert Exposure.objects.get(directory_user=world.users[1]).last_notified_at is None


def test_it_fails_an_address_that_cannot_be_written_at_once(sink, send):
    world = campaign_world(2)
    world.users[0].email = "jdoe@exa mple..com"
    world.users[0].save(update_fields=["email"])

    send()

    failed = Delivery.objects.get(directory_user=world.users[0])
    assert failed.status == Status.FAILED
    assert failed.attempts == 1
    assert failed.last_error.startswith("Invalid address")
    assert NoticeCampaign.objects.get().sent_count == 1


def test_it_fails_for_good_after_the_last_attempt(sink, send, settings):
    settings.NOTICE_MAX_ATTEMPTS = 3
    sink.rcpt_answer = transient_then_accept(times=99)
    campaign_world(1)

    send()
    campaign = NoticeCampaign.objects.get()
    for _ in range(2):
        make_due(campaign)
        again(campaign)

    delivery = Delivery.objects.get()
    assert delivery.status == Status.FAILED
    assert delivery.attempts == 3
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert campaign.failed_count == 1
    assert sink.offered["jdoe-0000@acme.example"] == 3


def test_it_retries_when_the_server_does_not_answer(settings, send):
    port = SmtpSink().port  # nothing listens there
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
        }
    }
    campaign_world(2)

    send()

    deliveries = Delivery.objects.all()
    assert {d.status for d in deliveries} == {Status.PENDING}
    assert {d.attempts for d in deliveries} == {1}
    assert all(d.last_error.startswith("Could not reach the mail server") for d in deliveries)
    assert all(d.next_attempt_at > timezone.now() for d in deliveries)


def test_it_sends_again_on_a_new_connection_after_the_server_drops_it(sink, send):
    # 421 closes the connection: the next message needs a new one.
    sink.rcpt_answer = lambda address, seen: (
        "421 4.3.2 Shutting down" if address.startswith("jdoe-0001") and seen == 0 else None
    )
    world = campaign_world(3)

    send()

    statuses = dict(Delivery.objects.values_list("directory_user_id", "status"))
    assert statuses[world.users[1].pk] == Status.PENDING
    assert statuses[world.users[0].pk] == statuses[world.users[2].pk] == Status.SENT
    assert sink.sessions == 2


def test_it_honours_the_accounts_rate_per_minute(sink, send):
    world = campaign_world(300, rate=150)

    send()

    campaign = NoticeCampaign.objects.get()
    assert campaign.sent_count == 150
    assert Delivery.objects.filter(status=Status.PENDING).count() == 150
    claim = sending.deliveries_claim(campaign_id=campaign.pk)
    assert claim.deliveries == []
    assert 0 < claim.wait <= 60

    # A minute later the allowance is back.
    Delivery.objects.filter(campaign=world.campaign).update(
        claimed_at=timezone.now() - timedelta(seconds=61)
    )
    again(campaign)
    assert campaign.status == NoticeCampaign.Status.COMPLETED
    assert len(sink.message_ids) == 300


def test_it_shares_the_rate_between_the_campaigns_of_an_account(sink, send):
    world = campaign_world(100, rate=150)
    second = NoticeCampaign.objects.create(
        organization=world.organization,
        incident=world.incident,
        template_snapshot=world.campaign.template_snapshot,
        contact_snapshot=world.campaign.contact_snapshot,
        audience=NoticeCampaign.Audience.ALL_MATCHED,
        status=NoticeCampaign.Status.SCHEDULED,
        scheduled_at=timezone.now(),
    )

    send()

    assert Delivery.objects.filter(status=Status.SENT).count() == 150
    assert Delivery.objects.filter(campaign=second).count() == 100


def test_it_claims_nothing_for_a_paused_campaign(sink, send, django_capture_on_commit_callbacks):
    world = campaign_world(3)
    with django_capture_on_commit_callbacks(execute=False):
        dispatch.campaigns_dispatch_due()
    NoticeCampaign.objects.filter(pk=world.campaign.pk).update(status=NoticeCampaign.Status.PAUSED)

    again(world.campaign)

    assert sink.message_ids == []
    assert not Delivery.objects.exclude(status=Status.PENDING).exists()


def test_it_records_no_result_over_a_claim_the_sweep_took_back(sink):
    world = campaign_world(1)
    dispatch.campaign_dispatch(campaign_id=world.campaign.pk)
    claim = sending.deliveries_claim(campaign_id=world.campaign.pk)
    # The sweep decided the worker was dead and another claimed the delivery since.
    Delivery.objects.update(claimed_at=timezone.now() + timedelta(seconds=5))

    outcome = sending.deliveries_send_claimed(
        campaign=claim.campaign, deliveries=claim.deliveries, stamp=claim.stamp
    )

    assert outcome.sent == 0
    assert Delivery.objects.get().status == Status.SENDING


def test_it_logs_ids_and_never_addresses(sink, send, caplog):
    sink.rcpt_answer = refuse({"jdoe-0001@acme.example"})
    campaign_world(3)

    with caplog.at_level(logging.DEBUG, logger="notifications"):
        send()

    ours = [r.getMessage() for r in caplog.records if r.name.startswith("notifications")]
    assert ours
    assert not [line for line in ours if "@" in line or "+1212" in line]


def test_it_classifies_smtp_errors():
    transient = sending._failure(smtplib.SMTPDataError(451, b"Try later"))
    assert transient.transient
    assert transient.text == "451 Try later"
    assert not sending._failure(smtplib.SMTPDataError(554, b"No")).transient
    assert not sending._failure(smtplib.SMTPSenderRefused(553, b"No", "x")).transient
    assert sending._failure(smtplib.SMTPServerDisconnected("gone")).connection_lost
    assert sending._failure(ConnectionRefusedError()).transient
    assert not sending._failure(ValueError("Invalid address")).transient
    refused = smtplib.SMTPRecipientsRefused({"a@b.example": (452, b"Full")})
    assert sending._failure(refused).transient


def test_it_backs_off_exponentially_up_to_a_cap(settings):
    settings.NOTICE_RETRY_SECONDS = 60
    assert [sending.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert sending.backoff(30) == sending.BACKOFF_CAP


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_skips_rows_another_worker_has_locked(settings, monkeypatch):
    settings.NOTICE_BATCH_SIZE = 100
    monkeypatch.setattr(dispatch, "senders_enqueue", lambda **kwargs: None)
    world = campaign_world(150)
    dispatch.campaign_dispatch(campaign_id=world.campaign.pk)
    first_ids = list(
        Delivery.objects.filter(campaign=world.campaign).order_by("pk").values_list("pk", flat=True)
    )[:100]
    locked = threading.Event()
    release = threading.Event()

    def hold_locks():
        from django.db import transaction

        try:
            with transaction.atomic():
                list(Delivery.objects.select_for_update().filter(pk__in=first_ids))
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_locks)
    holder.start()
    try:
        assert locked.wait(10)
        claim = sending.deliveries_claim(campaign_id=world.campaign.pk)
    finally:
        release.set()
        holder.join()

    assert len(claim.deliveries) == 50
    assert not {d.pk for d in claim.deliveries} & set(first_ids)
    assert connection.vendor == "postgresql"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_lets_two_workers_spend_the_same_allowance(settings, monkeypatch):
    settings.NOTICE_BATCH_SIZE = 100
    monkeypatch.setattr(dispatch, "senders_enqueue", lambda **kwargs: None)
    world = campaign_world(400, rate=150)
    dispatch.campaign_dispatch(campaign_id=world.campaign.pk)
    claimed: list[int] = []
    start = threading.Barrier(4)

    def claim():
        try:
            start.wait(10)
            claimed.append(len(sending.deliveries_claim(campaign_id=world.campaign.pk).deliveries))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=claim) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(claimed) == [0, 0, 50, 100]
    assert Delivery.objects.filter(status=Status.SENDING).count() == 150


# --- The bytes on the wire ---------------------------------------------------------


def _notice(
    subject="March 2024 SMS logs: be vigilant",
    body="Hello Jane,\nNever share a code.\n",
    html="",
    sender_name="Acme Security",
    reply_to="security@acme.example",
    to="jdoe@acme.example",
):
    from notifications.notice_templates.rendering import RenderedNotice, notice_email

    return notice_email(
        rendered=RenderedNotice(subject=subject, text=body, html=html),
        to=to,
        contact={"sender_name": sender_name, "reply_to": reply_to},
        message_id="<notice-7@vigil.example>",
    )


def _read(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


WIRE_CASES = {
    "plain ASCII with HTML": {"html": "<p>Hello <b>Jane</b></p>"},
    "French, no HTML": {
        "subject": "Journaux SMS de mars 2024 : restez vigilant·e",
        "body": "Bonjour Jérôme,\nNe communiquez jamais un code à quiconque.\n",
        "sender_name": "Sécurité Acme",
    },
    "German in both bodies": {
        "subject": "Bleiben Sie wachsam: März 2024",
        "body": "Hallo Jürgen,\ngeben Sie niemals einen Code weiter.\n",
        "html": "<p>Hallo Jürgen, geben Sie <em>niemals</em> einen Code weiter.</p>",
    },
    "a line longer than SMTP allows": {"body": "x" * 1500 + "\nend\n"},
    "odd line endings and dots": {"body": "one\r\ntwo\rthree\n.\n.hidden\nFrom here\nlast"},
    "a long subject": {"subject": "Be vigilant " * 30},
    "a long subject in Japanese": {
        "subject": "警戒してください。コードを誰にも教えないでください。" * 6
    },
    "no reply-to, no sender name": {"sender_name": "", "reply_to": ""},
}


@pytest.mark.parametrize("case", WIRE_CASES)
def test_it_puts_the_same_message_on_the_wire_as_django(case):
    from notifications.delivery.wire import notice_bytes

    message = _notice(**WIRE_CASES[case])

    ours = _read(notice_bytes(message))
    django = _read(message.message(policy=email.policy.SMTP).as_bytes())

    for header in ("Subject", "From", "To", "Reply-To", "Message-ID", "Auto-Submitted"):
        assert str(ours[header]) == str(django[header]), header
    assert ours["Date"].datetime is not None
    assert ours.get_content_type() == django.get_content_type()
    assert ours.get_body(("plain",)).get_content() == django.get_body(("plain",)).get_content()
    if message.alternatives:
        assert ours.get_body(("html",)).get_content() == django.get_body(("html",)).get_content()
    assert not ours.defects
    assert all(len(line) <= 998 for line in notice_bytes(message).split(b"\r\n"))


@pytest.mark.parametrize(
    "change",
    [
        {"to": "jdoe@exämple.com"},
        {"reply_to": "sécurité@acme.example"},
    ],
)
def test_it_leaves_what_is_not_a_plain_notice_to_django(change):
    from notifications.delivery.wire import notice_bytes

    assert notice_bytes(_notice(**change)) is None


def test_it_leaves_a_message_with_an_attachment_to_django():
    from notifications.delivery.wire import notice_bytes

    message = _notice()
    message.attach("report.txt", "x", "text/plain")

    assert notice_bytes(message) is None


@pytest.mark.parametrize(
    "address",
    [
        "jdoe@acme.example",
        "j.doe+notices@mail.acme.example",
        "o'brien@acme-corp.example",
        "x_y=z@a1.b2.example",
    ],
)
def test_it_takes_a_plain_address_as_djangos_smtp_backend_would(address, settings, sink):
    from django.core.mail import mailers

    assert sending._PLAIN_ADDRESS.fullmatch(address)
    assert mailers.default.prep_address(address) == address


@pytest.mark.parametrize(
    "address",
    ["Jane <jdoe@acme.example>", "jdoe@exämple.com", "j..doe@acme.example", "jdoe@acme"],
)
def test_it_leaves_any_other_address_to_djangos_smtp_backend(address):
    assert not sending._PLAIN_ADDRESS.fullmatch(address)


def test_it_hands_back_what_is_not_sent_when_the_task_runs_out_of_time(sink, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    world = campaign_world(5)
    dispatch.campaign_dispatch(campaign_id=world.campaign.pk)
    real = sending._notice_email
    made = []

    def slow(*args):
        made.append(1)
        if len(made) == 3:
            raise SoftTimeLimitExceeded()
        return real(*args)

    monkeypatch.setattr(sending, "_notice_email", slow)

    with pytest.raises(SoftTimeLimitExceeded):
        sending.campaign_send(campaign_id=world.campaign.pk)

    statuses = list(Delivery.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [Status.SENT] * 2 + [Status.PENDING] * 3
    assert len(sink.message_ids) == 2
    assert NoticeCampaign.objects.get().sent_count == 2


def test_it_fails_a_notice_its_snapshot_cannot_make(sink, send):
    world = campaign_world(2)
    NoticeCampaign.objects.filter(pk=world.campaign.pk).update(
        template_snapshot={"name": "Broken", "language": "xx", "languages": {}}
    )

    send()

    failed = Delivery.objects.filter(status=Status.FAILED)
    assert failed.count() == 2
    assert all(d.last_error.startswith("The notice could not be made") for d in failed)
    assert NoticeCampaign.objects.get().status == NoticeCampaign.Status.COMPLETED


def test_it_counts_a_batch_once_when_another_sender_completed_the_campaign_first(
    sink, send, monkeypatch
):
    # Two senders: this one has recorded its rows as sent, and before it adds them to
    # the counters, the other finds nothing left and completes the campaign, counting
    # every row, this batch's included.
    world = campaign_world(5)
    record = sending._batch_record

    def completed_by_another_sender_first(campaign, recorder):
        assert sending.campaign_finish_if_done(campaign_id=campaign.pk)
        record(campaign, recorder)

    monkeypatch.setattr(sending, "_batch_record", completed_by_another_sender_first)

    send()

    world.campaign.refresh_from_db()
    assert world.campaign.status == NoticeCampaign.Status.COMPLETED
    assert world.campaign.sent_count == 5
    assert len(sink.message_ids) == 5
