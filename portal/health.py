"""Readiness checks behind /healthz: can we reach the database and the broker?"""

import logging

from django.db import connection

from portal.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("healthz: database unreachable", exc_info=True)
        return False
    return True


def broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            # One quick try: a probe that waits for retries would make the orchestrator
            # think the web process itself hangs.
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
            conn.default_channel  # noqa: B018 - opening a channel proves the broker answers
    except Exception:
        logger.warning("healthz: broker unreachable", exc_info=True)
        return False
    return True
