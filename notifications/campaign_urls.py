"""The account's campaigns: /o/<account>/notices/ (issue 6)."""

from django.urls import path  # noqa: F401

app_name = "campaigns"
urlpatterns: list = []
