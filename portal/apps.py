from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project itself as an app: its commands (run_portal, seed_demo) and tasks."""

    name = "portal"
    label = "portal"
    verbose_name = "Vigil"
