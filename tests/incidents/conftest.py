"""What the dashboard and exposed-users tests share: the people of tests/conftest.py,
with Acme in New York time, and the incident."""

from datetime import UTC, datetime

import pytest

from tests import factories


@pytest.fixture
def acme(db):
    return factories.organization(
        "Acme Corp", account_id="DA9XK2ACME", time_zone="America/New_York"
    )


@pytest.fixture
def incident(db):
    return factories.incident(
        title="March 2024 SMS logs", disclosed_at=datetime(2024, 4, 12, 15, tzinfo=UTC)
    )
