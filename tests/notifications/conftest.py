"""Members of Acme in each role, for the notices tests. Each module defines its own
`acme` (time zone and contact differ by what it tests); these resolve it there. A
module that defines one of these names itself uses its own."""

import pytest

from portal.accounts.roles import Role
from tests import factories


@pytest.fixture
def alice(acme):
    return factories.member(acme, "alice@acme.example", Role.OWNER)


@pytest.fixture
def adam(acme):
    return factories.member(acme, "adam@acme.example", Role.ADMIN)


@pytest.fixture
def sam(acme):
    return factories.member(acme, "sam@acme.example", Role.SECURITY)


@pytest.fixture
def vic(acme):
    return factories.member(acme, "vic@acme.example", Role.VIEWER)
