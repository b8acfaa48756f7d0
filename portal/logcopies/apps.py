from django.apps import AppConfig


class LogCopiesConfig(AppConfig):
    name = "portal.logcopies"
    label = "logcopies"

    def ready(self) -> None:
        # Its tasks, so that services can queue them by name (portal.jobs).
        # Its system checks: the manifest signing key (check --deploy).
        from portal.logcopies import checks, receivers, tasks  # noqa: F401
