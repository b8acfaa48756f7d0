from django.apps import AppConfig


class LogCopiesConfig(AppConfig):
    name = "portal.logcopies"
    label = "logcopies"

    def ready(self) -> None:
        # Its tasks, so that services can queue them by name (portal.jobs).
        from portal.logcopies import receivers, tasks  # noqa: F401
