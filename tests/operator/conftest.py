"""The operator console's tests: Olivia (staff, tests/conftest.py) runs it; Acme's
people are customers, none of them staff. Acme here keeps Berlin time."""

import pytest

from tests import factories


@pytest.fixture
def acme(db):
    return factories.organization("Acme Corp", account_id="DA9XK2ACME", time_zone="Europe/Berlin")
