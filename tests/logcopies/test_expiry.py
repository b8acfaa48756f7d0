from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile

from portal.audit.models import AuditEvent
from portal.logcopies.models import LogCopyRequest
from portal.tasks import sweep_due_work
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 4, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def ready_copy(media_root):
    acme = factories.organization("Acme Corp")
    copy = LogCopyRequest.objects.create(
        organization=acme,
        incident=factories.incident(),
        reason="Our SOC needs the rows",
        status=LogCopyRequest.Status.READY,
        rows=3,
        sha256="ab" * 32,
        expires_at=NOW - timedelta(minutes=1),
    )
    copy.file.save("copy.zip", ContentFile(b"zip bytes"), save=True)
    return copy


def test_it_expires_a_copy_past_its_expiry_and_deletes_the_file(ready_copy, media_root):
    path = media_root / ready_copy.file.name
    assert path.exists()

    assert sweep_due_work.apply(kwargs={}).get()["log_copies_expired"] == 1

    ready_copy.refresh_from_db()
    assert ready_copy.status == LogCopyRequest.Status.EXPIRED
    assert not ready_copy.file
    assert not path.exists()
    event = AuditEvent.objects.get(action="logcopy.expire")
    assert event.actor_label == "system"
    assert event.target_id == str(ready_copy.public_id)


def test_it_leaves_a_copy_that_has_not_expired(ready_copy):
    ready_copy.expires_at = datetime(2999, 1, 1, tzinfo=UTC)
    ready_copy.save(update_fields=["expires_at"])

    assert sweep_due_work.apply().get()["log_copies_expired"] == 0

    ready_copy.refresh_from_db()
    assert ready_copy.status == LogCopyRequest.Status.READY
    assert ready_copy.file
