"""The account's notice templates: /o/<account>/notices/templates/ (issue 6)."""

from django.urls import path  # noqa: F401

app_name = "notice_templates"
urlpatterns: list = []
