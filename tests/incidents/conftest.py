"""What the dashboard and exposed-users tests share. Acme (New York time) has a member in
every role: Alice owns it, Bob is an admin, Sam is security staff, Vera a viewer.
Charlie owns Globex, outside Acme. A test module that defines a fixture of the same
name (the import and directory tests do) uses its own."""

from datetime import UTC, datetime

import pytest

from portal.accounts.roles import Role
from tests import factories
from tests.accounts.auth import signed_in


@pytest.fixture
def acme(db):
    return factories.organization(
        "Acme Corp", account_id="DA9XK2ACME", time_zone="America/New_York"
    )


@pytest.fixture
def globex(db):
    return factories.organization("Globex", account_id="DA7GLOBEX1")


@pytest.fixture
def alice(acme):
    return factories.member(acme, "alice@acme.example", Role.OWNER, name="Alice Adams")


@pytest.fixture
def bob(acme):
    return factories.member(acme, "bob@acme.example", Role.ADMIN, name="Bob Brown")


@pytest.fixture
def sam(acme):
    return factories.member(acme, "sam@acme.example", Role.SECURITY, name="Sam Stone")


@pytest.fixture
def vera(acme):
    return factories.member(acme, "vera@acme.example", Role.VIEWER, name="Vera Voss")


@pytest.fixture
def charlie(globex):
    return factories.member(globex, "charlie@globex.example", Role.OWNER, name="Charlie Chen")


@pytest.fixture
def incident(db):
    return factories.incident(
        title="March 2024 SMS logs", disclosed_at=datetime(2024, 4, 12, 15, tzinfo=UTC)
    )


@pytest.fixture
def sign_in(client):
    """Signed in as allauth would have (password, then factor), just now."""

    def sign_in_as(user):
        signed_in(client, user)

    return sign_in_as
