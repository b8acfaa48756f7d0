"""What a page view costs the database: at most six queries before the page's own (the
session, the member, the second-factor check, the gate's membership, the account
switcher), and no write at all, on a representative page of each app. Session activity
(allauth's "Your sessions") is recorded at most once a minute, not on every view."""

import re
from datetime import timedelta

import pytest
import time_machine
from allauth.usersessions.models import UserSession
from django.db import connection
from django.shortcuts import render
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import path
from django.utils import timezone

import portal.urls
from tests import factories
from tests.incidents.exposures_world import exposure
from tests.signin import sign_in

pytestmark = pytest.mark.django_db

FIXED_QUERIES = 6
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _layout_only(request):
    return render(request, "base.html", {})


class Urls:
    urlpatterns = [path("__layout__/", _layout_only), *portal.urls.urlpatterns]


@pytest.fixture
def world(client):
    acme = factories.organization("Acme Corp")
    alice = factories.member(acme, "alice@acme.example", "owner")
    incident = factories.incident()
    jane = factories.directory_user(acme, "jdoe", name="Jane Doe", phones=["+12125550143"])
    for n in range(3):
        exposure(incident, acme, f"+1212555014{n}", directory_user=jane if n == 0 else None)
    sign_in(client, alice)
    return acme, incident


def _pages(acme, incident) -> dict[str, str]:
    o = f"/o/{acme.public_id}"
    return {
        "accounts: home": f"{o}/",
        "accounts: team": f"{o}/team/",
        "incidents: exposed users": f"{o}/incidents/{incident.public_id}/exposed/",
        "incidents: dashboard": f"{o}/incidents/{incident.public_id}/",
        "directory": f"{o}/directory/",
        "logcopies": f"{o}/log-copies/",
        "audit": f"{o}/audit/",
        "notifications: campaigns": f"{o}/notices/",
        "notifications: reports": f"{o}/reports/",
    }


def _view(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return [query["sql"] for query in captured.captured_queries]


@override_settings(ROOT_URLCONF=Urls)
def test_the_layout_costs_at_most_six_queries_and_writes_nothing(client, world):
    _view(client, "/__layout__/")  # the first view of the minute records activity

    sqls = _view(client, "/__layout__/")

    assert len(sqls) <= FIXED_QUERIES, sqls
    assert not [sql for sql in sqls if WRITES.match(sql)]


@pytest.mark.parametrize(
    "page",
    [
        "accounts: home",
        "accounts: team",
        "incidents: exposed users",
        "incidents: dashboard",
        "directory",
        "logcopies",
        "audit",
        "notifications: campaigns",
        "notifications: reports",
    ],
)
def test_a_page_view_writes_nothing(client, world, page):
    url = _pages(*world)[page]
    _view(client, url)

    sqls = _view(client, url)

    assert not [sql for sql in sqls if WRITES.match(sql)], page
    # The fixed six, and a handful of the page's own; never one per row.
    assert len(sqls) <= FIXED_QUERIES + 8, sqls


def test_it_records_a_sessions_activity_once_a_minute(client, world):
    acme, _ = world
    tracked = UserSession.objects.get()
    start = timezone.now()

    with time_machine.travel(start + timedelta(seconds=5), tick=False):
        client.get(f"/o/{acme.public_id}/")
        first = UserSession.objects.get().last_seen_at
        client.get(f"/o/{acme.public_id}/")
        assert UserSession.objects.get().last_seen_at == first
    with time_machine.travel(start + timedelta(seconds=70), tick=False):
        client.get(f"/o/{acme.public_id}/")

    assert (
        UserSession.objects.get().last_seen_at > first > tracked.created_at - timedelta(seconds=1)
    )
