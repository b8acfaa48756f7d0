"""Olivia runs the operator console (staff). Alice owns Acme and Bob is on her team;
Charlie is at Globex. None of them is staff."""

import pytest

from portal.accounts.roles import Role
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
def charlie(globex):
    return factories.member(globex, "charlie@globex.example", Role.ADMIN)


@pytest.fixture
def olivia(db):
    return factories.staff("olivia@vigil.example", name="Olivia Ops")
