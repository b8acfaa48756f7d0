from django.apps import AppConfig


class LogCopiesConfig(AppConfig):
    name = "portal.logcopies"
    label = "logcopies"
