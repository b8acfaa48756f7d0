"""The audit log's tests: the people of tests/conftest.py, with Acme in Berlin time,
and a sign-in that leaves no event of its own (these tests count events)."""

from datetime import datetime
from unittest import mock

import pytest

from portal.audit.services import audit_record
from tests import factories


@pytest.fixture
def acme(db):
    return factories.organization("Acme Corp", account_id="DA9XK2ACME", time_zone="Europe/Berlin")


@pytest.fixture
def record_at():
    """audit_record, as if it happened at `when` (created_at is set on insert)."""

    def record(when: datetime, **fields):
        with mock.patch("django.utils.timezone.now", return_value=when):
            return audit_record(**fields)

    return record


@pytest.fixture
def sign_in(client):
    """force_login, without the sign-in event a real sign-in records: these tests
    count the events in the log, and the test's own sign-in is not one of them."""

    def sign_in_as(user):
        with mock.patch("portal.accounts.receivers.audit_record"):
            client.force_login(user)

    return sign_in_as
