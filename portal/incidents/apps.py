from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "portal.incidents"
    label = "incidents"

    def ready(self) -> None:
        # Its tasks, so that services can queue them by name (portal.jobs).
        from portal.incidents.imports import tasks  # noqa: F401
