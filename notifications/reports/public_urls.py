"""The public report form a notice links to: /report/<token>/ (no sign-in)."""

from django.urls import path

from notifications.reports import views as report_views

app_name = "report_form"
urlpatterns = [
    path("<str:token>/", report_views.report_form, name="form"),
]
