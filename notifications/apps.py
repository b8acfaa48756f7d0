from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    label = "notifications"

    def ready(self) -> None:
        # The receivers of the signals of accounts, incidents and log copies, and with
        # them every email's composer (outbox.composer).
        from notifications import receivers  # noqa: F401

        # Its tasks, so that services can queue them by name (portal.jobs).
        from notifications.delivery import tasks  # noqa: F401
