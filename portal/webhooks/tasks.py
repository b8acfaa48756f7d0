"""The webhooks' task (it lives in services.py, beside what it calls), imported here so
that it resolves by name in every process: the worker and the web process that queues."""

from portal.webhooks.services import webhook_deliveries_send

__all__ = ["webhook_deliveries_send"]
