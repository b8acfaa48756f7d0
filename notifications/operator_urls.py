"""Operator console: the default notice templates, /operator/notices/ (issue 6)."""

from django.urls import path  # noqa: F401

app_name = "operator_notices"
urlpatterns: list = []
