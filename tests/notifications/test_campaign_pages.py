"""The campaign pages (DESIGN.md flow 7): the list, compose, review, launch, and one
campaign with its progress and controls; who sees what.

Acme (Paris time) has a member in every role: Alice owns it, Bob is an admin, Sam is
security staff, Vera a viewer. Three people of its directory are exposed in the breach:
Jane (English, email), Luc (French, email) and Nora (no email).
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.audience import SKIP_NO_EMAIL
from notifications.campaigns import services
from notifications.models import Delivery, NoticeCampaign, NoticeTemplate
from notifications.notice_templates import rendering
from portal.accounts.models import Organization
from portal.audit.models import AuditEvent
from portal.incidents.models import DirectoryUser
from tests import factories
from tests.accounts.auth import signed_in
from tests.core.test_layout import assert_nothing_inline_without_the_nonce

pytestmark = pytest.mark.django_db
Status = NoticeCampaign.Status
Audience = NoticeCampaign.Audience


@pytest.fixture
def acme():
    return factories.organization(
        "Acme Corp",
        time_zone="Europe/Paris",
        contact_name="Acme Security Desk",
        contact_email="security@acme.example",
    )


@pytest.fixture
def breach(acme):
    incident = factories.incident(title="Telephony provider breach")
    people = [
        ("jane", "Jane Doe", "jane@acme.example", "en", "+12125550143", "US", "Verizon"),
        ("luc", "Luc Martin", "luc@acme.example", "fr", "+33612345678", "FR", "Orange"),
        ("nora", "Nora Blank", "", "en", "+12125550100", "US", "Verizon"),
    ]
    for username, name, email, language, phone, country, carrier in people:
        person = factories.directory_user(
            acme, username, name=name, email=email, language=language, phones=[phone]
        )
        factories.exposure(
            incident,
            acme,
            phone=phone,
            country=country,
            carrier=carrier,
            directory_user=person,
            sms_count=3,
            message_count=3,
        )
    return incident


@pytest.fixture
def template(acme):
    NoticeTemplate.objects.create(
        organization=acme,
        name="Our notice",
        language="fr",
        subject="Avis : {{ incident_title }}",
        body_text="Bonjour {{ recipient_name }}, {{ message_count }} messages.",
    )
    return NoticeTemplate.objects.create(
        organization=acme,
        name="Our notice",
        language="en",
        subject="About {{ incident_title }}",
        body_text="Hello {{ recipient_name }}, phone ending {{ phone_last_digits }}.\nTell {{ contact_name }}.",
        body_html='<p style="color:#333">Hello <b>{{ recipient_name }}</b></p>',
    )


@pytest.fixture
def no_dispatch(monkeypatch):
    """Launching enqueues the dispatcher after commit; these tests look at pages only."""
    monkeypatch.setattr(services, "_dispatch_soon", lambda: None)


def url(name, acme, campaign=None):
    kwargs = {"org": acme.public_id}
    if campaign is not None:
        kwargs["campaign"] = campaign.public_id
    return reverse(f"campaigns:{name}", kwargs=kwargs)


def a_draft(acme, breach, template, **fields):
    values = {
        "organization": acme,
        "by": None,
        "incident": breach,
        "template": template,
        "audience": Audience.ALL_MATCHED,
    }
    return services.notice_campaign_create(**{**values, **fields})


def form(breach, template, **fields):
    return {
        "incident": str(breach.public_id),
        "audience": "all_matched",
        "template": str(template.public_id),
        "name": "Tell everyone",
        "when": "now",
        **fields,
    }


def sent_campaign(acme, breach, template, *, status=Status.SENDING):
    """A launched campaign part way through, its counters as the engine keeps them."""
    campaign = a_draft(acme, breach, template)
    NoticeCampaign.objects.filter(pk=campaign.pk).update(
        status=status,
        template_snapshot=rendering.template_snapshot(template),
        contact_snapshot=rendering.contact_snapshot(acme),
        launched_at=datetime(2024, 5, 1, 8, tzinfo=UTC),
        scheduled_at=datetime(2024, 5, 1, 8, tzinfo=UTC),
        dispatched_at=datetime(2024, 5, 1, 8, 1, tzinfo=UTC),
        recipients_total=3,
        sent_count=1,
        failed_count=1,
        skipped_count=1,
    )
    by_name = {exposure.directory_user.username: exposure for exposure in breach.exposures.all()}
    for username, state, extra in [
        ("jane", Delivery.Status.SENT, {}),
        ("luc", Delivery.Status.FAILED, {"last_error": "550 5.1.1 mailbox unavailable"}),
        ("nora", Delivery.Status.SKIPPED, {"skip_reason": SKIP_NO_EMAIL}),
    ]:
        exposure = by_name[username]
        Delivery.objects.create(
            campaign=campaign,
            organization=acme,
            directory_user=exposure.directory_user,
            exposure=exposure,
            email=exposure.directory_user.email,
            language=exposure.directory_user.language,
            context=rendering.recipient_context(
                name=exposure.directory_user.name,
                username=exposure.directory_user.username,
                phone=exposure.phone,
                message_count=exposure.message_count,
            ),
            status=state,
            attempts=1,
            **extra,
        )
    campaign.refresh_from_db()
    return campaign


# The list ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_it_lists_campaigns_with_a_new_button_for_those_who_send(
    client, request, acme, breach, template, who
):
    campaign = sent_campaign(acme, breach, template)
    signed_in(client, request.getfixturevalue(who))

    response = client.get(url("list", acme))

    page = response.content.decode()
    assert response.status_code == 200
    assert f'data-campaign="{campaign.public_id}"' in page
    assert "Telephony provider breach" in page
    assert 'data-status="sending"' in page
    assert url("new", acme) in page
    assert_nothing_inline_without_the_nonce(response)


@pytest.mark.parametrize("who", ["sam", "vera"])
def test_it_shows_the_list_without_actions_to_those_who_do_not_send(
    client, request, acme, breach, template, who
):
    sent_campaign(acme, breach, template)
    signed_in(client, request.getfixturevalue(who))

    response = client.get(url("list", acme))

    assert response.status_code == 200
    assert url("new", acme) not in response.content.decode()
    assert "New campaign" not in response.content.decode()


def test_the_list_costs_the_same_queries_for_many_campaigns(client, acme, breach, template, alice):
    signed_in(client, alice)
    sent_campaign(acme, breach, template)
    client.get(url("list", acme))  # the session and the caches settle
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("list", acme)).status_code == 200
    for _ in range(12):
        sent_campaign(acme, breach, template, status=Status.COMPLETED)
        a_draft(acme, breach, template)

    with CaptureQueriesContext(connection) as many:
        response = client.get(url("list", acme))

    assert response.content.decode().count("data-campaign=") == 25
    assert len(many) == len(few)


# Compose -------------------------------------------------------------------------


def test_it_preselects_the_incident_from_its_dashboard(client, acme, breach, template, alice):
    older = factories.incident(
        title="An older breach", window_start=datetime(2023, 1, 1, tzinfo=UTC)
    )
    factories.exposure(older, acme)
    signed_in(client, alice)

    response = client.get(url("new", acme), {"incident": str(breach.public_id)})

    page = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{breach.public_id}" selected>' in page
    # One entry per template name, with its languages.
    assert page.count(f'value="{template.public_id}"') == 1
    assert "Our notice</span>: en, fr" in page
    assert "Acme Security Desk" in page
    assert_nothing_inline_without_the_nonce(response)


def test_it_lists_operator_defaults_once_per_name(client, acme, breach, alice):
    for language in ("en", "de"):
        NoticeTemplate.objects.create(
            organization=None,
            name="Operator page default",
            language=language,
            subject="s",
            body_text="b",
        )
    signed_in(client, alice)

    page = client.get(url("new", acme)).content.decode()

    assert page.count(">Operator page default (operator default)</option>") == 1


def test_it_saves_a_draft_and_goes_to_the_review(client, acme, breach, template, bob):
    signed_in(client, bob)

    response = client.post(url("new", acme), form(breach, template))

    campaign = NoticeCampaign.objects.get()
    assert response.status_code == 302
    assert response.url == url("review", acme, campaign)
    assert (campaign.status, campaign.name, campaign.created_by, campaign.scheduled_at) == (
        Status.DRAFT,
        "Tell everyone",
        bob,
        None,
    )


def test_it_reads_the_schedule_in_the_accounts_time_zone(client, acme, breach, template, alice):
    signed_in(client, alice)

    client.post(
        url("new", acme),
        form(breach, template, when="later", scheduled_at="2031-06-01T09:00"),
    )

    # 09:00 in Paris in summer is 07:00 UTC.
    assert NoticeCampaign.objects.get().scheduled_at == datetime(2031, 6, 1, 7, 0, tzinfo=UTC)


def test_it_refuses_a_past_time_and_an_empty_filter_in_the_members_language(
    client, acme, breach, template, alice
):
    alice.language = "fr"
    alice.save(update_fields=["language"])
    signed_in(client, alice)

    response = client.post(
        url("new", acme),
        form(breach, template, audience="filter", when="later", scheduled_at="2020-01-01T09:00"),
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Ce moment est passé : choisissez-en un plus tard" in page
    assert "Choisissez au moins un filtre" in page
    assert "That time has passed" not in page


def test_it_refuses_a_time_that_has_passed(client, acme, breach, template, alice):
    signed_in(client, alice)

    response = client.post(
        url("new", acme), form(breach, template, when="later", scheduled_at="2020-01-01T09:00")
    )

    assert response.status_code == 400
    assert "That time has passed" in response.content.decode()
    assert not NoticeCampaign.objects.exists()


def test_it_asks_for_the_time_when_later(client, acme, breach, template, alice):
    signed_in(client, alice)

    response = client.post(url("new", acme), form(breach, template, when="later"))

    assert response.status_code == 400
    assert "Give the date and time it should go." in response.content.decode()


def test_it_saves_a_filter_audience(client, acme, breach, template, alice):
    signed_in(client, alice)

    client.post(
        url("new", acme),
        form(breach, template, audience="filter", country="FR", notified="no"),
    )

    campaign = NoticeCampaign.objects.get()
    assert (campaign.audience, campaign.audience_filter) == (
        Audience.FILTER,
        {"country": "FR", "notified": "no"},
    )


def test_it_refuses_a_filter_value_the_account_does_not_have(client, acme, breach, template, alice):
    signed_in(client, alice)

    response = client.post(
        url("new", acme), form(breach, template, audience="filter", country="ZZ")
    )

    assert response.status_code == 400
    assert "ZZ is not one of the available choices" in response.content.decode()
    assert not NoticeCampaign.objects.exists()


def test_it_needs_a_filter_for_a_filter_audience(client, acme, breach, template, alice):
    signed_in(client, alice)

    response = client.post(url("new", acme), form(breach, template, audience="filter"))

    assert response.status_code == 400
    assert "Choose at least one filter" in response.content.decode()


def test_it_finds_chosen_people_by_username_or_email(client, acme, breach, template, alice):
    signed_in(client, alice)

    response = client.post(
        url("new", acme),
        form(breach, template, audience="chosen", chosen="jane\nLUC@acme.example"),
    )

    assert response.status_code == 302
    chosen = NoticeCampaign.objects.get().chosen_users.order_by("username")
    assert [person.username for person in chosen] == ["jane", "luc"]


def test_it_finds_a_chosen_email_whatever_its_case_in_the_directory(
    client, acme, breach, template, alice
):
    DirectoryUser.objects.filter(organization=acme, username="luc").update(
        email="Luc.Martin@Acme.example"
    )
    signed_in(client, alice)

    response = client.post(
        url("new", acme),
        form(breach, template, audience="chosen", chosen="luc.martin@acme.example"),
    )

    assert response.status_code == 302
    assert [p.username for p in NoticeCampaign.objects.get().chosen_users.all()] == ["luc"]


def test_it_names_chosen_people_it_does_not_know(client, acme, breach, template, alice):
    signed_in(client, alice)

    response = client.post(
        url("new", acme),
        form(breach, template, audience="chosen", chosen="jane, ghost, nobody@acme.example"),
    )

    assert response.status_code == 400
    assert "Not in your directory: ghost, nobody@acme.example" in response.content.decode()


def test_it_says_the_contact_is_missing_and_links_owners_to_the_settings(
    client, acme, breach, template, alice
):
    acme.contact_name = ""
    acme.contact_email = ""
    acme.save()
    signed_in(client, alice)

    shown = client.get(url("new", acme))
    response = client.post(url("new", acme), form(breach, template))

    page = response.content.decode()
    assert "data-contact-missing" in shown.content.decode()
    assert response.status_code == 400
    assert "Your account has no designated contact: it needs a name and an email address" in page
    assert "Add one in the account settings" in page
    assert not NoticeCampaign.objects.exists()


def test_it_tells_an_admin_to_ask_an_owner_for_the_contact(client, acme, breach, bob):
    acme.contact_email = ""
    acme.save()
    signed_in(client, bob)

    page = client.get(url("new", acme)).content.decode()

    assert "it needs" not in page  # the form is not bound: no error yet
    assert "an email address before a campaign can be saved or sent" in page
    assert "Ask an owner of Acme Corp" in page
    assert "Add one in the account settings" not in page


@pytest.mark.parametrize("who", ["sam", "vera"])
def test_it_lets_only_those_who_send_compose(client, request, acme, breach, template, who):
    campaign = a_draft(acme, breach, template)
    signed_in(client, request.getfixturevalue(who))

    assert client.get(url("new", acme)).status_code == 403
    assert client.post(url("new", acme), form(breach, template)).status_code == 403
    assert client.get(url("edit", acme, campaign)).status_code == 403
    assert client.get(url("review", acme, campaign)).status_code == 403
    assert NoticeCampaign.objects.count() == 1


def test_it_edits_a_draft(client, acme, breach, template, alice):
    campaign = a_draft(acme, breach, template, scheduled_at=datetime(2031, 6, 1, 7, tzinfo=UTC))
    signed_in(client, alice)

    shown = client.get(url("edit", acme, campaign)).content.decode()
    response = client.post(url("edit", acme, campaign), form(breach, template, name="Renamed"))

    assert 'value="2031-06-01T09:00"' in shown  # in Paris time
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.scheduled_at) == ("Renamed", None)


def test_it_sends_an_edit_of_a_launched_campaign_to_its_page(client, acme, breach, template, alice):
    campaign = sent_campaign(acme, breach, template)
    signed_in(client, alice)

    response = client.post(url("edit", acme, campaign), form(breach, template, name="Renamed"))

    assert response.status_code == 302
    assert response.url == url("detail", acme, campaign)
    campaign.refresh_from_db()
    assert campaign.name != "Renamed"


# Review --------------------------------------------------------------------------


def test_the_review_counts_who_gets_it_and_who_is_skipped(client, acme, breach, template, alice):
    campaign = a_draft(acme, breach, template)
    signed_in(client, alice)

    response = client.get(url("review", acme, campaign))

    page = response.content.decode()
    assert response.status_code == 200
    assert '<span class="h3 font-monospace" data-recipients>2</span> people' in page
    assert f"{SKIP_NO_EMAIL}: 1" in page
    assert "Launch now" in page
    assert_nothing_inline_without_the_nonce(response)


def test_the_review_previews_the_notice_for_a_real_recipient(client, acme, breach, template, alice):
    campaign = a_draft(acme, breach, template)
    signed_in(client, alice)

    first = client.get(url("review", acme, campaign)).content.decode()
    second = client.get(url("review", acme, campaign), {"sample": 1}).content.decode()

    assert "Jane Doe" in first
    assert "About Telephony provider breach" in first
    assert "Hello Jane Doe, phone ending 0143.<br>Tell Acme Security Desk." in first
    assert url("preview_html", acme, campaign) + "?sample=0" in first
    # Luc reads French.
    assert "Luc Martin" in second
    assert "Avis : Telephony provider breach" in second
    assert "Bonjour Luc Martin, 3 messages." in second


def test_the_review_says_when_it_goes_in_the_accounts_time(client, acme, breach, template, alice):
    campaign = a_draft(acme, breach, template, scheduled_at=datetime(2031, 6, 1, 7, tzinfo=UTC))
    signed_in(client, alice)

    page = client.get(url("review", acme, campaign)).content.decode()

    assert "Sunday 1 June 2031, 09:00 (Europe/Paris)" in page
    assert "Schedule it" in page


def test_the_review_says_why_it_cannot_be_launched(client, acme, breach, template, alice):
    nora = breach.exposures.get(phone="+12125550100").directory_user
    campaign = a_draft(acme, breach, template, audience=Audience.CHOSEN, chosen_users=[nora])
    acme.contact_name = ""
    acme.save()
    signed_in(client, alice)

    page = client.get(url("review", acme, campaign)).content.decode()

    assert "data-cannot-launch" in page
    assert "your account has no designated contact" in page
    assert "no one in its audience can receive it" in page
    assert url("launch", acme, campaign) not in page


def test_the_html_preview_is_a_document_with_a_policy_of_its_own(
    client, acme, breach, template, alice
):
    campaign = a_draft(acme, breach, template)
    signed_in(client, alice)

    response = client.get(url("preview_html", acme, campaign), {"sample": 0})

    assert response.status_code == 200
    assert response.content.decode() == '<p style="color:#333">Hello <b>Jane Doe</b></p>'
    policy = response["Content-Security-Policy"]
    assert "script-src" not in policy
    assert "default-src 'none'" in policy
    assert "sandbox" in policy
    assert "frame-ancestors 'self'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_the_html_preview_is_a_404_without_an_html_body(client, acme, breach, template, alice):
    template.body_html = ""
    template.save()
    campaign = a_draft(acme, breach, template)
    signed_in(client, alice)

    assert client.get(url("preview_html", acme, campaign)).status_code == 404


# Launch --------------------------------------------------------------------------


def test_it_launches_and_audits(client, acme, breach, template, bob, no_dispatch):
    campaign = a_draft(acme, breach, template)
    signed_in(client, bob)

    response = client.post(url("launch", acme, campaign))

    assert response.status_code == 302
    assert response.url == url("detail", acme, campaign)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.launched_by) == (Status.SCHEDULED, bob)
    event = AuditEvent.objects.get(action="notice.launch")
    assert (event.actor, event.details["recipients"], event.details["skipped_no_email"]) == (
        bob,
        2,
        1,
    )
    page = client.get(response.url).content.decode()
    assert "The campaign is launched" in page


def test_it_asks_to_reauthenticate_before_a_launch_when_the_sign_in_is_stale(
    client, acme, breach, template, alice, no_dispatch
):
    campaign = a_draft(acme, breach, template)
    signed_in(client, alice, seconds_ago=3600)

    response = client.post(url("launch", acme, campaign))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/")
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    assert not AuditEvent.objects.filter(action="notice.launch").exists()
    # After the password, allauth replays the launch.
    response = client.post(response.url, {"password": factories.PASSWORD})
    campaign.refresh_from_db()
    assert campaign.status == Status.SCHEDULED
    assert AuditEvent.objects.filter(action="notice.launch").count() == 1


def test_a_refused_launch_says_why_on_the_review(client, acme, breach, template, alice):
    campaign = a_draft(acme, breach, template)
    acme.contact_email = ""
    acme.save()
    signed_in(client, alice)

    response = client.post(url("launch", acme, campaign), follow=True)

    assert response.redirect_chain[-1][0] == url("review", acme, campaign)
    assert "no designated contact" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT


# One campaign --------------------------------------------------------------------


def test_the_campaign_page_shows_counts_failures_and_skips_to_those_who_send(
    client, acme, breach, template, alice
):
    campaign = sent_campaign(acme, breach, template)
    signed_in(client, alice)

    response = client.get(url("detail", acme, campaign))

    page = response.content.decode()
    assert response.status_code == 200
    for name, value in [("recipients", 3), ("sent", 1), ("failed", 1), ("skipped", 1)]:
        assert f'data-count="{name}">{value}<' in page
    assert 'data-count="pending">0<' in page
    assert "luc@acme.example" in page
    assert "550 5.1.1 mailbox unavailable" in page
    assert f"data-reason>{SKIP_NO_EMAIL}<" in page
    assert url("pause", acme, campaign) in page
    assert url("cancel", acme, campaign) in page
    assert url("retry", acme, campaign) in page
    assert url("resume", acme, campaign) not in page
    assert 'hx-trigger="every 2s"' in page
    assert_nothing_inline_without_the_nonce(response)


@pytest.mark.parametrize("who", ["sam", "vera"])
def test_the_campaign_page_shows_progress_only_to_those_who_do_not_send(
    client, request, acme, breach, template, who
):
    campaign = sent_campaign(acme, breach, template)
    signed_in(client, request.getfixturevalue(who))

    page = client.get(url("detail", acme, campaign)).content.decode()

    assert 'data-count="sent">1<' in page
    assert "luc@acme.example" not in page
    assert "data-actions" not in page
    assert url("pause", acme, campaign) not in page


@pytest.mark.parametrize(
    ("status", "shown", "hidden"),
    [
        (Status.DRAFT, ["review", "edit", "cancel"], ["pause", "resume", "retry"]),
        (Status.SCHEDULED, ["cancel"], ["pause", "resume", "edit"]),
        (Status.PAUSED, ["resume", "cancel"], ["pause", "edit", "retry"]),
        (Status.COMPLETED, ["retry"], ["pause", "resume", "cancel", "edit"]),
        (Status.CANCELLED, [], ["pause", "resume", "cancel", "retry", "edit"]),
    ],
)
def test_the_campaign_page_offers_the_controls_of_its_status(
    client, acme, breach, template, alice, status, shown, hidden
):
    campaign = sent_campaign(acme, breach, template, status=status)
    signed_in(client, alice)

    page = client.get(url("detail", acme, campaign)).content.decode()

    for name in shown:
        assert url(name, acme, campaign) in page, name
    for name in hidden:
        assert url(name, acme, campaign) not in page, name


def test_the_progress_polls_while_sending_and_stops_when_done(client, acme, breach, template, vera):
    campaign = sent_campaign(acme, breach, template)
    signed_in(client, vera)
    progress = url("progress", acme, campaign)

    sending = client.get(progress, {"status": "sending"})
    NoticeCampaign.objects.filter(pk=campaign.pk).update(status=Status.COMPLETED, sent_count=1)
    moved_on = client.get(progress, {"status": "sending"})
    completed = client.get(progress, {"status": "completed"})

    assert 'hx-trigger="every 2s"' in sending.content.decode()
    assert sending["Cache-Control"].startswith("max-age=0")
    # The status changed under the page: reload it whole, buttons and lists with it.
    assert moved_on["HX-Refresh"] == "true"
    assert "hx-trigger" not in completed.content.decode()
    assert 'data-status="completed"' in completed.content.decode()


@time_machine.travel(datetime(2024, 5, 1, 8, 10, tzinfo=UTC), tick=False)
def test_a_campaign_held_by_its_rate_says_so_with_the_rate_and_the_finish(
    client, acme, breach, template, vera
):
    """Issue 15 point 4: a campaign sat at "645 of 770" with no word why."""
    campaign = sent_campaign(acme, breach, template)
    Organization.objects.filter(pk=acme.pk).update(notice_rate_per_minute=2)
    # 770 recipients, 125 to go; the last minute's claims have used the rate up.
    NoticeCampaign.objects.filter(pk=campaign.pk).update(recipients_total=770, sent_count=643)
    Delivery.objects.filter(campaign=campaign).update(claimed_at=timezone.now())
    signed_in(client, vera)

    html = client.get(url("progress", acme, campaign), {"status": "sending"}).content.decode()

    assert "Held by the account's rate: at most 2 notices a minute leave" in html
    # 125 to go at 2 a minute: 63 minutes from 10:10 in Paris (UTC+2).
    assert "125 to go: expected to finish around 11:13 (Europe/Paris)." in html

    Delivery.objects.filter(campaign=campaign).update(claimed_at=None)
    html = client.get(url("progress", acme, campaign), {"status": "sending"}).content.decode()

    assert "Held by" not in html
    assert "Sending at up to 2 notices a minute (the account's rate)." in html


def test_a_finished_campaign_says_nothing_of_its_pace(client, acme, breach, template, vera):
    campaign = sent_campaign(acme, breach, template, status=Status.COMPLETED)
    signed_in(client, vera)

    html = client.get(url("detail", acme, campaign)).content.decode()

    assert "data-pace" not in html


def test_the_controls_pause_resume_and_cancel(client, acme, breach, template, bob):
    campaign = sent_campaign(acme, breach, template)
    signed_in(client, bob)

    paused = client.post(url("pause", acme, campaign), follow=True)
    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    assert "Paused: no more notices leave until you resume." in paused.content.decode()

    client.post(url("resume", acme, campaign))
    campaign.refresh_from_db()
    assert campaign.status == Status.SENDING

    client.post(url("cancel", acme, campaign))
    campaign.refresh_from_db()
    assert campaign.status == Status.CANCELLED
    actions = AuditEvent.objects.filter(actor=bob).values_list("action", flat=True)
    assert set(actions) >= {"notice.pause", "notice.resume", "notice.cancel"}


def test_a_control_the_status_does_not_allow_says_why(client, acme, breach, template, bob):
    campaign = sent_campaign(acme, breach, template, status=Status.COMPLETED)
    signed_in(client, bob)

    response = client.post(url("pause", acme, campaign), follow=True)

    assert response.redirect_chain[-1][0] == url("detail", acme, campaign)
    assert "only a campaign that is sending can be paused" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED


def test_retrying_sends_the_failed_notices_again(
    client, acme, breach, template, bob, mailoutbox, django_capture_on_commit_callbacks
):
    campaign = sent_campaign(acme, breach, template, status=Status.COMPLETED)
    signed_in(client, bob)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("retry", acme, campaign))

    campaign.refresh_from_db()
    assert (campaign.status, campaign.failed_count) == (Status.COMPLETED, 0)
    assert [message.to for message in mailoutbox] == [["luc@acme.example"]]


# Ways in -------------------------------------------------------------------------


def test_the_account_home_and_the_dashboard_lead_those_who_send_to_notices(
    client, acme, breach, alice, sam
):
    dashboard = reverse(
        "incidents:dashboard", kwargs={"org": acme.public_id, "incident": breach.public_id}
    )
    compose = f"{url('new', acme)}?incident={breach.public_id}"

    signed_in(client, alice)
    assert (
        url("list", acme)
        in client.get(reverse("accounts:home", args=[acme.public_id])).content.decode()
    )
    assert compose in client.get(dashboard).content.decode()

    signed_in(client, sam)
    assert (
        url("list", acme)
        not in client.get(reverse("accounts:home", args=[acme.public_id])).content.decode()
    )
    assert compose not in client.get(dashboard).content.decode()


# End to end (point 6) ------------------------------------------------------------


def test_a_launched_campaign_notifies_and_the_dashboard_and_list_follow(
    client, acme, breach, template, alice, mailoutbox, django_capture_on_commit_callbacks
):
    campaign = a_draft(acme, breach, template)
    signed_in(client, alice)
    dashboard = reverse(
        "incidents:dashboard", kwargs={"org": acme.public_id, "incident": breach.public_id}
    )
    exposed = reverse(
        "incidents:exposed", kwargs={"org": acme.public_id, "incident": breach.public_id}
    )
    assert "0%" in _notified_card(client.get(dashboard).content.decode())

    # Launch: the dispatcher and the senders run eagerly after commit.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("launch", acme, campaign))

    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipients_total) == (Status.COMPLETED, 3)
    assert (campaign.sent_count, campaign.failed_count, campaign.skipped_count) == (2, 0, 1)
    assert sorted(message.to[0] for message in mailoutbox) == [
        "jane@acme.example",
        "luc@acme.example",
    ]
    by_person = {message.to[0]: message for message in mailoutbox}
    assert by_person["luc@acme.example"].subject == "Avis : Telephony provider breach"
    notified = {e.directory_user.username: e.last_notified_at for e in breach.exposures.all()}
    assert notified["jane"] is not None
    assert notified["luc"] is not None
    assert notified["nora"] is None

    page = client.get(url("detail", acme, campaign)).content.decode()
    assert 'data-status="completed"' in page
    assert 'data-count="sent">2<' in page
    # Two of the three matched phones are notified now.
    card = _notified_card(client.get(dashboard).content.decode())
    assert "67%" in card or "66%" in card
    assert "2 of 3 matched phones" in card
    local_day = notified["jane"].astimezone(ZoneInfo("Europe/Paris")).strftime("%d %b %Y")
    rows = client.get(exposed, {"notified": "yes"}).content.decode()
    assert rows.count(f'bi-check-circle text-success me-1" aria-hidden="true"></i>{local_day}') == 2
    assert "Nora Blank" not in rows
    not_yet = client.get(exposed, {"notified": "no"}).content.decode()
    assert "Nora Blank" in not_yet
    jane = breach.exposures.get(phone="+12125550143")
    detail = client.get(f"{exposed}{jane.public_id}/").content.decode()
    local = notified["jane"].astimezone(ZoneInfo("Europe/Paris"))
    assert f"{local:%-d %b %Y %H:%M}" in detail.split(">Notified</dt>")[1].split("</dd>")[0]


def _notified_card(page: str) -> str:
    start = page.index('data-stat="notified"')
    return page[start : page.index("</div>\n    </div>", start)]


def test_it_caps_the_chosen_people_in_the_members_language_and_number_format(
    client, acme, breach, template, alice
):
    alice.language = "fr"
    alice.save(update_fields=["language"])
    signed_in(client, alice)
    too_many = "\n".join(f"person{n}" for n in range(5001))

    response = client.post(
        url("new", acme), form(breach, template, audience="chosen", chosen=too_many)
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Au plus 5\xa0000 personnes" in page
    assert "At most" not in page
