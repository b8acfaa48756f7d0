"""Alice owns Acme; Bob is an admin on her team; Dana is a viewer there. Charlie is an
admin of Globex, outside it."""

from datetime import datetime
from unittest import mock

import pytest

from portal.accounts.roles import Role
from portal.audit.services import audit_record
from tests import factories


@pytest.fixture
def acme(db):
    return factories.organization("Acme Corp", account_id="DA9XK2ACME", time_zone="Europe/Berlin")


@pytest.fixture
def globex(db):
    return factories.organization("Globex", account_id="DA7GLOBEX1")


@pytest.fixture
def alice(acme):
    return factories.member(acme, "alice@acme.example", Role.OWNER, name="Alice Archer")


@pytest.fixture
def bob(acme):
    return factories.member(acme, "bob@acme.example", Role.ADMIN)


@pytest.fixture
def dana(acme):
    return factories.member(acme, "dana@acme.example", Role.VIEWER)


@pytest.fixture
def charlie(globex):
    return factories.member(globex, "charlie@globex.example", Role.ADMIN)


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
