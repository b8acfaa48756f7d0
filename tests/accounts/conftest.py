"""Alice owns Acme; Bob is on her team; Charlie is outside it, in Globex."""

import pytest

from portal.accounts.roles import Role
from tests import factories


@pytest.fixture
def acme(db):
    return factories.organization("Acme Health", account_id="DA9XK2ACME")


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
def charlie(globex):
    return factories.member(globex, "charlie@globex.example", Role.OWNER, name="Charlie Chen")
