"""A Celery task by its name, for a service that queues the task which calls it.

The task module imports the service (tasks are thin: an id in, a service call); the
service naming the task instead of importing it keeps every import pointing one way.
Each app imports its task modules when Django starts (AppConfig.ready), so in eager
mode (the tests) a name finds its function; in a web process a name is simply sent to
the broker, where the worker knows it.
"""

from celery import current_app
from celery.canvas import Signature

# The tasks services queue, by name (each task's module path and function name).
IMPORT_BATCH_RUN = "portal.incidents.imports.tasks.import_batch_run"
LOGCOPY_GENERATE = "portal.logcopies.tasks.logcopy_generate"
EXPOSURE_EXPORT_GENERATE = "portal.logcopies.tasks.exposure_export_generate"
DELIVERIES_SEND = "notifications.delivery.tasks.deliveries_send"


def job(name: str) -> Signature:
    return current_app.signature(name)
