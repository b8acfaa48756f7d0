from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "portal.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        # The receivers of the apps' signals (each event becomes outbox rows in the
        # transaction that sent it), and the delivery task, so it resolves by name.
        from portal.webhooks import receivers, tasks  # noqa: F401
