"""The response plan on each account's incident page (issue 15 point 1): the steps, each
with its state and the one action that moves it, the clock since disclosure, and the
account's home leading straight to it."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notifications.models import NoticeCampaign, NoticeTemplate, SuspicionReport
from portal.incidents.exposures.services import exposure_rollup_refresh
from portal.logcopies.models import LogCopyRequest
from tests import factories
from tests.incidents.exposures_world import dashboard_url, exposure

pytestmark = pytest.mark.django_db


@pytest.fixture
def exposed(acme, incident):
    """Two phones: Jane's (matched, not notified) and one nobody in the directory has."""
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe", email="jane@acme.example")
    exposure(incident, acme, "+12125550143", directory_user=jane)
    exposure(incident, acme, "+14155550199")
    return incident


def steps(html: str) -> dict[str, str]:
    """Each step's key and state, in the order the page lists them."""
    return dict(re.findall(r'data-step="(\w+)" data-state="(\w+)"', html))


def step_html(html: str, key: str) -> str:
    start = html.index(f'data-step="{key}"')
    return html[start : html.index("</li>", start)]


@time_machine.travel(datetime(2024, 4, 22, 12, tzinfo=UTC), tick=False)
def test_it_lists_the_steps_with_their_states_and_the_clock(client, sign_in, bob, acme, exposed):
    sign_in(bob)

    html = client.get(dashboard_url(acme, exposed)).content.decode()

    assert steps(html) == {
        "review": "ongoing",
        "directory": "todo",
        "logs": "optional",
        "notify": "todo",
        "reports": "ongoing",
    }
    assert "Day 10 since disclosure" in html
    assert "1 of 2 phones matches nobody in your directory yet" in html
    # The first step that is the account's move is the next one, with its action.
    next_step = html[html.index("data-next-step") :]
    assert "Match your user directory" in next_step[: next_step.index("</p>")]
    directory = step_html(html, "directory")
    assert reverse("directory:index", kwargs={"org": acme.public_id}) in directory
    notify = step_html(html, "notify")
    assert "0% notified (0 of 1 matched phones)" in notify
    new_notice = reverse("campaigns:new", kwargs={"org": acme.public_id})
    assert f"{new_notice}?incident={exposed.public_id}" in notify
    assert reverse("logcopies:request", kwargs={"org": acme.public_id}) in step_html(html, "logs")


def test_a_viewer_sees_the_states_and_who_takes_each_action(client, sign_in, vera, acme, exposed):
    sign_in(vera)

    html = client.get(dashboard_url(acme, exposed)).content.decode()

    assert steps(html)["notify"] == "todo"
    notify = step_html(html, "notify")
    assert reverse("campaigns:new", kwargs={"org": acme.public_id}) not in notify
    assert "An owner or admin sends the notices." in notify
    assert "An owner or admin imports the directory." in step_html(html, "directory")
    assert "Security staff, admins and owners request the logs." in step_html(html, "logs")


def test_the_steps_follow_what_the_account_did(client, sign_in, bob, acme, exposed):
    # Everyone matched and notified; a copy asked for; a notice under way; a report in.
    exposed.exposures.filter(directory_user__isnull=True).delete()
    exposure_rollup_refresh(incident_id=exposed.pk, organization_ids=[acme.pk])
    copy = LogCopyRequest.objects.create(organization=acme, incident=exposed, reason="SOC")
    template = NoticeTemplate.objects.create(
        organization=acme, name="n", subject="s", body_text="b"
    )
    campaign = NoticeCampaign.objects.create(
        organization=acme,
        incident=exposed,
        template=template,
        name="First notice",
        status=NoticeCampaign.Status.SENDING,
        recipients_total=770,
        sent_count=645,
    )
    SuspicionReport.objects.create(
        organization=acme, channel=SuspicionReport.Channel.CALL, occurred_at=factories.future()
    )
    sign_in(bob)

    with CaptureQueriesContext(connection) as captured:
        html = client.get(dashboard_url(acme, exposed)).content.decode()

    assert steps(html) == {
        "review": "ongoing",
        "directory": "done",
        "logs": "waiting",
        "notify": "ongoing",
        "reports": "todo",
    }
    assert "waiting for the operator" in step_html(html, "logs")
    assert str(copy.public_id) in step_html(html, "logs")
    notify = step_html(html, "notify")
    assert "“First notice” is sending: 645 of 770 sent." in notify
    assert str(campaign.public_id) in notify
    assert "1 new report to triage." in step_html(html, "reports")
    # The copy, the notice under way and the new reports come in one query, not three.
    tables = (
        LogCopyRequest._meta.db_table,
        NoticeCampaign._meta.db_table,
        SuspicionReport._meta.db_table,
    )
    plan_queries = [
        query["sql"]
        for query in captured.captured_queries
        if any(table in query["sql"] for table in tables)
    ]
    assert len(plan_queries) == 1, plan_queries
    assert all(table in plan_queries[0] for table in tables)


def test_the_account_home_leads_to_the_plan(client, sign_in, bob, acme, exposed):
    sign_in(bob)

    html = client.get(reverse("accounts:home", kwargs={"org": acme.public_id})).content.decode()

    plan = f"{dashboard_url(acme, exposed)}#plan"
    assert f'class="stretched-link link-body-emphasis" href="{plan}"' in html  # the card
    assert "Match your user directory" in html[html.index("data-next-step") :]


def test_the_home_page_leads_to_each_accounts_plan(client, sign_in, bob, acme, exposed):
    sign_in(bob)

    html = client.get("/").content.decode()

    assert f'href="{dashboard_url(acme, exposed)}#plan"' in html
    assert "Response plan of Acme Corp" in html


def test_its_counts_are_grouped_the_pages_language_way():
    from django.utils import translation

    from portal.incidents.numbers import number_text

    with translation.override("de"):
        german = number_text(1234567)
    with translation.override("en"):
        english = number_text(1234567)

    assert (german, english) == ("1.234.567", "1,234,567")
