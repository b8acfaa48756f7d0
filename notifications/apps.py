from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    label = "notifications"

    def ready(self) -> None:
        # The receivers of the signals of accounts, incidents and log copies, and with
        # them every email's composer (outbox.composer).
        from notifications import receivers  # noqa: F401
