"""The minute sweep finds due work in the tables: a lost broker message only delays it."""

import contextlib
import logging
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.delivery import dispatch
from notifications.models import Delivery, NoticeCampaign
from portal import tasks
from portal.incidents.models import ImportBatch
from portal.tasks import sweep_due_work
from tests import factories
from tests.notifications.engine_world import campaign_world

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


# --- One at a time, each step bounded, each step timed (issue 13 points 2 and 6) -----


@contextlib.contextmanager
def sweep_running_elsewhere():
    """Another sweep holds the sweep's lock (its own connection, or lock file handle)
    for the block."""
    holding, release = threading.Event(), threading.Event()
    held = []

    def hold():
        try:
            with tasks.sweep_lock() as mine:
                held.append(mine)
                holding.set()
                release.wait(30)
        finally:
            connection.close()
            holding.set()

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(30)
    try:
        assert held == [True]
        yield
    finally:
        release.set()
        thread.join()


def test_it_runs_one_sweep_at_a_time(caplog):
    campaign = campaign_world(2).campaign
    NoticeCampaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())

    with sweep_running_elsewhere():
        skipped = sweep_due_work.apply().get()
    done = sweep_due_work.apply().get()

    assert skipped == {}
    assert "another sweep is running" in caplog.text
    assert done["campaigns_dispatched"] == 1
    campaign.refresh_from_db()
    assert campaign.status != NoticeCampaign.Status.SCHEDULED


def test_it_logs_how_long_each_step_took(caplog):
    caplog.set_level(logging.INFO, logger="portal.tasks")

    sweep_due_work.apply().get()

    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sweep: ")]
    for name in tasks.SWEEP_STEPS:
        assert re.search(rf"{name} \d+ in \d+\.\d\d s", line), line


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # each statement on its own, as beat runs it
def test_a_step_that_outlasts_its_statement_timeout_fails_alone(monkeypatch, caplog):
    def crawling():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")
        return 1

    steps = {"crawling": crawling, **tasks.SWEEP_STEPS}
    monkeypatch.setattr(tasks, "SWEEP_STEPS", steps)
    monkeypatch.setattr(tasks, "SWEEP_STATEMENT_TIMEOUT_MS", 200)

    started = time.monotonic()
    done = sweep_due_work.apply().get()

    assert time.monotonic() - started < 1.5
    assert done["crawling"] is None
    assert "canceling statement due to statement timeout" in caplog.text
    assert all(count == 0 for name, count in done.items() if name != "crawling")


@pytest.mark.postgres
# Noon: past the hour of the daily reminders, whose queries read the exposures.
@time_machine.travel(datetime(2026, 3, 3, 12, tzinfo=UTC), tick=True)
def test_its_queries_start_from_an_index_on_tables_without_statistics(caplog):
    """The delivery and exposure tables are the large ones the sweep reads; filled in this
    test's transaction, they have no statistics at all (autovacuum cannot see them), as
    after a bulk load nobody analyzed."""
    world = campaign_world(2000)
    dispatch.campaign_dispatch(campaign_id=world.campaign.pk)
    now = timezone.now()
    # A live batch, a lapsed one, and a cancelled campaign with rows back to pending.
    batch = Delivery.objects.filter(campaign=world.campaign).order_by("pk")
    Delivery.objects.filter(pk__in=batch.values("pk")[:100]).update(
        status=Delivery.Status.SENDING, leased_until=now + timedelta(seconds=20)
    )
    Delivery.objects.filter(pk__in=batch.values("pk")[100:200]).update(
        status=Delivery.Status.SENDING, leased_until=now - timedelta(seconds=1)
    )
    cancelled = campaign_world(300, name="Globex").campaign
    dispatch.campaign_dispatch(campaign_id=cancelled.pk)
    NoticeCampaign.objects.filter(pk=cancelled.pk).update(
        status=NoticeCampaign.Status.CANCELLED, cancelled_at=now
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename IN"
            " ('notifications_delivery', 'incidents_exposure')"
        )
        assert cursor.fetchone() == (0,)

    with CaptureQueriesContext(connection) as captured:
        done = sweep_due_work.apply().get()

    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not re.search(r"notifications_delivery|incidents_exposure", sql):
                continue
            if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                continue
            cursor.execute(f"EXPLAIN {sql}")
            plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    assert done["deliveries_requeued"] == 100
    # The daily reminders' query of the people still to notify read the exposures.
    assert any("incidents_exposure" in sql for sql, _ in plans)
    for sql, plan in plans:
        assert "Seq Scan on notifications_delivery" not in plan, f"{sql}\n{plan}"
        assert "Seq Scan on incidents_exposure" not in plan, f"{sql}\n{plan}"
