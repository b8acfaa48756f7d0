"""The minute sweep finds due work in the tables: a lost broker message only delays it."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from portal.incidents.models import ImportBatch
from portal.tasks import sweep_due_work
from tests import factories

pytestmark = pytest.mark.django_db


def test_it_queues_again_an_import_that_stopped_making_progress(media_root):
    factories.organization("Acme Corp", "DA7QK4M2ZP")
    dump = b"message_id,account_id,sent_at,phone,carrier,country,state,message_type\n"
    dump += b"m-1,DA7QK4M2ZP,2024-03-01T08:14:02+00:00,+12125550143,Verizon,US,New York,sms\n"
    batch = ImportBatch(
        incident=factories.incident(),
        original_name="dump.csv",
        sha256="0" * 64,
        format=ImportBatch.Format.CSV,
        status=ImportBatch.Status.PENDING,
        bytes_total=len(dump),
    )
    batch.upload.save("dump.csv", ContentFile(dump))
    ImportBatch.objects.filter(pk=batch.pk).update(
        progress_at=timezone.now() - timedelta(minutes=10)
    )

    done = sweep_due_work.apply().get()

    assert done["import_batches_requeued"] == 1
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMPLETED
    assert batch.imported == 1


def test_it_leaves_an_import_whose_run_renews_its_lease(media_root):
    ImportBatch.objects.create(
        incident=factories.incident(),
        upload="imports/x.csv",
        original_name="x.csv",
        sha256="0" * 64,
        format=ImportBatch.Format.CSV,
        status=ImportBatch.Status.RUNNING,
        progress_at=timezone.now() - timedelta(hours=1),
        lease_owner="elsewhere:4242",
        leased_until=timezone.now() + timedelta(seconds=20),
    )

    assert sweep_due_work.apply().get()["import_batches_requeued"] == 0


def test_it_runs_every_step_when_one_fails(monkeypatch, caplog):
    from portal import tasks

    def broken():
        raise RuntimeError("a bad row")

    steps = dict(tasks.SWEEP_STEPS)
    steps["log_copies_expired"] = broken  # the first step
    monkeypatch.setattr(tasks, "SWEEP_STEPS", steps)

    done = sweep_due_work.apply().get()

    assert done["log_copies_expired"] is None
    assert set(done) == set(steps)
    assert all(count == 0 for name, count in done.items() if name != "log_copies_expired")
    assert "sweep: log_copies_expired failed" in caplog.text
