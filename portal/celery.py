import logging
import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

logger = logging.getLogger(__name__)

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def take_over_lost_work(**kwargs) -> None:
    """A worker starting up takes over the work its killed predecessor left, at once
    rather than after the leases lapse or the next sweep (issue 13). In the worker's
    main process, before its first task; its database connection is closed after, so
    that no pool process forked later inherits it."""
    from django.db import connections

    from portal.tasks import work_take_over_on_start

    try:
        work_take_over_on_start()
    except Exception:
        # The database may not be up yet: the sweep and the leases still recover it.
        logger.exception("worker start: could not take over lost work")
    finally:
        connections.close_all()
