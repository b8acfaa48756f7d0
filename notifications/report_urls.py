"""The account's suspicion reports: /o/<account>/reports/ (issue 6)."""

from django.urls import path  # noqa: F401

app_name = "reports"
urlpatterns: list = []
